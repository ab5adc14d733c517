import { SessionStore, type SessionTokens } from '../../src/session/store.js';

const TOKENS: SessionTokens = { accessToken: 'at', accessExpiresAtMs: 0, refreshToken: 'rt', idToken: 'id' };

describe('SessionStore (frozen clock)', () => {
  let now = 1_000_000;
  const clock = () => now;
  const store = () => new SessionStore({ idleTimeoutMs: 60_000, absoluteTimeoutMs: 300_000, maxEntries: 3 }, clock);

  it('ends a session that idled out; activity keeps it alive', () => {
    const sessions = store();
    const session = sessions.create(TOKENS);
    expect(session.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    now += 59_000;
    expect(sessions.get(session.id)).toBe(session);
    now += 59_000; // 118 s after creation, 59 s after the last request
    expect(sessions.get(session.id)).toBe(session);
    now += 60_000;
    expect(sessions.get(session.id)).toBeUndefined();
    expect(sessions.size).toBe(0);
  });

  it('ends a session at its absolute timeout whatever the activity', () => {
    const sessions = store();
    const session = sessions.create(TOKENS);
    for (let i = 0; i < 9; i++) {
      now += 30_000;
      expect(sessions.get(session.id)).toBe(session);
    }
    now += 30_000; // 300 s
    expect(sessions.get(session.id)).toBeUndefined();
  });

  it('deletes at once, and drops the least recently used when full', () => {
    const sessions = store();
    const [a, b, c] = [sessions.create(TOKENS), sessions.create(TOKENS), sessions.create(TOKENS)];
    expect(sessions.delete(b.id)).toBe(b);
    expect(sessions.get(b.id)).toBeUndefined();
    sessions.get(a.id);
    sessions.create(TOKENS);
    sessions.create(TOKENS);
    expect(sessions.get(c.id)).toBeUndefined();
    expect(sessions.get(a.id)).toBe(a);
  });
});
