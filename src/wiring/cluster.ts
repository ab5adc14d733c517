import { type Cluster, MemoryCluster } from '../cluster/bus.js';
import { connectRedis, type RedisConnection } from '../cluster/redis.js';
import { RedisCluster } from '../cluster/redis-bus.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';

// Part of src/app.ts's wiring: what the replicas share. One replica (`session.store: memory`)
// shares nothing and gets the in-process cluster, so the other parts never ask which they hold.

/** The Redis connection (several replicas only) and the cluster built on it or in memory. */
export interface ClusterParts {
  /** Set with `session.store: redis`: sessions, Basic lockouts and invalidations go through it. */
  redis: RedisConnection | undefined;
  cluster: Cluster;
}

/** Connects to Redis when `session.store` is `redis`; builds the cluster (event bus, claim-once) on it, else in memory. */
export function buildCluster(config: Config, metrics: Metrics, log: Logger): ClusterParts {
  // Several replicas (session.store: redis): sessions, Basic lockouts and invalidations go through Redis.
  const redis = config.session.store === 'redis' ? connectRedis(config, metrics, log) : undefined;
  const cluster: Cluster = redis === undefined ? new MemoryCluster() : new RedisCluster(redis, log);
  return { redis, cluster };
}
