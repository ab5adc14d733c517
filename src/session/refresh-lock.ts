import type { ClusterBus } from '../cluster/bus.js';
import type { RedisConnection } from '../cluster/redis.js';
import { IdpUnavailable, Unauthenticated } from '../errors.js';
import { randomId } from './crypto.js';
import type { SessionRecord } from './redis-records.js';
import type { Session, SessionTokens } from './store.js';

/** How often a replica waiting for another's refresh looks at Redis (besides being woken by its event). */
const POLL_MS = 100;
/** Deletes the lock only if it is still ours (it may have expired and been taken by another replica). */
const RELEASE = 'if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0';

/**
 * One refresh per session across replicas. Keycloak rotates refresh tokens: a token spent twice
 * is refused and the login ends. So the replica that needs a refresh takes `l:<session>` with
 * `SET NX PX` (expiring, so a replica that dies while holding it blocks nobody for long), checks
 * Redis once more (another replica may just have refreshed), refreshes, writes the new tokens and
 * publishes `session-updated`. A replica that finds the lock taken waits, woken by that event or
 * polling every 100 ms, for at most the lock's lifetime, and takes the new tokens from Redis; if
 * none come it gives up with {@link IdpUnavailable}, which lets the caller keep the old access
 * token while it is still valid (src/idp/renewal.ts).
 */
export class RefreshLock {
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(
    private readonly redis: RedisConnection,
    private readonly bus: ClusterBus,
    private readonly lockMs: number,
    private readonly origin: string,
    private readonly read: (h: string) => Promise<SessionRecord | undefined>,
  ) {}

  async run(
    session: Session,
    h: string,
    refresh: (current: SessionTokens) => Promise<SessionTokens>,
    save: (tokens: SessionTokens) => Promise<void>,
  ): Promise<SessionTokens> {
    const lockKey = this.redis.key(`l:${h}`);
    const token = randomId();
    let held: boolean;
    try {
      held = (await this.redis.client.set(lockKey, token, { condition: 'NX', expiration: { type: 'PX', value: this.lockMs } })) === 'OK';
    } catch (error) {
      throw this.redis.failure('refresh_lock', error);
    }
    if (!held) return this.waitForOther(session, h, lockKey);
    try {
      const stored = await this.read(h);
      if (stored === undefined) throw ended();
      if (replaced(stored.t, session.tokens)) {
        session.tokens = stored.t;
        return stored.t;
      }
      const tokens = await refresh(session.tokens);
      try {
        await save(tokens);
      } catch (error) {
        // The old refresh token is spent: keep serving with the new one here; the other replicas
        // will find theirs refused and end the session there (fail closed).
        this.redis.failure('session_write', error);
        session.tokens = tokens;
        return tokens;
      }
      await this.bus.publish({ kind: 'session-updated', key: h, origin: this.origin }).catch(() => undefined);
      return tokens;
    } finally {
      await this.redis.client.eval(RELEASE, { keys: [lockKey], arguments: [token] }).catch(() => undefined);
    }
  }

  /** Wakes the replica's waiters for this session (its tokens were replaced or it ended). */
  wake(h: string): void {
    const waiting = this.waiters.get(h);
    if (waiting === undefined) return;
    this.waiters.delete(h);
    for (const resolve of waiting) resolve();
  }

  /** How many sessions have a request of this replica waiting on another replica's refresh. */
  waitingSessions(): number {
    return this.waiters.size;
  }

  private async waitForOther(session: Session, h: string, lockKey: string): Promise<SessionTokens> {
    const before = session.tokens;
    const deadline = Date.now() + this.lockMs;
    while (Date.now() < deadline) {
      await this.sleep(h, Math.min(POLL_MS, deadline - Date.now()));
      let stored: SessionRecord | undefined;
      let locked: number;
      try {
        stored = await this.read(h);
        locked = await this.redis.client.exists(lockKey);
      } catch (error) {
        throw this.redis.failure('refresh_lock', error);
      }
      if (stored === undefined) throw ended();
      if (replaced(stored.t, before)) {
        session.tokens = stored.t;
        return stored.t;
      }
      // Released with no new tokens: the other replica's refresh failed (IdP down); do not wait on.
      if (locked === 0) break;
    }
    throw new IdpUnavailable({ detail: 'another replica is refreshing this session and has not finished' });
  }

  private sleep(h: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const waiting = this.waiters.get(h) ?? new Set<() => void>();
      const done = (): void => {
        clearTimeout(timer);
        waiting.delete(done);
        // The last waiter of a session takes its entry along: one map entry per session that ever
        // waited would grow without bound.
        if (waiting.size === 0 && this.waiters.get(h) === waiting) this.waiters.delete(h);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, ms));
      waiting.add(done);
      this.waiters.set(h, waiting);
    });
  }
}

function replaced(stored: SessionTokens, known: SessionTokens): boolean {
  return stored.accessToken !== known.accessToken || stored.refreshToken !== known.refreshToken;
}

function ended(): Unauthenticated {
  return new Unauthenticated('no_credentials', { detail: 'session ended on another replica' });
}
