import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { DecisionCache } from '../decide/cache.js';
import { UmaChallenger } from '../decide/challenge.js';
import { SubjectLimiter } from '../decide/limiter.js';
import { PerObjectResolver } from '../decide/per-object.js';
import { TicketDecisionClient } from '../decide/ticket.js';
import { UmaDecisionClient } from '../decide/uma.js';
import type { Decider } from '../idp/decider.js';
import { PatProvider } from '../idp/pat.js';
import { ProtectionApi } from '../idp/protection.js';
import type { IdentityProvider } from '../idp/provider.js';
import { UmaMetadata } from '../idp/uma-metadata.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';
import { KeycloakRoutes } from '../routes/remote.js';
import type { TokenVerifier } from '../tokens/verify.js';

// Part of src/app.ts's wiring: what step 5 of /auth decides with against Keycloak. The decision
// cache; the protection API (PAT, resource ids, permission tickets) that ticket mode, the UMA
// challenge and request-named resources use; the primary issuer's decision client and challenger;
// and the per-subject budget that request-named resources (per-object, Keycloak-resolved paths) spend.

/** The decision cache, the protection API and the clients built on it. */
export interface DecisionParts {
  decisions: DecisionCache;
  /** IdP lookups for request-named resources, per subject. */
  limiter: SubjectLimiter;
  pat: PatProvider;
  protection: ProtectionApi;
  /** The primary issuer's decision client (`decision.mode`). */
  decider: Decider;
  /** The primary issuer's UMA challenger; set when `uma.challenge` is on. */
  challenger: UmaChallenger | undefined;
  /** Set when `uma.perObject` is on. */
  objects: PerObjectResolver | undefined;
  /** Set when `routes.fromKeycloak` is on. */
  remote: KeycloakRoutes | undefined;
}

/** Builds the decision cache, the lookup limiter, the protection API, the primary's decision client and challenger, and the optional lookups. */
export function buildDecisions(
  config: Config,
  provider: IdentityProvider,
  tokens: TokenVerifier,
  metrics: Metrics,
  log: Logger,
  clock: Clock,
): DecisionParts {
  const decisions = new DecisionCache(
    config.cache.maxEntries,
    { allowTtlMs: config.cache.allowTtlSeconds * 1000, denyTtlMs: config.cache.denyTtlSeconds * 1000 },
    metrics,
    clock,
    config.cache.maxBytes,
  );
  // IdP lookups for request-named resources (experiment ids, bucket names, Keycloak URIs), per subject.
  const limiter = new SubjectLimiter(
    { burst: config.decision.lookupBurstPerSubject, perSecond: config.decision.lookupsPerSecondPerSubject, maxSubjects: 10_000 },
    metrics,
    log,
    clock,
  );
  // The protection API (PAT, resource ids, permission tickets): used by ticket mode, the UMA challenge and per-object decisions.
  const pat = new PatProvider(config, provider, metrics, log, clock);
  const protection = new ProtectionApi(config, new UmaMetadata(config, provider, metrics), pat, metrics, log, clock);
  const decider =
    config.decision.mode === 'ticket'
      ? new TicketDecisionClient(config, provider, protection, tokens, metrics, log)
      : new UmaDecisionClient(config, provider, metrics, log);
  const challenger = config.uma.challenge ? new UmaChallenger(provider, protection) : undefined;
  const objects = config.uma.perObject ? new PerObjectResolver(protection, limiter) : undefined;
  const remote = config.routes.fromKeycloak ? new KeycloakRoutes(config.routes.keycloakScopes, protection, limiter) : undefined;
  return { decisions, limiter, pat, protection, decider, challenger, objects, remote };
}
