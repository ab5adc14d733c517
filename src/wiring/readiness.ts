import type { Config } from '../config/schema.js';
import { CredentialChecks, credentialChecks } from '../idp/credentials.js';
import type { IssuerRegistry } from '../idp/issuer-registry.js';
import type { PatProvider } from '../idp/pat.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';

// Part of src/app.ts's wiring: when the service may take traffic (/readyz). A secret the IdP
// refuses is found at start by the credentials checks, not at the first request that needs it.

/** The client-secret checks and the answer to "ready yet?". */
export interface Readiness {
  /** The client secrets the configuration uses, checked at start (src/idp/credentials.ts). */
  credentials: CredentialChecks;
  /** Why the service is not ready (empty when it is): every issuer discovered with its keys, every credentials check passed. */
  notReady(): string[];
}

/**
 * Builds the credentials checks of every client secret in use, and the readiness answer over them, the issuers and
 * the replicas' event bus (`busProblem`: why Redis refuses the bus, e.g. its ACL; called at each /readyz).
 */
export function buildReadiness(
  config: Config,
  issuers: IssuerRegistry,
  pat: PatProvider,
  busProblem: () => string | undefined,
  metrics: Metrics,
  log: Logger,
): Readiness {
  const credentials = new CredentialChecks(credentialChecks(config, issuers.all, pat, metrics), log);
  const notReady = (): string[] => [
    ...issuers.all
      .filter((issuer) => !issuer.provider.ready)
      .map((issuer) => `issuer ${issuer.settings.id}: ${issuer.provider.problem ?? 'discovery under way'}`),
    ...credentials.problems,
    ...[busProblem()].filter((problem) => problem !== undefined).map((problem) => `redis bus: ${problem}`),
  ];
  return { credentials, notReady };
}
