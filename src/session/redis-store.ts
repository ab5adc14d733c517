import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import type { ClusterBus, ClusterEvent } from '../cluster/bus.js';
import { originId } from '../cluster/bus.js';
import type { RedisConnection } from '../cluster/redis.js';
import type { Logger } from '../log.js';
import { SingleFlight } from '../util/single-flight.js';
import { randomId } from './crypto.js';
import { hashId, px, SessionKeys, type SessionRecord, SessionRecords } from './redis-records.js';
import { RefreshLock } from './refresh-lock.js';
import {
  claimsOf,
  matches,
  sessionBytes,
  subjectKey,
  subjectOf,
  type Session,
  type SessionLimits,
  type SessionMatch,
  type SessionStore,
  type SessionTokens,
} from './store.js';

export interface RedisStoreOptions extends SessionLimits {
  /** `session.secret`: the key of the records at rest. */
  secret: string;
  /** How long one replica may hold a session's refresh lock (longer than a refresh grant takes). */
  refreshLockMs: number;
}

/**
 * Sessions shared by every replica through Redis. Each session is one key, `s:` + a hash of its id
 * (the id itself never reaches Redis), holding the encrypted record (layout: src/session/redis-records.ts) and
 * expiring with the session: min(idle timeout, absolute time left), pushed back by activity at most
 * every idle/10 and asynchronously, never on every request. Sorted sets per subject (`u:`) and per
 * IdP session (`i:`) find a user's sessions for the per-subject cap and {@link endSessions}.
 *
 * Hot path: a session this replica has seen is answered from a bounded local copy, synchronously;
 * `session-ended` / `session-updated` events on the {@link ClusterBus} drop the copies of every
 * other replica, and a bus reconnection (`resync`) drops them all. A miss reads Redis once.
 * Redis unavailable: local copies keep serving; misses, logins and refreshes reject with a 503.
 */
export class RedisSessionStore implements SessionStore {
  private readonly local: LRUCache<string, Session>;
  /** Hashed key → id of the local copies, for invalidation events (which carry only the hash). */
  private readonly byHash = new Map<string, string>();
  private readonly touchedAt = new WeakMap<Session, number>();
  /** One Redis read per session id at a time, however many requests miss it at once. */
  private readonly loading = new SingleFlight<string, Session | undefined>();
  private readonly records: SessionRecords;
  private readonly keys: SessionKeys;
  private readonly origin = originId();
  private readonly lock: RefreshLock;
  private readonly unsubscribe: () => void;
  /** Bumped by every invalidation: a load that saw it change does not keep its (possibly stale) copy. */
  private generation = 0;

  constructor(
    private readonly options: RedisStoreOptions,
    private readonly redis: RedisConnection,
    private readonly bus: ClusterBus,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {
    this.records = new SessionRecords(options.secret);
    this.keys = new SessionKeys(redis);
    this.local = new LRUCache<string, Session>({
      max: options.maxEntries,
      maxSize: options.maxBytes ?? options.maxEntries * 8_192,
      sizeCalculation: sessionBytes,
      dispose: (_session, id) => this.byHash.delete(hashId(id)),
    });
    this.lock = new RefreshLock(redis, bus, options.refreshLockMs, this.origin, (h) => this.read(h));
    this.unsubscribe = bus.subscribe((event) => this.onEvent(event));
  }

  get size(): number {
    return this.local.size;
  }

  get usage(): { entries: number; bytes: number; subjects: number } {
    return { entries: this.local.size, bytes: this.local.calculatedSize, subjects: 0 };
  }

  async create(tokens: SessionTokens): Promise<Session> {
    const now = this.clock();
    const { iss, sid } = claimsOf(tokens);
    const session: Session = {
      id: randomId(),
      createdAtMs: now,
      absoluteExpiresAtMs: now + this.options.absoluteTimeoutMs,
      lastSeenMs: now,
      tokens,
      renewing: undefined,
      subject: subjectOf(tokens),
      issuer: iss,
      sid,
    };
    const h = hashId(session.id);
    const multi = this.redis.client.multi().set(this.keys.session(h), this.seal(session, h), px(this.ttl(session, now)));
    const indexMs = this.options.absoluteTimeoutMs;
    for (const index of this.keys.indexes(session)) {
      multi
        .zAdd(index, { score: now, value: h })
        .zRemRangeByScore(index, '-inf', now - indexMs)
        .pExpire(index, indexMs);
    }
    try {
      await multi.exec();
    } catch (error) {
      throw this.redis.failure('session_write', error);
    }
    if (session.subject !== undefined)
      await this.capSubject(session.subject).catch((error: unknown) => this.redis.failure('session_write', error));
    this.keep(session, now);
    return session;
  }

  get(id: string): Session | undefined | Promise<Session | undefined> {
    // Invalidations cannot reach or leave this replica (bus.problem): a copy may be stale, so Redis decides each time.
    if (this.bus.problem?.() !== undefined) this.local.delete(id);
    const session = this.local.get(id);
    const now = this.clock();
    if (session !== undefined) {
      if (now >= session.absoluteExpiresAtMs) {
        this.local.delete(id);
        void this.remove(hashId(id)).catch(() => undefined);
        return undefined;
      }
      if (now - session.lastSeenMs < this.options.idleTimeoutMs) {
        session.lastSeenMs = now;
        this.touch(session, now);
        return session;
      }
      // Idle here, perhaps not elsewhere: Redis's expiry decides.
      this.local.delete(id);
    }
    return this.loading.run(id, () => this.load(id));
  }

  async delete(id: string): Promise<Session | undefined> {
    const session = this.local.get(id);
    this.local.delete(id);
    const h = hashId(id);
    await this.remove(h, session === undefined ? [] : this.keys.indexes(session));
    return session;
  }

  refreshOnce(session: Session, refresh: (current: SessionTokens) => Promise<SessionTokens>): Promise<SessionTokens> {
    const h = hashId(session.id);
    return this.lock.run(session, h, refresh, async (tokens) => {
      session.tokens = tokens;
      const now = this.clock();
      // XX: never brings back a session ended meanwhile.
      await this.redis.client.set(this.keys.session(h), this.seal(session, h), { ...px(this.ttl(session, now)), condition: 'XX' });
      this.touchedAt.set(session, now);
    });
  }

  async endSessions(match: SessionMatch): Promise<number> {
    const subject = match.sub === undefined ? undefined : subjectKey(match.issuer, match.sub);
    const index =
      match.sid !== undefined ? this.keys.sid(match.issuer, match.sid) : subject !== undefined ? this.keys.subject(subject) : undefined;
    for (const [id, session] of this.local.entries()) if (matches(session, match, subject)) this.local.delete(id);
    if (index === undefined) return 0;
    // With a sid, also the subject's sessions that carry none (they cannot be told apart): see matches().
    const drained = match.sid !== undefined && subject !== undefined ? [index, this.keys.withoutSid(subject)] : [index];
    let ended = 0;
    for (const key of drained) {
      let hashes: string[];
      try {
        hashes = await this.redis.client.zRange(key, 0, -1);
      } catch (error) {
        throw this.redis.failure('session_read', error);
      }
      for (const h of hashes) ended += await this.remove(h, [key]);
    }
    return ended;
  }

  async close(): Promise<void> {
    this.unsubscribe();
    this.local.clear();
  }

  /** Ends one session in Redis and tells the other replicas; resolves with 1 when it existed. */
  private async remove(h: string, indexes: string[] = []): Promise<number> {
    let removed: number;
    try {
      const multi = this.redis.client.multi().del(this.keys.session(h));
      for (const index of indexes) multi.zRem(index, h);
      const replies = await multi.exec();
      removed = Number(replies[0] ?? 0);
    } catch (error) {
      throw this.redis.failure('session_write', error);
    }
    await this.bus.publish({ kind: 'session-ended', key: h, origin: this.origin }).catch(() => undefined);
    return removed;
  }

  /** Ends the subject's oldest sessions beyond `maxPerSubject` (their index entries scored by creation time). */
  private async capSubject(subject: string): Promise<void> {
    const index = this.keys.subject(subject);
    const count = await this.redis.client.zCard(index);
    const excess = count - (this.options.maxPerSubject ?? 20);
    if (excess <= 0) return;
    for (const h of await this.redis.client.zRange(index, 0, excess - 1)) {
      const id = this.byHash.get(h);
      if (id !== undefined) this.local.delete(id);
      await this.remove(h, [index]);
    }
  }

  private async load(id: string): Promise<Session | undefined> {
    const generation = this.generation;
    const h = hashId(id);
    const record = await this.read(h);
    if (record === undefined) return undefined;
    const now = this.clock();
    if (now >= record.a) return undefined;
    const session = SessionRecords.toSession(id, record, now);
    // A request on this replica is activity: push the expiry back now (asynchronously).
    this.touch(session, now, true);
    if (generation === this.generation) this.keep(session, now);
    return session;
  }

  /** The decrypted record under a hashed key; undefined when absent or unreadable (another secret, tampered). */
  private async read(h: string): Promise<SessionRecord | undefined> {
    const key = this.keys.session(h);
    let value: string | null;
    try {
      value = await this.redis.client.get(key);
    } catch (error) {
      throw this.redis.failure('session_read', error);
    }
    if (value === null) return undefined;
    const record = this.records.open(value, key);
    if (record === undefined) {
      this.log.warn(
        { session: h.slice(0, 12) },
        'redis session store: a record did not decrypt (another session.secret?); treated as absent',
      );
      return undefined;
    }
    return record;
  }

  private keep(session: Session, now: number): void {
    this.local.set(session.id, session);
    this.byHash.set(hashId(session.id), session.id);
    this.touchedAt.set(session, now);
  }

  /** Pushes the key's expiry back, at most every idle/10 per session; a key found gone drops the local copy. */
  private touch(session: Session, now: number, force = false): void {
    if (!force && now - (this.touchedAt.get(session) ?? 0) < this.options.idleTimeoutMs / 10) return;
    this.touchedAt.set(session, now);
    this.redis.client
      .pExpire(this.keys.session(hashId(session.id)), this.ttl(session, now))
      .then((set) => {
        if (set === 0 && this.local.get(session.id) === session) this.local.delete(session.id);
      })
      .catch((error: unknown) => this.redis.failure('session_write', error));
  }

  private onEvent(event: ClusterEvent): void {
    if (event.kind === 'resync') {
      this.generation += 1;
      this.local.clear();
      return;
    }
    if (event.kind !== 'session-ended' && event.kind !== 'session-updated') return;
    this.lock.wake(event.key);
    if (event.origin === this.origin) return;
    this.generation += 1;
    const id = this.byHash.get(event.key);
    if (id !== undefined) this.local.delete(id);
  }

  private seal(session: Session, h: string): string {
    return this.records.seal(session, this.keys.session(h));
  }

  private ttl(session: Session, now: number): number {
    return Math.max(1, Math.min(this.options.idleTimeoutMs, session.absoluteExpiresAtMs - now));
  }
}
