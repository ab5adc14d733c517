import type { Clock } from '../clock.js';
import { AuthzError, RateLimited } from '../errors.js';
import { boundedKey, MeteredLru, stringBytes } from '../ops/metered-lru.js';
import type { Metrics } from '../ops/metrics.js';
import { SingleFlight } from '../util/single-flight.js';

/**
 * A remembered answer: an allow is just its expiry as {@link allowUntil} encodes it (whole seconds
 * since 2020, a small integer), a denial also keeps the error that refused and its expiry in ms.
 * Allows are the bulk of the cache, so they stay a bare small integer: V8 keeps such a number
 * inside the slot that holds it (a "Smi"), where a millisecond timestamp (beyond 2^31) would be
 * boxed in a 16-byte heap number of its own, one per cached allow.
 */
type Entry = number | { denial: AuthzError; expiresAtMs: number };

/** 2020-01-01T00:00:00Z in ms: the origin of an allow's encoded expiry (2^31 seconds later is 2088). */
const ALLOW_EPOCH_MS = 1_577_836_800_000;

/**
 * An allow's expiry as stored: whole seconds since {@link ALLOW_EPOCH_MS}, rounded down, so an
 * allow never outlives the expiry it was given (it may end up to a second sooner).
 */
export function allowUntil(expiresAtMs: number): number {
  return Math.floor((expiresAtMs - ALLOW_EPOCH_MS) / 1000);
}

/** The expiry (ms since the epoch) of a stored allow: the inverse of {@link allowUntil}, on whole seconds. */
export function allowExpiresAtMs(stored: number): number {
  return ALLOW_EPOCH_MS + stored * 1000;
}

export interface CheckResult {
  source: 'cache' | 'idp';
  denial: AuthzError | undefined;
}

const ALLOWED_FROM_CACHE: CheckResult = Object.freeze({ source: 'cache', denial: undefined });

export interface CacheTtls {
  allowTtlMs: number;
  denyTtlMs: number;
}

/** Estimated bytes of a remembered answer: a bare small integer, or a denial with its error. */
function entryBytes(entry: Entry): number {
  return typeof entry === 'number' ? 0 : 160 + stringBytes(entry.denial.detail);
}

/** When a stored answer ends, in ms since the epoch. */
function entryExpiresAtMs(entry: Entry): number {
  return typeof entry === 'number' ? allowExpiresAtMs(entry) : entry.expiresAtMs;
}

/**
 * Decisions keyed by token hash + resource + scope, bounded (LRU, by entries and by estimated
 * bytes; long keys hashed) and single-flight.
 *
 * An allow lives min(allow TTL, token expiry − now); a denial lives a separate, shorter TTL
 * (also capped by expiry) so a newly granted permission takes effect soon. IdP outages are
 * never cached. Concurrent misses for one key share one pending IdP call.
 */
export class DecisionCache {
  private readonly entries: MeteredLru<Entry>;
  private readonly flights = new SingleFlight<string, AuthzError | undefined>();
  /**
   * While this says so, cached answers are not used (every decision asks the IdP): set by the service when the
   * replicas' bus is refused (src/cluster/redis-bus.ts), since a logout on another replica could not purge them.
   */
  untrusted: (() => boolean) | undefined;

  /** @param maxBytes estimated heap the entries may take (`cache.maxBytes`); default 400 bytes an entry */
  constructor(
    maxEntries: number,
    private readonly ttls: CacheTtls,
    metrics: Metrics,
    private readonly clock: Clock,
    maxBytes = maxEntries * 400,
  ) {
    this.entries = new MeteredLru('decision', { maxEntries, maxBytes, sizeOf: entryBytes }, metrics);
  }

  /** Estimated bytes held. */
  get bytes(): number {
    return this.entries.bytes;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Looks the key up, and on a miss runs `decide` (at most once per key at a time).
   * @param decide the IdP call: resolves when allowed, rejects with the refusing error
   * @returns where the answer came from, and the refusing error when refused
   * @throws only errors that are not cached (IdP unavailable): the caller fails closed
   */
  async check(key: string, tokenExpiresAtMs: number, decide: () => Promise<void>): Promise<CheckResult> {
    return this.peek(key) ?? this.fill(key, tokenExpiresAtMs, decide);
  }

  /** After a {@link peek} miss: joins the pending IdP call for the key, or starts it. */
  async fill(key: string, tokenExpiresAtMs: number, decide: () => Promise<void>): Promise<CheckResult> {
    // Pending calls are keyed like the entries: however long the key, the map holds a short one.
    const denial = await this.flights.run(boundedKey(key), () => this.fly(key, tokenExpiresAtMs, decide));
    return { source: 'idp', denial };
  }

  /** The cached answer, synchronously; undefined (and counted as a miss) when there is none. */
  peek(key: string): CheckResult | undefined {
    if (this.untrusted?.() === true) return undefined;
    const now = this.clock();
    const hit = this.entries.lookup(key, (entry) => entryExpiresAtMs(entry) > now);
    if (hit === undefined) return undefined;
    return typeof hit === 'number' ? ALLOWED_FROM_CACHE : { source: 'cache', denial: hit.denial };
  }

  /**
   * Forgets every decision taken for these tokens (their hashes; keys start with the hash, see
   * the pipeline's decisionKey). For a logout: a full scan, run once per batch of logouts.
   * @returns how many were forgotten
   */
  forgetTokens(tokenHashes: ReadonlySet<string>): number {
    if (tokenHashes.size === 0) return 0;
    return this.entries.deleteWhere((_entry, key) => tokenHashes.has(key.slice(0, key.indexOf('\u0000'))));
  }

  /**
   * {@link peek} for the /auth hot path: an allow's expiry (ms since the epoch, which NGINX's
   * decision cache must not outlive), the refusing error, or undefined on a miss. No allocation.
   */
  peekEntry(key: string): number | AuthzError | undefined {
    if (this.untrusted?.() === true) return undefined;
    const now = this.clock();
    const hit = this.entries.lookup(key, (entry) => entryExpiresAtMs(entry) > now);
    if (hit === undefined) return undefined;
    return typeof hit === 'number' ? allowExpiresAtMs(hit) : hit.denial;
  }

  private async fly(key: string, tokenExpiresAtMs: number, decide: () => Promise<void>): Promise<AuthzError | undefined> {
    try {
      await decide();
      this.remember(key, undefined, this.ttls.allowTtlMs, tokenExpiresAtMs);
      return undefined;
    } catch (error) {
      // IdP outages and per-subject rate limits say nothing about the permission: never remembered.
      if (!(error instanceof AuthzError) || error.status === 503 || error instanceof RateLimited) throw error;
      this.remember(key, error, this.ttls.denyTtlMs, tokenExpiresAtMs);
      return error;
    }
  }

  private remember(key: string, denial: AuthzError | undefined, ttlMs: number, tokenExpiresAtMs: number): void {
    const now = this.clock();
    const expiresAtMs = Math.min(now + ttlMs, tokenExpiresAtMs);
    // Expiry is checked on every read (peek); the LRU bound keeps the size in check.
    if (denial !== undefined) {
      if (expiresAtMs > now) this.entries.set(key, { denial, expiresAtMs });
    } else if (allowExpiresAtMs(allowUntil(expiresAtMs)) > now) {
      this.entries.set(key, allowUntil(expiresAtMs));
    }
  }
}
