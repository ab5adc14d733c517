import { LRUCache } from 'lru-cache';
import type { Metrics } from './metrics.js';

/**
 * A bounded LRU map whose hits, misses and evictions (for space, not expiry) show in
 * `authz_cache_requests_total` and `authz_cache_evictions_total` under `cache="<name>"`.
 * Label children are resolved once: these counters are touched on every /auth request.
 */
export class MeteredLru<V extends object | number> {
  private readonly entries: LRUCache<string, V>;
  private readonly hits;
  private readonly misses;

  constructor(name: string, max: number, metrics: Metrics) {
    this.hits = metrics.cacheRequests.labels(name, 'hit');
    this.misses = metrics.cacheRequests.labels(name, 'miss');
    const evictions = metrics.cacheEvictions.labels(name);
    this.entries = new LRUCache<string, V>({
      max,
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') evictions.inc();
      },
    });
  }

  get size(): number {
    return this.entries.size;
  }

  /** The entry when `fresh` accepts it (counted as a hit); otherwise undefined (a miss). */
  lookup(key: string, fresh: (value: V) => boolean): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined && fresh(value)) {
      this.hits.inc();
      return value;
    }
    this.misses.inc();
    return undefined;
  }

  set(key: string, value: V): void {
    this.entries.set(key, value);
  }
}
