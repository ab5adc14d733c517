import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as NodeRedis from 'redis';
import type { Config } from '../config/schema.js';
import { StoreUnavailable } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';

export type RedisClient = ReturnType<typeof NodeRedis.createClient>;

/**
 * node-redis, loaded on first use: its modules take ≈ 5 MB of heap (measured under Node 24),
 * which a single replica without Redis (the default) would carry for nothing. It is a CommonJS
 * package, so a synchronous require loads it where the connection is made.
 */
function nodeRedis(): typeof NodeRedis {
  return createRequire(import.meta.url)('redis') as typeof NodeRedis;
}

/** Operations counted in `authz_redis_errors_total` (a bounded label set). */
export type RedisOp = 'session_read' | 'session_write' | 'refresh_lock' | 'limiter' | 'publish' | 'claim';

/** The Redis connection the service shares (sessions, limiter, bus), and how it reports trouble. */
export interface RedisConnection {
  readonly client: RedisClient;
  /** Key (and channel) names: the configured prefix + `name`. */
  key(name: string): string;
  /** Wraps a failed Redis call: counts it, logs it (at most once a second) and returns the 503 to throw. */
  failure(op: RedisOp, error: unknown): StoreUnavailable;
  /** A second connection for SUBSCRIBE (a subscribed connection can run nothing else). */
  duplicate(): RedisClient;
  close(): Promise<void>;
}

/** Longest wait between reconnection attempts: Redis back within this long is used again this long later at most. */
const MAX_RECONNECT_DELAY_MS = 2_000;

/**
 * Connects to `redis.url` (node-redis). Commands fail at once while disconnected
 * (`disableOfflineQueue`) or after `redis.commandTimeoutMs`: a request that needs Redis gets a
 * 503 instead of hanging, and the client reconnects by itself (exponential back-off up to 2 s).
 * `authz_redis_up` follows the connection. The URL is logged without its credentials.
 */
export function connectRedis(config: Config, metrics: Metrics, log: Logger): RedisConnection {
  const { redis } = config;
  if (redis.url === undefined) throw new Error('redis.url is not set');
  const url = new URL(redis.url);
  const where = `${url.protocol}//${url.hostname}:${url.port || '6379'}`;
  const tls = url.protocol === 'rediss:';
  const client = nodeRedis().createClient({
    url: redis.url,
    ...(redis.username === undefined ? {} : { username: redis.username }),
    ...(redis.password === undefined ? {} : { password: redis.password }),
    disableOfflineQueue: true,
    commandOptions: { timeout: redis.commandTimeoutMs },
    socket: {
      connectTimeout: Math.max(redis.commandTimeoutMs, 2_000),
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, MAX_RECONNECT_DELAY_MS),
      ...(tls ? { tls: true as const, ...(redis.tlsCaFile === undefined ? {} : { ca: readFileSync(redis.tlsCaFile) }) } : {}),
    },
  });
  metrics.usesRedis();
  metrics.redisUp.set(0);
  watch(client, 'redis', where, metrics, log);
  client.connect().catch((error: unknown) => log.error({ redis: where, err: message(error) }, 'redis: connection failed'));
  let lastLogged = 0;
  const duplicates: RedisClient[] = [];
  return {
    client,
    key: (name) => `${redis.keyPrefix}${name}`,
    failure(op, error) {
      metrics.redisErrors.labels(op).inc();
      const now = Date.now();
      if (now - lastLogged >= 1_000) {
        lastLogged = now;
        log.warn({ redis: where, op, err: message(error) }, 'redis unavailable: answering 503 where Redis is needed');
      }
      return new StoreUnavailable({ detail: `redis ${op}: ${message(error)}`, cause: error });
    },
    duplicate() {
      const copy = client.duplicate();
      watch(copy, 'redis subscriber', where, undefined, log);
      duplicates.push(copy);
      return copy;
    },
    async close() {
      for (const each of [...duplicates, client]) {
        if (each.isOpen) await each.close().catch(() => undefined);
      }
    },
  };
}

/** Logs the connection's state changes once each (not every failed retry) and keeps the gauge. */
function watch(client: RedisClient, name: string, where: string, metrics: Metrics | undefined, log: Logger): void {
  let down = false;
  client.on('ready', () => {
    metrics?.redisUp.set(1);
    if (down) log.info({ redis: where }, `${name}: reconnected`);
    else log.info({ redis: where }, `${name}: connected`);
    down = false;
  });
  client.on('error', (error: unknown) => {
    metrics?.redisUp.set(0);
    if (!down) log.error({ redis: where, err: message(error) }, `${name}: connection lost; retrying`);
    down = true;
  });
  client.on('end', () => metrics?.redisUp.set(0));
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
