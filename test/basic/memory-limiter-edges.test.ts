/**
 * MemoryFailureLimiter at its boundaries, to the millisecond: the mutation run of
 * src/basic/memory-limiter.ts (docs/mutation.md) showed the window, attempt-lifetime and
 * after-lockout rules unguarded by the main tests, which step well past each boundary.
 */
import { isRefusal, limitKeyId, type Attempt, type LimitKey, type Refusal } from '../../src/basic/limiter.js';
import { MemoryFailureLimiter } from '../../src/basic/memory-limiter.js';

let now = 1_000_000;
const limiter = () => new MemoryFailureLimiter({ windowMs: 60_000, lockoutMs: 30_000, maxEntries: 100, attemptTtlMs: 20_000 }, () => now);
const user: LimitKey = { id: limitKeyId('user', 'u'), maxFailures: 3, forgetOnSuccess: true };

function granted(outcome: Attempt | Refusal): Attempt {
  if (isRefusal(outcome)) throw new Error(`refused: ${outcome.retryAfterSeconds.join(',')}`);
  return outcome;
}
const failOnce = (l: MemoryFailureLimiter) => l.fail(granted(l.reserve([user])));

describe('MemoryFailureLimiter boundaries', () => {
  it('a failure counts for exactly windowMs: still counted 1 ms before, gone at the window', () => {
    const inside = limiter();
    failOnce(inside);
    failOnce(inside);
    now += 59_999;
    failOnce(inside);
    expect(inside.retryAfter([user])).toEqual([30]);

    const after = limiter();
    failOnce(after);
    failOnce(after);
    now += 60_000;
    failOnce(after);
    expect(after.retryAfter([user])).toEqual([0]);
  });

  it('an unsettled attempt holds the budget until exactly attemptTtlMs', () => {
    const l = limiter();
    for (let i = 0; i < 3; i++) granted(l.reserve([user]));
    now += 19_999;
    expect(l.reserve([user])).toEqual({ refused: true, retryAfterSeconds: [1] });
    now += 1;
    expect(isRefusal(l.reserve([user]))).toBe(false);
  });

  it('a lockout starts the count afresh: one failure after it does not lock again', () => {
    const l = limiter();
    failOnce(l);
    failOnce(l);
    failOnce(l);
    now += 30_000; // the lockout is over, the three failures still within the window
    failOnce(l);
    expect(l.retryAfter([user])).toEqual([0]);
    failOnce(l);
    failOnce(l);
    expect(l.retryAfter([user])).toEqual([30]);
  });

  it('a success at the instant a lockout ends forgets the failures charged during it', () => {
    const l = limiter();
    l.charge([user]);
    l.charge([user]);
    l.charge([user]); // locked for 30 s
    now += 10_000;
    l.charge([user]);
    l.charge([user]); // two failures during the lockout
    now += 20_000; // the lockout ends now
    l.succeed(granted(l.reserve([user])));
    failOnce(l);
    failOnce(l);
    expect(l.retryAfter([user])).toEqual([0]); // only two failures since the success

    const during = limiter();
    const attempt = granted(during.reserve([user])); // reserved before the lockout, settled during it
    during.charge([user]);
    during.charge([user]);
    during.charge([user]);
    during.charge([user]);
    during.charge([user]);
    during.succeed(attempt); // must not forget the two failures charged during the lockout
    now += 30_000;
    failOnce(during);
    expect(during.retryAfter([user])).toEqual([30]);
  });
});
