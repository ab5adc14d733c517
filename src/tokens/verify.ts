import { createHash } from 'node:crypto';
import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { AuthzError, IdpUnavailable, Unauthenticated } from '../errors.js';
import type { IdentityProvider } from '../idp/provider.js';
import { MeteredLru } from '../ops/metered-lru.js';
import type { Metrics } from '../ops/metrics.js';
import { rptPermissions } from './rpt.js';

/**
 * Who the caller is, from a verified token: only the fields the service uses, so 100,000
 * cached identities stay small (the claims object itself is not kept).
 */
export interface Identity {
  subject: string;
  username: string | undefined;
  email: string | undefined;
  groups: readonly string[];
  /** Token expiry, ms since the epoch: no cached answer for this token may outlive it. */
  expiresAtMs: number;
  /** Fingerprint of the token ({@link hashToken}): the cache key, and safe to log in short form. */
  tokenHash: string;
  /** For an RPT, the `resource#scope` keys it grants ({@link rptPermissions}); undefined for any other token. */
  permissions: ReadonlySet<string> | undefined;
}

/**
 * A short, non-reversible token fingerprint for cache keys and log correlation: SHA-256
 * truncated to 128 bits (22 characters). Reaching a cached identity through a different
 * string would take a second preimage, 2^128 work; the short key keeps 100,000 cached
 * decisions small.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest().subarray(0, 16).toString('base64url');
}

/**
 * Verifies bearer JWTs locally: signature against the issuer's JWKS, allowed asymmetric
 * algorithms only, `iss`, `aud`, `exp`/`nbf` with a small skew, and that it is an access
 * token. Verified identities are cached by token hash until the token expires.
 */
export class TokenVerifier {
  private readonly cache: MeteredLru<Identity>;

  constructor(
    private readonly config: Config,
    private readonly provider: IdentityProvider,
    metrics: Metrics,
    private readonly clock: Clock,
  ) {
    this.cache = new MeteredLru('token', config.cache.tokenMaxEntries, metrics);
  }

  get size(): number {
    return this.cache.size;
  }

  /** The identity of an already verified, unexpired token, synchronously; else undefined (a miss). */
  cached(tokenHash: string): Identity | undefined {
    const now = this.clock();
    return this.cache.lookup(tokenHash, (identity) => identity.expiresAtMs > now);
  }

  /**
   * @throws {Unauthenticated} `invalid_token` for any token that fails a check
   * @throws {IdpUnavailable} when the keys cannot be fetched (fail closed)
   */
  async verify(token: string, tokenHash = hashToken(token)): Promise<Identity> {
    return this.cached(tokenHash) ?? this.verifyFresh(token, tokenHash);
  }

  /** After a {@link cached} miss: full verification, then caching until expiry. */
  async verifyFresh(token: string, tokenHash: string): Promise<Identity> {
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
    // Expiry is checked on every read (cached()); the LRU bound keeps the size in check.
    if (identity.expiresAtMs > this.clock()) this.cache.set(tokenHash, identity);
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
    permissions: rptPermissions(payload),
  };
}
