import type { Clock } from '../clock.js';
import { Unauthenticated } from '../errors.js';
import { isRefused, type GrantedTokens, type GrantRefused } from '../idp/grants.js';
import { renewedToken } from '../idp/renewal.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';
import { hashToken } from '../tokens/verify.js';
import type { Session, SessionStore, SessionTokens } from './store.js';

/** Exchanges a refresh token at the IdP (openid-client's refreshTokenGrant, via runGrant). */
export type RefreshGrant = (refreshToken: string) => Promise<GrantedTokens | GrantRefused>;

/**
 * A session's access token, refreshed before it expires. Synchronous while the token has more
 * than `refreshBeforeMs` left (the common case). Otherwise one refresh per session at a time:
 * every request that arrives meanwhile waits for the same promise, so a refresh token is never
 * spent twice (Keycloak with refresh-token rotation refuses a reused one, and would end the
 * login). A refused refresh ends the session at once; an IdP that does not answer leaves the
 * session alone and, while the old token is still valid, keeps using it. Across replicas the
 * store's `refreshOnce` makes it one refresh per session in all (src/session/refresh-lock.ts).
 */
export class SessionRefresher {
  constructor(
    private readonly store: SessionStore,
    private readonly grant: RefreshGrant,
    private readonly refreshBeforeMs: number,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {}

  accessToken(session: Session): string | Promise<string> {
    const { tokens } = session;
    if (tokens.refreshToken === undefined) {
      if (tokens.accessExpiresAtMs > this.clock()) return tokens.accessToken;
      this.end(session);
      throw new Unauthenticated('no_credentials', { detail: 'session token expired and there is no refresh token' });
    }
    return renewedToken(session, this.refreshBeforeMs, this.clock, async () => {
      const renewed = await this.store.refreshOnce(session, (current) => this.refresh(session, current));
      return renewed.accessToken;
    });
  }

  /** Ends the session in the store; a store that cannot answer now (Redis down) is logged, the refusal stands. */
  private end(session: Session): void {
    const done = this.store.delete(session.id);
    if (done instanceof Promise) done.catch(() => this.log.warn({ session: hashToken(session.id).slice(0, 12) }, 'session end not stored'));
  }

  private async refresh(session: Session, current: SessionTokens): Promise<SessionTokens> {
    const refreshToken = current.refreshToken;
    if (refreshToken === undefined) throw new Unauthenticated('no_credentials', { detail: 'session has no refresh token' });
    let outcome: Awaited<ReturnType<RefreshGrant>>;
    try {
      outcome = await this.grant(refreshToken);
    } catch (error) {
      this.metrics.sessionRefreshes.labels('error').inc();
      throw error;
    }
    if (isRefused(outcome)) {
      this.metrics.sessionRefreshes.labels('rejected').inc();
      this.end(session);
      this.log.info(
        { session: hashToken(session.id).slice(0, 12), oauth_error: outcome.refused },
        'session refresh refused; session ended',
      );
      throw new Unauthenticated('no_credentials', { detail: `session refresh refused (${outcome.refused})` });
    }
    this.metrics.sessionRefreshes.labels('ok').inc();
    // Keycloak may not rotate the refresh token (or omit the ID token): keep the ones we had.
    return {
      accessToken: outcome.accessToken,
      accessExpiresAtMs: outcome.accessExpiresAtMs,
      refreshToken: outcome.refreshToken ?? refreshToken,
      idToken: outcome.idToken ?? current.idToken,
    };
  }
}
