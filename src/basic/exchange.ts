import { createHmac, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { BadCredentials, IdpUnavailable, Throttled } from '../errors.js';
import { isRefused, type GrantedTokens, type GrantRefused } from '../idp/grants.js';
import { renewedToken, type RenewableToken } from '../idp/renewal.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';
import { FailureThrottle } from './throttle.js';

/** The IdP grants Basic credentials are exchanged with (openid-client, via runGrant). */
export interface PasswordGrants {
  password(username: string, password: string): Promise<GrantedTokens | GrantRefused>;
  refresh(refreshToken: string): Promise<GrantedTokens | GrantRefused>;
}

interface Exchanged extends RenewableToken {
  tokens: GrantedTokens;
  /** When the password was last checked by the IdP. */
  checkedAtMs: number;
}

/**
 * `Authorization: Basic` → an access token (MLFLOW_TRACKING_USERNAME/PASSWORD), so that
 * decisions then run exactly as for bearer tokens.
 *
 * - Exchanges are cached by HMAC-SHA256(per-process random key, JSON [username, password]: unambiguous even when a name holds a NUL): the
 *   password is never kept, and the cache key cannot be tested offline against guesses.
 * - A cached token is renewed before it expires with its refresh token (one renewal per
 *   entry at a time), falling back to a new password grant; after `maxAgeSeconds` the
 *   password is checked again with a new grant. This is what keeps long training runs logging.
 * - Failed attempts are limited per user and per client address; while either is locked out
 *   the IdP is not asked at all. Credentials already cached keep working during a lockout
 *   (someone guessing alice's password does not lock alice's running jobs out).
 */
export class BasicExchange {
  private readonly key = randomBytes(32);
  private readonly cache: LRUCache<string, Exchanged>;
  private readonly pending = new Map<string, Promise<string>>();
  private readonly users: FailureThrottle;
  private readonly addresses: FailureThrottle;
  private readonly refreshBeforeMs: number;
  private readonly maxAgeMs: number;

  constructor(config: Config, private readonly grants: PasswordGrants, private readonly metrics: Metrics, private readonly log: Logger, private readonly clock: Clock) {
    const { basic } = config;
    this.cache = new LRUCache<string, Exchanged>({ max: basic.maxEntries });
    const window = { windowMs: basic.windowSeconds * 1000, lockoutMs: basic.lockoutSeconds * 1000, maxEntries: basic.maxEntries };
    this.users = new FailureThrottle({ ...window, maxFailures: basic.maxFailuresPerUser }, clock);
    this.addresses = new FailureThrottle({ ...window, maxFailures: basic.maxFailuresPerAddress }, clock);
    this.refreshBeforeMs = config.session.refreshBeforeSeconds * 1000;
    this.maxAgeMs = basic.maxAgeSeconds * 1000;
  }

  get size(): number {
    return this.cache.size;
  }

  /**
   * The access token for these credentials: synchronously from the cache while it has more
   * than the refresh margin left; otherwise after one (shared) call to the IdP.
   * @param address the client address NGINX saw (X-Original-Remote-Addr), for throttling
   * @throws {Throttled} the user or address is locked out; {@link BadCredentials}; {@link IdpUnavailable}
   */
  token(username: string, password: string, address: string | undefined): string | Promise<string> {
    const key = createHmac('sha256', this.key).update(JSON.stringify([username, password])).digest('base64url').slice(0, 32);
    const now = this.clock();
    const entry = this.cache.get(key);
    if (entry !== undefined && now - entry.checkedAtMs < this.maxAgeMs) {
      return renewedToken(entry, this.refreshBeforeMs, this.clock, () => this.renew(key, entry, username, password));
    }
    const shared = this.pending.get(key);
    if (shared !== undefined) return shared;
    this.checkThrottle(username, address);
    const exchange = this.exchange(key, username, password, address).finally(() => this.pending.delete(key));
    this.pending.set(key, exchange);
    return exchange;
  }

  private checkThrottle(username: string, address: string | undefined): void {
    const byUser = this.users.retryAfterSeconds(username.toLowerCase());
    const byAddress = address === undefined ? 0 : this.addresses.retryAfterSeconds(address);
    if (byUser === 0 && byAddress === 0) return;
    const by = byUser >= byAddress ? 'user' : 'address';
    this.metrics.basicThrottled.labels(by).inc();
    throw new Throttled(Math.max(byUser, byAddress), by, { detail: `Basic attempts locked out by ${by}` });
  }

  private async exchange(key: string, username: string, password: string, address: string | undefined): Promise<string> {
    const outcome = await this.count('password', this.grants.password(username, password));
    if (isRefused(outcome)) {
      if (outcome.refused !== 'invalid_grant') {
        // unauthorized_client, invalid_client...: the client is not set up for the password grant.
        throw new IdpUnavailable({ detail: `password grant on basic.clientId refused: ${outcome.refused} (is the grant allowed on that client?)` });
      }
      this.users.fail(username.toLowerCase());
      if (address !== undefined) this.addresses.fail(address);
      throw new BadCredentials({ detail: 'the IdP refused the Basic credentials' });
    }
    this.users.succeed(username.toLowerCase());
    this.cache.set(key, { tokens: outcome, checkedAtMs: this.clock(), renewing: undefined });
    return outcome.accessToken;
  }

  /** Refresh grant; a refused refresh falls back to the password grant (which may itself be refused). */
  private async renew(key: string, entry: Exchanged, username: string, password: string): Promise<string> {
    if (entry.tokens.refreshToken !== undefined) {
      const refreshed = await this.count('refresh_token', this.grants.refresh(entry.tokens.refreshToken));
      if (!isRefused(refreshed)) {
        entry.tokens = { ...refreshed, refreshToken: refreshed.refreshToken ?? entry.tokens.refreshToken };
        return refreshed.accessToken;
      }
      this.log.info({ oauth_error: refreshed.refused }, 'Basic: refresh refused; exchanging the password again');
    }
    this.cache.delete(key);
    return this.exchange(key, username, password, undefined);
  }

  private async count(grant: 'password' | 'refresh_token', call: Promise<GrantedTokens | GrantRefused>): Promise<GrantedTokens | GrantRefused> {
    try {
      const outcome = await call;
      this.metrics.passwordGrants.labels(grant, isRefused(outcome) ? 'rejected' : 'ok').inc();
      return outcome;
    } catch (error) {
      this.metrics.passwordGrants.labels(grant, 'error').inc();
      throw error;
    }
  }
}
