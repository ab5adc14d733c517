/**
 * RedisFailureLimiter on a real redis-server: the key names it keeps (no name or address, only
 * the limitKeyId under the prefix), an attempt it did not hand out settles nothing, and while
 * Redis is down the 503 names the limiter and settling never throws. Written for the mutation run
 * of src/basic/redis-limiter.ts (docs/mutation.md, round 4).
 */
import { isRefusal, limitKeyId, type Attempt, type LimitKey, type Refusal } from '../../src/basic/limiter.js';
import { RedisFailureLimiter } from '../../src/basic/redis-limiter.js';
import type { RedisConnection } from '../../src/cluster/redis.js';
import { StoreUnavailable } from '../../src/errors.js';
import type { Metrics } from '../../src/ops/metrics.js';
import { connectTest, ready, startRedis, type TestRedis } from '../helpers/redis-server.js';

describe('RedisFailureLimiter: key names, foreign attempts, Redis down', () => {
  let redis: TestRedis;
  let connection: RedisConnection;
  let metrics: Metrics;
  let limiter: RedisFailureLimiter;
  let serial = 0;
  const userKey = (max = 3): LimitKey => ({ id: limitKeyId('user', `edge-${serial++}`), maxFailures: max, forgetOnSuccess: true });
  function granted(outcome: Attempt | Refusal): Attempt {
    if (isRefusal(outcome)) throw new Error(`refused: ${outcome.retryAfterSeconds.join(',')}`);
    return outcome;
  }

  beforeAll(async () => {
    redis = await startRedis();
    ({ connection, metrics } = connectTest(redis, 'edge:'));
    await ready(connection);
    limiter = new RedisFailureLimiter(connection, { windowMs: 60_000, lockoutMs: 30_000, attemptTtlMs: 20_000 }, Date.now);
  });
  afterAll(async () => {
    await connection.close();
    await redis.stop();
  });

  it('keeps per key an attempts set, a failures set and a lockout, named by prefix and id only', async () => {
    const user = userKey(2);
    const held = granted(await limiter.reserve([user]));
    expect(await connection.client.keys('edge:*')).toEqual([`edge:f:${user.id}:a`]);
    await limiter.fail(held);
    expect(await connection.client.keys('edge:*')).toEqual([`edge:f:${user.id}:f`]);
    await limiter.charge([user]);
    expect(await connection.client.keys('edge:*')).toEqual([`edge:f:${user.id}:l`]);
    const ttl = await connection.client.pTTL(`edge:f:${user.id}:l`);
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(30_000);
    await connection.client.del(`edge:f:${user.id}:l`);
  });

  it('an attempt it did not hand out settles nothing', async () => {
    const user = userKey(1);
    const foreign: Attempt = { keys: [user] };
    await limiter.fail(foreign);
    await limiter.succeed(foreign);
    await limiter.cancel(foreign);
    expect(await limiter.retryAfter([user])).toEqual([0]);
    expect(await connection.client.keys(`edge:f:${user.id}:*`)).toEqual([]);
  });

  it('an attempt settled twice counts once, also when its first failure locked the key', async () => {
    const short = new RedisFailureLimiter(connection, { windowMs: 60_000, lockoutMs: 300, attemptTtlMs: 20_000 }, Date.now);
    const user = userKey(2);
    await short.fail(granted(await short.reserve([user])));
    const second = granted(await short.reserve([user]));
    await short.fail(second); // the second failure of two: locked, the failures cleared
    await short.fail(second);
    await limiter.fail(second);
    await short.succeed(second);
    expect(await connection.client.zCard(`edge:f:${user.id}:f`)).toBe(0); // no failure re-added after the lockout
    await new Promise((resolve) => setTimeout(resolve, 400)); // the lockout is over
    await short.fail(granted(await short.reserve([user])));
    expect(await short.retryAfter([user])).toEqual([0]); // one failure of two: not locked
    expect(await connection.client.zCard(`edge:f:${user.id}:f`)).toBe(1);
  });

  it('while Redis is down: reserve and retryAfter answer a 503 naming the limiter; settling and charging do not throw', async () => {
    const user = userKey(3);
    const held = granted(await limiter.reserve([user]));
    await redis.stop();
    const error = await limiter.reserve([user]).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(StoreUnavailable);
    expect((error as StoreUnavailable).detail).toMatch(/^redis limiter: /);
    expect((await metrics.redisErrors.get()).values).toEqual([{ labels: { op: 'limiter' }, value: 1 }]);
    await expect(limiter.fail(held)).resolves.toBeUndefined();
    await expect(limiter.charge([user])).resolves.toBeUndefined();
    await redis.start();
  });
});
