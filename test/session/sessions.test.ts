import type { Config } from '../../src/config/schema.js';
import { Unauthenticated } from '../../src/errors.js';
import type { GrantedTokens, GrantRefused } from '../../src/idp/grants.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/ops/metrics.js';
import { Sessions } from '../../src/session/sessions.js';
import type { MemorySessionStore, SessionTokens } from '../../src/session/store.js';

// Sessions glues the cookie, the store and the refresher together from the `session` options;
// these tests check that each option reaches the part it bounds, in the unit it is given in.

const SECRET = 'a-test-secret-of-at-least-32-characters!';

function setup(options: Partial<Config['session']> = {}, answer?: (refreshToken: string) => Promise<GrantedTokens | GrantRefused>) {
  let now = 1_800_000_000_000;
  const clock = () => now;
  const session = {
    secret: SECRET,
    cookieName: 'nginx_authz_session',
    idleTimeoutSeconds: 3_600,
    absoluteTimeoutSeconds: 43_200,
    maxEntries: 100,
    maxPerSubject: 20,
    maxBytes: 33_554_432,
    refreshBeforeSeconds: 30,
    store: 'memory',
    ...options,
  };
  const grants: string[] = [];
  const sessions = new Sessions(
    { session } as unknown as Config,
    (refreshToken) => {
      grants.push(refreshToken);
      return answer === undefined ? Promise.reject(new Error('no refresh expected')) : answer(refreshToken);
    },
    new Metrics({ defaultMetrics: false }),
    createLogger('silent'),
    clock,
  );
  const store = sessions.store as MemorySessionStore;
  /** A Cookie header naming a new session for `tokens` (cookie name `name`). */
  const login = async (tokens: Partial<SessionTokens> = {}, name = session.cookieName) => {
    const created = store.create({
      accessToken: 'at-1',
      accessExpiresAtMs: now + 300_000,
      refreshToken: 'rt-1',
      idToken: undefined,
      ...tokens,
    });
    return { session: created, header: `${name}=${await sessions.cookie.seal(created.id, created.absoluteExpiresAtMs)}` };
  };
  return { sessions, store, login, grants, advance: (ms: number) => (now += ms), now: () => now };
}

/** A token shaped like a JWT naming `sub` (the store reads only the payload to cap sessions per subject). */
function jwt(claims: Record<string, unknown>, padding = 0): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none' })}.${part({ ...claims, pad: 'x'.repeat(padding) })}.sig`;
}

describe('Sessions.find', () => {
  it('finds nothing without a cookie, under another name, or for a value that does not open', async () => {
    const { sessions, login } = setup();
    await login();
    expect(sessions.find(undefined)).toBeUndefined();
    expect(sessions.find('other=1')).toBeUndefined();
    expect(sessions.find('nginx_authz_session=')).toBeUndefined();
    const forged = sessions.find('nginx_authz_session=not-a-sealed-value');
    expect(forged).toBeInstanceOf(Promise);
    expect(await forged).toBeUndefined();
  });

  it('opens a cookie once (a promise), then answers synchronously; an ended session is gone at once', async () => {
    const { sessions, store, login } = setup();
    const { session, header } = await login();
    const first = sessions.find(header);
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toBe(session);
    expect(sessions.find([header])).toBe(session);
    store.delete(session.id);
    expect(sessions.find(header)).toBeUndefined();
  });

  it('a cookie for a session that ended before it was opened finds nothing', async () => {
    const { sessions, store, login } = setup();
    const { session, header } = await login();
    store.delete(session.id);
    expect(await sessions.find(header)).toBeUndefined();
  });

  it('reads the configured cookie name only', async () => {
    const { sessions, login } = setup({ cookieName: 'my_session' });
    const { session, header } = await login({}, 'my_session');
    expect(sessions.cookieName).toBe('my_session');
    expect(await sessions.find(header)).toBe(session);
    expect(sessions.find(header.replace('my_session=', 'nginx_authz_session='))).toBeUndefined();
  });

  it('remembers twice maxEntries opened cookies: the oldest beyond that must be opened again', async () => {
    const { sessions, login } = setup({ maxEntries: 2 });
    const logins = [await login(), await login()];
    for (const { header } of logins) await sessions.find(header);
    // 4 opened values fit (2 x maxEntries)...
    const more = [await login(), await login()];
    for (const { header } of more) await sessions.find(header);
    expect(sessions.find(more[0]!.header)).not.toBeInstanceOf(Promise);
    expect(sessions.find(logins[1]!.header)).not.toBeInstanceOf(Promise);
    // ...a fifth pushes out the least recently used one.
    const fifth = await login();
    await sessions.find(fifth.header);
    expect(sessions.find(logins[0]!.header)).toBeInstanceOf(Promise);
  });
});

describe('Sessions: the session options reach the store, in seconds', () => {
  it('idleTimeoutSeconds ends a session after that long without a request', async () => {
    const { sessions, login, advance } = setup({ idleTimeoutSeconds: 60 });
    const { session, header } = await login();
    expect(await sessions.find(header)).toBe(session);
    advance(59_000);
    expect(sessions.find(header)).toBe(session);
    advance(60_000);
    expect(sessions.find(header)).toBeUndefined();
  });

  it('absoluteTimeoutSeconds ends a session that long after login, whatever the activity', async () => {
    const { sessions, login, advance } = setup({ absoluteTimeoutSeconds: 120 });
    const { session, header } = await login();
    expect(session.absoluteExpiresAtMs - session.createdAtMs).toBe(120_000);
    expect(await sessions.find(header)).toBe(session);
    advance(119_000);
    expect(sessions.find(header)).toBe(session);
    advance(1_000);
    expect(sessions.store.get(session.id)).toBeUndefined();
  });

  it('maxEntries bounds the sessions held', async () => {
    const { store, login } = setup({ maxEntries: 2 });
    const [a, b, c] = [await login(), await login(), await login()];
    expect([a, b, c].map(({ session }) => store.get(session.id) !== undefined)).toEqual([false, true, true]);
  });

  it('maxPerSubject bounds the sessions of one subject', async () => {
    const { store, login } = setup({ maxPerSubject: 1 });
    const token = jwt({ iss: 'https://idp', sub: 'u' });
    const [a, b] = [await login({ idToken: token }), await login({ idToken: token })];
    expect([a, b].map(({ session }) => store.get(session.id) !== undefined)).toEqual([false, true]);
  });

  it('maxBytes bounds the bytes held', async () => {
    const { store, login } = setup({ maxBytes: 65_536 });
    for (let i = 0; i < 20; i++) await login({ accessToken: jwt({ sub: `u${i}` }, 10_000) });
    expect(store.usage.bytes).toBeLessThanOrEqual(65_536);
    // Every session weighs the same here: as many as fit in 64 KiB, the rest dropped.
    const each = store.usage.bytes / store.usage.entries;
    expect(each).toBeGreaterThan(10_000);
    expect(store.usage.entries).toBe(Math.floor(65_536 / each));
  });
});

describe('Sessions.accessToken', () => {
  it('no live session: no token', async () => {
    const { sessions, store, login } = setup();
    expect(sessions.accessToken(undefined)).toBeUndefined();
    expect(await sessions.accessToken('nginx_authz_session=forged')).toBeUndefined();
    const { session, header } = await login();
    await sessions.find(header);
    store.delete(session.id);
    expect(sessions.accessToken(header)).toBeUndefined();
  });

  it("the session's token: after opening the cookie, then synchronously", async () => {
    const { sessions, login } = setup();
    const { header } = await login({ accessToken: 'at-mine' });
    const first = sessions.accessToken(header);
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toBe('at-mine');
    expect(sessions.accessToken(header)).toBe('at-mine');
  });

  it('refreshes refreshBeforeSeconds before expiry, not earlier', async () => {
    const { sessions, login, advance, grants, now } = setup({ refreshBeforeSeconds: 60 }, async () => ({
      accessToken: 'at-2',
      accessExpiresAtMs: now() + 300_000,
      refreshToken: 'rt-2',
      idToken: undefined,
    }));
    const { header } = await login({ accessExpiresAtMs: now() + 120_000 });
    expect(await sessions.accessToken(header)).toBe('at-1');
    advance(59_000); // 61 s left
    expect(sessions.accessToken(header)).toBe('at-1');
    expect(grants).toEqual([]);
    advance(2_000); // 59 s left
    expect(await sessions.accessToken(header)).toBe('at-2');
    expect(grants).toEqual(['rt-1']);
  });

  it('a refused refresh ends the session, whether or not the cookie was opened before', async () => {
    const { sessions, store, login, advance } = setup({}, async () => ({ refused: 'invalid_grant' }));
    const opened = await login({ accessExpiresAtMs: 1_800_000_000_000 + 10_000 });
    const fresh = await login({ accessExpiresAtMs: 1_800_000_000_000 + 10_000 });
    await sessions.find(opened.header);
    advance(1_000);
    await expect(sessions.accessToken(opened.header)).rejects.toBeInstanceOf(Unauthenticated);
    await expect(sessions.accessToken(fresh.header)).rejects.toBeInstanceOf(Unauthenticated);
    expect(store.get(opened.session.id)).toBeUndefined();
    expect(store.get(fresh.session.id)).toBeUndefined();
  });
});
