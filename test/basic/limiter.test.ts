/**
 * src/basic/limiter.ts: the contract's own helpers. The memory and Redis limiters have their own
 * tests (memory-limiter*.test.ts, redis-limiter*.test.ts); this file covers the ids and the guard.
 */
import { isRefusal, limitKeyId } from '../../src/basic/limiter.js';

describe('limitKeyId', () => {
  it('is the kind’s initial, a colon and 22 base64url characters, the same for the same value', () => {
    expect(limitKeyId('user', 'alice')).toMatch(/^u:[A-Za-z0-9_-]{22}$/);
    expect(limitKeyId('address', '203.0.113.7')).toMatch(/^a:[A-Za-z0-9_-]{22}$/);
    expect(limitKeyId('user', 'alice')).toBe(limitKeyId('user', 'alice'));
  });

  it('never holds the value as sent, and costs the same for a 10 kB name as for a short one', () => {
    const long = 'x'.repeat(10_000);
    expect(limitKeyId('user', long)).toHaveLength(24);
    expect(limitKeyId('user', 'alice')).not.toContain('alice');
  });

  it('tells values and kinds apart: another user, or the same text as an address, is another budget', () => {
    expect(limitKeyId('user', 'alice')).not.toBe(limitKeyId('user', 'alicf'));
    expect(limitKeyId('user', '10.0.0.1').slice(2)).toBe(limitKeyId('address', '10.0.0.1').slice(2));
    expect(limitKeyId('user', '10.0.0.1')).not.toBe(limitKeyId('address', '10.0.0.1'));
  });

  it('is the start (22 base64url characters) of the value’s SHA-256', () => {
    // sha256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
    expect(limitKeyId('user', 'abc')).toBe(
      `u:${Buffer.from('ba7816bf8f01cfea414140de5dae2223b0', 'hex').toString('base64url').slice(0, 22)}`,
    );
  });
});

describe('isRefusal', () => {
  it('tells a refusal from an attempt', () => {
    expect(isRefusal({ refused: true, retryAfterSeconds: [3, 0] })).toBe(true);
    expect(isRefusal({ keys: [{ id: 'u:x', maxFailures: 5, forgetOnSuccess: true }] })).toBe(false);
  });
});
