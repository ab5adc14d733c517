import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { AuthzError, ConflictingOriginalRequest, Forbidden, IdpUnavailable } from '../errors.js';
import type { DecisionCache } from '../decide/cache.js';
import type { SubjectLimiter } from '../decide/limiter.js';
import type { PerObjectResolver } from '../decide/per-object.js';
import type { Decider } from '../idp/decider.js';
import type { Permission, TrustedIssuer } from '../idp/trusted-issuer.js';
import type { Logger } from '../log.js';
import { MAX_PLAIN_KEY_LENGTH } from '../ops/metered-lru.js';
import type { Metrics } from '../ops/metrics.js';
import { TrustedProxies } from '../request/trusted-proxies.js';
import type { ContractSettings } from '../request/original.js';
import type { ServiceName } from '../routes/load.js';
import type { RouteMatch, RouteMatcher } from '../routes/match.js';
import type { KeycloakRoutes } from '../routes/remote.js';
import { hashToken, type Identity, type TokenVerifier } from '../tokens/verify.js';
import { type DecisionState, matchRoute, readOriginalRequest, selectMatcher } from './original-request.js';
import { authenticationWays, refusalReason } from './reason.js';
import { andThen, type Maybe } from '../util/maybe.js';
import { isUnsafeMethod } from '../login/origin.js';
import type { NginxPurger } from './nginx-purge.js';
import { CACHE_KEY_HEADER } from './nginx-purge.js';
import { accelExpiresValues, nginxCacheSeconds } from './nginx-cache.js';
import { sendAllow, sendRefusal } from './respond.js';
import type { TokenSource } from './token-source.js';

export interface AuthDependencies {
  config: Config;
  matchers: ReadonlyMap<ServiceName, RouteMatcher>;
  verifier: TokenVerifier;
  /** Step 3: Bearer header, browser session or exchanged Basic credentials → access token. */
  tokens: TokenSource;
  cache: DecisionCache;
  /** Set when `uma.perObject` is on: requests naming their experiment are decided on its resource. */
  objects: PerObjectResolver | undefined;
  /** Set when `routes.fromKeycloak` is on: MLflow paths the table does not map are looked up in Keycloak. */
  remote: KeycloakRoutes | undefined;
  /** Set with `nginx.purgeUrl`: remembers whose entries NGINX's decision cache holds, to purge them on sign-out. */
  purger?: NginxPurger | undefined;
  /** IdP lookups for request-named resources, per subject (decide/limiter.ts); undefined: unlimited (tests). */
  limiter?: SubjectLimiter | undefined;
  metrics: Metrics;
  log: Logger;
  /** The clock the caches use (the NGINX cache time is measured against token and decision expiries); default the system's. */
  clock?: Clock;
}

/**
 * The /auth handler: read original request → match route → credentials to token (bearer,
 * session, Basic) → verify token (by its issuer) → narrow to the object (`uma.perObject`) →
 * decide (claims policy or RPT permissions, cache, then IdP) → respond. Each step is a named function that either
 * returns what the next one needs or throws an {@link AuthzError}; nothing ever ends in an
 * allow except the last step.
 */
export function createAuthHandler(deps: AuthDependencies) {
  const { config, log, metrics } = deps;
  const audit = config.log.audit ? log.child({ audit: true }) : undefined;
  // The 401 message's list of accepted credentials depends on the configuration only.
  const ways = authenticationWays(config);
  const contract: ContractSettings = { enabled: config.ingress.enabled, proxies: new TrustedProxies(config.ingress.trustedProxies) };
  const nginxSeconds = config.nginx.cacheSeconds;
  const accelValues = accelExpiresValues(nginxSeconds);
  const clock = deps.clock ?? systemClock;

  /**
   * Runs synchronously while every answer is cached (the common case: no await, so no other
   * request's work is interleaved into this one's latency) and goes async only on a miss.
   */
  return function authHandler(req: IncomingMessage, res: ServerResponse): void {
    const state: DecisionState = {
      startedAt: performance.now(),
      original: undefined,
      method: undefined,
      uri: undefined,
      route: undefined,
      identity: undefined,
      source: 'none',
      copySource: undefined,
      next: undefined,
      token: undefined,
      credential: 'none',
      renewed: false,
      decidedUntilMs: undefined,
      cacheKey: req.headers[CACHE_KEY_HEADER],
    };
    try {
      readOriginalRequest(req, config, contract, state);
      const matcher = selectMatcher(req, deps.matchers);
      const route = matchRoute(matcher, state, matcher === deps.matchers.get('mlflow') ? deps.remote : undefined);
      if (route.public) {
        allow(res, state, route);
        return;
      }
      // Step 3 may go to the IdP (a session refresh, a Basic exchange): continue once it answers.
      const token = deps.tokens.tokenOf(req, state.original, state);
      if (typeof token === 'string') decideWithToken(res, state, route, token);
      else {
        state.renewed = true;
        token.then(
          (ready) => decideWithToken(res, state, route, ready),
          (thrown: unknown) => refuse(res, state, thrown),
        );
      }
    } catch (thrown) {
      refuse(res, state, thrown);
    }
  };

  /**
   * Steps 4-6 for a token in hand, written once: each step answers now when its answer is
   * cached and with a promise when it is not ({@link andThen}), so the whole sequence is
   * synchronous while the identity and the decision are cached.
   */
  function decideWithToken(res: ServerResponse, state: DecisionState, matched: RouteMatch, token: string): void {
    try {
      state.token = token;
      const decided = andThen(identify(token), (identity) => {
        state.identity = identity;
        if (matched.authenticated) {
          state.source = 'local'; // AUTHENTICATED route: the verified identity is all it needs
          return matched;
        }
        return andThen(narrowRoute(state, matched), (route) => andThen(decideRoute(token, identity, route, state), () => route));
      });
      if (decided instanceof Promise)
        decided.then((route) => allow(res, state, route)).catch((thrown: unknown) => refuse(res, state, thrown));
      else allow(res, state, decided);
    } catch (thrown) {
      refuse(res, state, thrown);
    }
  }

  /** Step 4: the token's identity, from the cache by token hash, else verified by its issuer. */
  function identify(token: string): Maybe<Identity> {
    const tokenHash = hashToken(token);
    return deps.verifier.cached(tokenHash) ?? deps.verifier.verifyFresh(token, tokenHash);
  }

  /**
   * Step 5: the token's issuer says how (src/idp/kinds/): decided by it (a claims policy, an RPT
   * holding the permission), or sent for an RPT (UMA challenge), or the cached decision, or one
   * single-flight call to its decision client. Throws (or rejects with) the refusal.
   */
  function decideRoute(token: string, identity: Identity, route: RouteMatch, state: DecisionState): Maybe<void> {
    // A refusal by the issuer's own checks is a local decision too.
    state.source = 'local';
    // A route that reaches this step has a scope (only AUTHENTICATED routes have none, and they stop at step 4).
    const how = issuerOf(identity).authorize(identity, route as Permission);
    if (how.kind === 'allowed') return undefined;
    if (how.kind === 'challenge') {
      state.source = 'idp';
      if (route.resource !== route.family) deps.limiter?.take(identity, 'ticket');
      return how.challenger.challenge(route.resource, route.scope!, route.family);
    }
    const key = decisionKey(identity, route);
    const cached = deps.cache.peekEntry(key);
    if (cached === undefined) return askIdp(deps, how.decider, token, identity, route, key, state);
    state.source = 'cache';
    if (typeof cached !== 'number') throw cached;
    // With a second permission (S3 copies) the answer is never cached by NGINX, so the last expiry is enough.
    state.decidedUntilMs = cached;
    return undefined;
  }

  /** The issuer that verified the identity (the primary for one made without). */
  function issuerOf(identity: Identity): TrustedIssuer {
    return identity.issuer ?? deps.verifier.primaryIssuer;
  }

  /**
   * Step 4a: a path the table does not map resolved to its Keycloak resource by URI
   * (`routes.fromKeycloak`); or (`uma.perObject`) the route's resource narrowed to the experiment
   * the URI names, when Keycloak has a resource for it. After verification, so anonymous callers cannot make
   * the service look things up; synchronous when the lookup is cached.
   */
  function narrowRoute(state: DecisionState, route: RouteMatch): RouteMatch | Promise<RouteMatch> {
    // Per-experiment resources are Keycloak's: another issuer's token is decided on the route's own resource#scope.
    const perObject = deps.objects !== undefined && issuerOf(state.identity!).keycloakResources;
    const narrowed = route.remote
      ? deps.remote!.lookUp(route, state.identity!)
      : perObject
        ? deps.objects!.narrow(state.method!, state.uri!, route, state.identity!)
        : route;
    if (narrowed instanceof Promise) {
      return narrowed.then((found) => {
        state.route = found;
        return found;
      });
    }
    state.route = narrowed;
    return narrowed;
  }

  function allow(res: ServerResponse, state: DecisionState, route: RouteMatch): void {
    const next = state.next;
    if (next !== undefined) {
      // Both permissions must hold: the first is allowed, now decide the second the same way.
      state.next = undefined;
      if (state.token === undefined) refuse(res, state, new Forbidden('access_denied', { detail: 'second permission without a token' }));
      else decideWithToken(res, state, next, state.token);
      return;
    }
    const seconds = nginxAllowSeconds(state);
    if (seconds > 0 && state.identity !== undefined) deps.purger?.remember(state.cacheKey, state.identity.subject);
    sendAllow(res, state.identity, config.identity.maxHeaderBytes, accelValues[seconds]);
    finish(state, 'allow', route.public ? 'public' : 'allowed');
  }

  /** Seconds NGINX's decision cache may keep this allow (0 when it must not). */
  function nginxAllowSeconds(state: DecisionState): number {
    // Only a decision location that includes a cache snippet (it sends its key, or "-") gets a positive time: an NGINX
    // caching /auth some other way (an inherited proxy_cache, a key without the credentials) never keeps an allow.
    if (nginxSeconds === 0 || typeof state.cacheKey !== 'string' || state.cacheKey === '') return 0;
    return nginxCacheSeconds(
      {
        allowed: true,
        credential: state.credential,
        renewed: state.renewed,
        unsafeMethod: isUnsafeMethod(state.method!),
        copySource: state.copySource !== undefined,
        tokenExpiresAtMs: state.identity?.expiresAtMs,
        decisionExpiresAtMs: state.decidedUntilMs,
      },
      nginxSeconds,
      config.cache.allowTtlSeconds,
      clock(),
    );
  }

  function refuse(res: ServerResponse, state: DecisionState, thrown: unknown): void {
    const error =
      thrown instanceof AuthzError ? thrown : new IdpUnavailable({ detail: `unexpected: ${(thrown as Error).message}`, cause: thrown });
    if (!(thrown instanceof AuthzError))
      log.error(
        { err: { message: (thrown as Error).message, stack: (thrown as Error).stack } },
        'unexpected error in /auth; failing closed',
      );
    // The explanation is built here, on refusals only; the allow path never pays for it.
    const identity = state.identity;
    const reason = refusalReason(
      error,
      {
        method: state.method,
        resource: state.route?.resource,
        scope: state.route?.scope,
        user: identity === undefined ? undefined : (identity.username ?? identity.subject),
      },
      ways,
    );
    sendRefusal(res, error, config.issuer.challengeRealm, reason);
    finish(state, error.status === 503 ? 'error' : 'deny', error.code, error);
  }

  function finish(state: DecisionState, decision: 'allow' | 'deny' | 'error', reason: string, error?: AuthzError): void {
    const seconds = (performance.now() - state.startedAt) / 1000;
    const route = state.route;
    metrics.recordDecision(decision, reason, route?.family ?? 'none', route?.scope ?? 'none', state.source, seconds);
    // Deployment errors (400, an unknown route table) and IdP failures are logged even without the audit log.
    // A subrequest describing two different requests is a client probing the proxy contract: logged too.
    const misconfigured = error?.status === 400 || error?.code === 'unknown_service' || error instanceof ConflictingOriginalRequest;
    if (audit === undefined && !misconfigured && error?.status !== 503) return;
    const line = {
      user: state.identity === undefined ? undefined : (state.identity.username ?? state.identity.subject),
      // A fingerprint for correlation, never the token. Not named `token`: the logger redacts that name.
      token_fp: state.identity?.tokenHash.slice(0, 12),
      method: state.method,
      path: state.uri?.path,
      resource: route?.resource,
      scope: route?.scope,
      decision,
      reason,
      source: state.source,
      cache_hit: state.source === 'cache',
      latency_ms: Math.round(seconds * 1e6) / 1e3,
      detail: error?.detail,
    };
    if (error?.status === 503 || misconfigured) log.warn(line, 'decision failed');
    else audit!.info(line, 'decision');
  }
}

/**
 * The decision cache key: who, which resource, which scope. Short enough that the cache never
 * hashes it whole (a long resource is hashed here, behind the token hash), so that a logout can
 * find a token's decisions by the key's prefix (DecisionCache.forgetTokens).
 */
function decisionKey(identity: Identity, route: RouteMatch): string {
  const what = `${route.resource}\u0000${route.scope!}`;
  return `${identity.tokenHash}\u0000${what.length <= MAX_PLAIN_KEY_LENGTH - 24 ? what : `#${createHash('sha256').update(what).digest('base64url')}`}`;
}

/** Step 5, on a cache miss: one single-flight call to the issuer's decision client, its answer remembered. */
async function askIdp(
  deps: AuthDependencies,
  decider: Decider,
  token: string,
  identity: Identity,
  route: RouteMatch,
  key: string,
  state: DecisionState,
): Promise<void> {
  state.source = 'idp';
  // A resource the request named (a templated, per-object or Keycloak-resolved one) costs its
  // subject a lookup; refused over the limit, before the IdP is asked (never cached).
  const limited = route.resource !== route.family ? deps.limiter : undefined;
  const decideRemotely = () => {
    limited?.take(identity, 'decision');
    return decider.decide(token, route.resource, route.scope!, route.family);
  };
  const { source, denial } = await deps.cache.fill(key, identity.expiresAtMs, decideRemotely);
  state.source = source;
  if (denial !== undefined) throw denial;
}
