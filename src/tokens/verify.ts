import { hash } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { IssuerRegistry } from '../idp/issuer-registry.js';
import type { IdentityProvider } from '../idp/provider.js';
import type { Identity, TrustedIssuer } from '../idp/trusted-issuer.js';
import { createLogger, type Logger } from '../log.js';
import { MeteredLru, stringBytes } from '../ops/metered-lru.js';
import type { Metrics } from '../ops/metrics.js';
import type { RevocableToken, Revocations } from '../logout/revocations.js';
import { Unauthenticated } from '../errors.js';

/** Defined beside the issuers that vouch for it (src/idp/trusted-issuer.ts); exported here too, where callers have always found it. */
export type { Identity } from '../idp/trusted-issuer.js';

/**
 * A short, non-reversible token fingerprint for cache keys and log correlation: SHA-256
 * truncated to 128 bits (22 characters). Reaching a cached identity through a different
 * string would take a second preimage, 2^128 work; the short key keeps 100,000 cached
 * decisions small.
 */
export function hashToken(token: string): string {
  // The one-shot hash: no Hash object per request (this runs on every /auth, cached or not).
  return hash('sha256', token, 'buffer').subarray(0, 16).toString('base64url');
}

/**
 * Verifies bearer tokens by their issuer (src/idp/kinds/: a JWT against the issuer's keys, or
 * RFC 7662 introspection) and caches the verified identities by token hash until they expire.
 */
export class TokenVerifier {
  private readonly cache: MeteredLru<Identity>;
  private readonly issuers: IssuerRegistry;
  /** Logouts received (src/logout/): a token they revoke is refused, cached or not. Set by createService. */
  revocations: Revocations | undefined;

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
    const revocations = this.revocations;
    return this.cache.lookup(
      tokenHash,
      (identity) =>
        identity.expiresAtMs > now && (revocations === undefined || revocations.size === 0 || !revocations.refuses(revocable(identity))),
    );
  }

  /**
   * Forgets the cached identities of the tokens a logout names (issuer and `sub`, or `sid`).
   * @returns the forgotten tokens' hashes (their cached decisions go too: DecisionCache.forgetTokens)
   */
  forget(matches: (token: RevocableToken) => boolean): Set<string> {
    const hashes = new Set<string>();
    this.cache.deleteWhere((identity) => {
      if (!matches(revocable(identity))) return false;
      hashes.add(identity.tokenHash);
      return true;
    });
    return hashes;
  }

  /**
   * @throws {Unauthenticated} `invalid_token` for any token that fails a check
   * @throws {IdpUnavailable} when the keys cannot be fetched (fail closed)
   */
  async verify(token: string, tokenHash = hashToken(token)): Promise<Identity> {
    return this.cached(tokenHash) ?? this.verifyFresh(token, tokenHash);
  }

  /** The primary issuer: the one an identity without an issuer belongs to. */
  get primaryIssuer(): TrustedIssuer {
    return this.issuers.primary;
  }

  /**
   * After a {@link cached} miss: the token's issuer ({@link IssuerRegistry.select}) verifies it
   * (a JWT against its keys, or introspection), then the identity is cached until it expires
   * (for introspection: until min(exp, `introspection.cacheMaxSeconds`)).
   */
  async verifyFresh(token: string, tokenHash: string): Promise<Identity> {
    const identity = await this.issuers.select(token).verify(token, tokenHash);
    // A token issued before a logout of its subject or session: refused without asking anyone.
    if (this.revocations?.refuses(revocable(identity)) === true) {
      throw new Unauthenticated('invalid_token', { detail: 'token issued before a logout of its session or subject' });
    }
    // Expiry is checked on every read (cached()); the LRU bound keeps the size in check.
    // Keyed by the identity's own tokenHash string (the same as `tokenHash`): one copy of it, not two.
    if (identity.expiresAtMs > this.clock())
      this.cache.setShared(identity.tokenHash === tokenHash ? identity.tokenHash : tokenHash, identity);
    return identity;
  }
}

/**
 * Estimated heap bytes of a cached identity: its strings, groups, RPT permissions and kept
 * claim values. The IdP signs these, but a realm can give a user many long groups: the byte
 * bound (`cache.tokenMaxBytes`) holds whatever they weigh.
 */
export function identityBytes(identity: Identity): number {
  let bytes =
    240 +
    stringBytes(identity.subject) +
    stringBytes(identity.iss) +
    stringBytes(identity.sid) +
    stringBytes(identity.username) +
    stringBytes(identity.email) +
    stringBytes(identity.tokenHash);
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

/** The fields of an identity a logout is checked against. */
function revocable(identity: Identity): RevocableToken {
  return { iss: identity.iss, sub: identity.subject, sid: identity.sid, issuedAtMs: identity.issuedAtMs };
}
