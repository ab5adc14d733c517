import { boundedKey, MAX_PLAIN_KEY_LENGTH, MeteredLru } from '../../src/ops/metered-lru.js';
import { Metrics } from '../../src/ops/metrics.js';

const metrics = () => new Metrics({ defaultMetrics: false });

describe('boundedKey', () => {
  it('keeps short keys and hashes long ones to a fixed length, distinctly', () => {
    expect(boundedKey('token\u0000runs\u0000read')).toBe('token\u0000runs\u0000read');
    const long = 'x'.repeat(MAX_PLAIN_KEY_LENGTH + 1);
    expect(boundedKey(long)).toMatch(/^#[A-Za-z0-9_-]{43}$/);
    expect(boundedKey(`${long}a`)).not.toBe(boundedKey(`${long}b`));
    expect(boundedKey(`${long}a`)).toBe(boundedKey(`${long}a`));
  });
});

describe('MeteredLru', () => {
  it('holds no more estimated bytes than maxBytes, whatever the keys weigh', () => {
    const lru = new MeteredLru<{ name: string }>(
      'test',
      { maxEntries: 100_000, maxBytes: 100_000, sizeOf: (v: { name: string }) => 2 * v.name.length },
      metrics(),
    );
    for (let i = 0; i < 5_000; i++) lru.set(`/path/${i}/${'p'.repeat(7_900)}`, { name: `n${i}` });
    expect(lru.bytes).toBeLessThanOrEqual(100_000);
    // Keys are hashed: each entry costs a few hundred bytes, not 16 KB, so hundreds fit.
    expect(lru.size).toBeGreaterThan(200);
    expect(lru.lookup(`/path/4999/${'p'.repeat(7_900)}`, () => true)).toEqual({ name: 'n4999' });
  });

  it('evicts for the entry bound too, and counts evictions, hits and misses', async () => {
    const m = metrics();
    const lru = new MeteredLru<number>('test', { maxEntries: 3, maxBytes: 1_000_000 }, m);
    for (let i = 0; i < 5; i++) lru.set(`k${i}`, i);
    expect(lru.size).toBe(3);
    expect(lru.lookup('k0', () => true)).toBeUndefined();
    expect(lru.lookup('k4', () => true)).toBe(4);
    lru.delete('k4');
    expect(lru.lookup('k4', () => true)).toBeUndefined();
    const text = await m.registry.metrics();
    expect(text).toContain('authz_cache_evictions_total{cache="test"} 2');
    expect(text).toContain('authz_cache_requests_total{cache="test",result="hit"} 1');
    expect(text).toContain('authz_cache_requests_total{cache="test",result="miss"} 2');
  });

  it('does not store a value larger than the whole budget', () => {
    const lru = new MeteredLru<{ big: string }>(
      'test',
      { maxEntries: 10, maxBytes: 2_000, sizeOf: (v: { big: string }) => 2 * v.big.length },
      metrics(),
    );
    lru.set('small', { big: 'x' });
    lru.set('huge', { big: 'y'.repeat(10_000) });
    expect(lru.lookup('huge', () => true)).toBeUndefined();
    expect(lru.lookup('small', () => true)).toEqual({ big: 'x' });
  });
});
