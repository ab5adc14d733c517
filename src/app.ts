import type { RequestListener } from 'node:http';
import express, { type Express } from 'express';
import helmet from 'helmet';
import * as oidc from 'openid-client';
import { NginxPurger } from './auth/nginx-purge.js';
import { createAuthHandler } from './auth/pipeline.js';
import { TokenSource } from './auth/token-source.js';
import { BasicExchange } from './basic/exchange.js';
import { passwordGrants } from './basic/grants.js';
import { RedisFailureLimiter } from './basic/redis-limiter.js';
import { type Cluster, MemoryCluster } from './cluster/bus.js';
import { connectRedis } from './cluster/redis.js';
import { RedisCluster } from './cluster/redis-bus.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config/schema.js';
import { DecisionCache } from './decide/cache.js';
import { UmaChallenger } from './decide/challenge.js';
import { SubjectLimiter } from './decide/limiter.js';
import { PerObjectResolver } from './decide/per-object.js';
import { TicketDecisionClient } from './decide/ticket.js';
import { UmaDecisionClient } from './decide/uma.js';
import type { Decider } from './idp/decider.js';
import { IdpUnavailable } from './errors.js';
import { CredentialChecks, credentialChecks } from './idp/credentials.js';
import { runGrant } from './idp/grants.js';
import { IssuerRegistry } from './idp/issuer-registry.js';
import type { IssuerKinds } from './idp/kinds/index.js';
import { PatProvider } from './idp/pat.js';
import { ProtectionApi } from './idp/protection.js';
import { IdentityProvider } from './idp/provider.js';
import { UmaMetadata } from './idp/uma-metadata.js';
import type { Logger } from './log.js';
import { healthz, readyz } from './ops/health.js';
import { Metrics } from './ops/metrics.js';
import { loginEndpoints } from './login/endpoints.js';
import { loadRoutes } from './routes/load.js';
import { KeycloakRoutes } from './routes/remote.js';
import { RedisSessionStore } from './session/redis-store.js';
import { Sessions } from './session/sessions.js';
import { TokenVerifier } from './tokens/verify.js';
import { backchannelLogout } from './logout/endpoint.js';
import { logoutAudiences } from './logout/audiences.js';
import { MemoryReplayGuard, type ReplayGuard } from './logout/replay.js';
import { Revocations } from './logout/revocations.js';
import { noBroadcast, Revoker, type LogoutBroadcaster } from './logout/revoke.js';

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
  const provider = new IdentityProvider(config, metrics, log);
  // The primary's decider needs the verifier (ticket mode verifies RPTs), which needs the issuers;
  // its challenger needs the protection API: both bound late. Other issuers get their own UMA client.
  let primaryDecider: Decider | undefined;
  let primaryChallenger: UmaChallenger | undefined;
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
    options.issuerKinds,
  );
  const tokens = new TokenVerifier(config, provider, metrics, clock, issuers, log);
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
  primaryDecider = decider;
  primaryChallenger = config.uma.challenge ? new UmaChallenger(provider, protection) : undefined;
  const objects = config.uma.perObject ? new PerObjectResolver(protection, limiter) : undefined;
  const credentials = new CredentialChecks(credentialChecks(config, issuers.all, pat, metrics), log);
  const notReady = (): string[] => [
    ...issuers.all
      .filter((issuer) => !issuer.provider.ready)
      .map((issuer) => `issuer ${issuer.settings.id}: ${issuer.provider.problem ?? 'discovery under way'}`),
    ...credentials.problems,
    ...(cluster.bus.problem?.() === undefined ? [] : [`redis bus: ${cluster.bus.problem?.()}`]),
  ];
  const remote = config.routes.fromKeycloak ? new KeycloakRoutes(config.routes.keycloakScopes, protection, limiter) : undefined;
  // Several replicas (session.store: redis): sessions, Basic lockouts and invalidations go through Redis.
  const redis = config.session.store === 'redis' ? connectRedis(config, metrics, log) : undefined;
  const cluster: Cluster = redis === undefined ? new MemoryCluster() : new RedisCluster(redis, log);
  // Redis's ACL refuses the replicas' channel: a logout elsewhere could not purge this replica's cached allows.
  if (redis !== undefined) decisions.untrusted = () => cluster.bus.problem?.() !== undefined;
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
  // NGINX's decision cache, when the service may purge it (nginx.purgeUrl): a sign-out or a back-channel logout ends the user's entries at once.
  const purger =
    config.nginx.purgeUrl === undefined ? undefined : new NginxPurger(new URL(config.nginx.purgeUrl), config.nginx.cacheSeconds, log);
  // Back-channel logout (src/logout/): revocation records the verifier checks, the purge, the endpoint.
  const revocations = new Revocations(config.logout.revocationRetentionSeconds * 1000, config.logout.maxEntries, clock);
  tokens.revocations = revocations;
  const revoker = new Revoker({ revocations, tokens, decisions, sessions: sessions?.store, basic, nginx: purger, log });
  // Several replicas: a logout token's jti is claimed once in Redis, and a logout one replica received is applied by all
  // (the bus delivers it to this replica too: revoke is idempotent). One replica: in memory, nobody to tell.
  const logoutReplay = options.logoutReplay ?? (redis === undefined ? new MemoryReplayGuard(config.logout.maxEntries, clock) : cluster);
  const broadcastLogout: LogoutBroadcaster =
    options.broadcastLogout ?? (redis === undefined ? noBroadcast : (event) => cluster.bus.publish(event));
  if (redis !== undefined)
    cluster.bus.subscribe((event) => {
      if (event.kind !== 'logout') return;
      const { issuer, sub, sid } = event;
      revoker.revoke({ issuer, sub, sid }).catch((error: unknown) => {
        log.error({ err: { message: (error as Error).message } }, 'back-channel logout from another replica could not be applied');
      });
    });
  metrics.cacheSizes = () => ({
    decision: decisions.size,
    token: tokens.size,
    ...protection.sizes,
    subject_limit: limiter.size,
    ...(sessions ? { session: sessions.store.size } : {}),
    ...(basic ? { basic: basic.size } : {}),
    revocation: revocations.size,
  });

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', false);

  const authHandler = createAuthHandler({
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
  app.all(['/auth', '/auth/:table'], authHandler);
  // No upgrade-insecure-requests: the login pages' links must keep working on a plain-http loopback site.
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  // Server-to-server from the IdP; answers whether or not browser login is enabled (bearer tokens are revoked too).
  app.use(
    backchannelLogout({
      verify: {
        issuers: issuers.all,
        audiencesOf: (issuer) => logoutAudiences(config, issuer.settings),
        maxAgeMs: config.logout.maxTokenAgeSeconds * 1000,
        replay: logoutReplay,
        clock,
      },
      revoker,
      broadcast: broadcastLogout,
      metrics,
      log,
    }),
  );
  if (sessions !== undefined) app.use(loginEndpoints({ config, provider, sessions, metrics, log, clock, purger }));
  else {
    // NGINX hands browsers without a session to /oauth2/start; with login off they get the API's 401.
    app.use('/oauth2', (_req, res) => {
      res.status(401).setHeader('WWW-Authenticate', `Bearer realm="${config.issuer.challengeRealm}"`);
      res.json({ error_code: 'UNAUTHENTICATED', message: 'Authentication required (browser login is not enabled)' });
    });
  }
  app.get('/healthz', healthz);
  app.get('/readyz', readyz(notReady));
  app.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', metrics.registry.contentType);
    res.send(await metrics.registry.metrics());
  });
  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found' });
  });
  // /auth runs for every request NGINX serves and answers NGINX alone (only the status and a
  // few headers reach anyone), so it is dispatched before express: measured on these 2-core
  // machines, express's router alone caps a trivial handler at ~5k requests/s where plain
  // node:http serves ~20k (README, "Speed").
  const handler: RequestListener = (req, res) => {
    const url = req.url ?? '';
    // `/auth` and `/auth/<table>`: the decision path NGINX proxies to names the route table.
    if (url === '/auth' || url.startsWith('/auth?') || url.startsWith('/auth/')) void authHandler(req, res);
    else app(req, res);
  };
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
