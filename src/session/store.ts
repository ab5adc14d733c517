import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import type { GrantedTokens } from '../idp/grants.js';
import type { RenewableToken } from '../idp/renewal.js';
import { randomId } from './crypto.js';

/** The tokens of one login (as the grant returned them). They never leave the service: the cookie holds only the session id. */
export type SessionTokens = GrantedTokens;

export interface Session extends RenewableToken {
  readonly id: string;
  readonly createdAtMs: number;
  /** createdAtMs + the absolute timeout: the session ends then, whatever the activity. */
  readonly absoluteExpiresAtMs: number;
  lastSeenMs: number;
  tokens: SessionTokens;
}

export interface SessionLimits {
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  maxEntries: number;
}

/**
 * Sessions held in this process's memory, keyed by a random id.
 *
 * Server-side rather than in the cookie because Keycloak's access, refresh and ID tokens
 * together exceed a cookie's 4 KB; because ending a session here (sign-out, failed refresh)
 * takes effect at once, where a cookie that carries tokens stays valid until they expire;
 * and because one place holding the refresh token makes single-flight refresh simple.
 * Costs: a restart signs everyone out, and several replicas need sticky sessions (README).
 * Bounded: the least recently used session is dropped when `maxEntries` is reached.
 */
export class SessionStore {
  private readonly sessions: LRUCache<string, Session>;

  constructor(private readonly limits: SessionLimits, private readonly clock: Clock) {
    this.sessions = new LRUCache<string, Session>({ max: limits.maxEntries });
  }

  get size(): number {
    return this.sessions.size;
  }

  create(tokens: SessionTokens): Session {
    const now = this.clock();
    const session: Session = { id: randomId(), createdAtMs: now, absoluteExpiresAtMs: now + this.limits.absoluteTimeoutMs, lastSeenMs: now, tokens, renewing: undefined };
    this.sessions.set(session.id, session);
    return session;
  }

  /**
   * The live session with this id, marked as seen now; undefined (and forgotten) when it
   * idled out or reached its absolute timeout.
   */
  get(id: string): Session | undefined {
    const session = this.sessions.get(id);
    if (session === undefined) return undefined;
    const now = this.clock();
    if (now >= session.absoluteExpiresAtMs || now - session.lastSeenMs >= this.limits.idleTimeoutMs) {
      this.sessions.delete(id);
      return undefined;
    }
    session.lastSeenMs = now;
    return session;
  }

  /** Ends the session at once (sign-out, failed refresh). */
  delete(id: string): Session | undefined {
    const session = this.sessions.get(id);
    this.sessions.delete(id);
    return session;
  }
}
