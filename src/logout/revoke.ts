import type { BasicExchange } from '../basic/exchange.js';
import type { DecisionCache } from '../decide/cache.js';
import type { Logger } from '../log.js';
import type { SessionMatch } from '../session/store.js';
import type { TokenVerifier } from '../tokens/verify.js';
import type { LogoutTarget, RevocableToken, Revocations } from './revocations.js';

/** A logout as replicas tell each other (the integrator's pub/sub carries it as JSON). */
export interface LogoutEvent extends LogoutTarget {
  kind: 'logout';
}

/** Tells the other replicas about a logout this one received; the default tells no one (one replica). */
export type LogoutBroadcaster = (event: LogoutEvent) => Promise<void>;

export const noBroadcast: LogoutBroadcaster = () => Promise.resolve();

/** What {@link Revoker.revoke} removed on this replica. */
export interface Purged {
  sessions: number;
  tokens: number;
  decisions: number;
  basic: number;
}

export interface RevokerParts {
  revocations: Revocations;
  tokens: TokenVerifier;
  decisions: DecisionCache;
  /** Undefined unless login is enabled. */
  sessions: { endSessions(match: SessionMatch): Promise<number> } | undefined;
  /** Undefined unless Basic is enabled. */
  basic: BasicExchange | undefined;
  log: Logger;
}

/**
 * Applies a logout on this replica: records it (so that the subject's or session's earlier
 * tokens are refused from now on, cached or not: src/logout/revocations.ts), ends the matching
 * browser sessions, and forgets the cached identities, decisions and Basic exchanges of the
 * tokens it names. Idempotent: applying an event twice (received, then broadcast back) ends
 * and forgets nothing more, and the record only moves later.
 *
 * The cache scans are batched: logouts arriving together (an admin ending many sessions) cost
 * one pass over each cache. Until the pass runs, the record already refuses those tokens.
 */
export class Revoker {
  private pending: LogoutTarget[] = [];
  private scan: Promise<Omit<Purged, 'sessions'>> | undefined;

  constructor(private readonly parts: RevokerParts) {}

  /** Ends every session and forgets every cached entry of this subject and/or IdP session on this replica. */
  async revoke(target: LogoutTarget): Promise<Purged> {
    const { revocations, sessions } = this.parts;
    revocations.record(target);
    const ended = sessions === undefined ? 0 : await sessions.endSessions(target);
    const forgotten = await this.forget(target);
    return { sessions: ended, ...forgotten };
  }

  /** Queues the target for the next batched scan; resolves with that batch's totals. */
  private forget(target: LogoutTarget): Promise<Omit<Purged, 'sessions'>> {
    this.pending.push(target);
    if (this.scan === undefined) {
      this.scan = new Promise((resolve) => {
        setImmediate(() => {
          const batch = this.pending;
          this.pending = [];
          this.scan = undefined;
          resolve(this.scanNow(batch));
        });
      });
    }
    return this.scan;
  }

  private scanNow(batch: readonly LogoutTarget[]): Omit<Purged, 'sessions'> {
    const matches = (token: RevocableToken): boolean => batch.some((target) => names(target, token));
    const hashes = this.parts.tokens.forget(matches);
    const decisions = this.parts.decisions.forgetTokens(hashes);
    const basic = this.parts.basic?.forget(matches) ?? 0;
    return { tokens: hashes.size, decisions, basic };
  }
}

/**
 * Whether a logout names this token: same issuer, and its `sid` (when the logout has one; a
 * token without a `sid` then goes by `sub`), else its `sub`.
 */
export function names(target: LogoutTarget, token: RevocableToken): boolean {
  if (token.iss === undefined || token.iss.replace(/\/+$/, '') !== target.issuer.replace(/\/+$/, '')) return false;
  if (target.sid !== undefined && token.sid !== undefined) return token.sid === target.sid;
  return target.sub !== undefined && token.sub === target.sub;
}
