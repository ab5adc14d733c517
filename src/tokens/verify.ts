import { createHash } from 'node:crypto';
import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { AuthzError, IdpUnavailable, Unauthenticated } from '../errors.js';
import type { IdentityProvider } from '../idp/provider.js';
import type { Metrics } from '../ops/metrics.js';

/** Who the caller is, from a verified token. Never logged whole. */
export interface Identity {
  subject: string;
  username: string | undefined;
  email: string | undefined;
  groups: readonly string[];
  /** Token expiry, ms since the epoch: no cached answer for this token may outlive it. */
  expiresAtMs: number;
  /** SHA-256 of the token (base64url): the cache key, and safe to log in short form. */
  tokenHash: string;
  claims: Readonly<JWTPayload>;
}

/** A short, non-reversible token fingerprint for cache keys and log correlation. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/**
 * Verifies bearer JWTs locally: signature against the issuer's JWKS, allowed asymmetric
 * algorithms only, `iss`, `aud`, `exp`/`nbf` with a small skew, and that it is an access
 * token. Verified identities are cached by token hash until the token expires.
 */
export class TokenVerifier {
  private readonly cache: LRUCache<string, Identity>;

  constructor(
    private readonly config: Config,
    private readonly provider: IdentityProvider,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
  ) {
    this.cache = new LRUCache({
      max: config.cache.tokenMaxEntries,
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') metrics.cacheEvictions.labels('token').inc();
      },
    });
  }

  get size(): number {
    return this.cache.size;
  }

  /**
   * @throws {Unauthenticated} `invalid_token` for any token that fails a check
   * @throws {IdpUnavailable} when the keys cannot be fetched (fail closed)
   */
  async verify(token: string, tokenHash = hashToken(token)): Promise<Identity> {
    const cached = this.cache.get(tokenHash);
    if (cached !== undefined && cached.expiresAtMs > this.clock()) {
      this.metrics.cacheRequests.labels('token', 'hit').inc();
      return cached;
    }
    this.metrics.cacheRequests.labels('token', 'miss').inc();

    const keys = this.provider.keys;
    const endpoints = this.provider.endpoints;
    if (keys === undefined || endpoints === undefined) throw new IdpUnavailable({ detail: 'issuer not discovered yet' });
    const { issuer } = this.config;

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: endpoints.issuer,
        audience: [...issuer.audiences],
        algorithms: [...issuer.algorithms],
        clockTolerance: issuer.clockToleranceSeconds,
        currentDate: new Date(this.clock()),
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      throw translateJoseError(error);
    }
    // Keycloak marks ID and refresh tokens with `typ`; only access tokens authorize requests.
    if (payload.typ !== undefined && String(payload.typ).toLowerCase() !== 'bearer') {
      throw new Unauthenticated('invalid_token', { detail: `token typ ${String(payload.typ)} is not an access token` });
    }

    const identity = toIdentity(payload, tokenHash);
    const ttl = identity.expiresAtMs - this.clock();
    if (ttl > 0) this.cache.set(tokenHash, identity, { ttl });
    return identity;
  }
}

/** jose's errors become ours here, and only here. */
function translateJoseError(error: unknown): AuthzError {
  if (error instanceof AuthzError) return error; // from idpFetch inside the JWKS fetch
  // The key set could not be had (timeout, non-200, not a JWKS): the IdP's fault, not the token's.
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid || error?.constructor === joseErrors.JOSEError) {
    return new IdpUnavailable({ detail: `JWKS unavailable: ${(error as Error).message}`, cause: error });
  }
  if (error instanceof joseErrors.JOSEError) {
    return new Unauthenticated('invalid_token', { detail: `${error.code}: ${error.message}` });
  }
  if (error instanceof TypeError || error instanceof SyntaxError) {
    return new Unauthenticated('invalid_token', { detail: `malformed token: ${error.message}` });
  }
  return new IdpUnavailable({ detail: `token verification failed: ${(error as Error).message}`, cause: error });
}

function toIdentity(payload: JWTPayload, tokenHash: string): Identity {
  const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
  const groups = Array.isArray(payload.groups) ? payload.groups.filter((g): g is string => typeof g === 'string') : [];
  const username = text(payload.preferred_username);
  return {
    subject: payload.sub!,
    username,
    email: text(payload.email),
    groups,
    expiresAtMs: payload.exp! * 1000,
    tokenHash,
    claims: payload,
  };
}
