import type { Express } from 'express';
import type { RequestListener } from 'node:http';
import { createAuthHandler } from './auth/pipeline.js';
import { TokenSource } from './auth/token-source.js';
import type { BasicExchange } from './basic/exchange.js';
import type { Cluster } from './cluster/bus.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config/schema.js';
import type { DecisionCache } from './decide/cache.js';
import type { CredentialChecks } from './idp/credentials.js';
import type { IssuerRegistry } from './idp/issuer-registry.js';
import type { IssuerKinds } from './idp/kinds/index.js';
import type { PatProvider } from './idp/pat.js';
import type { ProtectionApi } from './idp/protection.js';
import type { IdentityProvider } from './idp/provider.js';
import type { Logger } from './log.js';
import { loginEndpoints } from './login/endpoints.js';
import type { ReplayGuard } from './logout/replay.js';
import type { Revocations } from './logout/revocations.js';
import type { LogoutBroadcaster, Revoker } from './logout/revoke.js';
import { Metrics } from './ops/metrics.js';
import { loadRoutes } from './routes/load.js';
import type { Sessions } from './session/sessions.js';
import type { TokenVerifier } from './tokens/verify.js';
import { buildCluster } from './wiring/cluster.js';
import { buildDecisions } from './wiring/decisions.js';
import { buildHttp } from './wiring/http.js';
import { buildIssuers } from './wiring/issuers.js';
import { buildLogout } from './wiring/logout.js';
import { buildReadiness } from './wiring/readiness.js';
import { buildTokenSources } from './wiring/token-sources.js';

// The composition root, read as the table of contents of the service: each part is built by its
// own file in src/wiring/ from the configuration and the parts it needs, in the order they need
// each other; this file only passes them along and hands the whole to src/main.ts (and the tests).

/** Every built part of the service, for src/main.ts and for tests that look inside. */
export interface Service {
  /** The request listener for node:http: /auth directly, everything else through express. */
  handler: RequestListener;
  app: Express;
  /** The route tables, by the upstream NGINX asks for. */
  matchers: ReturnType<typeof loadRoutes>;
  /** The primary issuer's provider (`issuer:`, else the first of `issuers:`). */
  provider: IdentityProvider;
  /** Every configured issuer, the primary first: `issuers.start()` discovers them all. */
  issuers: IssuerRegistry;
  metrics: Metrics;
  decisions: DecisionCache;
  tokens: TokenVerifier;
  pat: PatProvider;
  protection: ProtectionApi;
  /** Browser sessions; undefined unless `login.enabled`. */
  sessions: Sessions | undefined;
  /** Basic credentials exchange; undefined unless `basic.enabled`. */
  basic: BasicExchange | undefined;
  /** Applies a logout on this replica (the back-channel endpoint's, and the other replicas' broadcasts). */
  revoker: Revoker;
  /** "Revoked at" records of logouts: tokens issued before them are refused. */
  revocations: Revocations;
  /**
   * What the replicas share: the event bus (session invalidations; back-channel `logout` events)
   * and `claimOnce` (one-time use, e.g. a logout token's jti). In process with `session.store:
   * memory`, Redis with `session.store: redis`.
   */
  cluster: Cluster;
  /** The client secrets the configuration uses, checked at start (src/idp/credentials.ts). */
  credentials: CredentialChecks;
  /** Why the service is not ready (empty when it is): every issuer discovered with its keys, every credentials check passed. */
  notReady(): string[];
  /** Discovers every issuer and checks the credentials, retrying each until it succeeds; resolves when all have. */
  start(): Promise<void>;
  stop(): void;
}

/** Seams for tests and for several replicas; every one has a default. */
export interface ServiceOptions {
  clock?: Clock;
  /**
   * Back-channel logout across replicas: where a logout this replica received is sent to the
   * others (each applies it with `service.revoker.revoke`). Default: nobody (one replica).
   */
  broadcastLogout?: LogoutBroadcaster;
  /** Remembers logout tokens' `jti`s (accepted once). Default: in memory (one replica); a shared one for several. */
  logoutReplay?: ReplayGuard;
  /** Process metrics off in tests that build many services. */
  defaultMetrics?: boolean;
  /** Mode → IdP kind (src/idp/kinds/); the built-in map unless a test adds a kind. */
  issuerKinds?: IssuerKinds;
}

/** Wires the service together. Call `start()` to begin discovery and the credentials checks (`issuers.start()` for discovery alone). */
export function createService(config: Config, log: Logger, options: ServiceOptions = {}): Service {
  const clock = options.clock ?? systemClock;
  const metrics = new Metrics({ defaultMetrics: options.defaultMetrics ?? true });
  const matchers = loadRoutes(config.routes);
  const { provider, issuers, tokens, bindPrimary } = buildIssuers(config, metrics, log, clock, options.issuerKinds);
  const { decisions, limiter, pat, protection, decider, challenger, objects, remote } = buildDecisions(
    config,
    provider,
    tokens,
    metrics,
    log,
    clock,
  );
  // The primary issuer decides with the client just built (it needed the verifier, which needed the issuers).
  bindPrimary(decider, challenger);
  const shared = buildCluster(config, metrics, log);
  const busProblem = (): string | undefined => shared.cluster.bus.problem?.();
  // Redis's ACL refuses the replicas' channel: a logout elsewhere could not purge this replica's cached allows.
  if (shared.redis !== undefined) decisions.untrusted = () => busProblem() !== undefined;
  const { credentials, notReady } = buildReadiness(config, issuers, pat, busProblem, metrics, log);
  const { sessions, basic } = buildTokenSources(config, provider, shared, metrics, log, clock);
  const { purger, revocations, revoker, endpoint } = buildLogout(
    config,
    {
      cluster: shared,
      tokens,
      decisions,
      sessions,
      basic,
      issuers,
      broadcastLogout: options.broadcastLogout,
      logoutReplay: options.logoutReplay,
    },
    metrics,
    log,
    clock,
  );
  metrics.cacheSizes = () => ({
    decision: decisions.size,
    token: tokens.size,
    ...protection.sizes,
    subject_limit: limiter.size,
    ...(sessions ? { session: sessions.store.size } : {}),
    ...(basic ? { basic: basic.size } : {}),
    revocation: revocations.size,
  });

  const auth = createAuthHandler({
    config,
    matchers,
    verifier: tokens,
    tokens: new TokenSource(sessions, basic, { login: config.login, log }),
    cache: decisions,
    objects,
    remote,
    limiter,
    metrics,
    log,
    clock,
    purger,
  });
  const login = sessions === undefined ? undefined : loginEndpoints({ config, provider, sessions, metrics, log, clock, purger });
  const { handler, app } = buildHttp(config, { auth, backchannelLogout: endpoint, login, metrics, notReady });

  const { cluster } = shared;
  const start = async (): Promise<void> => {
    await Promise.all([issuers.start(), credentials.start()]);
  };
  const stop = (): void => {
    issuers.stop();
    credentials.stop();
    void sessions?.store.close();
    void cluster.close();
  };
  return {
    handler,
    app,
    matchers,
    provider,
    issuers,
    metrics,
    decisions,
    tokens,
    pat,
    protection,
    sessions,
    basic,
    revoker,
    revocations,
    cluster,
    credentials,
    notReady,
    start,
    stop,
  };
}
