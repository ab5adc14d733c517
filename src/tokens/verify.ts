import { createHash } from 'node:crypto';
import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { AuthzError, IdpUnavailable, Unauthenticated } from '../errors.js';
import { IssuerRegistry, type TrustedIssuer } from '../idp/issuer-registry.js';
import type { IdentityProvider } from '../idp/provider.js';
import { createLogger, type Logger } from '../log.js';
import { MeteredLru, stringBytes } from '../ops/metered-lru.js';
import type { Metrics } from '../ops/metrics.js';
import { readClaim, type ClaimValues } from '../policy/claims.js';
import { rptPermissions } from '../idp/rpt.js';

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
  /** The issuer that vouched for the token (its mode decides how); undefined means the primary. */
  issuer?: TrustedIssuer | undefined;
  /** Claims and introspection modes: the values of the claims the issuer's policy reads, and only those. */
  claims?: ClaimValues | undefined;
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
  private readonly issuers: IssuerRegistry;

  /**
   * @param provider the primary issuer's provider
   * @param issuers every configured issuer (src/idp/issuer-registry.ts); by default, those of `config` with `provider` as the
   *   primary's (the others are then the caller's to start: `createService` passes its started registry)
   */
  constructor(
    config: Config,
    provider: IdentityProvider,
    metrics: Metrics,
    private readonly clock: Clock,
    issuers?: IssuerRegistry,
    log?: Logger,
  ) {
    this.cache = new MeteredLru(
      'token',
      { maxEntries: config.cache.tokenMaxEntries, maxBytes: config.cache.tokenMaxBytes, sizeOf: identityBytes },
      metrics,
    );
    this.issuers = issuers ?? new IssuerRegistry(config, provider, metrics, log ?? createLogger('silent'), clock);
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

  /**
   * After a {@link cached} miss: the token's issuer ({@link IssuerRegistry.select}), then full
   * verification (a JWT against that issuer's keys) or introspection (RFC 7662), then caching
   * until expiry (for introspection: until min(exp, `introspection.cacheMaxSeconds`)).
   */
  async verifyFresh(token: string, tokenHash: string): Promise<Identity> {
    const issuer = this.issuers.select(token);
    const identity =
      issuer.introspector !== undefined ? await this.introspect(issuer, token, tokenHash) : await this.verifyJwt(issuer, token, tokenHash);
    // Expiry is checked on every read (cached()); the LRU bound keeps the size in check.
    if (identity.expiresAtMs > this.clock()) this.cache.set(tokenHash, identity);
    return identity;
  }

  private async verifyJwt(trusted: TrustedIssuer, token: string, tokenHash: string): Promise<Identity> {
    const { provider } = trusted;
    const keys = provider.keys;
    const endpoints = provider.endpoints;
    if (keys === undefined || endpoints === undefined) throw new IdpUnavailable({ detail: 'issuer not discovered yet' });
    const { issuer } = trusted.settings;

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
    // RPT permissions are Keycloak's UMA; a claims-mode issuer is decided by its policy alone.
    const permissions = trusted.settings.mode === 'keycloak-uma' ? rptPermissions(payload) : undefined;
    return toIdentity(trusted, payload, payload.sub!, payload.exp! * 1000, tokenHash, permissions);
  }

  private async introspect(trusted: TrustedIssuer, token: string, tokenHash: string): Promise<Identity> {
    const result = await trusted.introspector!.introspect(token, tokenHash);
    return toIdentity(trusted, result.claims, result.subject, result.reuseUntilMs, tokenHash, undefined);
  }
}

/**
 * Estimated heap bytes of a cached identity: its strings, groups, RPT permissions and kept
 * claim values. The IdP signs these, but a realm can give a user many long groups: the byte
 * bound (`cache.tokenMaxBytes`) holds whatever they weigh.
 */
export function identityBytes(identity: Identity): number {
  let bytes =
    200 + stringBytes(identity.subject) + stringBytes(identity.username) + stringBytes(identity.email) + stringBytes(identity.tokenHash);
  for (const group of identity.groups) bytes += 8 + stringBytes(group);
  if (identity.permissions !== undefined) for (const permission of identity.permissions) bytes += 40 + stringBytes(permission);
  if (identity.claims !== undefined) {
    for (const [path, values] of identity.claims) {
      bytes += 60 + stringBytes(path);
      for (const value of values) bytes += 8 + stringBytes(value);
    }
  }
  return bytes;
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

/** The identity headers' values from the issuer's claim paths, and the policy's claim values; never the claims object. */
function toIdentity(
  trusted: TrustedIssuer,
  claims: Readonly<Record<string, unknown>>,
  subject: string,
  expiresAtMs: number,
  tokenHash: string,
  permissions: ReadonlySet<string> | undefined,
): Identity {
  const paths = trusted.settings.claims;
  const first = (values: string[]): string | undefined => values.find((value) => value !== '');
  return {
    subject,
    username: first(readClaim(claims, paths.username)),
    email: first(readClaim(claims, paths.email)),
    groups: readClaim(claims, paths.groups),
    expiresAtMs,
    tokenHash,
    permissions,
    issuer: trusted,
    claims: trusted.policy?.extract(claims),
  };
}
