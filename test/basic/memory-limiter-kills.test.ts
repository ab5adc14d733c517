/**
 * MemoryFailureLimiter: what a lockout and a long key id cost in the byte bound, and that long ids
 * keep budgets of their own. Written for the mutation run of src/basic/memory-limiter.ts
 * (docs/mutation.md, round 5).
 */
import { limitKeyId, type LimitKey } from '../../src/basic/limiter.js';
import { MemoryFailureLimiter } from '../../src/basic/memory-limiter.js';

let now = 1_000_000;
const limiter = () => new MemoryFailureLimiter({ windowMs: 60_000, lockoutMs: 30_000, maxEntries: 100, attemptTtlMs: 20_000 }, () => now);
const key = (id: string, maxFailures = 3): LimitKey => ({ id, maxFailures, forgetOnSuccess: true });

describe('MemoryFailureLimiter, round 5 edges', () => {
  it('a lockout keeps no failure times: a locked key weighs 192 bytes + its id', () => {
    const l = limiter();
    const user = key(limitKeyId('user', 'locked'));
    l.charge([user]);
    l.charge([user]);
    expect(l.usage.bytes).toBe(192 + 24 + 16);
    l.charge([user]); // the third failure locks it and clears the failures
    expect(l.retryAfter([user])).toEqual([30]);
    expect(l.usage).toEqual({ entries: 1, bytes: 192 + 24 });
  });

  it('holds an id longer than 64 characters as a 45-character hash, whatever its length', () => {
    const l = limiter();
    l.charge([key('x'.repeat(10_000))]);
    expect(l.usage).toEqual({ entries: 1, bytes: 192 + 45 + 8 });
    l.charge([key('y'.repeat(65))]);
    expect(l.usage).toEqual({ entries: 2, bytes: 2 * (192 + 45 + 8) });
    // Exactly 64 characters: kept as is.
    l.charge([key('z'.repeat(64))]);
    expect(l.usage).toEqual({ entries: 3, bytes: 2 * (192 + 45 + 8) + 192 + 64 + 8 });
  });

  it('gives two long ids that differ only at their end budgets of their own', () => {
    const l = limiter();
    const first = key(`${'k'.repeat(100)}1`, 1);
    const second = key(`${'k'.repeat(100)}2`, 1);
    l.charge([first]); // one failure of one: locked
    expect(l.retryAfter([first, second])).toEqual([30, 0]);
    expect(l.reserve([second])).not.toHaveProperty('refused');
  });

  it('at the instant a lockout ends, still counts the attempts in flight against the budget', () => {
    // Attempts outlive a short lockout here (attempt ttl 60 s, lockout 10 s).
    const l = new MemoryFailureLimiter({ windowMs: 60_000, lockoutMs: 10_000, maxEntries: 100, attemptTtlMs: 60_000 }, () => now);
    const user = key(limitKeyId('user', 'in-flight'), 2);
    expect(l.reserve([user])).not.toHaveProperty('refused');
    expect(l.reserve([user])).not.toHaveProperty('refused');
    l.charge([user]);
    l.charge([user]); // locked for 10 s; both attempts still in flight
    now += 10_000; // the lockout ends at this very instant
    expect(l.reserve([user])).toEqual({ refused: true, retryAfterSeconds: [1] });
    expect(l.retryAfter([user])).toEqual([0]);
  });
});
