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

/** A token shaped like a JWT (header.payload.signature) naming `sub`; the store reads only the payload. */
function jwt(claims: Record<string, unknown>, padding = 0): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none' })}.${part({ ...claims, pad: 'x'.repeat(padding) })}.sig`;
}
const tokensOf = (sub: string, iss = 'https://idp.example/realms/x', padding = 0): SessionTokens => ({
  accessToken: jwt({ iss, sub }, padding),
  accessExpiresAtMs: 0,
  refreshToken: 'rt',
  idToken: jwt({ iss, sub }),
});

describe('SessionStore bounds: one user cannot sign the others out (issue 10 A6)', () => {
  const clock = () => 1_000_000;

  it('10,000 logins by one subject leave another subject’s session alive; the subject keeps its newest 20', () => {
    const sessions = new SessionStore(
      { idleTimeoutMs: 3_600_000, absoluteTimeoutMs: 43_200_000, maxEntries: 10_000, maxPerSubject: 20 },
      clock,
    );
    const bob = sessions.create(tokensOf('bob-sub'));
    const mallory = Array.from({ length: 10_000 }, () => sessions.create(tokensOf('mallory-sub')));
    expect(sessions.get(bob.id)).toBe(bob);
    expect(mallory.slice(-20).every((s) => sessions.get(s.id) === s)).toBe(true);
    expect(sessions.get(mallory[9_979]!.id)).toBeUndefined();
    expect(sessions.usage).toMatchObject({ entries: 21, subjects: 2 });
  });

  it('the same sub from another issuer is another subject; a session without a readable subject is not capped', () => {
    const sessions = new SessionStore({ idleTimeoutMs: 60_000, absoluteTimeoutMs: 300_000, maxEntries: 100, maxPerSubject: 2 }, clock);
    const [a, b, c] = [
      sessions.create(tokensOf('s', 'https://one')),
      sessions.create(tokensOf('s', 'https://one')),
      sessions.create(tokensOf('s', 'https://two')),
    ];
    const d = sessions.create(tokensOf('s', 'https://one'));
    expect([a, b, c, d].map((s) => sessions.get(s.id) !== undefined)).toEqual([false, true, true, true]);
    const opaque = Array.from({ length: 5 }, () => sessions.create(TOKENS));
    expect(opaque.every((s) => sessions.get(s.id) === s)).toBe(true);
  });

  it('a session ended by sign-out or timeout leaves the subject index, so the cap counts live sessions only', () => {
    let now = 1_000_000;
    const sessions = new SessionStore({ idleTimeoutMs: 60_000, absoluteTimeoutMs: 300_000, maxEntries: 100, maxPerSubject: 2 }, () => now);
    const first = sessions.create(tokensOf('u'));
    sessions.delete(first.id);
    const [second, third] = [sessions.create(tokensOf('u')), sessions.create(tokensOf('u'))];
    expect(sessions.get(second.id)).toBe(second);
    now += 61_000;
    expect(sessions.get(second.id)).toBeUndefined();
    expect(sessions.get(third.id)).toBeUndefined();
    expect(sessions.usage).toEqual({ entries: 0, bytes: 0, subjects: 0 });
  });

  it('is bounded in bytes: large tokens drop the least recently used, never beyond maxBytes', () => {
    const sessions = new SessionStore(
      { idleTimeoutMs: 3_600_000, absoluteTimeoutMs: 43_200_000, maxEntries: 10_000, maxPerSubject: 20, maxBytes: 1_000_000 },
      clock,
    );
    for (let i = 0; i < 2_000; i++) sessions.create(tokensOf(`user-${i}`, 'https://idp', 10_000));
    expect(sessions.usage.bytes).toBeLessThanOrEqual(1_000_000);
    expect(sessions.usage.entries).toBeGreaterThan(50);
    expect(sessions.usage.entries).toBeLessThan(100);
  });
});

describe('SessionStore.endSessions (back-channel logout)', () => {
  const ISS = 'https://idp.example/realms/x';
  const withSid = (sub: string, sid: string | undefined, iss = ISS): SessionTokens => ({
    accessToken: jwt({ iss, sub, sid }),
    accessExpiresAtMs: 0,
    refreshToken: 'rt',
    idToken: jwt({ iss, sub, ...(sid === undefined ? {} : { sid }) }),
  });
  const store = () => new SessionStore({ idleTimeoutMs: 60_000, absoluteTimeoutMs: 300_000, maxEntries: 100 }, () => 1_000_000);

  it('takes the sid from the ID token', () => {
    expect(store().create(withSid('u', 'sid-1')).sid).toBe('sid-1');
  });

  it('a sub ends every session of that subject of that issuer, and nothing else', async () => {
    const sessions = store();
    const [a1, a2, b, other] = [withSid('a', 's1'), withSid('a', 's2'), withSid('b', 's3'), withSid('a', 's4', 'https://other')].map((t) =>
      sessions.create(t),
    );
    expect(await sessions.endSessions({ issuer: `${ISS}/`, sub: 'a' })).toBe(2);
    expect([a1, a2, b, other].map((s) => sessions.get(s!.id) !== undefined)).toEqual([false, false, true, true]);
    expect(await sessions.endSessions({ issuer: ISS, sub: 'a' })).toBe(0); // idempotent
  });

  it('a sid ends that IdP session, plus sessions of the sub that carry no sid; not the subject’s other sessions', async () => {
    const sessions = store();
    const [s1, s2, none, stranger] = [
      withSid('a', 's1'),
      withSid('a', 's2'),
      withSid('a', undefined),
      withSid('b', 's1', 'https://other'),
    ].map((t) => sessions.create(t));
    expect(await sessions.endSessions({ issuer: ISS, sub: 'a', sid: 's1' })).toBe(2);
    expect([s1, s2, none, stranger].map((s) => sessions.get(s!.id) !== undefined)).toEqual([false, true, false, true]);
    expect(await sessions.endSessions({ issuer: ISS, sid: 's2' })).toBe(1);
    expect(sessions.usage).toEqual({ entries: 1, bytes: expect.any(Number), subjects: 1 });
  });
});
