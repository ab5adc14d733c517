import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import type { Attempt, FailureLimiter, LimitKey, Refusal } from './limiter.js';

export interface MemoryLimiterOptions {
  /** Failures older than this no longer count. */
  windowMs: number;
  lockoutMs: number;
  /** Keys tracked at once; the least recently used is dropped first. */
  maxEntries: number;
  /** An attempt never settled (a bug, a lost promise) stops holding its key's budget after this long. */
  attemptTtlMs: number;
}

interface Budget {
  /** Times of failures within the window, oldest first (at most maxFailures). */
  failures: number[];
  /** Expiry times of the attempts in flight (at most maxFailures). */
  inFlight: number[];
  lockedUntilMs: number;
}

/** Bytes accounted per key beyond its numbers: the id, the object, two arrays, the LRU's links. */
const ENTRY_OVERHEAD = 192;
/** Longest id stored as is; longer ones are hashed (callers should pass limitKeyId ids anyway). */
const MAX_ID = 64;
/** What a refusal for a full budget (attempts in flight, no lockout) asks to wait. */
const IN_FLIGHT_WAIT_SECONDS = 1;

/**
 * {@link FailureLimiter} for one process: per key a sliding window of failure times, the attempts
 * in flight and the end of a lockout. Synchronous (no promise ever), so the Basic fast path keeps
 * no await. Bounded: at most `maxEntries` keys and `maxEntries × 256` accounted bytes (an entry
 * holds at most 2 × maxFailures numbers; ids are fixed length), least recently used dropped first.
 */
export class MemoryFailureLimiter implements FailureLimiter {
  private readonly budgets: LRUCache<string, Budget>;

  constructor(
    private readonly options: MemoryLimiterOptions,
    private readonly clock: Clock,
  ) {
    this.budgets = new LRUCache<string, Budget>({
      max: options.maxEntries,
      maxSize: options.maxEntries * 256,
      sizeCalculation: (budget, id) => ENTRY_OVERHEAD + id.length + 8 * (budget.failures.length + budget.inFlight.length),
    });
  }

  /** Keys tracked and the bytes accounted for them. */
  get usage(): { entries: number; bytes: number } {
    return { entries: this.budgets.size, bytes: this.budgets.calculatedSize };
  }

  reserve(keys: readonly LimitKey[]): Attempt | Refusal {
    const now = this.clock();
    const budgets = keys.map((key) => this.current(key, now));
    const waits = keys.map((key, i) => {
      const budget = budgets[i]!;
      if (budget.lockedUntilMs > now) return Math.ceil((budget.lockedUntilMs - now) / 1000);
      return budget.failures.length + budget.inFlight.length >= key.maxFailures ? IN_FLIGHT_WAIT_SECONDS : 0;
    });
    if (waits.some((wait) => wait > 0)) return { refused: true, retryAfterSeconds: waits };
    keys.forEach((key, i) => {
      budgets[i]!.inFlight.push(now + this.options.attemptTtlMs);
      this.store(key, budgets[i]!);
    });
    return new MemoryAttempt(keys);
  }

  fail(attempt: Attempt): void {
    if (!settle(attempt)) return;
    const now = this.clock();
    for (const key of attempt.keys) {
      const budget = this.current(key, now);
      budget.inFlight.shift();
      this.addFailure(key, budget, now);
    }
  }

  succeed(attempt: Attempt): void {
    if (!settle(attempt)) return;
    const now = this.clock();
    for (const key of attempt.keys) {
      const budget = this.current(key, now);
      budget.inFlight.shift();
      if (key.forgetOnSuccess && budget.lockedUntilMs <= now) budget.failures = [];
      this.store(key, budget);
    }
  }

  cancel(attempt: Attempt): void {
    if (!settle(attempt)) return;
    const now = this.clock();
    for (const key of attempt.keys) {
      const budget = this.current(key, now);
      budget.inFlight.shift();
      this.store(key, budget);
    }
  }

  charge(keys: readonly LimitKey[]): void {
    const now = this.clock();
    for (const key of keys) this.addFailure(key, this.current(key, now), now);
  }

  retryAfter(keys: readonly LimitKey[]): readonly number[] {
    const now = this.clock();
    return keys.map((key) => {
      const lockedUntil = this.budgets.get(storedId(key))?.lockedUntilMs ?? 0;
      return lockedUntil > now ? Math.ceil((lockedUntil - now) / 1000) : 0;
    });
  }

  /** One more failure; `maxFailures` of them within the window lock the key (again, if it already is). */
  private addFailure(key: LimitKey, budget: Budget, now: number): void {
    budget.failures.push(now);
    if (budget.failures.length >= key.maxFailures) {
      budget.lockedUntilMs = now + this.options.lockoutMs;
      budget.failures = [];
    }
    this.store(key, budget);
  }

  /** The key's budget with expired failures and abandoned attempts dropped (a fresh one if unknown). */
  private current(key: LimitKey, now: number): Budget {
    const budget = this.budgets.get(storedId(key));
    if (budget === undefined) return { failures: [], inFlight: [], lockedUntilMs: 0 };
    budget.failures = budget.failures.filter((time) => now - time < this.options.windowMs);
    budget.inFlight = budget.inFlight.filter((expiry) => expiry > now);
    return budget;
  }

  /**
   * Saves the budget, or forgets a key with nothing left to remember. A new object each time: the
   * LRU recomputes an entry's size (and evicts for it) only when the value stored is a different
   * object, and budgets are changed in place.
   */
  private store(key: LimitKey, budget: Budget): void {
    const id = storedId(key);
    if (budget.failures.length === 0 && budget.inFlight.length === 0 && budget.lockedUntilMs <= this.clock()) this.budgets.delete(id);
    else this.budgets.set(id, { ...budget });
  }
}

class MemoryAttempt implements Attempt {
  settled = false;
  constructor(readonly keys: readonly LimitKey[]) {}
}

/** Marks the attempt settled; false when it already was (or is not one of ours): a double settle counts nothing. */
function settle(attempt: Attempt): boolean {
  if (!(attempt instanceof MemoryAttempt) || attempt.settled) return false;
  attempt.settled = true;
  return true;
}

function storedId(key: LimitKey): string {
  return key.id.length <= MAX_ID ? key.id : `h:${createHash('sha256').update(key.id).digest('base64url')}`;
}
