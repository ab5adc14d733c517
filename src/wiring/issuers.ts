import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { UmaDecisionClient } from '../decide/uma.js';
import type { Decider, Challenger } from '../idp/decider.js';
import { IssuerRegistry } from '../idp/issuer-registry.js';
import type { IssuerKinds } from '../idp/kinds/index.js';
import { IdentityProvider } from '../idp/provider.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../ops/metrics.js';
import { TokenVerifier } from '../tokens/verify.js';

// Part of src/app.ts's wiring: every configured issuer and the token verifier over them (step 4 of
// /auth). The primary issuer's decision client and UMA challenger are built later, by
// src/wiring/decisions.ts, because they need the verifier (ticket mode verifies RPTs) and the
// protection API: the registry gets stand-ins now that call whatever `bindPrimary` is handed.

/** The issuers, the verifier, and the hook that completes the primary issuer. */
export interface IssuerParts {
  /** The primary issuer's provider (`issuer:`, else the first of `issuers:`). */
  provider: IdentityProvider;
  issuers: IssuerRegistry;
  tokens: TokenVerifier;
  /** Hands the primary issuer its decision client and (with `uma.challenge`) its challenger; call once, before any request. */
  bindPrimary(decider: Decider, challenger: Challenger | undefined): void;
}

/** Builds the primary issuer's provider, every configured issuer (other issuers get their own UMA client) and the token verifier. */
export function buildIssuers(config: Config, metrics: Metrics, log: Logger, clock: Clock, issuerKinds?: IssuerKinds): IssuerParts {
  const provider = new IdentityProvider(config, metrics, log);
  // The primary's decider needs the verifier (ticket mode verifies RPTs), which needs the issuers;
  // its challenger needs the protection API: both bound late. Other issuers get their own UMA client.
  let primaryDecider: Decider | undefined;
  let primaryChallenger: Challenger | undefined;
  const primary = config.issuers[0];
  const issuers = new IssuerRegistry(
    config,
    provider,
    metrics,
    log,
    clock,
    {
      decider: (settings, own) =>
        settings === primary
          ? { decide: (token, resource, scope, family) => primaryDecider!.decide(token, resource, scope, family) }
          : new UmaDecisionClient({ client: settings.client, decision: config.decision }, own, metrics, log),
      challenger: (settings) =>
        settings === primary && config.uma.challenge
          ? { challenge: (resource, scope, family) => primaryChallenger!.challenge(resource, scope, family) }
          : undefined,
    },
    issuerKinds,
  );
  const tokens = new TokenVerifier(config, provider, metrics, clock, issuers, log);
  const bindPrimary = (decider: Decider, challenger: Challenger | undefined): void => {
    primaryDecider = decider;
    primaryChallenger = challenger;
  };
  return { provider, issuers, tokens, bindPrimary };
}
