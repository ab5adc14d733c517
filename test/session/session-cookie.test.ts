import { SessionCookie } from '../../src/session/session-cookie.js';

describe('SessionCookie', () => {
  let now = Date.UTC(2026, 0, 1);
  const clock = () => now;

  it('decrypts a value once; later lookups are synchronous until the absolute expiry', async () => {
    const cookie = new SessionCookie('s'.repeat(32), 100, clock);
    const value = await cookie.seal('session-1', now + 60_000);
    const first = cookie.sessionId(value);
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toBe('session-1');
    expect(cookie.sessionId(value)).toBe('session-1');
    now += 61_000;
    expect(cookie.sessionId(value)).toBeUndefined();
  });

  it('gives nothing for a forged value', async () => {
    const cookie = new SessionCookie(undefined, 100, clock);
    const forged = await new SessionCookie(undefined, 100, clock).seal('session-1', now + 60_000);
    expect(await cookie.sessionId(forged)).toBeUndefined();
  });
});
