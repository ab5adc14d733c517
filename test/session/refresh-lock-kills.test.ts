/**
 * The cross-replica refresh lock (src/session/refresh-lock.ts) against a real redis-server: edges
 * found unguarded by mutation round 5 (docs/mutation.md). How often a waiter reads Redis, that one
 * waiter finishing leaves the others of the same session registered (and wakeable), the refusal's
 * code when the session ended, and the operation Redis failures are counted under.
 */
import { MemoryClusterBus } from '../../src/cluster/bus.js';
import type { RedisConnection } from '../../src/cluster/redis.js';
import type { Metrics } from '../../src/ops/metrics.js';
import type { SessionRecord } from '../../src/session/redis-records.js';
import { RefreshLock } from '../../src/session/refresh-lock.js';
import type { Session, SessionTokens } from '../../src/session/store.js';
import { connectTest, ready, startRedis, type TestRedis } from '../helpers/redis-server.js';

const OLD: SessionTokens = { accessToken: 'at-old', accessExpiresAtMs: 1, refreshToken: 'rt-old', idToken: undefined };
const NEW: SessionTokens = { accessToken: 'at-new', accessExpiresAtMs: 2, refreshToken: 'rt-new', idToken: undefined };
const record = (t: SessionTokens): SessionRecord => ({ c: 0, a: 0, t });
const session = (tokens = OLD): Session => ({
  id: 'sid',
  createdAtMs: 0,
  absoluteExpiresAtMs: 0,
  lastSeenMs: 0,
  tokens,
  renewing: undefined,
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let redis: TestRedis;
let connection: RedisConnection;
let metrics: Metrics;
let n = 0;
beforeAll(async () => {
  redis = await startRedis();
  ({ connection, metrics } = connectTest(redis, 'kills:'));
  await ready(connection);
});
afterAll(async () => {
  await connection.close();
  await redis.stop();
});

/** A lock whose key another replica holds; `reads` counts the record reads. */
async function heldElsewhere(lockMs: number, stored: () => SessionRecord | undefined) {
  const h = `kills-${++n}`;
  const counter = { reads: 0 };
  const lock = new RefreshLock(connection, new MemoryClusterBus(), lockMs, 'origin-k', async () => {
    counter.reads++;
    return stored();
  });
  const lockKey = connection.key(`l:${h}`);
  await connection.client.set(lockKey, 'holder', { expiration: { type: 'PX', value: 60_000 } });
  return { h, lock, lockKey, counter };
}
const noRefresh = async (): Promise<SessionTokens> => NEW;
const noSave = async (): Promise<void> => undefined;
const counted = async (op: string) =>
  Number(new RegExp(`authz_redis_errors_total\\{op="${op}"\\} (\\d+)`).exec(await metrics.registry.metrics())?.[1] ?? 0);

describe('RefreshLock (real redis-server): waiting', () => {
  it('reads Redis about every 100 ms while it waits, not continuously', async () => {
    const { h, lock, lockKey, counter } = await heldElsewhere(500, () => record(OLD));
    await expect(lock.run(session(), h, noRefresh, noSave)).rejects.toMatchObject({ status: 503 });
    // 500 ms of waiting at one read per 100 ms: about 5 reads.
    expect(counter.reads).toBeGreaterThanOrEqual(2);
    expect(counter.reads).toBeLessThanOrEqual(10);
    await connection.client.del(lockKey);
  });

  it('one waiter finishing leaves the other waiters of the session registered (counted, and woken by the session’s event)', async () => {
    let stored: SessionRecord | undefined = record(NEW);
    const { h, lock, lockKey } = await heldElsewhere(30_000, () => stored);
    // The first knew the old tokens: it takes the new ones at its first poll. The second already holds them: it waits on.
    const first = lock.run(session(OLD), h, noRefresh, noSave);
    await sleep(50); // the second's polls fall halfway between the first's
    const second = lock.run(session(NEW), h, noRefresh, noSave).catch((error: unknown) => error);
    expect(await first).toBe(NEW);
    expect(lock.waitingSessions()).toBe(1);
    stored = undefined; // the session ends: the woken waiter learns it at once
    lock.wake(h);
    expect(await second).toMatchObject({ status: 401, code: 'no_credentials' });
    expect(lock.waitingSessions()).toBe(0);
    await connection.client.del(lockKey);
  });
});

describe('RefreshLock (real redis-server): wake()', () => {
  it('answers a waiter at once, not at its next poll (the quickest of three tries, against scheduling noise)', async () => {
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      let stored = record(OLD);
      const { h, lock, lockKey } = await heldElsewhere(30_000, () => stored);
      const waiting = lock.run(session(), h, noRefresh, noSave);
      await sleep(20); // the waiter is in its first 100 ms sleep
      stored = record(NEW);
      const woken = Date.now();
      lock.wake(h);
      expect(await waiting).toBe(NEW);
      waits.push(Date.now() - woken);
      await connection.client.del(lockKey);
    }
    // Without the event the waiter would answer at its poll, some 80 ms later.
    expect(Math.min(...waits)).toBeLessThan(50);
  });
});

describe('RefreshLock (real redis-server): failures, by operation', () => {
  it('counts a failed lock or wait as refresh_lock, and a failed write of new tokens as session_write', async () => {
    const broken = connectTest(redis, 'kills-broken:');
    await ready(broken.connection);
    await broken.connection.close();
    let offlineReads = 0;
    const offline = new RefreshLock(broken.connection, new MemoryClusterBus(), 5_000, 'origin-b', async () => {
      offlineReads++;
      return record(OLD);
    });
    await expect(offline.run(session(), 'offline', noRefresh, noSave)).rejects.toMatchObject({ status: 503 });
    expect(offlineReads).toBe(0); // refused at the lock, not after waiting as if another replica held it
    expect(Number(/authz_redis_errors_total\{op="refresh_lock"\} (\d+)/.exec(await broken.metrics.registry.metrics())?.[1])).toBe(1);

    const before = await counted('refresh_lock');
    const failing = await heldElsewhere(5_000, () => {
      throw new Error('read failed');
    });
    await expect(failing.lock.run(session(), failing.h, noRefresh, noSave)).rejects.toMatchObject({ status: 503 });
    expect(await counted('refresh_lock')).toBe(before + 1);
    await connection.client.del(failing.lockKey);

    const h = `kills-${++n}`;
    const writer = new RefreshLock(connection, new MemoryClusterBus(), 5_000, 'origin-w', async () => record(OLD));
    const writes = await counted('session_write');
    const s = session();
    await expect(
      writer.run(s, h, noRefresh, async () => {
        throw new Error('write failed');
      }),
    ).resolves.toBe(NEW);
    expect(await counted('session_write')).toBe(writes + 1);
  });
});
