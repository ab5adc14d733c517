import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';
import { readCookie } from './cookie-header.js';
import { SessionCookie } from './session-cookie.js';
import { SessionRefresher, type RefreshGrant } from './refresh.js';
import { MemorySessionStore, type Session, type SessionStore } from './store.js';

/**
 * Browser sessions: the cookie (session id, encrypted), the server-side store (tokens,
 * timeouts) and the refresher (single flight per session), behind two questions: which
 * access token does this request's cookie stand for, and which session does it name.
 */
export class Sessions {
  readonly store: SessionStore;
  readonly cookie: SessionCookie;
  readonly cookieName: string;
  private readonly refresher: SessionRefresher;

  /** @param store where sessions live; default: this process's memory (`session.store: memory`) */
  constructor(config: Config, grant: RefreshGrant, metrics: Metrics, log: Logger, clock: Clock, store?: SessionStore) {
    const { session } = config;
    this.cookieName = session.cookieName;
    this.store =
      store ??
      new MemorySessionStore(
        {
          idleTimeoutMs: session.idleTimeoutSeconds * 1000,
          absoluteTimeoutMs: session.absoluteTimeoutSeconds * 1000,
          maxEntries: session.maxEntries,
          maxPerSubject: session.maxPerSubject,
          maxBytes: session.maxBytes,
        },
        clock,
      );
    this.cookie = new SessionCookie(session.secret, Math.min(session.maxEntries * 2, 50_000), clock);
    this.refresher = new SessionRefresher(this.store, grant, session.refreshBeforeSeconds * 1000, metrics, log, clock);
  }

  /**
   * The live session a Cookie header names: synchronously once its cookie value has been
   * opened before; undefined for no cookie, a bad one, or an ended session.
   */
  find(cookieHeader: string | string[] | undefined): Session | undefined | Promise<Session | undefined> {
    const value = readCookie(cookieHeader, this.cookieName);
    if (value === undefined) return undefined;
    const id = this.cookie.sessionId(value);
    if (id instanceof Promise) return id.then((opened) => (opened === undefined ? undefined : this.store.get(opened)));
    return id === undefined ? undefined : this.store.get(id);
  }

  /**
   * The access token of the session a Cookie header names (refreshed when due), or undefined
   * when there is no live session. Synchronous on the common path.
   * @throws {Unauthenticated} the session's refresh was refused (the session is ended)
   */
  accessToken(cookieHeader: string | string[] | undefined): string | undefined | Promise<string | undefined> {
    const found = this.find(cookieHeader);
    if (found instanceof Promise) return found.then((session) => (session === undefined ? undefined : this.refresher.accessToken(session)));
    return found === undefined ? undefined : this.refresher.accessToken(found);
  }
}
