/**
 * MemoryFailureLimiter's byte accounting and bookkeeping, exactly: the bound is
 * `maxEntries × 256` accounted bytes, each key 192 + its id + 8 per remembered time, so the sum
 * must be right to the byte. Also: an attempt from elsewhere settles nothing, and a key with
 * nothing left to remember is forgotten. Written for the mutation run of
 * src/basic/memory-limiter.ts (docs/mutation.md, round 4).
 */
import { isRefusal, limitKeyId, type Attempt, type LimitKey, type Refusal } from '../../src/basic/limiter.js';
import { MemoryFailureLimiter } from '../../src/basic/memory-limiter.js';

let now = 1_000_000;
const limiter = (maxEntries = 100) =>
  new MemoryFailureLimiter({ windowMs: 60_000, lockoutMs: 30_000, maxEntries, attemptTtlMs: 20_000 }, () => now);
const user: LimitKey = { id: limitKeyId('user', 'u'), maxFailures: 3, forgetOnSuccess: true };
const address: LimitKey = { id: limitKeyId('address', '10.0.0.1'), maxFailures: 5, forgetOnSuccess: false };

function granted(outcome: Attempt | Refusal): Attempt {
  if (isRefusal(outcome)) throw new Error(`refused: ${outcome.retryAfterSeconds.join(',')}`);
  return outcome;
}

describe('MemoryFailureLimiter accounting', () => {
  it('accounts 192 bytes + the id + 8 per failure and per attempt in flight', () => {
    const l = limiter();
    expect(user.id).toHaveLength(24);
    l.charge([user]);
    expect(l.usage).toEqual({ entries: 1, bytes: 192 + 24 + 8 });
    granted(l.reserve([user]));
    expect(l.usage).toEqual({ entries: 1, bytes: 192 + 24 + 16 });
    l.charge([user]);
    expect(l.usage).toEqual({ entries: 1, bytes: 192 + 24 + 24 });
    granted(l.reserve([address]));
    expect(l.usage).toEqual({ entries: 2, bytes: 2 * (192 + 24) + 24 + 8 });
  });

  it('drops the least recently used keys beyond maxEntries × 256 bytes', () => {
    const l = limiter(4); // 1,024 bytes: four keys of 224, not five
    for (let i = 0; i < 6; i++) l.charge([{ id: limitKeyId('user', `u${i}`), maxFailures: 3, forgetOnSuccess: true }]);
    expect(l.usage).toEqual({ entries: 4, bytes: 4 * 224 });
    // Heavier keys (two failures each, 232 bytes): still four fit (928), a fifth would not.
    const heavy = limiter(4);
    for (let i = 0; i < 5; i++) {
      const key = { id: limitKeyId('user', `h${i}`), maxFailures: 3, forgetOnSuccess: true };
      heavy.charge([key]);
      heavy.charge([key]);
    }
    expect(heavy.usage).toEqual({ entries: 4, bytes: 4 * 232 });
  });

  it('an attempt this limiter did not hand out settles nothing', () => {
    const l = limiter();
    const foreign: Attempt = { keys: [user] };
    l.fail(foreign);
    l.fail(foreign);
    l.fail(foreign);
    expect(l.retryAfter([user])).toEqual([0]);
    expect(l.usage.entries).toBe(0);
    const held = granted(l.reserve([user]));
    l.succeed({ keys: [user] });
    l.cancel({ keys: [user] });
    expect(l.usage.bytes).toBe(192 + 24 + 8); // still in flight
    l.cancel(held);
    expect(l.usage.entries).toBe(0);
  });

  it('forgets a key once nothing is left: after a success, a cancel, and when its lockout is over', () => {
    const l = limiter();
    l.succeed(granted(l.reserve([user])));
    expect(l.usage.entries).toBe(0);
    l.cancel(granted(l.reserve([address])));
    expect(l.usage.entries).toBe(0);
    l.charge([user]);
    l.charge([user]);
    l.charge([user]); // locked for 30 s, failures cleared
    expect(l.usage.entries).toBe(1);
    now += 30_000; // the lockout ends at this instant
    l.succeed(granted(l.reserve([user])));
    expect(l.usage.entries).toBe(0);
  });
});
