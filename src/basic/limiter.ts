import { createHash } from 'node:crypto';
// A limiter answers now (in memory) or later (a shared store such as Redis).
import type { Maybe } from '../util/maybe.js';

/** One budget of failed attempts (a user, a client address). */
export interface LimitKey {
  /** Fixed length, from {@link limitKeyId}: a limiter never holds a name or an address as sent. */
  readonly id: string;
  /** Failures plus attempts in flight allowed within the window; reaching it with failures locks the key. */
  readonly maxFailures: number;
  /**
   * Whether a success forgets the key's earlier failures: yes for a user (its own login), no for
   * a client address (one valid account must not reset the budget of everyone guessing from there).
   */
  readonly forgetOnSuccess: boolean;
}

/** An attempt reserved on each of its keys. Settle it exactly once: fail, succeed or cancel. */
export interface Attempt {
  readonly keys: readonly LimitKey[];
}

/** No attempt now: one key is locked out, or its budget is taken by failures and attempts in flight. */
export interface Refusal {
  readonly refused: true;
  /** Per key, in the order given: seconds to wait (0: this key had room). */
  readonly retryAfterSeconds: readonly number[];
}

/**
 * Limits failed attempts (wrong Basic passwords) per key, with a sliding window and a lockout.
 *
 * The seam for several replicas: this in-memory contract is what a shared implementation (Redis)
 * must provide atomically, so that N replicas together still allow at most `maxFailures` per key.
 * Every method may answer with a promise; callers go through {@link andThen} and stay synchronous
 * when the implementation is. A Redis version would run `reserve` as one script over all keys
 * (all or nothing), keep attempts in flight with an expiry so a crashed replica cannot hold a
 * budget forever, and could key the ids with a shared secret so the store does not reveal names.
 */
export interface FailureLimiter {
  /**
   * Reserves one attempt on every key, or none: refused while a key is locked out or while its
   * failures in the window plus its attempts in flight have reached `maxFailures`. Counting the
   * attempts in flight is what keeps concurrent guesses within the limit.
   */
  reserve(keys: readonly LimitKey[]): Maybe<Attempt | Refusal>;
  /** The attempt failed (the IdP refused the password): one failure on each key; a key reaching its limit is locked. */
  fail(attempt: Attempt): Maybe<void>;
  /** The attempt succeeded: released; keys with `forgetOnSuccess` forget their failures (not a lockout under way). */
  succeed(attempt: Attempt): Maybe<void>;
  /** The attempt ended without an answer (IdP unavailable): released, nothing counted. */
  cancel(attempt: Attempt): Maybe<void>;
  /** A failure without an attempt: a guess refused without asking the IdP still costs its sender. */
  charge(keys: readonly LimitKey[]): Maybe<void>;
  /** Per key: seconds its lockout still lasts (0: not locked; attempts in flight do not count here). */
  retryAfter(keys: readonly LimitKey[]): Maybe<readonly number[]>;
}

/** Type guard for {@link FailureLimiter.reserve}. */
export function isRefusal(outcome: Attempt | Refusal): outcome is Refusal {
  return 'refused' in outcome;
}

/**
 * A fixed-length id for a budget: `kind:` + 128 bits of SHA-256 of the value. A 10 kB user name
 * costs the limiter the same 24 bytes as a short one.
 */
export function limitKeyId(kind: 'user' | 'address', value: string): string {
  return `${kind[0]}:${createHash('sha256').update(value).digest('base64url').slice(0, 22)}`;
}
