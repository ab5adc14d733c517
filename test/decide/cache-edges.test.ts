import { jest } from '@jest/globals';
import { systemClock } from '../../src/clock.js';
import { DecisionCache } from '../../src/decide/cache.js';
import { AuthzError, Forbidden } from '../../src/errors.js';
import { Metrics } from '../../src/ops/metrics.js';
import { stringBytes } from '../../src/ops/metered-lru.js';

// Edges of the decision cache found by mutation testing (issue 16): what it keeps (size and
// estimated bytes), the hot-path read, the "untrusted" switch and forgetting a token's decisions.

const T0 = Date.parse('2026-11-23T12:00:00Z');
const LATER = T0 + 3_600_000;
const ttls = { allowTtlMs: 60_000, denyTtlMs: 5_000 };
let metrics: Metrics;
let cache: DecisionCache;
let calls: number;
const allow = async () => {
  calls++;
};
const denyWith = (detail?: string) => async () => {
  calls++;
  throw new Forbidden('access_denied', detail === undefined ? undefined : { detail });
};

beforeEach(() => {
  jest.useFakeTimers({ now: T0 });
  metrics = new Metrics({ defaultMetrics: false });
  cache = new DecisionCache(100, ttls, metrics, systemClock);
  calls = 0;
});
afterEach(() => jest.useRealTimers());

describe('DecisionCache: what it keeps', () => {
  it('stores nothing for a token that has expired, or expires at this very instant', async () => {
    await cache.check('gone', T0 - 1, allow);
    await cache.check('now', T0, allow);
    await cache.check('denied-now', T0, denyWith());
    expect(cache.size).toBe(0);
    expect(cache.bytes).toBe(0);
    // An allow is kept in whole seconds, rounded down (allowUntil): a token that ends within the current second
    // leaves nothing to keep; one that ends at the next second is kept.
    await cache.check('this-second', T0 + 999, allow);
    expect(cache.size).toBe(0);
    await cache.check('next-second', T0 + 1_000, allow);
    expect(cache.size).toBe(1);
  });

  it('weighs an allow as a bare small integer (no bytes beyond its key) and a denial with its detail', async () => {
    await cache.check('a', LATER, allow);
    const allowBytes = cache.bytes;
    expect(allowBytes).toBeGreaterThan(0);
    await cache.check('b', LATER, denyWith());
    const plainDenial = cache.bytes - allowBytes;
    // Same key length: the difference is the value alone; an allow's value is a small integer V8 keeps in the
    // entry itself (no heap object), a denial an error of 160 bytes.
    expect(plainDenial - allowBytes).toBe(160);
    const detail = 'x'.repeat(500);
    await cache.check('c', LATER, denyWith(detail));
    expect(cache.bytes - allowBytes - plainDenial).toBe(plainDenial + stringBytes(detail));
  });

  it('counts its lookups under cache="decision"', async () => {
    await cache.check('k', LATER, allow);
    await cache.check('k', LATER, allow);
    const text = await metrics.registry.metrics();
    expect(text).toContain('authz_cache_requests_total{cache="decision",result="miss"} 1');
    expect(text).toContain('authz_cache_requests_total{cache="decision",result="hit"} 1');
  });

  it('remembers nothing for an error that is not a refusal (a bug, not an answer)', async () => {
    const broken = async () => {
      calls++;
      throw new TypeError('boom');
    };
    await expect(cache.check('k', LATER, broken)).rejects.toBeInstanceOf(TypeError);
    await expect(cache.check('k', LATER, broken)).rejects.toBeInstanceOf(TypeError);
    expect(calls).toBe(2);
    expect(cache.size).toBe(0);
  });
});

describe('DecisionCache.peekEntry (the /auth hot path)', () => {
  it("gives an allow's expiry until the instant before it, then nothing", async () => {
    await cache.check('k', T0 + 10_000, allow);
    expect(cache.peekEntry('k')).toBe(T0 + 10_000);
    jest.setSystemTime(T0 + 9_999);
    expect(cache.peekEntry('k')).toBe(T0 + 10_000);
    jest.setSystemTime(T0 + 10_000);
    expect(cache.peekEntry('k')).toBeUndefined();
  });

  it('gives the remembered refusal until the deny TTL is over, and nothing for an unknown key', async () => {
    const { denial } = await cache.check('k', LATER, denyWith('policy'));
    expect(denial).toBeInstanceOf(AuthzError);
    expect(cache.peekEntry('k')).toBe(denial);
    expect(cache.peek('k')).toEqual({ source: 'cache', denial });
    jest.setSystemTime(T0 + 4_999);
    expect(cache.peekEntry('k')).toBe(denial);
    jest.setSystemTime(T0 + 5_000);
    expect(cache.peekEntry('k')).toBeUndefined();
    expect(cache.peek('k')).toBeUndefined();
    expect(cache.peekEntry('other')).toBeUndefined();
  });
});

describe('DecisionCache.untrusted (the replicas cannot purge it)', () => {
  it('serves nothing from the cache while untrusted, and again once trusted', async () => {
    let untrusted = false;
    cache.untrusted = () => untrusted;
    await cache.check('k', LATER, allow);
    untrusted = true;
    expect(cache.peek('k')).toBeUndefined();
    expect(cache.peekEntry('k')).toBeUndefined();
    expect((await cache.check('k', LATER, allow)).source).toBe('idp');
    expect(calls).toBe(2);
    untrusted = false;
    expect(cache.peek('k')).toEqual({ source: 'cache', denial: undefined });
    expect(cache.peekEntry('k')).toBe(T0 + 60_000);
  });
});

describe('DecisionCache.forgetTokens (logout)', () => {
  it("forgets every decision of the given tokens' hashes and no other", async () => {
    for (const key of ['h1\u0000runs\u0000read', 'h1\u0000runs\u0000update', 'h2\u0000runs\u0000read', 'h11\u0000runs\u0000read']) {
      await cache.check(key, LATER, allow);
    }
    expect(cache.forgetTokens(new Set())).toBe(0);
    expect(cache.size).toBe(4);
    expect(cache.forgetTokens(new Set(['h1']))).toBe(2);
    expect(cache.peekEntry('h1\u0000runs\u0000read')).toBeUndefined();
    expect(cache.peekEntry('h1\u0000runs\u0000update')).toBeUndefined();
    expect(cache.peekEntry('h2\u0000runs\u0000read')).toBe(T0 + 60_000);
    expect(cache.peekEntry('h11\u0000runs\u0000read')).toBe(T0 + 60_000);
    expect(cache.forgetTokens(new Set(['h2', 'h11', 'nobody']))).toBe(2);
    expect(cache.size).toBe(0);
  });
});
