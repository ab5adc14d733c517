import { createHash } from 'node:crypto';
import type { Logger } from '../log.js';
import type { Cluster, ClusterBus, ClusterEvent } from './bus.js';
import type { RedisClient, RedisConnection } from './redis.js';

/**
 * {@link ClusterBus} over Redis pub/sub, one channel per key prefix. Publishing uses the shared
 * connection; listening needs a connection of its own. node-redis resubscribes after a
 * reconnection; messages published meanwhile are lost, so every reconnection after the first is
 * delivered to the listeners as a `resync` event (drop local copies, reload from Redis).
 */
export class RedisClusterBus implements ClusterBus {
  private readonly listeners = new Set<(event: ClusterEvent) => void>();
  private readonly channel: string;
  private readonly subscriber: RedisClient;
  private readonly subscribed: Promise<void>;

  constructor(
    private readonly redis: RedisConnection,
    private readonly log: Logger,
  ) {
    this.channel = redis.key('events');
    this.subscriber = redis.duplicate();
    let connectedBefore = false;
    this.subscriber.on('ready', () => {
      if (connectedBefore) this.deliver({ kind: 'resync' });
      connectedBefore = true;
    });
    this.subscribed = this.subscriber
      .connect()
      .then(() => this.subscriber.subscribe(this.channel, (message) => this.receive(message)))
      .catch((error: unknown) => log.error({ err: (error as Error).message }, 'redis bus: subscription failed'));
  }

  /** Resolves once the subscription is in place (tests; the service does not wait for it). */
  ready(): Promise<void> {
    return this.subscribed;
  }

  async publish(event: ClusterEvent): Promise<void> {
    if (event.kind === 'resync') return;
    try {
      await this.redis.client.publish(this.channel, JSON.stringify(event));
    } catch (error) {
      throw this.redis.failure('publish', error);
    }
  }

  subscribe(listener: (event: ClusterEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    if (this.subscriber.isOpen) await this.subscriber.close().catch(() => undefined);
  }

  /** Parses a message; anything that is not one of our events (another writer on the channel) is logged and dropped. */
  private receive(message: string): void {
    let event: unknown;
    try {
      event = JSON.parse(message);
    } catch {
      event = undefined;
    }
    if (!isEvent(event)) {
      this.log.warn({ bytes: message.length }, 'redis bus: ignored a message that is not an event');
      return;
    }
    this.deliver(event);
  }

  private deliver(event: ClusterEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.log.error({ kind: event.kind, err: (error as Error).message }, 'redis bus: a listener failed');
      }
    }
  }
}

function isEvent(value: unknown): value is ClusterEvent {
  if (typeof value !== 'object' || value === null) return false;
  const event = value as Record<string, unknown>;
  switch (event.kind) {
    case 'session-ended':
    case 'session-updated':
      return typeof event.key === 'string' && (event.origin === undefined || typeof event.origin === 'string');
    case 'logout':
      return (
        typeof event.issuer === 'string' &&
        (event.sub === undefined || typeof event.sub === 'string') &&
        (event.sid === undefined || typeof event.sid === 'string')
      );
    default:
      return false;
  }
}

/** The {@link Cluster} of replicas sharing one Redis: pub/sub bus, claims by `SET NX PX` (the key hashed). */
export class RedisCluster implements Cluster {
  readonly bus: RedisClusterBus;

  constructor(
    private readonly redis: RedisConnection,
    log: Logger,
  ) {
    this.bus = new RedisClusterBus(redis, log);
  }

  async claimOnce(key: string, ttlMs: number): Promise<boolean> {
    const name = this.redis.key(`c:${createHash('sha256').update(key).digest('base64url').slice(0, 32)}`);
    try {
      return (
        (await this.redis.client.set(name, '1', { condition: 'NX', expiration: { type: 'PX', value: Math.max(1, Math.ceil(ttlMs)) } })) ===
        'OK'
      );
    } catch (error) {
      throw this.redis.failure('claim', error);
    }
  }

  async close(): Promise<void> {
    await this.bus.close();
    await this.redis.close();
  }
}
