/**
 * The remembered (already decrypted) session cookie expires at the same instant as the sealed
 * value itself: found unguarded by the mutation run of src/session/session-cookie.ts
 * (docs/mutation.md), where the main test steps a second past the expiry.
 */
import { SessionCookie } from '../../src/session/session-cookie.js';

describe('SessionCookie expiry instant', () => {
  it('serves the remembered session until 1 ms before its expiry and not at it, like a first decryption', async () => {
    let now = Date.UTC(2026, 0, 1);
    const expiresAtMs = now + 60_000; // a whole second: the sealed exp is exact
    const cookie = new SessionCookie('s'.repeat(32), 100, () => now);
    const value = await cookie.seal('session-1', expiresAtMs);
    expect(await cookie.sessionId(value)).toBe('session-1');
    now = expiresAtMs - 1;
    expect(cookie.sessionId(value)).toBe('session-1');
    now = expiresAtMs;
    expect(cookie.sessionId(value)).toBeUndefined();
    // A fresh instance (nothing remembered) decides the same at that instant.
    expect(await new SessionCookie('s'.repeat(32), 100, () => now).sessionId(value)).toBeUndefined();
  });
});
