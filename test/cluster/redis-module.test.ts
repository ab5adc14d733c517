/**
 * node-redis declares `class VerbatimString extends String`, which switches off one of V8's fast-path guards for the
 * whole process (the StringWrapperToPrimitive protector) and cost a replica 12 % of its cached decisions per second
 * through NGINX (docs/speed.md). src/cluster/redis-module.ts loads node-redis with that one module replaced. Checked on
 * the built service (dist/, built by `pretest`) in fresh processes with V8's natives syntax, against a real
 * redis-server: the guard stays on through the service's own connection and commands, and plain node-redis does
 * switch it off (so this test can fail, and tells when a node-redis release no longer needs the replacement).
 * Node 20's V8 (11.3) has no such guard: there the guard reads "none" and only the replacement itself is checked.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `body` as an ES module in a fresh node (V8 natives syntax on) at the repository root; its stdout as JSON. */
function freshNode(body: string): Record<string, unknown> {
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', body], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return JSON.parse(out.trim()) as Record<string, unknown>;
}

/** Whether this node's V8 has the guard (V8 12 and later; Node 24's does, Node 20's does not). */
const HAS_GUARD =
  spawnSync(process.execPath, ['--allow-natives-syntax', '-e', '%StringWrapperToPrimitiveProtector()'], { stdio: 'ignore' }).status === 0;
/** The guard's state as an expression in the fresh process: true (on), false (switched off), or "none". */
const GUARD = HAS_GUARD ? '%StringWrapperToPrimitiveProtector()' : '"none"';
const ON = HAS_GUARD ? true : 'none';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterAll(() => redis.stop());

describe('loading node-redis', () => {
  it('keeps V8’s StringWrapperToPrimitive guard on through a real connection and its commands', () => {
    const result = freshNode(`
const { connectRedis } = await import('./dist/cluster/redis.js');
const { Metrics } = await import('./dist/ops/metrics.js');
const { createLogger } = await import('./dist/log.js');
const before = ${GUARD};
const redis = { url: ${JSON.stringify(redis.url)}, password: ${JSON.stringify(redis.password)}, keyPrefix: 'm:', commandTimeoutMs: 2000 };
const connection = connectRedis({ redis }, new Metrics(), createLogger('silent'));
await new Promise((resolve) => connection.client.once('ready', resolve));
await connection.client.set('m:k', 'v');
const value = await connection.client.get('m:k');
const info = await connection.client.info('server');
await connection.close();
console.log(JSON.stringify({ before, after: ${GUARD}, value, info: info.includes('redis_version') }));`);
    expect(result).toEqual({ before: ON, after: ON, value: 'v', info: true });
  });

  it('replaces VerbatimString with a class of the same fields that does not extend String', () => {
    const result = freshNode(`
const { loadNodeRedis } = await import('./dist/cluster/redis-module.js');
const { VerbatimString } = loadNodeRedis();
const text = new VerbatimString('txt', 'hello');
console.log(JSON.stringify({
  string: VerbatimString.prototype instanceof String,
  format: text.format,
  text: String(text),
  joined: 'say ' + text,
  same: loadNodeRedis() === loadNodeRedis(),
  guard: ${GUARD},
}));`);
    expect(result).toEqual({ string: false, format: 'txt', text: 'hello', joined: 'say hello', same: true, guard: ON });
  });

  it('without the replacement, node-redis switches the guard off (what the loader prevents)', () => {
    const result = freshNode(`
const { createRequire } = await import('node:module');
const before = ${GUARD};
createRequire(import.meta.url)('redis');
console.log(JSON.stringify({ before, after: ${GUARD} }));`);
    expect(result).toEqual(HAS_GUARD ? { before: true, after: false } : { before: 'none', after: 'none' });
  });
});
