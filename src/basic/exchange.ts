import { createHmac, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { BadCredentials, IdpUnavailable, Throttled } from '../errors.js';
import { isRefused, type GrantedTokens, type GrantRefused } from '../idp/grants.js';
import { renewedToken, type RenewableToken } from '../idp/renewal.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';
import { andThen, type Maybe } from '../util/maybe.js';
import { isRefusal, limitKeyId, type Attempt, type FailureLimiter, type LimitKey } from './limiter.js';
import { MemoryFailureLimiter } from './memory-limiter.js';
import { OwnerIndex } from './owners.js';
import { SingleFlight } from '../util/single-flight.js';
import type { RevocableToken } from '../logout/revocations.js';
import { claimsOf } from '../session/store.js';

/** The IdP grants Basic credentials are exchanged with (openid-client, via runGrant). */
export interface PasswordGrants {
  password(username: string, password: string): Promise<GrantedTokens | GrantRefused>;
  refresh(refreshToken: string): Promise<GrantedTokens | GrantRefused>;
}

interface Exchanged extends RenewableToken {
  tokens: GrantedTokens;
  /** When the password was last checked by the IdP. */
  checkedAtMs: number;
  /** The user's limiter key id. */
  readonly user: string;
  /** Address ids (limitKeyId) that proved these credentials, newest first: served even while the user is locked out. */
  owners: string[];
}

interface Keys {
  user: LimitKey;
  address: LimitKey;
}

/** Addresses remembered per cached exchange (a job's hosts; a NAT). */
const MAX_OWNERS = 8;

/**
 * `Authorization: Basic` → an access token (MLFLOW_TRACKING_USERNAME/PASSWORD), so that
 * decisions then run exactly as for bearer tokens.
 *
 * - Exchanges are cached by HMAC-SHA256(per-process random key, JSON [username, password]:
 *   unambiguous even when a name holds a NUL): the password is never kept, and the cache key
 *   cannot be tested offline against guesses.
 * - A cached token is renewed before it expires with its refresh token (one renewal per entry
 *   at a time), falling back to a new password grant; after `maxAgeSeconds` the password is
 *   checked again with a new grant. This is what keeps long training runs logging.
 * - Every guess costs budget, and the budget is taken before the IdP is asked, so concurrent
 *   guesses cannot overrun it (see {@link FailureLimiter}): per user and per client address.
 *   A cache hit is a password check too, so it is free only for an address that has already
 *   proved these credentials (an owner); from any other address it takes an attempt from the
 *   budget like a guess. While a budget is locked out, right and wrong passwords therefore get
 *   the same answer (429) everywhere except at an owner address, whose jobs keep working when
 *   someone elsewhere locks their user out. There a refusal costs the address one failure, so
 *   someone guessing from an owner address itself learns at most `maxFailuresPerAddress`
 *   answers before that address, cached credentials included, is locked out too.
 */
export class BasicExchange {
  private readonly key = randomBytes(32);
  private readonly cache: LRUCache<string, Exchanged>;
  private readonly flights = new SingleFlight<string, string>();
  private readonly owners = new OwnerIndex();
  private readonly limiter: FailureLimiter;
  private readonly refreshBeforeMs: number;
  private readonly maxAgeMs: number;
  private readonly failureLimits: { maxFailuresPerUser: number; maxFailuresPerAddress: number };

  constructor(
    config: Config,
    private readonly grants: PasswordGrants,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly clock: Clock,
    limiter?: FailureLimiter,
  ) {
    const { basic } = config;
    this.cache = new LRUCache<string, Exchanged>({
      max: basic.maxEntries,
      // Evicted, deleted or replaced: its addresses no longer own anything through it.
      dispose: (entry) => this.owners.remove(entry.user, entry.owners),
    });
    this.limiter =
      limiter ??
      new MemoryFailureLimiter(
        {
          windowMs: basic.windowSeconds * 1000,
          lockoutMs: basic.lockoutSeconds * 1000,
          maxEntries: basic.maxEntries,
          attemptTtlMs: 4 * config.decision.timeoutMs + 10_000,
        },
        clock,
      );
    this.refreshBeforeMs = config.session.refreshBeforeSeconds * 1000;
    this.maxAgeMs = basic.maxAgeSeconds * 1000;
    this.failureLimits = { maxFailuresPerUser: basic.maxFailuresPerUser, maxFailuresPerAddress: basic.maxFailuresPerAddress };
  }

  get size(): number {
    return this.cache.size;
  }

  /** Cached exchanges and the (user, owner address) pairs indexed for them (bounded by the cache). */
  get usage(): { entries: number; ownerPairs: number } {
    return { entries: this.cache.size, ownerPairs: this.owners.size };
  }

  /**
   * The access token for these credentials: synchronously from the cache while it has more
   * than the refresh margin left; otherwise after one (shared) call to the IdP.
   * @param address the client address NGINX saw (X-Original-Remote-Addr); requests without one share one budget
   * @throws {Throttled} the user or address is locked out, or its budget is in use; {@link BadCredentials}; {@link IdpUnavailable}
   */
  token(username: string, password: string, address: string | undefined): string | Promise<string> {
    const credential = createHmac('sha256', this.key)
      .update(JSON.stringify([username, password]))
      .digest('base64url')
      .slice(0, 32);
    const keys = this.keysFor(username, address);
    const entry = this.cache.get(credential);
    if (entry === undefined || !entry.owners.includes(keys.address.id)) return this.attempt(credential, username, password, keys);
    // An owner: no budget needed, unless its own address is locked out (then it is refused like anyone there).
    return andThen(this.limiter.retryAfter([keys.address]), ([addressWait]) => {
      if (addressWait !== 0) return this.attempt(credential, username, password, keys);
      if (this.clock() - entry.checkedAtMs < this.maxAgeMs) return this.serve(credential, entry, username, password, keys.address.id);
      // Due for a new check of the password: not a guess (it matched), so no budget either.
      return this.shared(`${credential}|${keys.address.id}`, () =>
        this.exchange(credential, username, password, entry.owners, keys, undefined),
      );
    });
  }

  /**
   * Forgets the cached exchanges whose tokens a logout names (src/logout/), so that the next
   * request with those credentials makes a new password grant (and gets a token issued after
   * the logout, which the revocation record lets through). A scan: logouts are rare.
   * @returns how many were forgotten
   */
  forget(matches: (token: RevocableToken) => boolean): number {
    const doomed: string[] = [];
    for (const [credential, entry] of this.cache.entries()) {
      const { iss, sub, sid } = claimsOf(entry.tokens);
      if (sub !== undefined && matches({ iss, sub, sid, issuedAtMs: undefined })) doomed.push(credential);
    }
    for (const credential of doomed) this.cache.delete(credential);
    return doomed.length;
  }

  private keysFor(username: string, address: string | undefined): Keys {
    const { maxFailuresPerUser, maxFailuresPerAddress } = this.failureLimits;
    return {
      // Keycloak user names are case-insensitive: one budget whatever the spelling.
      user: { id: limitKeyId('user', username.toLowerCase()), maxFailures: maxFailuresPerUser, forgetOnSuccess: true },
      address: { id: limitKeyId('address', address ?? ''), maxFailures: maxFailuresPerAddress, forgetOnSuccess: false },
    };
  }

  /**
   * An attempt from the budget: refused when there is none; else answered from the cache when
   * the credentials are there, or by the IdP. A refusal costs the address a failure where the
   * right password would have been served (it owns a cached exchange of this user): there a
   * refusal tells a wrong guess from the right one, so their number must be limited. Elsewhere
   * right and wrong are refused alike, and charging would only let someone who locked a user
   * out make that user's own retries lock a shared address (and the jobs behind it) too.
   */
  private attempt(credential: string, username: string, password: string, keys: Keys): string | Promise<string> {
    const id = `${credential}|${keys.address.id}`;
    const running = this.flights.pending(id);
    if (running !== undefined) return running; // the same guess from the same address, already counted
    const outcome = andThen(this.limiter.reserve([keys.user, keys.address]), (reserved): Maybe<string> => {
      if (isRefusal(reserved)) {
        if (this.owners.has(keys.user.id, keys.address.id)) this.quietly(this.limiter.charge([keys.address]));
        const [byUser = 0, byAddress = 0] = reserved.retryAfterSeconds;
        const by = byUser >= byAddress ? 'user' : 'address';
        this.metrics.basicThrottled.labels(by).inc();
        throw new Throttled(Math.max(byUser, byAddress), by, { detail: `Basic attempt refused: ${by} locked out or its attempts in use` });
      }
      const entry = this.cache.get(credential);
      if (entry !== undefined && this.clock() - entry.checkedAtMs < this.maxAgeMs) {
        this.quietly(this.limiter.succeed(reserved));
        return this.serve(credential, entry, username, password, keys.address.id);
      }
      return this.exchange(credential, username, password, entry?.owners ?? [], keys, reserved);
    });
    return outcome instanceof Promise ? this.shared(id, () => outcome) : outcome;
  }

  /** Serves a cached exchange to an address that proved it, which becomes an owner. */
  private serve(credential: string, entry: Exchanged, username: string, password: string, owner: string): string | Promise<string> {
    if (entry.owners[0] !== owner) {
      const owners = [owner, ...entry.owners.filter((known) => known !== owner)];
      const dropped = owners.splice(MAX_OWNERS);
      // Only a live entry counts (with an asynchronous limiter it may have left the cache meanwhile).
      if (this.cache.peek(credential) === entry) {
        if (!entry.owners.includes(owner)) this.owners.add(entry.user, [owner]);
        this.owners.remove(entry.user, dropped);
      }
      entry.owners = owners;
    }
    return renewedToken(entry, this.refreshBeforeMs, this.clock, () => this.renew(credential, entry, username, password));
  }

  /** One promise per key while it runs: concurrent identical requests share one IdP call. */
  private shared(id: string, run: () => Promise<string>): Promise<string> {
    return this.flights.run(id, run);
  }

  /**
   * The password grant. With an attempt (a guess) the outcome settles it; without one (a
   * re-check of credentials that matched the cache) a refusal just drops the cached exchange.
   */
  private async exchange(
    credential: string,
    username: string,
    password: string,
    owners: readonly string[],
    keys: { user: { id: string }; address: { id: string } },
    attempt: Attempt | undefined,
  ): Promise<string> {
    let outcome: GrantedTokens | GrantRefused;
    try {
      outcome = await this.count('password', this.grants.password(username, password));
    } catch (error) {
      if (attempt !== undefined) this.quietly(this.limiter.cancel(attempt));
      throw error;
    }
    if (isRefused(outcome)) {
      if (outcome.refused !== 'invalid_grant') {
        if (attempt !== undefined) this.quietly(this.limiter.cancel(attempt));
        // unauthorized_client, invalid_client...: the client is not set up for the password grant.
        throw new IdpUnavailable({
          detail: `password grant on basic.clientId refused: ${outcome.refused} (is the grant allowed on that client?)`,
        });
      }
      if (attempt !== undefined) this.quietly(this.limiter.fail(attempt));
      this.cache.delete(credential);
      throw new BadCredentials({ detail: 'the IdP refused the Basic credentials' });
    }
    if (attempt !== undefined) this.quietly(this.limiter.succeed(attempt));
    const owner = keys.address.id;
    const merged = [owner, ...owners.filter((known) => known !== owner)].slice(0, MAX_OWNERS);
    this.cache.set(credential, { tokens: outcome, checkedAtMs: this.clock(), renewing: undefined, user: keys.user.id, owners: merged });
    this.owners.add(keys.user.id, merged);
    return outcome.accessToken;
  }

  /** Refresh grant; a refused refresh falls back to the password grant (which may itself be refused). */
  private async renew(credential: string, entry: Exchanged, username: string, password: string): Promise<string> {
    if (entry.tokens.refreshToken !== undefined) {
      const refreshed = await this.count('refresh_token', this.grants.refresh(entry.tokens.refreshToken));
      if (!isRefused(refreshed)) {
        entry.tokens = { ...refreshed, refreshToken: refreshed.refreshToken ?? entry.tokens.refreshToken };
        return refreshed.accessToken;
      }
      this.log.info({ oauth_error: refreshed.refused }, 'Basic: refresh refused; exchanging the password again');
    }
    this.cache.delete(credential);
    return this.exchange(
      credential,
      username,
      password,
      entry.owners,
      { user: { id: entry.user }, address: { id: entry.owners[0] ?? limitKeyId('address', '') } },
      undefined,
    );
  }

  private async count(
    grant: 'password' | 'refresh_token',
    call: Promise<GrantedTokens | GrantRefused>,
  ): Promise<GrantedTokens | GrantRefused> {
    try {
      const outcome = await call;
      this.metrics.passwordGrants.labels(grant, isRefused(outcome) ? 'rejected' : 'ok').inc();
      return outcome;
    } catch (error) {
      this.metrics.passwordGrants.labels(grant, 'error').inc();
      throw error;
    }
  }

  /** Bookkeeping must never fail a request: a shared limiter that errors is logged, not thrown. */
  private quietly(done: Maybe<void>): void {
    if (done instanceof Promise)
      done.catch((error: unknown) =>
        this.log.warn({ err: { message: (error as Error).message } }, 'Basic: failure limiter did not record an attempt'),
      );
  }
}
