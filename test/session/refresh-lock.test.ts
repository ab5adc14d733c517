import { type ClusterEvent, MemoryClusterBus } from '../../src/cluster/bus.js';
import type { RedisConnection } from '../../src/cluster/redis.js';
import { IdpUnavailable, StoreUnavailable, Unauthenticated } from '../../src/errors.js';
import type { SessionRecord } from '../../src/session/redis-records.js';
import { RefreshLock } from '../../src/session/refresh-lock.js';
import type { Session, SessionTokens } from '../../src/session/store.js';
import { connectTest, ready, startRedis, type TestRedis } from '../helpers/redis-server.js';

// The cross-replica refresh lock against a real redis-server, one decision at a time: who
// refreshes, who waits, when a waiter gives up, and that a lock is released only by its holder.
// The record reader is the test's own (what another replica wrote to Redis), so each case sets it.

const H = 'session-hash';
const OLD: SessionTokens = { accessToken: 'at-old', accessExpiresAtMs: 1, refreshToken: 'rt-old', idToken: undefined };
const NEW: SessionTokens = { accessToken: 'at-new', accessExpiresAtMs: 2, refreshToken: 'rt-new', idToken: undefined };

const record = (t: SessionTokens): SessionRecord => ({ c: 0, a: 0, t });
const session = (): Session => ({ id: 'sid', createdAtMs: 0, absoluteExpiresAtMs: 0, lastSeenMs: 0, tokens: OLD, renewing: undefined });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('RefreshLock (real redis-server)', () => {
  let redis: TestRedis;
  let connection: RedisConnection;
  let n = 0;

  beforeAll(async () => {
    redis = await startRedis();
    connection = connectTest(redis).connection;
    await ready(connection);
  });
  afterAll(async () => {
    await connection.close();
    await redis.stop();
  });

  /** A lock over its own key (so cases do not share one); `stored` is what Redis holds for the session. */
  function setup(lockMs: number, stored: () => SessionRecord | undefined) {
    const h = `${H}-${++n}`;
    const bus = new MemoryClusterBus();
    const events: ClusterEvent[] = [];
    bus.subscribe((event) => events.push(event));
    const lock = new RefreshLock(connection, bus, lockMs, 'origin-a', async () => stored());
    const lockKey = connection.key(`l:${h}`);
    return { h, lock, events, lockKey };
  }

  it('the first replica refreshes under the lock, saves, announces it and releases the lock', async () => {
    const { h, lock, events, lockKey } = setup(5_000, () => record(OLD));
    const s = session();
    const saved: SessionTokens[] = [];
    let ttl = 0;
    const result = await lock.run(
      s,
      h,
      async (current) => {
        expect(current).toBe(OLD);
        ttl = await connection.client.pTTL(lockKey);
        return NEW;
      },
      async (tokens) => {
        saved.push(tokens);
      },
    );
    expect(result).toBe(NEW);
    expect(saved).toEqual([NEW]);
    expect(ttl).toBeGreaterThan(4_000);
    expect(ttl).toBeLessThanOrEqual(5_000);
    expect(await connection.client.exists(lockKey)).toBe(0);
    await sleep(0);
    expect(events).toEqual([{ kind: 'session-updated', key: h, origin: 'origin-a' }]);
  });

  it('takes tokens another replica has just written instead of refreshing (a new access or a new refresh token)', async () => {
    for (const stored of [
      { ...OLD, accessToken: 'at-other' },
      { ...OLD, refreshToken: 'rt-other' },
    ]) {
      const { h, lock, lockKey } = setup(5_000, () => record(stored));
      const s = session();
      const refreshed: SessionTokens[] = [];
      const result = await lock.run(
        s,
        h,
        async (current) => {
          refreshed.push(current);
          return NEW;
        },
        async () => undefined,
      );
      expect(result).toBe(stored);
      expect(s.tokens).toBe(stored);
      expect(refreshed).toEqual([]);
      expect(await connection.client.exists(lockKey)).toBe(0);
    }
  });

  it('a session ended meanwhile is not refreshed: Unauthenticated, lock released', async () => {
    const { h, lock, lockKey } = setup(5_000, () => undefined);
    let refreshed = 0;
    const run = lock.run(
      session(),
      h,
      async () => {
        refreshed++;
        return NEW;
      },
      async () => undefined,
    );
    await expect(run).rejects.toBeInstanceOf(Unauthenticated);
    await expect(run).rejects.toMatchObject({ detail: 'session ended on another replica' });
    expect(refreshed).toBe(0);
    expect(await connection.client.exists(lockKey)).toBe(0);
  });

  it('new tokens that cannot be saved are still served here (the old refresh token is spent), not announced', async () => {
    const { h, lock, events } = setup(5_000, () => record(OLD));
    const s = session();
    const result = await lock.run(
      s,
      h,
      async () => NEW,
      async () => {
        throw new Error('write failed');
      },
    );
    expect(result).toBe(NEW);
    expect(s.tokens).toBe(NEW);
    await sleep(0);
    expect(events).toEqual([]);
  });

  it('releases only its own lock: one that expired and was taken by another replica stays', async () => {
    const { h, lock, lockKey } = setup(100, () => record(OLD));
    const result = await lock.run(
      session(),
      h,
      async () => {
        await sleep(300); // the lock expires meanwhile...
        await connection.client.set(lockKey, 'another-replica'); // ...and another replica takes it
        return NEW;
      },
      async () => undefined,
    );
    expect(result).toBe(NEW);
    expect(await connection.client.get(lockKey)).toBe('another-replica');
    await connection.client.del(lockKey);
  });

  it('a replica that finds the lock taken waits for the tokens the holder writes, and refreshes nothing itself', async () => {
    let stored = record(OLD);
    const { h, lock, lockKey } = setup(5_000, () => stored);
    await connection.client.set(lockKey, 'holder', { expiration: { type: 'PX', value: 5_000 } });
    const s = session();
    let refreshed = 0;
    const waiting = lock.run(
      s,
      h,
      async () => {
        refreshed++;
        return OLD;
      },
      async () => undefined,
    );
    await sleep(250); // a few polls with nothing new
    stored = record(NEW);
    expect(await waiting).toBe(NEW);
    expect(s.tokens).toBe(NEW);
    expect(refreshed).toBe(0);
    expect(await connection.client.get(lockKey)).toBe('holder'); // the waiter never touches the holder's lock
    await connection.client.del(lockKey);
  });

  it('a waiter learns at once that the session ended', async () => {
    let stored: SessionRecord | undefined = record(OLD);
    const { h, lock, lockKey } = setup(5_000, () => stored);
    await connection.client.set(lockKey, 'holder', { expiration: { type: 'PX', value: 5_000 } });
    const waiting = lock.run(
      session(),
      h,
      async () => NEW,
      async () => undefined,
    );
    await sleep(150);
    stored = undefined;
    const started = Date.now();
    await expect(waiting).rejects.toBeInstanceOf(Unauthenticated);
    expect(Date.now() - started).toBeLessThan(2_500);
    await connection.client.del(lockKey);
  });

  it('a waiter stops as soon as the lock is released without new tokens (the holder failed): 503, no refresh', async () => {
    const { h, lock, lockKey } = setup(10_000, () => record(OLD));
    await connection.client.set(lockKey, 'holder', { expiration: { type: 'PX', value: 10_000 } });
    let refreshed = 0;
    const started = Date.now();
    const waiting = lock.run(
      session(),
      h,
      async () => {
        refreshed++;
        return NEW;
      },
      async () => undefined,
    );
    await sleep(200);
    await connection.client.del(lockKey);
    await expect(waiting).rejects.toBeInstanceOf(IdpUnavailable);
    expect(Date.now() - started).toBeLessThan(5_000); // long before the lock's 10 s
    expect(refreshed).toBe(0);
  });

  it('a waiter gives up after the lock lifetime when the holder neither writes nor releases', async () => {
    const { h, lock, lockKey } = setup(600, () => record(OLD));
    await connection.client.set(lockKey, 'holder', { expiration: { type: 'PX', value: 60_000 } });
    const started = Date.now();
    await expect(
      lock.run(
        session(),
        h,
        async () => NEW,
        async () => undefined,
      ),
    ).rejects.toBeInstanceOf(IdpUnavailable);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(550);
    expect(waited).toBeLessThan(4_000);
    expect(lock.waitingSessions()).toBe(0); // the session's waiting list went with its last waiter
    await connection.client.del(lockKey);
  });

  it('wake() ends a wait at once, before the next poll would', async () => {
    let stored = record(OLD);
    const { h, lock, lockKey } = setup(30_000, () => stored);
    await connection.client.set(lockKey, 'holder', { expiration: { type: 'PX', value: 30_000 } });
    const waiting = lock.run(
      session(),
      h,
      async () => NEW,
      async () => undefined,
    );
    await sleep(50);
    stored = record(NEW);
    lock.wake(`${h}-unrelated`); // another session's event wakes nobody here
    lock.wake(h);
    lock.wake(h); // a second event with nobody waiting is harmless
    expect(await waiting).toBe(NEW);
    expect(lock.waitingSessions()).toBe(0);
    await connection.client.del(lockKey);
  });

  it('Redis unavailable while taking the lock or while waiting: StoreUnavailable (503), never a refresh', async () => {
    const broken = connectTest(redis, 'broken:').connection;
    await ready(broken);
    await broken.close();
    const offline = new RefreshLock(broken, new MemoryClusterBus(), 5_000, 'origin-b', async () => record(OLD));
    let refreshed = 0;
    await expect(
      offline.run(
        session(),
        'offline',
        async () => {
          refreshed++;
          return NEW;
        },
        async () => undefined,
      ),
    ).rejects.toBeInstanceOf(StoreUnavailable);
    expect(refreshed).toBe(0);

    // Waiting, and the record cannot be read.
    const failing = setup(5_000, () => {
      throw new Error('read failed');
    });
    await connection.client.set(failing.lockKey, 'holder', { expiration: { type: 'PX', value: 5_000 } });
    await expect(
      failing.lock.run(
        session(),
        failing.h,
        async () => NEW,
        async () => undefined,
      ),
    ).rejects.toBeInstanceOf(StoreUnavailable);
    await connection.client.del(failing.lockKey);
  });
});
