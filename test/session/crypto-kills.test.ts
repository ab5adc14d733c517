/**
 * randomId (src/session/crypto.ts) makes session ids, PKCE state and lock tokens: found without a
 * test of its own by mutation round 5 (docs/mutation.md). Its shape is a contract (cookie and Redis
 * key characters), and it must never repeat.
 */
import { randomId } from '../../src/session/crypto.js';

describe('randomId', () => {
  it('is 256 random bits as 43 base64url characters, different every time', () => {
    const ids = Array.from({ length: 1_000 }, () => randomId());
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(ids[0]!, 'base64url')).toHaveLength(32);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
