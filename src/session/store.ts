import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import type { GrantedTokens } from '../idp/grants.js';
import type { RenewableToken } from '../idp/renewal.js';
import type { Maybe } from '../util/maybe.js';
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
  /** Hash of the tokens' issuer and subject (undefined when they carry none): the per-subject cap's key. */
  readonly subject?: string | undefined;
  /** The tokens' issuer (`iss`), for ending sessions by subject or IdP session. */
  readonly issuer?: string | undefined;
  /** The ID token's `sid` claim: the IdP session this login belongs to (back-channel logout). */
  readonly sid?: string | undefined;
}

/** Which sessions {@link SessionStore.endSessions} ends: those of one IdP session (`sid`), else every one of a subject (`sub`). */
export interface SessionMatch {
  issuer: string;
  sub?: string;
  sid?: string;
}

/**
 * Where sessions live: this process's memory ({@link MemorySessionStore}, one replica) or Redis
 * (src/session/redis-store.ts, several). Methods answer synchronously when they can (memory, a
 * session already held locally) and with a promise when the shared store must be asked.
 */
export interface SessionStore {
  /** Sessions held in this process (for Redis: the local copies). */
  readonly size: number;
  readonly usage: { entries: number; bytes: number; subjects: number };
  /** A new session for tokens a login just obtained. */
  create(tokens: SessionTokens): Maybe<Session>;
  /** The live session with this id, marked as seen; undefined when unknown, ended or timed out. */
  get(id: string): Maybe<Session | undefined>;
  /** Ends the session at once, on every replica (sign-out, refused refresh); answers the local copy it held, if any. */
  delete(id: string): Maybe<Session | undefined>;
  /**
   * Replaces the session's tokens with `refresh`'s, run once for this session across every
   * replica: a replica that finds another one refreshing waits for its tokens instead of
   * spending the same refresh token again. Resolves with the tokens now in force.
   */
  refreshOnce(session: Session, refresh: (current: SessionTokens) => Promise<SessionTokens>): Promise<SessionTokens>;
  /** Ends every session matching, on every replica; resolves with how many were ended. */
  endSessions(match: SessionMatch): Promise<number>;
  close(): Promise<void>;
}

export interface SessionLimits {
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  maxEntries: number;
  /** Sessions one subject may hold; a new login beyond it ends that subject's oldest session. */
  maxPerSubject?: number;
  /** Bytes of tokens and bookkeeping held at most (estimated per session from the token lengths). */
  maxBytes?: number;
}

/** Accounted per session besides its tokens: id, times, the object, the LRU's and the index's links. */
const SESSION_OVERHEAD = 320;

/**
 * Sessions held in this process's memory, keyed by a random id.
 *
 * Server-side rather than in the cookie because Keycloak's access, refresh and ID tokens
 * together exceed a cookie's 4 KB; because ending a session here (sign-out, failed refresh)
 * takes effect at once, where a cookie that carries tokens stays valid until they expire;
 * and because one place holding the refresh token makes single-flight refresh simple.
 * Costs: a restart signs everyone out, and several replicas need the Redis store (README).
 *
 * Bounded three ways, so that one user's abuse cannot sign the others out: at most
 * `maxPerSubject` sessions per subject (its oldest ends first, whatever the others do), at most
 * `maxEntries` sessions and `maxBytes` in all (least recently used dropped first).
 */
export class MemorySessionStore implements SessionStore {
  private readonly sessions: LRUCache<string, Session>;
  /** Subject (hashed issuer + sub) → its sessions' ids, oldest first. */
  private readonly bySubject = new Map<string, Set<string>>();
  private readonly maxPerSubject: number;

  constructor(
    private readonly limits: SessionLimits,
    private readonly clock: Clock,
  ) {
    this.maxPerSubject = limits.maxPerSubject ?? 20;
    this.sessions = new LRUCache<string, Session>({
      max: limits.maxEntries,
      maxSize: limits.maxBytes ?? limits.maxEntries * 8_192,
      sizeCalculation: sessionBytes,
      // Every way out of the LRU (eviction, delete, expiry) leaves the subject index too.
      dispose: (session, id) => this.unindex(session.subject, id),
    });
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Sessions held and the bytes accounted for them. */
  get usage(): { entries: number; bytes: number; subjects: number } {
    return { entries: this.sessions.size, bytes: this.sessions.calculatedSize, subjects: this.bySubject.size };
  }

  /**
   * A new session for these tokens. Its subject is read from the ID token (verified by the
   * grant that returned it), else from the access token; tokens without one are not capped per
   * subject (the login always has an ID token).
   */
  create(tokens: SessionTokens): Session {
    const now = this.clock();
    const subject = subjectOf(tokens);
    const { iss, sid } = claimsOf(tokens);
    const session: Session = {
      id: randomId(),
      createdAtMs: now,
      absoluteExpiresAtMs: now + this.limits.absoluteTimeoutMs,
      lastSeenMs: now,
      tokens,
      renewing: undefined,
      subject,
      issuer: iss,
      sid,
    };
    if (subject !== undefined) {
      const ids = this.bySubject.get(subject) ?? new Set<string>();
      // Make room within the subject first, so the LRU never has to evict someone else for it.
      for (const oldest of ids) {
        if (ids.size < this.maxPerSubject) break;
        this.sessions.delete(oldest); // its dispose unindexes it...
        ids.delete(oldest); // ...unless it had already left the LRU
      }
      ids.add(session.id);
      this.bySubject.set(subject, ids);
    }
    this.sessions.set(session.id, session);
    // A session larger than maxBytes is refused by the LRU without a dispose: take it out of the
    // index too, or it would count against its subject's cap and end a live session later.
    if (!this.sessions.has(session.id)) this.unindex(subject, session.id);
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

  /** One process: the local single flight (src/idp/renewal.ts) already makes this the only refresh. */
  async refreshOnce(session: Session, refresh: (current: SessionTokens) => Promise<SessionTokens>): Promise<SessionTokens> {
    session.tokens = await refresh(session.tokens);
    return session.tokens;
  }

  endSessions(match: SessionMatch): Promise<number> {
    const subject = match.sub === undefined ? undefined : subjectKey(match.issuer, match.sub);
    const ended: string[] = [];
    for (const [id, session] of this.sessions.entries()) {
      if (matches(session, match, subject)) ended.push(id);
    }
    for (const id of ended) this.sessions.delete(id);
    return Promise.resolve(ended.length);
  }

  close(): Promise<void> {
    this.sessions.clear();
    return Promise.resolve();
  }

  private unindex(subject: string | undefined, id: string): void {
    if (subject === undefined) return;
    const ids = this.bySubject.get(subject);
    if (ids === undefined) return;
    ids.delete(id);
    if (ids.size === 0) this.bySubject.delete(subject);
  }
}

/**
 * Whether a logout names the session: same issuer, and the IdP session `match.sid` when the logout
 * names one (a session whose tokens carry no sid then goes by the subject: it cannot be told apart),
 * else the subject.
 */
export function matches(session: Session, match: SessionMatch, subject: string | undefined): boolean {
  if (session.issuer !== canonicalIssuer(match.issuer)) return false;
  if (match.sid !== undefined && session.sid !== undefined) return session.sid === match.sid;
  return subject !== undefined && session.subject === subject;
}

/** Bytes a session is accounted for in a bounded cache. */
export function sessionBytes(session: Session): number {
  const { accessToken, refreshToken, idToken } = session.tokens;
  return SESSION_OVERHEAD + accessToken.length + (refreshToken?.length ?? 0) + (idToken?.length ?? 0);
}

/**
 * The subject a session belongs to: issuer and `sub` of the ID token, else of the access token
 * (a JWT's payload, read without checking: the grant that returned the tokens checked them),
 * hashed to a fixed length. undefined when neither is a JWT with a `sub`.
 */
export function subjectOf(tokens: SessionTokens): string | undefined {
  const { iss, sub } = claimsOf(tokens);
  return sub === undefined ? undefined : subjectKey(iss, sub);
}

/** The fixed-length key of a subject (issuer + sub), as {@link subjectOf} computes it. */
export function subjectKey(issuer: string | undefined, sub: string): string {
  return createHash('sha256')
    .update(JSON.stringify([canonicalIssuer(issuer), sub]))
    .digest('base64url')
    .slice(0, 22);
}

/**
 * `iss`, `sub` and `sid` of the ID token, else of the access token (a JWT's payload, read
 * without checking: the grant that returned the tokens checked them); undefined where absent.
 */
export function claimsOf(tokens: SessionTokens): { iss?: string; sub?: string; sid?: string } {
  for (const token of [tokens.idToken, tokens.accessToken]) {
    const payload = token?.split('.')[1];
    if (payload === undefined) continue;
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { iss?: unknown; sub?: unknown; sid?: unknown };
      if (typeof claims.sub === 'string' && claims.sub !== '') {
        return {
          ...(typeof claims.iss === 'string' ? { iss: canonicalIssuer(claims.iss) } : {}),
          sub: claims.sub,
          ...(typeof claims.sid === 'string' && claims.sid !== '' ? { sid: claims.sid } : {}),
        };
      }
    } catch {
      // Not a JWT: try the next token.
    }
  }
  return {};
}

/** An issuer as sessions are matched by it: `https://idp/realms/x/` and `https://idp/realms/x` are one issuer. */
export function canonicalIssuer<T extends string | undefined>(issuer: T): T {
  return (issuer === undefined ? issuer : issuer.replace(/\/+$/, '')) as T;
}
