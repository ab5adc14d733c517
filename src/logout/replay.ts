import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import { growingLruBounds } from '../util/growing-lru.js';

/**
 * Remembers keys (logout tokens' `jti`) so that each is accepted once. The seam for several
 * replicas: a shared implementation answers with Redis `SET key 1 NX PX ttlMs`.
 */
export interface ReplayGuard {
  /**
   * Claims `key` for `ttlMs`.
   * @returns true the first time within the TTL (go ahead), false when it was already claimed (a replay)
   */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;
}

/**
 * The one-replica replay guard: a bounded LRU of claimed keys with their expiry. A key pushed
 * out by `maxEntries` newer ones could be claimed again; the verifier's `iat` window refuses
 * any token older than the TTL anyway, so only a flood of more than `maxEntries` valid, signed
 * logout tokens within that window could reopen one.
 */
export class MemoryReplayGuard implements ReplayGuard {
  private readonly claimed: LRUCache<string, number>;

  constructor(
    maxEntries: number,
    private readonly clock: Clock,
  ) {
    this.claimed = new LRUCache<string, number>(growingLruBounds(maxEntries));
  }

  get size(): number {
    return this.claimed.size;
  }

  claimOnce(key: string, ttlMs: number): Promise<boolean> {
    const now = this.clock();
    const until = this.claimed.get(key);
    if (until !== undefined && until > now) return Promise.resolve(false);
    this.claimed.set(key, now + ttlMs);
    return Promise.resolve(true);
  }
}
