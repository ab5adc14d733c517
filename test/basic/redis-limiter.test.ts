import { isRefusal, limitKeyId, type Attempt, type LimitKey, type Refusal } from '../../src/basic/limiter.js';
import { RedisFailureLimiter } from '../../src/basic/redis-limiter.js';
import { StoreUnavailable } from '../../src/errors.js';
import { connectTest, ready, startRedis, type TestRedis } from '../helpers/redis-server.js';

describe('RedisFailureLimiter (two replicas sharing one budget on a real redis-server)', () => {
  let redis: TestRedis;
  const connections: Array<{ close(): Promise<void> }> = [];
  let serial = 0;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const each of connections) await each.close();
    await redis.stop();
  });

  async function replica(lockoutMs = 30_000): Promise<RedisFailureLimiter> {
    const { connection } = connectTest(redis);
    connections.push(connection);
    await ready(connection);
    return new RedisFailureLimiter(connection, { windowMs: 60_000, lockoutMs, attemptTtlMs: 20_000 }, Date.now);
  }
  /** A fresh user key per test, so the tests share no budget. */
  const userKey = (max = 3): LimitKey => ({ id: limitKeyId('user', `u-${serial++}`), maxFailures: max, forgetOnSuccess: true });
  const addressKey = (max = 5): LimitKey => ({ id: limitKeyId('address', `10.0.0.${serial++}`), maxFailures: max, forgetOnSuccess: false });
  function granted(outcome: Attempt | Refusal): Attempt {
    if (isRefusal(outcome)) throw new Error(`refused: ${outcome.retryAfterSeconds.join(',')}`);
    return outcome;
  }

  it('failures spread over two replicas lock the key after maxFailures, as on one', async () => {
    const [a, b] = [await replica(), await replica()];
    const user = userKey(3);
    await a.fail(granted(await a.reserve([user])));
    await b.fail(granted(await b.reserve([user])));
    expect(await a.retryAfter([user])).toEqual([0]);
    await a.fail(granted(await a.reserve([user])));
    const [wait] = await b.retryAfter([user]);
    expect(wait).toBeGreaterThan(25);
    const refused = await b.reserve([user]);
    expect(isRefusal(refused)).toBe(true);
  });

  it('concurrent reservations on both replicas never exceed maxFailures (attempts in flight count)', async () => {
    const [a, b] = [await replica(), await replica()];
    const user = userKey(3);
    const outcomes = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).reserve([user])));
    const attempts = outcomes.filter((outcome): outcome is Attempt => !isRefusal(outcome));
    expect(attempts).toHaveLength(3);
    expect(outcomes.find(isRefusal)).toEqual({ refused: true, retryAfterSeconds: [1] });
    for (const attempt of attempts) await a.fail(attempt);
    expect((await b.retryAfter([user]))[0]).toBeGreaterThan(0);
  });

  it('reserves on all keys or none; a success forgets the user but not the address; cancel counts nothing', async () => {
    const [a, b] = [await replica(), await replica()];
    const user = userKey(3);
    const address = addressKey(2);
    await a.fail(granted(await a.reserve([user, address])));
    const held = granted(await b.reserve([user, address]));
    expect(await a.reserve([user, address])).toEqual({ refused: true, retryAfterSeconds: [0, 1] });
    await b.cancel(held);
    await b.succeed(granted(await b.reserve([user, address])));
    // The user forgot its failure; the address kept it (1 of 2).
    await a.fail(granted(await a.reserve([userKey(3), address])));
    expect((await a.retryAfter([address]))[0]).toBeGreaterThan(0);
    expect(await a.retryAfter([user])).toEqual([0]);
    // Settling twice counts once.
    const twice = granted(await a.reserve([user]));
    await a.fail(twice);
    await b.fail(twice);
    await a.fail(granted(await a.reserve([user])));
    expect(await a.retryAfter([user])).toEqual([0]);
  });

  it('charge costs a failure without an attempt; the lockout expires with its key', async () => {
    const [a, b] = [await replica(1_000), await replica(1_000)];
    const address = addressKey(2);
    await a.charge([address]);
    await b.charge([address]);
    expect(await a.retryAfter([address])).toEqual([1]);
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await b.retryAfter([address])).toEqual([0]);
    expect(isRefusal(await b.reserve([address]))).toBe(false);
  });

  it('fails closed while Redis is down (503 for the lockout check) and works again once it is back', async () => {
    const a = await replica();
    const user = userKey(3);
    await redis.stop();
    await expect(a.reserve([user])).rejects.toBeInstanceOf(StoreUnavailable);
    await expect(a.retryAfter([user])).rejects.toBeInstanceOf(StoreUnavailable);
    await redis.start();
    const deadline = Date.now() + 10_000;
    let outcome: Attempt | Refusal | undefined;
    while (outcome === undefined && Date.now() < deadline) {
      outcome = await a.reserve([user]).catch(() => undefined);
      if (outcome === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    expect(outcome !== undefined && !isRefusal(outcome)).toBe(true);
  });
});
