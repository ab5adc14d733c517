import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { boundedKey, flatKey, MAX_PLAIN_KEY_LENGTH, MeteredLru } from '../../src/ops/metered-lru.js';
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

describe('flatKey', () => {
  it('copies every UTF-16 code unit exactly (NUL, non-Latin-1, lone surrogates)', () => {
    for (const key of ['', 'a\u0000b\u0000c', 'é\u4e2d\u{1F600}', 'x\uD800y', '\uDC00\uD800', '"\\\n']) {
      expect(flatKey(key)).toBe(key);
      expect(flatKey(key).length).toBe(key.length);
    }
    expect(flatKey('x\uD800')).not.toBe(flatKey('x\uDC00'));
  });
});

describe('MeteredLru memory', () => {
  it('stores concatenated keys flat: 100,000 decision-shaped entries under 130 bytes each', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const lru = new MeteredLru<number>('decision', { maxEntries: 100_000, maxBytes: 1e9, sizeOf: () => 8 }, metrics());
    const hashes = Array.from({ length: 20_000 }, () => randomBytes(16).toString('base64url'));
    const routes = [
      ['experiment', 'read'],
      ['run', 'read'],
      ['run', 'write'],
      ['artifact', 'read'],
      ['registered-model', 'read'],
    ] as const;
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 100_000; i++) {
      const [resource, scope] = routes[i % 5]!;
      const what = `${resource}\u0000${scope}`; // as the pipeline builds its decision keys
      lru.set(`${hashes[Math.floor(i / 5)]}\u0000${what}`, Date.now() + 3_600_000 + i);
    }
    gc();
    const perEntry = (process.memoryUsage().heapUsed - before) / 100_000;
    expect(lru.size).toBe(100_000);
    // Measured under Node 24: 98 bytes an entry with flat keys, 165 with the cons-cell trees.
    expect(perEntry).toBeLessThan(130);
  });

  it('setShared keys the entry by the very string given (no second copy), hashing only long keys', () => {
    const lru = new MeteredLru<{ key: string }>('token', { maxEntries: 10, maxBytes: 1e6 }, metrics());
    const key = randomBytes(16).toString('base64url');
    lru.setShared(key, { key });
    expect(lru.lookup(key, () => true)).toEqual({ key });
    const long = 'k'.repeat(200);
    lru.setShared(long, { key: long });
    expect(lru.lookup(long, () => true)).toEqual({ key: long });
    expect(lru.deleteWhere((_value, stored) => stored.length > 96)).toBe(0); // stored hashed, as set() does
  });
});
