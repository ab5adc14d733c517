import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Default metrics of prom-client that are gauges with a counter's `_total` suffix (see the constructor). */
export const MISNAMED_DEFAULT_GAUGES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

/** Where a decision came from. */
export type DecisionSource = 'cache' | 'idp' | 'local' | 'none';

/**
 * The service's Prometheus metrics, on a registry of its own (so tests can build many apps).
 * Label children are memoised: prom-client hashes the label object on every `labels()` call,
 * which is measurable on the /auth hot path.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly decisions = new Counter({
    name: 'authz_decisions_total',
    help: 'Decisions by outcome, reason, resource family, scope and source (cache, idp, local, none)',
    labelNames: ['decision', 'reason', 'resource', 'scope', 'source'] as const,
    registers: [this.registry],
  });

  readonly decisionDuration = new Histogram({
    name: 'authz_decision_duration_seconds',
    help: 'Time spent in the /auth handler, by source',
    labelNames: ['source'] as const,
    // Fine below 1 ms: the cached path is measured in tens of microseconds.
    buckets: [
      0.000_025, 0.000_05, 0.000_075, 0.000_1, 0.000_15, 0.000_2, 0.000_3, 0.000_5, 0.000_75, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
      0.25, 0.5, 1, 2.5, 5,
    ],
    registers: [this.registry],
  });

  readonly cacheRequests = new Counter({
    name: 'authz_cache_requests_total',
    help: 'Cache lookups by cache (decision, token, subject_limit, resource_id, resource_uri, introspection_negative) and result (hit, miss)',
    labelNames: ['cache', 'result'] as const,
    registers: [this.registry],
  });

  readonly cacheEvictions = new Counter({
    name: 'authz_cache_evictions_total',
    help: 'Entries evicted for space (not expiry) by cache (the caches of authz_cache_requests_total)',
    labelNames: ['cache'] as const,
    registers: [this.registry],
  });

  /** Set by the service: reports each cache's current size at scrape time. */
  cacheSizes: () => Record<string, number> = () => ({});

  readonly cacheEntries = new Gauge({
    name: 'authz_cache_entries',
    help: 'Entries currently held by cache (decision, token, resource_id, resource_uri, subject_limit, session, basic, revocation)',
    labelNames: ['cache'] as const,
    registers: [this.registry],
    collect: () => {
      for (const [cache, size] of Object.entries(this.cacheSizes())) this.cacheEntries.labels(cache).set(size);
    },
  });

  readonly idpRequests = new Counter({
    name: 'authz_idp_requests_total',
    help: 'Calls to the identity provider by endpoint (discovery, jwks, uma_decision, ...) and outcome: http_<status> below 500, server_error, timeout, network_error, invalid_answer (discovery only)',
    labelNames: ['endpoint', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly idpDuration = new Histogram({
    name: 'authz_idp_request_duration_seconds',
    help: 'Latency of calls to the identity provider by endpoint',
    labelNames: ['endpoint'] as const,
    buckets: [0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly jwksRefreshes = new Counter({
    name: 'authz_jwks_refreshes_total',
    help: 'JWKS fetches (start-up, expiry, or an unknown kid) by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  /** Use {@link routeMisconfigured}: it keeps the labels to a bounded set. */
  readonly misconfiguredRoutes = new Counter({
    name: 'authz_route_misconfigured_total',
    help: "Decisions refused because the IdP does not know the mapped resource or scope (resource: the table's family, never a request-named resource)",
    labelNames: ['resource', 'scope', 'error'] as const,
    registers: [this.registry],
  });

  readonly rateLimited = new Counter({
    name: 'authz_rate_limited_total',
    help: 'IdP lookups refused because one subject asked for too many (decision.lookupsPerSecondPerSubject) by lookup kind',
    labelNames: ['lookup'] as const,
    registers: [this.registry],
  });

  readonly introspectionRequests = new Counter({
    name: 'authz_introspection_requests_total',
    help: 'RFC 7662 introspection calls by result (active, inactive, error); cached answers are not counted',
    labelNames: ['issuer', 'result'] as const,
    registers: [this.registry],
  });

  readonly logins = new Counter({
    name: 'authz_logins_total',
    help: 'Browser logins (/oauth2/callback) by result: ok, invalid_state, idp_error, refused, store_unavailable',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly sessionRefreshes = new Counter({
    name: 'authz_session_refreshes_total',
    help: 'Refresh-token grants for browser sessions by result (ok, rejected: the session ended, error: IdP unavailable)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly passwordGrants = new Counter({
    name: 'authz_password_grants_total',
    help: 'Basic credentials exchanged at the IdP by grant (password, refresh_token) and result (ok, rejected, error)',
    labelNames: ['grant', 'result'] as const,
    registers: [this.registry],
  });

  readonly basicThrottled = new Counter({
    name: 'authz_basic_throttled_total',
    help: 'Basic attempts refused without asking the IdP, because the user or the client address is locked out',
    labelNames: ['by'] as const,
    registers: [this.registry],
  });

  readonly backchannelLogouts = new Counter({
    name: 'authz_backchannel_logouts_total',
    help: 'Back-channel logout tokens received (POST /oauth2/backchannel-logout) by result: ok, invalid, replayed, error (a store failed)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly logoutPurged = new Counter({
    name: 'authz_logout_purged_total',
    help: 'What logouts removed on this replica, by kind: session, token (cached identities), decision, basic (cached exchanges)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  /**
   * Exported only once Redis is in use ({@link Metrics.usesRedis}): a gauge without labels is otherwise exported as 0,
   * and a service on the memory store would look like one whose Redis is down (and page "Redis unreachable").
   */
  readonly redisUp = new Gauge({
    name: 'authz_redis_up',
    help: 'Whether the connection to Redis (session.store: redis) is ready: 1 yes, 0 no (sessions not held here, logins, refreshes and Basic answer 503)',
    registers: [],
  });

  readonly redisErrors = new Counter({
    name: 'authz_redis_errors_total',
    help: 'Redis operations that failed (Redis down, slow or refusing), by operation: session_read, session_write, refresh_lock, limiter, publish, claim',
    labelNames: ['op'] as const,
    registers: [this.registry],
  });

  private readonly decisionChildren = new Map<string, { inc(): void }>();
  private readonly durationChildren = new Map<string, { observe(value: number): void }>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      // prom-client's gauges named *_total break Prometheus' naming rule (`promtool check metrics`: only counters
      // end in _total) and repeat what nodejs_active_handles/_requests/_resources{type} already export: drop them.
      for (const name of MISNAMED_DEFAULT_GAUGES) this.registry.removeSingleMetric(name);
    }
  }

  /**
   * Counts a route the IdP does not know. `family` is the route table's resource (bounded by
   * the table: `bucket:{bucket}`, `experiment:*`, `keycloak-uri`), never the concrete name a
   * request produced; `scope` comes from the table; Keycloak's error code is kept only when it
   * looks like one. Label values are capped in length too, so no request can grow the registry.
   */
  routeMisconfigured(family: string, scope: string, error: string): void {
    this.misconfiguredRoutes.labels(boundedLabel(family), boundedLabel(scope), /^[a-z_]{1,40}$/.test(error) ? error : 'other').inc();
  }

  /** Starts exporting `authz_redis_up` (the service connects to Redis); calling it again changes nothing. */
  usesRedis(): void {
    if (this.registry.getSingleMetric('authz_redis_up') === undefined) this.registry.registerMetric(this.redisUp);
  }

  /** Records one finished decision: the counter and the latency histogram. */
  recordDecision(decision: string, reason: string, resource: string, scope: string, source: DecisionSource, seconds: number): void {
    const key = `${decision}\u0000${reason}\u0000${resource}\u0000${scope}\u0000${source}`;
    let counter = this.decisionChildren.get(key);
    if (counter === undefined) {
      counter = this.decisions.labels(decision, reason, resource, scope, source);
      this.decisionChildren.set(key, counter);
    }
    counter.inc();
    let histogram = this.durationChildren.get(source);
    if (histogram === undefined) {
      histogram = this.decisionDuration.labels(source);
      this.durationChildren.set(source, histogram);
    }
    histogram.observe(seconds);
  }
}

/** A label value of at most 64 characters: longer values are configuration mistakes, not data worth a time series each. */
function boundedLabel(value: string): string {
  return value.length <= 64 ? value : `${value.slice(0, 60)}...`;
}
