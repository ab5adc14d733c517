import { Unauthenticated } from '../../src/errors.js';
import type { GrantedTokens, GrantRefused } from '../../src/idp/grants.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/ops/metrics.js';
import { SessionRefresher } from '../../src/session/refresh.js';
import { MemorySessionStore, type Session, type SessionStore, type SessionTokens } from '../../src/session/store.js';
import { hashToken } from '../../src/tokens/verify.js';

// The refresher's decisions at their edges: a session without a refresh token at the instant its
// token expires, the refresh token kept when the IdP does not rotate it, each outcome counted, and
// an end of session that the store could not record.

describe('SessionRefresher, edges', () => {
  let now = 1_000_000;
  const clock = () => now;

  function setup(
    answer: (refreshToken: string) => Promise<GrantedTokens | GrantRefused>,
    tokens: Partial<SessionTokens> = {},
    store?: SessionStore,
  ) {
    const metrics = new Metrics({ defaultMetrics: false });
    const lines: Record<string, unknown>[] = [];
    const log = createLogger('info', { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const memory = new MemorySessionStore({ idleTimeoutMs: 3_600_000, absoluteTimeoutMs: 86_400_000, maxEntries: 10 }, clock);
    const grants: string[] = [];
    const refresher = new SessionRefresher(
      store ?? memory,
      (rt) => {
        grants.push(rt);
        return answer(rt);
      },
      30_000,
      metrics,
      log,
      clock,
    );
    const session = memory.create({
      accessToken: 'at-1',
      accessExpiresAtMs: now + 60_000,
      refreshToken: 'rt-1',
      idToken: 'id-1',
      ...tokens,
    });
    const counted = async (result: string) =>
      (await metrics.sessionRefreshes.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
    return { refresher, session, memory, grants, lines, counted };
  }

  const noGrant = () => Promise.reject(new Error('no refresh expected'));

  it('without a refresh token: the token until the millisecond it expires, then the session ends', () => {
    const { refresher, session, memory, grants } = setup(noGrant, { refreshToken: undefined, accessExpiresAtMs: now + 10_000 });
    now += 9_999;
    expect(refresher.accessToken(session)).toBe('at-1'); // within the refresh margin, but nothing to refresh with
    now += 1;
    expect(() => refresher.accessToken(session)).toThrow(Unauthenticated);
    expect(() => refresher.accessToken(session)).toThrow(
      expect.objectContaining({ detail: 'session token expired and there is no refresh token' }),
    );
    expect(memory.get(session.id)).toBeUndefined();
    expect(grants).toEqual([]);
  });

  it('an end the store cannot record is logged (hashed session id), and the refusal stands', async () => {
    let deleted = 0;
    const down: SessionStore = {
      size: 0,
      usage: { entries: 0, bytes: 0, subjects: 0 },
      create: () => {
        throw new Error('unused');
      },
      get: () => undefined,
      delete: () => {
        deleted++;
        return Promise.reject(new Error('redis down'));
      },
      refreshOnce: (session, refresh) => refresh(session.tokens),
      endSessions: () => Promise.resolve(0),
      close: () => Promise.resolve(),
    };
    const { refresher, session, lines } = setup(noGrant, { refreshToken: undefined, accessExpiresAtMs: now }, down);
    expect(() => refresher.accessToken(session)).toThrow(Unauthenticated);
    await new Promise((resolve) => setImmediate(resolve));
    expect(deleted).toBe(1);
    const line = lines.find((l) => l.msg === 'session end not stored');
    expect(line).toMatchObject({ level: 40, session: hashToken(session.id).slice(0, 12) });
    expect(JSON.stringify(lines)).not.toContain(session.id);
  });

  it('never spends a refresh token the store hands back without one', async () => {
    const { session, grants, memory } = setup(noGrant);
    const store = {
      ...Object.fromEntries(['create', 'get', 'delete', 'endSessions', 'close'].map((k) => [k, () => undefined])),
      refreshOnce: (s: Session, refresh: (t: SessionTokens) => Promise<SessionTokens>) => refresh({ ...s.tokens, refreshToken: undefined }),
    } as unknown as SessionStore;
    const other = new SessionRefresher(
      store,
      (rt) => {
        grants.push(rt);
        return noGrant();
      },
      30_000,
      new Metrics({ defaultMetrics: false }),
      createLogger('silent'),
      clock,
    );
    now += 31_000;
    const refused = other.accessToken(session) as Promise<string>;
    await expect(refused).rejects.toBeInstanceOf(Unauthenticated);
    await expect(refused).rejects.toMatchObject({ detail: 'session has no refresh token' });
    expect(grants).toEqual([]);
    expect(memory.get(session.id)).toBe(session);
  });

  it('keeps the refresh token the IdP did not rotate (and spends it again next time); takes a new ID token', async () => {
    let n = 1;
    const { refresher, session, grants, counted } = setup(async () => {
      n++;
      return { accessToken: `at-${n}`, accessExpiresAtMs: now + 60_000, refreshToken: undefined, idToken: `id-${n}` };
    });
    now += 31_000;
    expect(await refresher.accessToken(session)).toBe('at-2');
    expect(session.tokens).toEqual({ accessToken: 'at-2', accessExpiresAtMs: now + 60_000, refreshToken: 'rt-1', idToken: 'id-2' });
    now += 31_000;
    expect(await refresher.accessToken(session)).toBe('at-3');
    expect(grants).toEqual(['rt-1', 'rt-1']);
    expect(await counted('ok')).toBe(2);
    expect(await counted('error')).toBe(0);
    expect(await counted('rejected')).toBe(0);
  });

  it('an IdP error is counted as error and reaches the caller once the token has expired; the session stays', async () => {
    const { refresher, session, memory, counted } = setup(() => Promise.reject(new Error('socket hang up')));
    now += 61_000;
    await expect(refresher.accessToken(session)).rejects.toThrow('socket hang up');
    expect(await counted('error')).toBe(1);
    expect(await counted('ok')).toBe(0);
    expect(memory.get(session.id)).toBe(session);
  });

  it('a refused refresh names the OAuth error in the refusal and the log line, never the session id or a token', async () => {
    const { refresher, session, lines, counted } = setup(async () => ({ refused: 'invalid_grant' }));
    now += 31_000;
    await expect(refresher.accessToken(session)).rejects.toMatchObject({ detail: 'session refresh refused (invalid_grant)' });
    expect(await counted('rejected')).toBe(1);
    expect(await counted('ok')).toBe(0);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 30,
        msg: 'session refresh refused; session ended',
        oauth_error: 'invalid_grant',
        session: hashToken(session.id).slice(0, 12),
      }),
    );
    const text = JSON.stringify(lines);
    for (const secret of [session.id, 'rt-1', 'at-1', 'id-1']) expect(text).not.toContain(secret);
  });
});
