import { IdpUnavailable, Unauthenticated } from '../../src/errors.js';
import type { GrantedTokens, GrantRefused } from '../../src/idp/grants.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/ops/metrics.js';
import { SessionRefresher } from '../../src/session/refresh.js';
import { MemorySessionStore } from '../../src/session/store.js';

describe('SessionRefresher (single flight per session)', () => {
  let now = 1_000_000;
  const clock = () => now;
  const metrics = new Metrics({ defaultMetrics: false });
  const log = createLogger('silent');
  const counted = async (result: string) =>
    (await metrics.sessionRefreshes.get()).values.find((v) => v.labels.result === result)?.value ?? 0;

  function setup(answer: (refreshToken: string) => Promise<GrantedTokens | GrantRefused>) {
    const store = new MemorySessionStore({ idleTimeoutMs: 3_600_000, absoluteTimeoutMs: 86_400_000, maxEntries: 10 }, clock);
    const calls: string[] = [];
    const refresher = new SessionRefresher(
      store,
      (rt) => {
        calls.push(rt);
        return answer(rt);
      },
      30_000,
      metrics,
      log,
      clock,
    );
    const session = store.create({ accessToken: 'at-1', accessExpiresAtMs: now + 60_000, refreshToken: 'rt-1', idToken: 'id-1' });
    return { store, refresher, session, calls };
  }

  it('answers synchronously while the token has more than the margin left', () => {
    const { refresher, session, calls } = setup(() => Promise.reject(new Error('not called')));
    expect(refresher.accessToken(session)).toBe('at-1');
    expect(calls).toEqual([]);
  });

  it('spends the refresh token once for concurrent requests, and keeps the new tokens', async () => {
    let release!: () => void;
    const { refresher, session, calls } = setup(async () => {
      await new Promise<void>((resolve) => (release = resolve));
      return { accessToken: 'at-2', accessExpiresAtMs: now + 300_000, refreshToken: 'rt-2', idToken: undefined };
    });
    now += 31_000;
    const first = refresher.accessToken(session);
    const second = refresher.accessToken(session);
    expect(first).toBeInstanceOf(Promise);
    release();
    expect(await Promise.all([first, second])).toEqual(['at-2', 'at-2']);
    expect(calls).toEqual(['rt-1']);
    expect(session.tokens).toEqual({ accessToken: 'at-2', accessExpiresAtMs: now + 300_000, refreshToken: 'rt-2', idToken: 'id-1' });
    expect(refresher.accessToken(session)).toBe('at-2');
  });

  it('ends the session when the IdP refuses the refresh', async () => {
    const before = await counted('rejected');
    const { refresher, session, store } = setup(async () => ({ refused: 'invalid_grant' }));
    now += 31_000;
    await expect(refresher.accessToken(session)).rejects.toBeInstanceOf(Unauthenticated);
    expect(store.get(session.id)).toBeUndefined();
    expect(await counted('rejected')).toBe(before + 1);
  });

  it('keeps the session and the still-valid token when the IdP does not answer', async () => {
    const { refresher, session, store } = setup(() => Promise.reject(new IdpUnavailable({ detail: 'timeout' })));
    now += 31_000;
    expect(await refresher.accessToken(session)).toBe('at-1');
    expect(store.get(session.id)).toBe(session);
    now += 30_000; // expired now
    await expect(refresher.accessToken(session)).rejects.toBeInstanceOf(IdpUnavailable);
  });
});
