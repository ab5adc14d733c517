import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import { growingLruBounds } from '../util/growing-lru.js';

/** What a logout names: the issuer, and the subject and/or the IdP session. */
export interface LogoutTarget {
  issuer: string;
  sub?: string | undefined;
  sid?: string | undefined;
}

/** The parts of a verified token a revocation is checked against. */
export interface RevocableToken {
  /** The token's `iss`. */
  iss: string | undefined;
  sub: string;
  sid: string | undefined;
  /** The token's `iat` in ms; undefined when it has none (then any record of its subject refuses it). */
  issuedAtMs: number | undefined;
}

interface Record {
  /** Tokens issued at or before this (ms) are refused. */
  revokedAtMs: number;
  /** The record is forgotten then: every token it refuses has expired by then. */
  untilMs: number;
}

/**
 * "Revoked at" records, so that a logout also refuses bearer tokens the IdP issued before it,
 * from local state alone (no IdP round trip, which a claims-mode issuer would not make anyway).
 *
 * Three kinds, keyed by issuer:
 * - session (`sid`): tokens carrying that `sid` and issued before the logout;
 * - subject, whole (a logout naming only `sub`: every session of the subject ended): every
 *   token of that subject issued before it;
 * - subject, some session (a logout naming `sub` and `sid`): tokens of the subject that carry
 *   no `sid` at all, since nothing tells which session they belong to (fail closed).
 * A token issued after the logout (a new login) passes. Records live for `retentionMs`, which
 * must cover the longest access-token lifetime; at most `maxEntries` are kept (oldest dropped).
 */
export class Revocations {
  private readonly records: LRUCache<string, Record>;

  constructor(
    private readonly retentionMs: number,
    maxEntries: number,
    private readonly clock: Clock,
  ) {
    this.records = new LRUCache<string, Record>(growingLruBounds(maxEntries));
  }

  get size(): number {
    return this.records.size;
  }

  /** Records a logout at `atMs` (default now). Idempotent: a later time only extends a record. */
  record(target: LogoutTarget, atMs = this.clock()): void {
    if (target.sid !== undefined) this.put(key('sid', target.issuer, target.sid), atMs);
    if (target.sub !== undefined) this.put(key(target.sid === undefined ? 'sub' : 'sub-sidless', target.issuer, target.sub), atMs);
  }

  /** Whether a logout refuses this token. Cheap when nothing was revoked (the hot path). */
  refuses(token: RevocableToken): boolean {
    if (this.records.size === 0 || token.iss === undefined) return false;
    const issued = token.issuedAtMs ?? Number.NEGATIVE_INFINITY;
    const before = (record: Record | undefined): boolean =>
      record !== undefined && record.untilMs > this.clock() && issued <= record.revokedAtMs;
    if (before(this.records.get(key('sub', token.iss, token.sub)))) return true;
    if (token.sid !== undefined) return before(this.records.get(key('sid', token.iss, token.sid)));
    return before(this.records.get(key('sub-sidless', token.iss, token.sub)));
  }

  private put(recordKey: string, atMs: number): void {
    const existing = this.records.get(recordKey);
    const revokedAtMs = Math.max(atMs, existing?.revokedAtMs ?? atMs);
    this.records.set(recordKey, { revokedAtMs, untilMs: revokedAtMs + this.retentionMs });
  }
}

function key(kind: string, issuer: string, value: string): string {
  return JSON.stringify([kind, issuer.replace(/\/+$/, ''), value]);
}
