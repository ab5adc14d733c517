import { isRefusal, limitKeyId, type Attempt, type LimitKey, type Refusal } from '../../src/basic/limiter.js';
import { MemoryFailureLimiter } from '../../src/basic/memory-limiter.js';

describe('MemoryFailureLimiter (sliding window, lockout, attempts in flight; frozen clock)', () => {
  let now = 1_000_000;
  const limiter = (maxEntries = 100) =>
    new MemoryFailureLimiter({ windowMs: 60_000, lockoutMs: 30_000, maxEntries, attemptTtlMs: 20_000 }, () => now);
  const user: LimitKey = { id: limitKeyId('user', 'u'), maxFailures: 3, forgetOnSuccess: true };
  const address: LimitKey = { id: limitKeyId('address', '10.0.0.1'), maxFailures: 5, forgetOnSuccess: false };

  function granted(outcome: Attempt | Refusal): Attempt {
    if (isRefusal(outcome)) throw new Error(`refused: ${outcome.retryAfterSeconds.join(',')}`);
    return outcome;
  }
  const failOnce = (l: MemoryFailureLimiter, keys: LimitKey[] = [user]) => l.fail(granted(l.reserve(keys)));

  it('locks after maxFailures within the window, for lockoutMs', () => {
    const l = limiter();
    failOnce(l);
    failOnce(l);
    expect(l.retryAfter([user])).toEqual([0]);
    failOnce(l);
    expect(l.retryAfter([user, address])).toEqual([30, 0]);
    expect(l.reserve([user])).toEqual({ refused: true, retryAfterSeconds: [30] });
    now += 10_500;
    expect(l.retryAfter([user])).toEqual([20]);
    now += 20_000;
    expect(l.retryAfter([user])).toEqual([0]);
    expect(isRefusal(l.reserve([user]))).toBe(false);
  });

  it('forgets failures older than the window', () => {
    const l = limiter();
    failOnce(l);
    failOnce(l);
    now += 61_000;
    failOnce(l);
    failOnce(l);
    expect(l.retryAfter([user])).toEqual([0]);
    failOnce(l);
    expect(l.retryAfter([user])).toEqual([30]);
  });

  it('counts attempts in flight against the budget: concurrent reservations never exceed maxFailures', () => {
    const l = limiter();
    const outcomes = Array.from({ length: 200 }, () => l.reserve([user]));
    const attempts = outcomes.filter((outcome): outcome is Attempt => !isRefusal(outcome));
    expect(attempts).toHaveLength(3);
    expect(outcomes[3]).toEqual({ refused: true, retryAfterSeconds: [1] }); // budget in use, not locked
    for (const attempt of attempts) l.fail(attempt);
    expect(l.retryAfter([user])).toEqual([30]);
  });

  it('reserves on all keys or none, and says which key refused', () => {
    const l = limiter();
    for (let i = 0; i < 3; i++) failOnce(l, [{ ...user, id: limitKeyId('user', `other-${i}`) }, address]);
    const held = granted(l.reserve([user, address]));
    l.reserve([user, address]);
    expect(l.reserve([user, address])).toEqual({ refused: true, retryAfterSeconds: [0, 1] }); // 3 failures + 2 in flight = 5 at the address
    l.cancel(held);
    expect(isRefusal(l.reserve([user, address]))).toBe(false);
  });

  it('cancel and succeed release the attempt; settling twice counts once', () => {
    const l = limiter();
    for (let i = 0; i < 10; i++) l.cancel(granted(l.reserve([user])));
    expect(l.retryAfter([user])).toEqual([0]);
    const attempt = granted(l.reserve([user]));
    l.fail(attempt);
    l.fail(attempt);
    l.fail(attempt);
    expect(l.retryAfter([user])).toEqual([0]);
    expect(l.usage.entries).toBe(1);
  });

  it('a success forgets a user’s failures, not an address’s, and never a lockout under way', () => {
    const l = limiter();
    failOnce(l, [user, address]);
    failOnce(l, [user, address]);
    l.succeed(granted(l.reserve([user, address])));
    failOnce(l, [user, address]);
    failOnce(l, [user, address]);
    expect(l.retryAfter([user, address])).toEqual([0, 0]);
    failOnce(l, [{ ...user, id: 'x' }, address]); // the address's fifth failure
    expect(l.retryAfter([address])).toEqual([30]);
  });

  it('charges a failure without an attempt, and charges during a lockout extend it', () => {
    const l = limiter();
    l.charge([user]);
    l.charge([user]);
    l.charge([user]);
    expect(l.retryAfter([user])).toEqual([30]);
    now += 20_000;
    l.charge([user]);
    l.charge([user]);
    l.charge([user]);
    expect(l.retryAfter([user])).toEqual([30]);
  });

  it('an attempt never settled stops holding the budget after attemptTtlMs', () => {
    const l = limiter();
    for (let i = 0; i < 3; i++) granted(l.reserve([user]));
    expect(isRefusal(l.reserve([user]))).toBe(true);
    now += 20_001;
    expect(isRefusal(l.reserve([user]))).toBe(false);
  });

  it('is bounded in entries and bytes, whatever the length of the names', () => {
    const l = limiter(1_000);
    const long = 'n'.repeat(10_000);
    for (let i = 0; i < 5_000; i++) l.charge([{ id: limitKeyId('user', `${long}${i}`), maxFailures: 3, forgetOnSuccess: true }]);
    expect(l.usage.entries).toBe(1_000);
    expect(l.usage.bytes).toBeLessThanOrEqual(1_000 * 256);
    expect(limitKeyId('user', long)).toHaveLength(24);
    // An id longer than a hash is not stored as is either.
    const raw = limiter(10);
    raw.charge([{ id: long, maxFailures: 3, forgetOnSuccess: true }]);
    expect(raw.usage.bytes).toBeLessThan(300);
  });
});
