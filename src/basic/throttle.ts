import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';

export interface ThrottleLimits {
  /** Failures allowed within `windowMs` before a lockout. */
  maxFailures: number;
  windowMs: number;
  lockoutMs: number;
  /** Keys tracked at once (least recently failed dropped first). */
  maxEntries: number;
}

interface Failures {
  /** Times of failures within the window, oldest first. */
  times: number[];
  lockedUntilMs: number;
}

/**
 * Failed-attempt limiting with a sliding window: `maxFailures` failures within `windowMs`
 * lock the key (a user name or a client address) for `lockoutMs`. While locked, callers must
 * not ask the IdP at all, so guessing passwords costs the guesser time and the IdP nothing.
 */
export class FailureThrottle {
  private readonly keys: LRUCache<string, Failures>;

  constructor(private readonly limits: ThrottleLimits, private readonly clock: Clock) {
    this.keys = new LRUCache<string, Failures>({ max: limits.maxEntries });
  }

  /** Seconds until `key` may try again; 0 when it is not locked. */
  retryAfterSeconds(key: string): number {
    const entry = this.keys.get(key);
    if (entry === undefined) return 0;
    const left = entry.lockedUntilMs - this.clock();
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  /** Records a failure; locks the key when the window holds `maxFailures` of them. */
  fail(key: string): void {
    const now = this.clock();
    const entry = this.keys.get(key) ?? { times: [], lockedUntilMs: 0 };
    entry.times = entry.times.filter((time) => now - time < this.limits.windowMs);
    entry.times.push(now);
    if (entry.times.length >= this.limits.maxFailures) {
      entry.lockedUntilMs = now + this.limits.lockoutMs;
      entry.times = [];
    }
    this.keys.set(key, entry);
  }

  /** A success forgets the key's failures (not a lockout under way). */
  succeed(key: string): void {
    const entry = this.keys.get(key);
    if (entry !== undefined && entry.lockedUntilMs <= this.clock()) this.keys.delete(key);
  }
}
