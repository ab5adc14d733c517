// A real redis-server (the Debian binary) for unit tests: 127.0.0.1, a free port, a password, no
// persistence. redis-server has no "--port 0", so a free port is found first and kept across restarts.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { Config } from '../../src/config/schema.js';
import { type RedisConnection, connectRedis } from '../../src/cluster/redis.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/ops/metrics.js';

export interface TestRedis {
  readonly port: number;
  readonly password: string;
  readonly url: string;
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port (empty: no persistence). */
  start(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts redis-server on a free port; call `stop()` in afterAll. */
export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  let child: ChildProcess | undefined;
  const start = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', password, '--save', '', '--appendonly', 'no'];
      const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      let output = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${output}`)), 10_000);
      proc.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}): ${output}`));
      });
    });
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      const proc = child;
      child = undefined;
      if (proc === undefined || proc.exitCode !== null) return resolve();
      proc.removeAllListeners('exit');
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    });
  await start();
  return { port, password, url: `redis://:${password}@127.0.0.1:${port}`, stop, start };
}

/** A service-style connection to the test server (short command timeout), its metrics and a silent log. */
export function connectTest(redis: TestRedis, keyPrefix = 'test:'): { connection: RedisConnection; metrics: Metrics } {
  const metrics = new Metrics({ defaultMetrics: false });
  const config = { redis: { url: redis.url, keyPrefix, commandTimeoutMs: 500 } } as unknown as Config;
  return { connection: connectRedis(config, metrics, createLogger('silent')), metrics };
}

/** Resolves once the connection is ready (its first connect is asynchronous). */
export async function ready(connection: RedisConnection, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!connection.client.isReady) {
    if (Date.now() > deadline) throw new Error('redis connection not ready');
    await new Promise((r) => setTimeout(r, 20));
  }
}
