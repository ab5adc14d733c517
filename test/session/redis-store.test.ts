import { StoreUnavailable, Unauthenticated } from '../../src/errors.js';
import type { Session, SessionTokens } from '../../src/session/store.js';
import { ISS, redisReplicas, tokens } from '../helpers/redis-sessions.js';

describe('RedisSessionStore (real redis-server)', () => {
  const { time, replica, redisServer } = redisReplicas();

  const settle = () => new Promise((r) => setTimeout(r, 150));

  it('keeps tokens encrypted at rest: the raw value holds no token, no claim, no session id, and is not JSON', async () => {
    const { store, connection } = await replica();
    const session = await store.create(tokens('alice', 'sid-raw', 'RAW'));
    const keys = await connection.client.keys('test:s:*');
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      const raw = (await connection.client.sendCommand(['GET', key])) as string;
      expect(raw).not.toContain('ACCESS-');
      expect(raw).not.toContain('REFRESH-');
      expect(raw).not.toContain('alice');
      expect(raw).not.toContain(session.id);
      expect(key).not.toContain(session.id);
      expect(() => JSON.parse(raw)).toThrow();
    }
  });

  it('expires keys with min(idle, absolute remaining)', async () => {
    const { store, connection } = await replica({ idleTimeoutMs: 60_000, absoluteTimeoutMs: 20_000 });
    const session = await store.create(tokens('bob', 'sid-ttl'));
    const keys = await connection.client.keys('test:s:*');
    const ttls = await Promise.all(keys.map((key) => connection.client.pTTL(key)));
    expect(ttls.every((ttl) => ttl > 0)).toBe(true);
    expect(Math.min(...ttls)).toBeLessThanOrEqual(20_000);
    expect(session.absoluteExpiresAtMs - time.now).toBe(20_000);
  });

  it('serves another replica from Redis once, then from its local copy; an end on one drops the copy on the other', async () => {
    const a = await replica();
    const b = await replica();
    const session = await a.store.create(tokens('carol', 'sid-c'));
    const first = b.store.get(session.id);
    expect(first).toBeInstanceOf(Promise);
    expect((await first)?.tokens.accessToken).toBe(session.tokens.accessToken);
    const second = b.store.get(session.id);
    expect(second).not.toBeInstanceOf(Promise);
    expect((second as Session).tokens.refreshToken).toBe(session.tokens.refreshToken);
    await a.store.delete(session.id);
    await settle();
    expect(await b.store.get(session.id)).toBeUndefined();
  });

  it('ends sessions by subject and by IdP session on every replica', async () => {
    const a = await replica();
    const b = await replica();
    const one = await a.store.create(tokens('dave', 'sid-d1'));
    const two = await a.store.create(tokens('dave', 'sid-d2'));
    const other = await a.store.create(tokens('erin', 'sid-e'));
    await b.store.get(one.id);
    await b.store.get(two.id);
    expect(await b.store.endSessions({ issuer: ISS, sid: 'sid-d1' })).toBe(1);
    await settle();
    expect(await a.store.get(one.id)).toBeUndefined();
    expect(await a.store.get(two.id)).toBeDefined();
    expect(await a.store.endSessions({ issuer: ISS, sub: 'dave' })).toBe(1);
    await settle();
    expect(await b.store.get(two.id)).toBeUndefined();
    expect(await b.store.get(other.id)).toBeDefined();
    expect(await b.store.endSessions({ issuer: 'https://other.test', sub: 'erin' })).toBe(0);
  });

  it('refreshes once when two replicas need it at the same moment; both end up with the new tokens', async () => {
    const a = await replica();
    const b = await replica();
    const created = await a.store.create(tokens('frank', 'sid-f'));
    const onB = (await b.store.get(created.id)) as Session;
    let grants = 0;
    const refresh = async (current: SessionTokens): Promise<SessionTokens> => {
      grants += 1;
      await new Promise((r) => setTimeout(r, 300));
      return { ...current, accessToken: `ACCESS-NEW-${grants}`, refreshToken: `REFRESH-NEW-${grants}` };
    };
    const [fromA, fromB] = await Promise.all([a.store.refreshOnce(created, refresh), b.store.refreshOnce(onB, refresh)]);
    expect(grants).toBe(1);
    expect(fromA.refreshToken).toBe('REFRESH-NEW-1');
    expect(fromB.refreshToken).toBe('REFRESH-NEW-1');
    // A third replica loads the new tokens from Redis.
    const c = await replica();
    expect(((await c.store.get(created.id)) as Session).tokens.accessToken).toBe('ACCESS-NEW-1');
  });

  it('a waiting replica learns that the session ended instead of refreshing it', async () => {
    const a = await replica();
    const b = await replica();
    const created = await a.store.create(tokens('gina', 'sid-g'));
    const onB = (await b.store.get(created.id)) as Session;
    const refusing = async (): Promise<SessionTokens> => {
      await new Promise((r) => setTimeout(r, 200));
      await a.store.delete(created.id);
      throw new Unauthenticated('no_credentials', { detail: 'refused' });
    };
    const results = await Promise.allSettled([a.store.refreshOnce(created, refusing), b.store.refreshOnce(onB, refusing)]);
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof Unauthenticated)).toBe(true);
  });

  it('Redis down: local copies keep serving, misses and logins answer 503 (never a session), and it recovers by itself', async () => {
    const a = await replica();
    const b = await replica();
    const held = await a.store.create(tokens('hank', 'sid-h'));
    const notHeld = await b.store.create(tokens('ivy', 'sid-i'));
    await redisServer().stop();
    await settle();
    expect((await a.metrics.redisUp.get()).values[0]?.value).toBe(0);
    expect(a.store.get(held.id)).toBe(held); // synchronous, from the local copy
    await expect(a.store.get(notHeld.id)).rejects.toBeInstanceOf(StoreUnavailable);
    await expect(a.store.create(tokens('jack', 'sid-1'))).rejects.toBeInstanceOf(StoreUnavailable);
    await expect(a.store.refreshOnce(held, async (t) => t)).rejects.toBeInstanceOf(StoreUnavailable);
    await redisServer().start();
    const deadline = Date.now() + 10_000;
    while (!(a.connection.client.isReady && b.connection.client.isReady) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect((await a.metrics.redisUp.get()).values[0]?.value).toBe(1);
    const fresh = await a.store.create(tokens('kate', 'sid-k'));
    expect(await b.store.get(fresh.id)).toBeDefined();
    // The restarted Redis is empty (no persistence): the reconnection resynced the local copies.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await a.store.get(held.id)).toBeUndefined();
  });
});
