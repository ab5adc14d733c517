// RedisSessionStore replicas on one real redis-server, wired as the service wires them, for the session store's
// test files: the tokens they store, a clock the tests move, and the set-up and tear-down of one describe block.
import type { ClusterBus } from '../../src/cluster/bus.js';
import { RedisCluster } from '../../src/cluster/redis-bus.js';
import { createLogger, type Logger } from '../../src/log.js';
import { hashId } from '../../src/session/redis-records.js';
import { RedisSessionStore } from '../../src/session/redis-store.js';
import type { Session, SessionTokens } from '../../src/session/store.js';
import { connectTest, ready, startRedis, type TestRedis } from './redis-server.js';

export const ISS = 'https://idp.test/realms/r';
/** The replicas' idle timeout unless a test sets its own. */
export const IDLE = 600_000;

/** An unsigned JWT (the store reads the ID token's claims, it never verifies them). */
export function jwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none' })}.${part(claims)}.sig`;
}

/** Tokens of `sub`; `sid` undefined: an ID token that names no IdP session. `tag` tells sets of tokens apart. */
export function tokens(sub: string, sid: string | undefined, tag = 'A'): SessionTokens {
  return {
    accessToken: `ACCESS-${tag}-${'x'.repeat(40)}`,
    accessExpiresAtMs: Date.now() + 300_000,
    refreshToken: `REFRESH-${tag}-${'y'.repeat(40)}`,
    idToken: jwt(sid === undefined ? { iss: ISS, sub } : { iss: ISS, sub, sid }),
  };
}

export type Limits = Partial<{
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  maxPerSubject: number;
  maxEntries: number;
  secret: string;
}>;

export interface ReplicaOptions {
  /** Replaces the bus the store is given (e.g. one reporting a problem); the real one stays open underneath. */
  bus?: (real: ClusterBus) => ClusterBus;
  /** The store's logger; silent by default. */
  log?: Logger;
}

/**
 * Registers, in the calling describe block, a redis-server started before its tests (and one replica opened, so
 * that loading node-redis's code, seconds on a busy machine, is not in a test's time), every replica closed and the
 * server stopped after them, and the clock reset to the real time before each test. `time.now` is the replicas'
 * clock: a test moves it by assignment.
 */
export function redisReplicas() {
  const time = { now: Date.now() };
  const clock = () => time.now;
  const opened: Array<{ close(): Promise<void> }> = [];
  let server: TestRedis | undefined;

  /** One replica: its own connection, bus and store. `key` is a session's key in Redis. */
  async function replica(limits: Limits = {}, options: ReplicaOptions = {}) {
    const { connection, metrics } = connectTest(redisServer());
    const cluster = new RedisCluster(connection, createLogger('silent'));
    const bus = options.bus === undefined ? cluster.bus : options.bus(cluster.bus);
    const store = new RedisSessionStore(
      { secret: 's'.repeat(40), idleTimeoutMs: IDLE, absoluteTimeoutMs: 3_600_000, maxEntries: 100, refreshLockMs: 3_000, ...limits },
      connection,
      bus,
      options.log ?? createLogger('silent'),
      clock,
    );
    opened.push(cluster, store);
    await ready(connection);
    await cluster.bus.ready();
    const key = (session: Session) => `test:s:${hashId(session.id)}`;
    return { store, connection, metrics, cluster, key };
  }

  /** The redis-server (started in beforeAll). */
  function redisServer(): TestRedis {
    if (server === undefined) throw new Error('redis-server not started: call redisReplicas() inside a describe block');
    return server;
  }

  beforeAll(async () => {
    server = await startRedis();
    await replica();
  }, 60_000);
  afterAll(async () => {
    for (const each of opened.reverse()) await each.close();
    await server?.stop();
  });
  beforeEach(() => {
    time.now = Date.now();
  });

  return { time, clock, replica, redisServer };
}
