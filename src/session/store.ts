import { createHash } from 'node:crypto';
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
  /** Hash of the tokens' issuer and subject (undefined when they carry none): the per-subject cap's key. */
  readonly subject?: string | undefined;
  /** The IdP session (`sid` of the ID token, else of the access token): what a back-channel logout names. */
  readonly sid?: string | undefined;
}

/** Which sessions a back-channel logout ends (src/logout/): see {@link SessionStore.endSessions}. */
export interface SessionMatch {
  issuer: string;
  sub?: string | undefined;
  sid?: string | undefined;
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
 * Costs: a restart signs everyone out, and several replicas need sticky sessions (README).
 *
 * Bounded three ways, so that one user's abuse cannot sign the others out: at most
 * `maxPerSubject` sessions per subject (its oldest ends first, whatever the others do), at most
 * `maxEntries` sessions and `maxBytes` in all (least recently used dropped first).
 */
export class SessionStore {
  private readonly sessions: LRUCache<string, Session>;
  /** Subject (hashed issuer + sub) → its sessions' ids, oldest first. */
  private readonly bySubject = new Map<string, Set<string>>();
  /** IdP session (hashed issuer + sid) → the ids of the sessions it signed in (one, unless the IdP reuses a sid). */
  private readonly bySid = new Map<string, Set<string>>();
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
      dispose: (session, id) => {
        unindex(this.bySubject, session.subject, id);
        unindex(this.bySid, sidKey(session), id);
      },
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
      sid: iss === undefined ? undefined : sid,
    };
    const bySid = sidKey({ ...session, iss });
    if (bySid !== undefined) this.bySid.set(bySid, (this.bySid.get(bySid) ?? new Set<string>()).add(session.id));
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

  /**
   * Ends the sessions a back-channel logout names, at once, and returns how many. With a `sid`:
   * the sessions of that IdP session, and also those of `sub` (when given) that carry no `sid`
   * (nothing tells which IdP session they belong to: ended, failing closed). With `sub` alone:
   * every session of that subject. Always within `issuer`. Idempotent: a second call ends none.
   */
  endSessions(match: SessionMatch): Promise<number> {
    const ids = new Set<string>();
    if (match.sid !== undefined) for (const id of this.bySid.get(hashed(match.issuer, match.sid)) ?? []) ids.add(id);
    if (match.sub !== undefined) {
      for (const id of this.bySubject.get(hashed(match.issuer, match.sub)) ?? []) {
        if (match.sid === undefined || this.sessions.peek(id)?.sid === undefined) ids.add(id);
      }
    }
    let ended = 0;
    for (const id of ids) if (this.sessions.delete(id)) ended++;
    return Promise.resolve(ended);
  }
}

/** Removes `id` from the index's set under `key`, and the set when it empties. */
function unindex(index: Map<string, Set<string>>, key: string | undefined, id: string): void {
  if (key === undefined) return;
  const ids = index.get(key);
  if (ids === undefined) return;
  ids.delete(id);
  if (ids.size === 0) index.delete(key);
}

/** Issuer and a claim value hashed to a fixed length (the indexes' keys); the issuer without trailing slashes. */
function hashed(issuer: unknown, value: string): string {
  const iss = typeof issuer === 'string' ? issuer.replace(/\/+$/, '') : issuer;
  return createHash('sha256')
    .update(JSON.stringify([iss, value]))
    .digest('base64url')
    .slice(0, 22);
}

/** A session's key in the sid index; `iss` is given at creation (later read back from its ID token). */
function sidKey(session: { sid?: string | undefined; tokens: SessionTokens; iss?: string | undefined }): string | undefined {
  if (session.sid === undefined) return undefined;
  return hashed(session.iss ?? claimsOf(session.tokens).iss, session.sid);
}

/** `iss`, `sub` and `sid` of the ID token, else of the access token (read without checking: the grant that returned them checked them). */
export function claimsOf(tokens: SessionTokens): { iss?: string; sub?: string; sid?: string } {
  for (const token of [tokens.idToken, tokens.accessToken]) {
    const payload = token?.split('.')[1];
    if (payload === undefined) continue;
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
      if (typeof claims.sub !== 'string' || claims.sub === '') continue;
      const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
      return { iss: text(claims.iss), sub: claims.sub, ...(text(claims.sid) === undefined ? {} : { sid: text(claims.sid)! }) };
    } catch {
      // Not a JWT: try the next token.
    }
  }
  return {};
}

function sessionBytes(session: Session): number {
  const { accessToken, refreshToken, idToken } = session.tokens;
  return SESSION_OVERHEAD + accessToken.length + (refreshToken?.length ?? 0) + (idToken?.length ?? 0);
}

/**
 * The subject a session belongs to: issuer and `sub` of the ID token, else of the access token
 * (a JWT's payload, read without checking: the grant that returned the tokens checked them),
 * hashed to a fixed length. undefined when neither is a JWT with a `sub`.
 */
export function subjectOf(tokens: SessionTokens): string | undefined {
  for (const token of [tokens.idToken, tokens.accessToken]) {
    const payload = token?.split('.')[1];
    if (payload === undefined) continue;
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { iss?: unknown; sub?: unknown };
      if (typeof claims.sub === 'string' && claims.sub !== '') return hashed(claims.iss, claims.sub);
    } catch {
      // Not a JWT: try the next token.
    }
  }
  return undefined;
}
