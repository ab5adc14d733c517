import type { RequestListener } from 'node:http';
import express, { type Express } from 'express';
import helmet from 'helmet';
import * as oidc from 'openid-client';
import { createAuthHandler } from './auth/pipeline.js';
import { TokenSource } from './auth/token-source.js';
import { BasicExchange } from './basic/exchange.js';
import { passwordGrants } from './basic/grants.js';
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
import { Sessions } from './session/sessions.js';
import { TokenVerifier } from './tokens/verify.js';

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
  ];
  const remote = config.routes.fromKeycloak ? new KeycloakRoutes(config.routes.keycloakScopes, protection, limiter) : undefined;
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
      )
    : undefined;
  const basic = config.basic.enabled ? new BasicExchange(config, passwordGrants(config, provider, clock), metrics, log, clock) : undefined;
  metrics.cacheSizes = () => ({
    decision: decisions.size,
    token: tokens.size,
    ...protection.sizes,
    subject_limit: limiter.size,
    ...(sessions ? { session: sessions.store.size } : {}),
    ...(basic ? { basic: basic.size } : {}),
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
  });
  app.all(['/auth', '/auth/:table'], authHandler);
  // No upgrade-insecure-requests: the login pages' links must keep working on a plain-http loopback site.
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  if (sessions !== undefined) app.use(loginEndpoints({ config, provider, sessions, metrics, log, clock }));
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
    credentials,
    notReady,
    start,
    stop,
  };
}
