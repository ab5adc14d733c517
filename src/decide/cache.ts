import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import { AuthzError } from '../errors.js';
import type { Metrics } from '../ops/metrics.js';

/** A remembered answer: `denial` is the error that refused, undefined when allowed. */
interface Entry {
  denial: AuthzError | undefined;
  expiresAtMs: number;
}

export interface CheckResult {
  source: 'cache' | 'idp';
  denial: AuthzError | undefined;
}

export interface CacheTtls {
  allowTtlMs: number;
  denyTtlMs: number;
}

/**
 * Decisions keyed by token hash + resource + scope, bounded (LRU) and single-flight.
 *
 * An allow lives min(allow TTL, token expiry − now); a denial lives a separate, shorter TTL
 * (also capped by expiry) so a newly granted permission takes effect soon. IdP outages are
 * never cached. Concurrent misses for one key share one pending IdP call.
 */
export class DecisionCache {
  private readonly entries: LRUCache<string, Entry>;
  private readonly pending = new Map<string, Promise<AuthzError | undefined>>();

  constructor(
    maxEntries: number,
    private readonly ttls: CacheTtls,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
  ) {
    this.entries = new LRUCache({
      max: maxEntries,
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') metrics.cacheEvictions.labels('decision').inc();
      },
    });
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
    const hit = this.entries.get(key);
    if (hit !== undefined && hit.expiresAtMs > this.clock()) {
      this.metrics.cacheRequests.labels('decision', 'hit').inc();
      return { source: 'cache', denial: hit.denial };
    }
    this.metrics.cacheRequests.labels('decision', 'miss').inc();

    let flight = this.pending.get(key);
    if (flight === undefined) {
      flight = this.fly(key, tokenExpiresAtMs, decide);
      this.pending.set(key, flight);
    }
    return { source: 'idp', denial: await flight };
  }

  private async fly(key: string, tokenExpiresAtMs: number, decide: () => Promise<void>): Promise<AuthzError | undefined> {
    try {
      await decide();
      this.remember(key, undefined, this.ttls.allowTtlMs, tokenExpiresAtMs);
      return undefined;
    } catch (error) {
      if (!(error instanceof AuthzError) || error.status === 503) throw error;
      this.remember(key, error, this.ttls.denyTtlMs, tokenExpiresAtMs);
      return error;
    } finally {
      this.pending.delete(key);
    }
  }

  private remember(key: string, denial: AuthzError | undefined, ttlMs: number, tokenExpiresAtMs: number): void {
    const now = this.clock();
    const expiresAtMs = Math.min(now + ttlMs, tokenExpiresAtMs);
    if (expiresAtMs > now) this.entries.set(key, { denial, expiresAtMs }, { ttl: expiresAtMs - now });
  }
}
