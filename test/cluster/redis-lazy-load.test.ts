/**
 * node-redis is loaded only where a Redis connection is made (src/cluster/redis.ts): a service
 * without Redis (the default single replica) does not carry its ≈ 5 MB of heap. Checked on the
 * built service (dist/, built by `pretest`) in a fresh process, since this test's own process
 * may already have loaded the package.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `body` as an ES module in a fresh node at the repository root; returns its stdout. */
function freshNode(body: string): string {
  return execFileSync(process.execPath, ['--input-type=module', '-e', body], { cwd: ROOT, encoding: 'utf8' }).trim();
}

const LOADED = `const { createRequire } = await import('node:module');
const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((path) => /node_modules[\\\\/]@redis[\\\\/]client[\\\\/]/.test(path));`;

describe('node-redis loading', () => {
  it('is not loaded by the service’s modules, only when a connection is made', () => {
    const out = freshNode(`${LOADED}
const { createService } = await import('./dist/app.js');
const { connectRedis } = await import('./dist/cluster/redis.js');
const before = loaded();
const { Metrics } = await import('./dist/ops/metrics.js');
const { createLogger } = await import('./dist/log.js');
const connection = connectRedis({ redis: { url: 'redis://127.0.0.1:1', keyPrefix: 'x:', commandTimeoutMs: 100 } }, new Metrics(), createLogger('silent'));
const after = loaded();
await connection.close().catch(() => undefined);
console.log(JSON.stringify({ app: typeof createService, before, after, client: typeof connection.client.sendCommand }));
process.exit(0);`);
    expect(JSON.parse(out)).toEqual({ app: 'function', before: false, after: true, client: 'function' });
  });
});
