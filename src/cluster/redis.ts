import { readFileSync } from 'node:fs';
import type * as NodeRedis from 'redis';
import type { Config } from '../config/schema.js';
import { StoreUnavailable } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';
import { loadNodeRedis } from './redis-module.js';

export type RedisClient = ReturnType<typeof NodeRedis.createClient>;

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
  const client = loadNodeRedis().createClient({
    ...credentials(url, redis),
    disableOfflineQueue: true,
    commandOptions: { timeout: redis.commandTimeoutMs },
    socket: {
      connectTimeout: Math.max(redis.commandTimeoutMs, 2_000),
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, MAX_RECONNECT_DELAY_MS),
      ...(tls ? tlsOptions(redis) : {}),
    },
  });
  metrics.usesRedis();
  metrics.redisUp.set(0);
  const describe = (error: unknown) => explain(error, tls);
  watch(client, 'redis', where, metrics, log, describe);
  client.connect().catch((error: unknown) => log.error({ redis: where, err: describe(error) }, 'redis: connection failed'));
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
        log.warn({ redis: where, op, err: describe(error) }, 'redis unavailable: answering 503 where Redis is needed');
      }
      return new StoreUnavailable({ detail: `redis ${op}: ${describe(error)}`, cause: error });
    },
    duplicate() {
      const copy = client.duplicate();
      watch(copy, 'redis subscriber', where, undefined, log, describe);
      duplicates.push(copy);
      return copy;
    },
    async close() {
      await Promise.all([...duplicates, client].map(closeClient));
    },
  };
}

/** How long a stop waits for replies to commands in flight before it lets go of a connection. */
const CLOSE_WAIT_MS = 1_000;

/**
 * Closes one client and ends its reconnection loop. A connected client closes gracefully: commands in flight get
 * their replies, for at most {@link CLOSE_WAIT_MS}; after that its socket no longer keeps the process alive (a
 * server that stopped answering). One still connecting or retrying is destroyed at once: a graceful close would wait
 * for replies to the handshake (AUTH, HELLO) that never come, and while it waited, the reconnection loop went on and
 * its retry timer kept the process alive after the service stopped.
 */
export async function closeClient(client: RedisClient): Promise<void> {
  if (!client.isOpen) return;
  if (!client.isReady) {
    // node-redis holds a socket only once it has connected: one still connecting is out of destroy's reach and would
    // wait for its handshake replies with nothing to end it. When it connects, it is let go of (unref), so it cannot
    // keep the process alive; it does not reconnect (the client is closed).
    client.once('connect', () => client.unref());
    client.destroy();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, CLOSE_WAIT_MS);
  });
  await Promise.race([client.close().catch(() => undefined), waited]);
  clearTimeout(timer);
  client.unref();
}

/** Logs the connection's state changes once each (not every failed retry) and keeps the gauge. */
function watch(
  client: RedisClient,
  name: string,
  where: string,
  metrics: Metrics | undefined,
  log: Logger,
  describe: (error: unknown) => string,
): void {
  let down = false;
  client.on('ready', () => {
    metrics?.redisUp.set(1);
    if (down) log.info({ redis: where }, `${name}: reconnected`);
    else log.info({ redis: where }, `${name}: connected`);
    down = false;
  });
  client.on('error', (error: unknown) => {
    metrics?.redisUp.set(0);
    if (!down) log.error({ redis: where, err: describe(error) }, `${name}: connection lost; retrying`);
    down = true;
  });
  client.on('end', () => metrics?.redisUp.set(0));
}

/**
 * The URL without its user info, and the user name and password: `redis.username` / `redis.password` override the
 * URL's. (node-redis, given a URL with user info, uses only the URL's and ignores the options: a user name in the URL
 * and the password from AUTHZ_REDIS_PASSWORD would be refused with WRONGPASS.)
 */
export function credentials(url: URL, redis: Config['redis']): { url: string; username?: string; password?: string } {
  const username = redis.username ?? (url.username === '' ? undefined : decodeURIComponent(url.username));
  const password = redis.password ?? (url.password === '' ? undefined : decodeURIComponent(url.password));
  const bare = new URL(url.href);
  bare.username = '';
  bare.password = '';
  return { url: bare.href, ...(username === undefined ? {} : { username }), ...(password === undefined ? {} : { password }) };
}

/**
 * The socket's TLS settings: the CA (`tlsCaFile`, else the system's), a client certificate and key for a server
 * that demands one, and the name to verify (and send as SNI) when it is not the URL's host. Files are read once, at
 * start; one that cannot be read stops the start with its option's name.
 */
function tlsOptions(redis: Config['redis']): { tls: true; ca?: Buffer; cert?: Buffer; key?: Buffer; servername?: string } {
  const read = (option: string, path: string | undefined): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (error) {
      throw new Error(`redis.${option}: cannot read ${path}: ${message(error)}`);
    }
  };
  const ca = read('tlsCaFile', redis.tlsCaFile);
  const cert = read('tlsCertFile', redis.tlsCertFile);
  const key = read('tlsKeyFile', redis.tlsKeyFile);
  return {
    tls: true,
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    ...(redis.tlsServername === undefined ? {} : { servername: redis.tlsServername }),
  };
}

/** Node's certificate errors (tls.TLSSocket's `code`s) say what failed but not that it was TLS: named here. */
const CERTIFICATE_ERRORS = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * A Redis error as logged: a failed certificate check says it was TLS verification and which options decide it;
 * a plain connection reset at once says the port may want TLS. Never holds a credential (node-redis errors do not).
 */
export function explain(error: unknown, tls: boolean): string {
  const text = message(error);
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && CERTIFICATE_ERRORS.has(code))
    return `TLS certificate verification failed (${code}: ${text}): is the server's certificate signed by redis.tlsCaFile (or a system CA) and issued for the URL's host or redis.tlsServername?`;
  if (typeof code === 'string' && code.startsWith('ERR_SSL_'))
    return `TLS handshake failed (${code}: ${text}): does the server want a client certificate (redis.tlsCertFile, redis.tlsKeyFile)?`;
  if (!tls && code === 'ECONNRESET') return `${text} (the server closed the connection: a TLS port? then the URL must be rediss://)`;
  return text;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
