import { createHash } from 'node:crypto';
import type { Logger } from '../log.js';
import type { Cluster, ClusterBus, ClusterEvent } from './bus.js';
import { closeClient, type RedisClient, type RedisConnection } from './redis.js';

/** Published on every (re)connection to check the ACL allows PUBLISH on the channel; receivers drop it silently. */
const PROBE = '{"kind":"probe"}';
/** How often a refused SUBSCRIBE or PUBLISH is tried again (an ACL fixed while the service runs is picked up). */
const SUBSCRIBE_RETRY_MS = 2_000;

/**
 * {@link ClusterBus} over Redis pub/sub, one channel per key prefix. Publishing uses the shared
 * connection; listening needs a connection of its own. node-redis resubscribes after a
 * reconnection; messages published meanwhile are lost, so every reconnection after the first is
 * delivered to the listeners as a `resync` event (drop local copies, reload from Redis).
 *
 * An ACL user without the channel (`&<prefix>*`), `+publish` or `+subscribe` connects and stores fine, but its
 * invalidations would be lost: a session signed out on one replica would still be served from another's copy. So
 * the bus checks both on every connection (a probe PUBLISH and the SUBSCRIBE itself, each retried every 2 s while refused)
 * and reports it through {@link problem}: the session store then reads Redis on every request instead of trusting
 * its copies, and /readyz answers 503 with the reason.
 */
export class RedisClusterBus implements ClusterBus {
  private readonly listeners = new Set<(event: ClusterEvent) => void>();
  private readonly channel: string;
  private readonly subscriber: RedisClient;
  private readonly subscribed: Promise<void>;
  private subscribeRefused: string | undefined;
  private publishRefused: string | undefined;
  private retry: NodeJS.Timeout | undefined;
  private reprobe: NodeJS.Timeout | undefined;
  private closed = false;

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
    redis.client.on('ready', () => void this.probePublish());
    this.subscribed = this.subscriber
      .connect()
      .then(() => this.listen())
      .catch((error: unknown) => log.error({ err: (error as Error).message }, 'redis bus: subscription failed'));
  }

  problem(): string | undefined {
    return this.publishRefused ?? this.subscribeRefused;
  }

  /** SUBSCRIBE; refused (an ACL without the channel or +subscribe): logged, reported, tried again every 2 s. */
  private async listen(): Promise<void> {
    try {
      await this.subscriber.subscribe(this.channel, (message) => this.receive(message));
      if (this.subscribeRefused !== undefined)
        this.log.info({ channel: this.channel }, 'redis bus: subscribed; invalidations from the other replicas arrive again');
      this.subscribeRefused = undefined;
    } catch (error) {
      const text = (error as Error).message;
      // Redis down is not a refusal (the Redis-down behaviour applies): try again, report nothing.
      if (!refusal(text)) {
        if (!this.closed) this.retry = setTimeout(() => void this.listen(), SUBSCRIBE_RETRY_MS).unref();
        return;
      }
      if (this.subscribeRefused !== text)
        this.log.error(
          { channel: this.channel, err: text },
          'redis bus: SUBSCRIBE refused (the ACL user needs +subscribe and the channel pattern &<keyPrefix>*, docs/redis.md): sessions are read from Redis on every request and /readyz answers 503 until it works',
        );
      this.subscribeRefused = text;
      if (!this.closed) this.retry = setTimeout(() => void this.listen(), SUBSCRIBE_RETRY_MS).unref();
    }
  }

  /** Checks PUBLISH on the channel after each connection; only a refusal (an error reply) counts, not a lost connection. */
  private async probePublish(): Promise<void> {
    try {
      await this.redis.client.publish(this.channel, PROBE);
      if (this.publishRefused !== undefined) this.log.info({ channel: this.channel }, 'redis bus: PUBLISH allowed again');
      this.publishRefused = undefined;
    } catch (error) {
      const text = (error as Error).message;
      if (!refusal(text)) return;
      if (this.publishRefused !== text)
        this.log.error(
          { channel: this.channel, err: text },
          'redis bus: PUBLISH refused (the ACL user needs +publish and the channel pattern &<keyPrefix>*, docs/redis.md): the other replicas would not hear of a sign-out; sessions are read from Redis on every request and /readyz answers 503 until it works',
        );
      this.publishRefused = text;
      clearTimeout(this.reprobe);
      if (!this.closed) this.reprobe = setTimeout(() => void this.probePublish(), SUBSCRIBE_RETRY_MS).unref();
    }
  }

  /** Resolves once the subscription is in place (tests; the service does not wait for it). */
  ready(): Promise<void> {
    return this.subscribed;
  }

  async publish(event: ClusterEvent): Promise<void> {
    if (event.kind === 'resync') return;
    try {
      await this.redis.client.publish(this.channel, JSON.stringify(event));
      this.publishRefused = undefined;
    } catch (error) {
      if (refusal((error as Error).message)) this.publishRefused = (error as Error).message;
      throw this.redis.failure('publish', error);
    }
  }

  subscribe(listener: (event: ClusterEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    clearTimeout(this.reprobe);
    this.listeners.clear();
    await closeClient(this.subscriber);
  }

  /** Parses a message; anything that is not one of our events (another writer on the channel) is logged and dropped. */
  private receive(message: string): void {
    if (message === PROBE) return;
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

/** An error reply of Redis (the ACL refuses the command or the channel), not a lost connection. */
function refusal(message: string): boolean {
  return /^(NOPERM|NOAUTH|WRONGPASS|ERR)\b/.test(message);
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
