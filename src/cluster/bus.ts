import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { growingLruBounds } from '../util/growing-lru.js';

/**
 * What one replica tells the others. A discriminated union on `kind`, open for more kinds:
 * - `session-ended` / `session-updated`: a session (its hashed key, never its id) was ended or its
 *   tokens replaced; every replica drops its local copy (the next request reloads it from Redis).
 * - `logout`: a subject (or one IdP session, `sid`) signed out at the issuer; every replica ends
 *   those sessions and purges what it cached for that subject (OIDC back-channel logout).
 * - `resync`: never sent; delivered locally when the bus reconnected after messages may have
 *   been lost, so a listener drops whatever local copies those messages would have corrected.
 */
export type ClusterEvent =
  | { kind: 'session-ended'; key: string; origin?: string }
  | { kind: 'session-updated'; key: string; origin?: string }
  | { kind: 'logout'; issuer: string; sub?: string; sid?: string }
  | { kind: 'resync' };

/** Messages between the replicas of one deployment (in process for one replica, Redis pub/sub for several). */
export interface ClusterBus {
  /** Sends the event to every replica, this one included (listeners see their own events too). */
  publish(event: ClusterEvent): Promise<void>;
  /** Calls `listener` for every event; returns the function that stops it. */
  subscribe(listener: (event: ClusterEvent) => void): () => void;
  /**
   * Why events may not reach or leave this replica although its store answers (Redis's ACL refuses this user the
   * channel, PUBLISH or SUBSCRIBE); undefined when the bus works (always, in process). Local copies that only
   * events keep correct must not be trusted meanwhile.
   */
  problem?(): string | undefined;
  close(): Promise<void>;
}

/** What the service shares between replicas (`service.cluster`). */
export interface Cluster {
  readonly bus: ClusterBus;
  /**
   * True the first time `key` is claimed within `ttlMs`, on any replica; false after (one-time use:
   * a logout token's `jti`). Rejects ({@link StoreUnavailable}) when the shared store cannot answer.
   */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** A random id for this process's bus endpoint: events carrying it came from here. */
export function originId(): string {
  return randomBytes(9).toString('base64url');
}

/** Every listener of one process: the bus of a single replica. Delivery is asynchronous, like Redis's. */
export class MemoryClusterBus implements ClusterBus {
  private readonly listeners = new Set<(event: ClusterEvent) => void>();

  publish(event: ClusterEvent): Promise<void> {
    const listeners = [...this.listeners];
    queueMicrotask(() => {
      for (const listener of listeners) listener(event);
    });
    return Promise.resolve();
  }

  subscribe(listener: (event: ClusterEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): Promise<void> {
    this.listeners.clear();
    return Promise.resolve();
  }
}

/** One replica's {@link Cluster}: an in-process bus and claims held in a bounded LRU (the oldest claims forgotten first). */
export class MemoryCluster implements Cluster {
  readonly bus = new MemoryClusterBus();
  private readonly claims: LRUCache<string, true>;

  constructor(maxClaims = 100_000) {
    this.claims = new LRUCache<string, true>({ ...growingLruBounds(maxClaims), ttlAutopurge: false });
  }

  claimOnce(key: string, ttlMs: number): Promise<boolean> {
    if (this.claims.has(key)) return Promise.resolve(false);
    this.claims.set(key, true, { ttl: ttlMs });
    return Promise.resolve(true);
  }

  close(): Promise<void> {
    return this.bus.close();
  }
}
