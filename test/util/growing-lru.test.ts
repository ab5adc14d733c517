import { LRUCache } from 'lru-cache';
import { MemoryCluster } from '../../src/cluster/bus.js';
import { MemoryReplayGuard } from '../../src/logout/replay.js';
import { Revocations } from '../../src/logout/revocations.js';
import { growingLruBounds } from '../../src/util/growing-lru.js';

/** Heap and ArrayBuffer bytes in use (no GC forced: whatever is allocated and held only adds). */
function bytesInUse(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

describe('growingLruBounds', () => {
  it('holds at most maxEntries, dropping the least recently used first', () => {
    const cache = new LRUCache<string, number>(growingLruBounds(3));
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    expect(cache.get('a')).toBe(1); // now b is the least recently used
    cache.set('d', 4);
    expect(cache.size).toBe(3);
    expect([...cache.keys()].sort()).toEqual(['a', 'c', 'd']);
    for (let i = 0; i < 1_000; i++) cache.set(`k${i}`, i);
    expect(cache.size).toBe(3);
    expect([...cache.keys()].sort()).toEqual(['k997', 'k998', 'k999']);
  });

  it('keeps per-entry TTLs working (MemoryCluster claims)', async () => {
    const cluster = new MemoryCluster(2);
    await expect(cluster.claimOnce('x', 60_000)).resolves.toBe(true);
    await expect(cluster.claimOnce('x', 60_000)).resolves.toBe(false);
    await cluster.claimOnce('y', 60_000);
    await cluster.claimOnce('z', 60_000); // pushes x out: at most 2 claims
    await expect(cluster.claimOnce('x', 60_000)).resolves.toBe(true);
  });

  it('costs nothing much while empty: the 100,000-entry logout stores are not preallocated', () => {
    // lru-cache with `max: 100_000` preallocates ≈ 2.8 MB per store; 30 stores would hold ≈ 80 MB.
    const held: unknown[] = [];
    const before = bytesInUse();
    for (let i = 0; i < 10; i++) {
      held.push(new Revocations(86_400_000, 100_000, Date.now));
      held.push(new MemoryReplayGuard(100_000, Date.now));
      held.push(new MemoryCluster(100_000));
    }
    const grown = bytesInUse() - before;
    expect(held).toHaveLength(30);
    expect(grown).toBeLessThan(4 * 1024 * 1024);
  });
});
