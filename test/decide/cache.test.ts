import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { jest } from '@jest/globals';
import { systemClock } from '../../src/clock.js';
import { allowExpiresAtMs, allowUntil, DecisionCache } from '../../src/decide/cache.js';
import { Forbidden, IdpUnavailable, RateLimited, Unauthenticated } from '../../src/errors.js';
import { Metrics } from '../../src/ops/metrics.js';

const T0 = Date.parse('2026-11-23T12:00:00Z');
const ttls = { allowTtlMs: 60_000, denyTtlMs: 5_000 };
let cache: DecisionCache;
let calls: number;
const allow = async () => {
  calls++;
};
const deny = async () => {
  calls++;
  throw new Forbidden('access_denied');
};

beforeEach(() => {
  // A frozen clock: the cache reads time through systemClock (Date.now), which jest fakes.
  jest.useFakeTimers({ now: T0 });
  cache = new DecisionCache(100, ttls, new Metrics({ defaultMetrics: false }), systemClock);
  calls = 0;
});
afterEach(() => jest.useRealTimers());

describe('DecisionCache', () => {
  it('keeps an allow for the configured TTL when the token lives longer', async () => {
    expect(await cache.check('k', T0 + 3_600_000, allow)).toEqual({ source: 'idp', denial: undefined });
    jest.setSystemTime(T0 + 59_999);
    expect(await cache.check('k', T0 + 3_600_000, allow)).toEqual({ source: 'cache', denial: undefined });
    jest.setSystemTime(T0 + 60_000);
    expect((await cache.check('k', T0 + 3_600_000, allow)).source).toBe('idp');
    expect(calls).toBe(2);
  });

  it('never keeps an answer past the token expiry', async () => {
    const tokenExpiry = T0 + 10_000; // shorter than the 60 s allow TTL
    await cache.check('k', tokenExpiry, allow);
    jest.setSystemTime(tokenExpiry - 1);
    expect((await cache.check('k', tokenExpiry, allow)).source).toBe('cache');
    jest.setSystemTime(tokenExpiry);
    expect((await cache.check('k', tokenExpiry, allow)).source).toBe('idp');
  });

  it('does not cache for a token that has already expired', async () => {
    await cache.check('k', T0 - 1, allow);
    await cache.check('k', T0 - 1, allow);
    expect(calls).toBe(2);
  });

  it('keeps denials for the shorter deny TTL, and returns the same refusal', async () => {
    const first = await cache.check('k', T0 + 3_600_000, deny);
    expect(first.denial).toBeInstanceOf(Forbidden);
    jest.setSystemTime(T0 + 4_999);
    expect(await cache.check('k', T0 + 3_600_000, deny)).toEqual({ source: 'cache', denial: first.denial });
    jest.setSystemTime(T0 + 5_000);
    expect((await cache.check('k', T0 + 3_600_000, deny)).source).toBe('idp');
  });

  it('caches a revoked-token answer like a denial', async () => {
    const revoked = async () => {
      calls++;
      throw new Unauthenticated('invalid_token');
    };
    await cache.check('k', T0 + 3_600_000, revoked);
    expect((await cache.check('k', T0 + 3_600_000, revoked)).denial).toBeInstanceOf(Unauthenticated);
    expect(calls).toBe(1);
  });

  it('never caches an IdP outage: the next request asks again, and nothing allows', async () => {
    const down = async () => {
      calls++;
      throw new IdpUnavailable({ detail: 'timeout' });
    };
    await expect(cache.check('k', T0 + 3_600_000, down)).rejects.toBeInstanceOf(IdpUnavailable);
    await expect(cache.check('k', T0 + 3_600_000, down)).rejects.toBeInstanceOf(IdpUnavailable);
    expect(calls).toBe(2);
  });

  it('shares one IdP call between 100 concurrent identical misses', async () => {
    jest.useRealTimers();
    cache = new DecisionCache(100, ttls, new Metrics({ defaultMetrics: false }), systemClock);
    let release!: () => void;
    const slow = () => {
      calls++;
      return new Promise<void>((resolve) => (release = resolve));
    };
    const answers = Array.from({ length: 100 }, () => cache.check('k', Date.now() + 60_000, slow));
    release();
    const results = await Promise.all(answers);
    expect(calls).toBe(1);
    expect(results.every((r) => r.denial === undefined)).toBe(true);
    // Different keys do not share.
    await Promise.all([cache.check('a', Date.now() + 60_000, allow), cache.check('b', Date.now() + 60_000, allow)]);
    expect(calls).toBe(3);
  });

  it('is bounded: the least recently used entry is evicted and counted', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const small = new DecisionCache(2, ttls, metrics, systemClock);
    for (const key of ['a', 'b', 'c']) await small.check(key, T0 + 3_600_000, allow);
    expect(small.size).toBe(2);
    expect((await metrics.cacheEvictions.get()).values[0]?.value).toBe(1);
    expect((await small.check('a', T0 + 3_600_000, allow)).source).toBe('idp');
  });

  it('never remembers a per-subject rate limit (it says nothing about the permission)', async () => {
    await expect(
      cache.check('k', T0 + 3_600_000, async () => {
        calls++;
        throw new RateLimited(1);
      }),
    ).rejects.toBeInstanceOf(RateLimited);
    expect(await cache.check('k', T0 + 3_600_000, allow)).toEqual({ source: 'idp', denial: undefined });
    expect(calls).toBe(2);
  });

  it('bounds its estimated bytes, with long keys hashed', async () => {
    const small = new DecisionCache(100_000, ttls, new Metrics({ defaultMetrics: false }), systemClock, 1_048_576);
    await Promise.all(
      Array.from({ length: 20_000 }, (_, i) => small.check(`token\u0000thing:${i}-${'x'.repeat(7_900)}\u0000read`, T0 + 3_600_000, allow)),
    );
    expect(small.bytes).toBeLessThanOrEqual(1_048_576);
    expect(small.size).toBeGreaterThan(1_000);
  });

  it('keeps an allow as whole seconds: never past its expiry, at most a second sooner, a small integer', async () => {
    // Not on a second boundary: stored rounded down.
    jest.setSystemTime(T0 + 400);
    await cache.check('k', T0 + 3_600_000, allow);
    expect(cache.peekEntry('k')).toBe(T0 + 60_000);
    jest.setSystemTime(T0 + 59_999);
    expect(cache.peekEntry('k')).toBe(T0 + 60_000);
    jest.setSystemTime(T0 + 60_000);
    expect(cache.peekEntry('k')).toBeUndefined();
    // A token expiring within the next second is not cached at all (its rounded expiry has passed).
    jest.setSystemTime(T0);
    await cache.check('short', T0 + 999, allow);
    expect(cache.peekEntry('short')).toBeUndefined();
    // The encoding: rounded down, and inside V8's small-integer range (2^31 - 1) until 2088.
    expect(allowExpiresAtMs(allowUntil(T0 + 1_999))).toBe(T0 + 1_000);
    expect(allowExpiresAtMs(allowUntil(T0))).toBe(T0);
    expect(allowUntil(Date.parse('2088-01-01T00:00:00Z'))).toBeLessThan(2 ** 31);
    expect(Number.isInteger(allowUntil(T0 + 123))).toBe(true);
  });

  it('gives a denial its exact expiry in ms and its refusing error', async () => {
    jest.setSystemTime(T0 + 400);
    await cache.check('k', T0 + 3_600_000, deny);
    jest.setSystemTime(T0 + 5_399);
    expect(cache.peekEntry('k')).toBeInstanceOf(Forbidden);
    jest.setSystemTime(T0 + 5_400);
    expect(cache.peekEntry('k')).toBeUndefined();
  });

  it('holds 100,000 allows in under 112 bytes each of live heap (keys, LRU slots, no boxed numbers)', async () => {
    jest.useRealTimers();
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const hashes = Array.from({ length: 20_000 }, (_, i) => `${String(i).padStart(6, '0')}abcdefghijklmnop`);
    const pairs = ['experiment\u0000read', 'run\u0000read', 'run\u0000write', 'artifact\u0000read', 'model\u0000read'];
    gc();
    const before = process.memoryUsage().heapUsed;
    const big = new DecisionCache(100_000, ttls, new Metrics({ defaultMetrics: false }), systemClock);
    for (let i = 0; i < 100_000; i++) await big.check(`${hashes[Math.floor(i / 5)]}\u0000${pairs[i % 5]}`, Date.now() + 3_600_000, allow);
    gc();
    const perEntry = (process.memoryUsage().heapUsed - before) / 100_000;
    expect(big.size).toBe(100_000);
    // Measured under Node 24: 107 bytes; 117 when each allow's ms expiry was a boxed heap number.
    expect(perEntry).toBeLessThan(112);
  }, 60_000);
});
