#!/usr/bin/env node
/**
 * Hot path of the session stores, same run (`npm run build && node scripts/bench-store.mjs`): a session
 * already seen, looked up by id, from the memory store and from the Redis store's local copy (a real
 * redis-server started here on a free 127.0.0.1 port, stopped at the end). Both answer synchronously;
 * this shows what the Redis store adds per request on a hit (the asynchronous idle-expiry touch is
 * rate-limited to one per session per idle/10). Env: BENCH_SESSIONS (1000), BENCH_LOOKUPS (2000000).
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { MemoryCluster } from '../dist/cluster/bus.js';
import { connectRedis } from '../dist/cluster/redis.js';
import { createLogger } from '../dist/log.js';
import { Metrics } from '../dist/ops/metrics.js';
import { RedisSessionStore } from '../dist/session/redis-store.js';
import { MemorySessionStore } from '../dist/session/store.js';

const sessions = Number(process.env.BENCH_SESSIONS ?? 1000);
const lookups = Number(process.env.BENCH_LOOKUPS ?? 2_000_000);
const port = await new Promise((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port: p } = server.address();
    server.close(() => resolve(p));
  });
});
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
  stdio: 'ignore',
});
await new Promise((r) => setTimeout(r, 300));
const log = createLogger('silent');
const connection = connectRedis(
  { redis: { url: `redis://127.0.0.1:${port}`, keyPrefix: 'bench:', commandTimeoutMs: 1000 } },
  new Metrics({ defaultMetrics: false }),
  log,
);
while (!connection.client.isReady) await new Promise((r) => setTimeout(r, 20));
const limits = { idleTimeoutMs: 3_600_000, absoluteTimeoutMs: 43_200_000, maxEntries: 10_000 };
const tokens = () => ({
  accessToken: 'a'.repeat(1200),
  accessExpiresAtMs: Date.now() + 300_000,
  refreshToken: 'r'.repeat(800),
  idToken: 'i'.repeat(1500),
});
const stores = {
  memory: new MemorySessionStore(limits, Date.now),
  redis: new RedisSessionStore(
    { ...limits, secret: 's'.repeat(40), refreshLockMs: 8000 },
    connection,
    new MemoryCluster().bus,
    log,
    Date.now,
  ),
};
const results = {};
for (const [name, store] of Object.entries(stores)) {
  const ids = [];
  for (let i = 0; i < sessions; i++) ids.push((await store.create(tokens())).id);
  for (const id of ids) if (store.get(id) instanceof Promise) throw new Error(`${name}: a seen session must answer synchronously`);
  for (let round = 0; round < 2; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < lookups; i++) store.get(ids[i % sessions]);
    const ns = Number(process.hrtime.bigint() - start) / lookups;
    results[name] = ns; // the second round (warm) is kept
  }
}
console.log(`session lookups (hit), ${sessions} sessions, ${lookups} lookups each:`);
for (const [name, ns] of Object.entries(results))
  console.log(`  ${name.padEnd(7)} ${ns.toFixed(0)} ns/lookup  (${(1e9 / ns / 1e6).toFixed(1)} M/s)`);
await stores.redis.close();
await connection.close();
redis.kill('SIGTERM');
