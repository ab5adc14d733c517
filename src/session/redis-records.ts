import { createHash } from 'node:crypto';
import type { RedisConnection } from '../cluster/redis.js';
import { AtRestSealer } from './at-rest.js';
import { canonicalIssuer, type Session, type SessionTokens } from './store.js';

/**
 * How sessions are laid out in Redis (src/session/redis-store.ts keeps the behaviour): the key
 * names, the index sets that find a user's sessions, and the sealed record a session key holds.
 */

/** What a session's Redis value holds (encrypted as a whole). */
export interface SessionRecord {
  c: number;
  a: number;
  t: SessionTokens;
  s?: string | undefined;
  i?: string | undefined;
  d?: string | undefined;
}

/** The Redis name of a session: a hash of its id, so Redis (and its dumps) never hold a usable id. */
export function hashId(id: string): string {
  return createHash('sha256').update(id).digest('base64url').slice(0, 32);
}

/** node-redis's `PX` option (at least 1 ms: Redis refuses 0). */
export function px(ms: number): { expiration: { type: 'PX'; value: number } } {
  return { expiration: { type: 'PX', value: Math.max(1, Math.ceil(ms)) } };
}

/**
 * The key names under the connection's prefix. `s:<hash>` holds a session's sealed record;
 * sorted sets (members: session hashes, scored by creation time) index them: `u:<subject>` per
 * subject (the per-subject cap, a logout by `sub`), `i:<hash of issuer and sid>` per IdP session
 * (a logout by `sid`), and `n:<subject>` for the subject's sessions whose tokens name no IdP session.
 */
export class SessionKeys {
  constructor(private readonly redis: RedisConnection) {}

  session(h: string): string {
    return this.redis.key(`s:${h}`);
  }

  subject(subject: string): string {
    return this.redis.key(`u:${subject}`);
  }

  /** The subject's sessions that carry no `sid`: a logout of any of the subject's IdP sessions ends them too. */
  withoutSid(subject: string): string {
    return this.redis.key(`n:${subject}`);
  }

  sid(issuer: string | undefined, sid: string): string {
    return this.redis.key(
      `i:${createHash('sha256')
        .update(JSON.stringify([canonicalIssuer(issuer), sid]))
        .digest('base64url')
        .slice(0, 22)}`,
    );
  }

  /** The index sets a session belongs to. */
  indexes(session: Session): string[] {
    const keys: string[] = [];
    if (session.subject !== undefined) keys.push(this.subject(session.subject));
    if (session.sid !== undefined) keys.push(this.sid(session.issuer, session.sid));
    else if (session.subject !== undefined) keys.push(this.withoutSid(session.subject));
    return keys;
  }
}

/** Seals a session into its Redis value and opens one back (AEAD bound to the key name: src/session/at-rest.ts). */
export class SessionRecords {
  private readonly sealer: AtRestSealer;

  constructor(secret: string) {
    this.sealer = new AtRestSealer(secret);
  }

  seal(session: Session, key: string): string {
    const record: SessionRecord = {
      c: session.createdAtMs,
      a: session.absoluteExpiresAtMs,
      t: session.tokens,
      s: session.subject,
      i: session.issuer,
      d: session.sid,
    };
    return this.sealer.seal(JSON.stringify(record), key);
  }

  /** The record, or undefined when it does not open (another secret, tampered, or moved to another key). */
  open(value: string, key: string): SessionRecord | undefined {
    const plaintext = this.sealer.open(value, key);
    return plaintext === undefined ? undefined : (JSON.parse(plaintext) as SessionRecord);
  }

  /** The session a record stands for, seen now under `id`. */
  static toSession(id: string, record: SessionRecord, now: number): Session {
    return {
      id,
      createdAtMs: record.c,
      absoluteExpiresAtMs: record.a,
      lastSeenMs: now,
      tokens: record.t,
      renewing: undefined,
      subject: record.s,
      issuer: record.i,
      sid: record.d,
    };
  }
}
