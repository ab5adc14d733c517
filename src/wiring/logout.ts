import type { Router } from 'express';
import { NginxPurger } from '../auth/nginx-purge.js';
import type { BasicExchange } from '../basic/exchange.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import type { DecisionCache } from '../decide/cache.js';
import type { IssuerRegistry } from '../idp/issuer-registry.js';
import type { Logger } from '../log.js';
import { logoutAudiences } from '../logout/audiences.js';
import { backchannelLogout } from '../logout/endpoint.js';
import { MemoryReplayGuard, type ReplayGuard } from '../logout/replay.js';
import { Revocations } from '../logout/revocations.js';
import { noBroadcast, Revoker, type LogoutBroadcaster } from '../logout/revoke.js';
import type { Metrics } from '../ops/metrics.js';
import type { Sessions } from '../session/sessions.js';
import type { TokenVerifier } from '../tokens/verify.js';
import type { ClusterParts } from './cluster.js';

// Part of src/app.ts's wiring: what ends a user's access everywhere at once (src/logout/): the
// revocation records the verifier checks, the purge of every cache that may still allow, the
// back-channel endpoint, and the replicas telling each other.

/** The caches a logout purges, and the tests' seams for the replicas (see ServiceOptions in src/app.ts). */
export interface LogoutInputs {
  cluster: ClusterParts;
  tokens: TokenVerifier;
  decisions: DecisionCache;
  sessions: Sessions | undefined;
  basic: BasicExchange | undefined;
  issuers: IssuerRegistry;
  broadcastLogout: LogoutBroadcaster | undefined;
  logoutReplay: ReplayGuard | undefined;
}

/** The logout parts: the NGINX purge, the revocation records, the revoker and the back-channel endpoint. */
export interface LogoutParts {
  /** Set with `nginx.purgeUrl`. */
  purger: NginxPurger | undefined;
  revocations: Revocations;
  revoker: Revoker;
  /** `POST /oauth2/backchannel-logout`. */
  endpoint: Router;
}

/**
 * Builds back-channel logout and the NGINX purge, hands the verifier its revocation records and,
 * with several replicas, applies the logouts the others broadcast.
 */
export function buildLogout(config: Config, inputs: LogoutInputs, metrics: Metrics, log: Logger, clock: Clock): LogoutParts {
  const { redis, cluster } = inputs.cluster;
  const { tokens, decisions, sessions, basic } = inputs;
  // NGINX's decision cache, when the service may purge it (nginx.purgeUrl): a sign-out or a back-channel logout ends the user's entries at once.
  const purger =
    config.nginx.purgeUrl === undefined ? undefined : new NginxPurger(new URL(config.nginx.purgeUrl), config.nginx.cacheSeconds, log);
  // Back-channel logout (src/logout/): revocation records the verifier checks, the purge, the endpoint.
  const revocations = new Revocations(config.logout.revocationRetentionSeconds * 1000, config.logout.maxEntries, clock);
  tokens.revocations = revocations;
  const revoker = new Revoker({ revocations, tokens, decisions, sessions: sessions?.store, basic, nginx: purger, log });
  // Several replicas: a logout token's jti is claimed once in Redis, and a logout one replica received is applied by all
  // (the bus delivers it to this replica too: revoke is idempotent). One replica: in memory, nobody to tell.
  const logoutReplay = inputs.logoutReplay ?? (redis === undefined ? new MemoryReplayGuard(config.logout.maxEntries, clock) : cluster);
  const broadcastLogout: LogoutBroadcaster =
    inputs.broadcastLogout ?? (redis === undefined ? noBroadcast : (event) => cluster.bus.publish(event));
  if (redis !== undefined)
    cluster.bus.subscribe((event) => {
      if (event.kind !== 'logout') return;
      const { issuer, sub, sid } = event;
      revoker.revoke({ issuer, sub, sid }).catch((error: unknown) => {
        log.error({ err: { message: (error as Error).message } }, 'back-channel logout from another replica could not be applied');
      });
    });
  // Server-to-server from the IdP; answers whether or not browser login is enabled (bearer tokens are revoked too).
  const endpoint = backchannelLogout({
    verify: {
      issuers: inputs.issuers.all,
      audiencesOf: (issuer) => logoutAudiences(config, issuer.settings),
      maxAgeMs: config.logout.maxTokenAgeSeconds * 1000,
      replay: logoutReplay,
      clock,
    },
    revoker,
    broadcast: broadcastLogout,
    metrics,
    log,
  });
  return { purger, revocations, revoker, endpoint };
}
