import { MemoryCluster } from '../../src/cluster/bus.js';
import { RedisCluster } from '../../src/cluster/redis-bus.js';
import type { ClusterEvent } from '../../src/cluster/bus.js';
import { createLogger } from '../../src/log.js';
import { connectTest, ready, startRedis, type TestRedis } from '../helpers/redis-server.js';

const log = createLogger('silent');
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('MemoryCluster (one replica)', () => {
  it('delivers events to every listener, asynchronously, until unsubscribed', async () => {
    const cluster = new MemoryCluster();
    const seen: ClusterEvent[] = [];
    const stop = cluster.bus.subscribe((event) => seen.push(event));
    const sent = cluster.bus.publish({ kind: 'logout', issuer: 'https://idp', sub: 'u1' });
    expect(seen).toEqual([]); // not inside publish: a listener never runs in the publisher's stack
    await sent;
    await pause(0);
    expect(seen).toEqual([{ kind: 'logout', issuer: 'https://idp', sub: 'u1' }]);
    stop();
    await cluster.bus.publish({ kind: 'logout', issuer: 'https://idp', sid: 's' });
    await pause(0);
    expect(seen).toHaveLength(1);
  });

  it('claims a key once within its ttl', async () => {
    const cluster = new MemoryCluster(10);
    expect(await cluster.claimOnce('jti-1', 60_000)).toBe(true);
    expect(await cluster.claimOnce('jti-1', 60_000)).toBe(false);
    expect(await cluster.claimOnce('jti-2', 1)).toBe(true);
    await pause(5);
    expect(await cluster.claimOnce('jti-2', 1)).toBe(true);
  });
});

describe('RedisCluster (two replicas on a real redis-server)', () => {
  let redis: TestRedis;
  const clusters: RedisCluster[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const cluster of clusters) await cluster.close();
    await redis.stop();
  });
  async function replica(): Promise<RedisCluster> {
    const { connection } = connectTest(redis);
    const cluster = new RedisCluster(connection, log);
    clusters.push(cluster);
    await ready(connection);
    await cluster.bus.ready();
    return cluster;
  }

  it('delivers a published event to both replicas (the publisher too) and ignores foreign messages', async () => {
    const [a, b] = [await replica(), await replica()];
    const seenA: ClusterEvent[] = [];
    const seenB: ClusterEvent[] = [];
    a.bus.subscribe((event) => seenA.push(event));
    b.bus.subscribe((event) => seenB.push(event));
    const event: ClusterEvent = { kind: 'logout', issuer: 'https://idp', sub: 'u1', sid: 's1' };
    await a.bus.publish(event);
    const { connection: raw } = connectTest(redis);
    await ready(raw);
    await raw.client.publish('test:events', '{"kind":"logout"}'); // malformed: no issuer
    await raw.client.publish('test:events', 'not json');
    await raw.close();
    await pause(200);
    expect(seenA).toEqual([event]);
    expect(seenB).toEqual([event]);
  });

  it('claimOnce holds across replicas (SET NX PX) and expires', async () => {
    const [a, b] = [await replica(), await replica()];
    expect(await a.claimOnce('jti-x', 300)).toBe(true);
    expect(await b.claimOnce('jti-x', 300)).toBe(false);
    expect(await a.claimOnce('jti-x', 300)).toBe(false);
    await pause(400);
    expect(await b.claimOnce('jti-x', 300)).toBe(true);
  });

  it('tells its listeners to resync after a reconnection (messages may have been lost)', async () => {
    const a = await replica();
    const seen: ClusterEvent[] = [];
    a.bus.subscribe((event) => seen.push(event));
    await redis.stop();
    await pause(200);
    await redis.start();
    const deadline = Date.now() + 10_000;
    while (!seen.some((event) => event.kind === 'resync') && Date.now() < deadline) await pause(50);
    expect(seen).toContainEqual({ kind: 'resync' });
  });
});
