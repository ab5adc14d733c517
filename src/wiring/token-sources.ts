import * as oidc from 'openid-client';
import { BasicExchange } from '../basic/exchange.js';
import { passwordGrants } from '../basic/grants.js';
import { RedisFailureLimiter } from '../basic/redis-limiter.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { IdpUnavailable } from '../errors.js';
import { runGrant } from '../idp/grants.js';
import type { IdentityProvider } from '../idp/provider.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';
import { RedisSessionStore } from '../session/redis-store.js';
import { Sessions } from '../session/sessions.js';
import type { ClusterParts } from './cluster.js';

// Part of src/app.ts's wiring: the ways to a token besides a Bearer header, which step 3 of /auth
// (src/auth/token-source.ts) tries. Each is off unless configured, and kept in Redis when the
// replicas share state.

/** Browser sessions and the Basic credentials exchange; each undefined unless enabled. */
export interface TokenSourceParts {
  /** Set with `login.enabled`. */
  sessions: Sessions | undefined;
  /** Set with `basic.enabled`. */
  basic: BasicExchange | undefined;
}

/** Builds the session store and sessions (`login.enabled`) and the Basic exchange (`basic.enabled`), in Redis when it is configured. */
export function buildTokenSources(
  config: Config,
  provider: IdentityProvider,
  { redis, cluster }: ClusterParts,
  metrics: Metrics,
  log: Logger,
  clock: Clock,
): TokenSourceParts {
  const sessionStore =
    redis === undefined || !config.login.enabled
      ? undefined
      : new RedisSessionStore(
          {
            secret: config.session.secret ?? '',
            idleTimeoutMs: config.session.idleTimeoutSeconds * 1000,
            absoluteTimeoutMs: config.session.absoluteTimeoutSeconds * 1000,
            maxEntries: config.session.maxEntries,
            maxPerSubject: config.session.maxPerSubject,
            maxBytes: config.session.maxBytes,
            // Longer than a refresh grant may take (the decision timeout bounds IdP calls), so the lock outlives it.
            refreshLockMs: 2 * config.decision.timeoutMs + 2_000,
          },
          redis,
          cluster.bus,
          log,
          clock,
        );
  // Browser sessions (login.enabled) and Basic credentials (basic.enabled): more ways to obtain the token step 3 verifies.
  const sessions = config.login.enabled
    ? new Sessions(
        config,
        (refreshToken) => {
          const idp = provider.configuration;
          if (idp === undefined) return Promise.reject(new IdpUnavailable({ detail: 'issuer metadata not loaded yet' }));
          return runGrant(() => oidc.refreshTokenGrant(idp, refreshToken), clock, 'session refresh');
        },
        metrics,
        log,
        clock,
        sessionStore,
      )
    : undefined;
  const sharedLimiter =
    redis === undefined
      ? undefined
      : new RedisFailureLimiter(
          redis,
          {
            windowMs: config.basic.windowSeconds * 1000,
            lockoutMs: config.basic.lockoutSeconds * 1000,
            attemptTtlMs: 4 * config.decision.timeoutMs + 10_000,
          },
          clock,
        );
  const basic = config.basic.enabled
    ? new BasicExchange(config, passwordGrants(config, provider, clock), metrics, log, clock, sharedLimiter)
    : undefined;
  return { sessions, basic };
}
