import type { IncomingMessage, ServerResponse } from 'node:http';
import { systemClock } from '../clock.js';
import { AuthzError, Forbidden, IdpUnavailable } from '../errors.js';
import { TrustedProxies } from '../request/trusted-proxies.js';
import type { ContractSettings } from '../request/original.js';
import type { RouteMatch } from '../routes/match.js';
import { andThen } from '../util/maybe.js';
import { isUnsafeMethod } from '../login/origin.js';
import { decideRoute } from './decide.js';
import type { AuthDependencies } from './dependencies.js';
import { identify, narrowRoute } from './identify.js';
import { CACHE_KEY_HEADER } from './nginx-purge.js';
import { accelExpiresValues, nginxCacheSeconds } from './nginx-cache.js';
import { type DecisionState, matchRoute, newDecisionState, readOriginalRequest, selectMatcher } from './original-request.js';
import { authenticationWays, refusalReason } from './reason.js';
import { decisionRecorder } from './record.js';
import { sendAllow, sendRefusal } from './respond.js';

// The order of the steps and what happens between them; each step lives in its own module
// (original-request.ts, token-source.ts, identify.ts, decide.ts, respond.ts, record.ts).

// Moved to dependencies.ts; re-exported so that `auth/pipeline.js` keeps naming it.
export type { AuthDependencies } from './dependencies.js';

/**
 * The /auth handler: read original request → match route → credentials to token (bearer,
 * session, Basic) → verify token (by its issuer) → narrow to the object (`uma.perObject`) →
 * decide (claims policy or RPT permissions, cache, then IdP) → respond. Each step is a named function that either
 * returns what the next one needs or throws an {@link AuthzError}; nothing ever ends in an
 * allow except the last step.
 */
export function createAuthHandler(deps: AuthDependencies) {
  const { config, log, metrics } = deps;
  const finish = decisionRecorder(config, log, metrics);
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
    const state = newDecisionState(performance.now(), req.headers[CACHE_KEY_HEADER]);
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
      const decided = andThen(identify(deps.verifier, token), (identity) => {
        state.identity = identity;
        if (matched.authenticated) {
          state.source = 'local'; // AUTHENTICATED route: the verified identity is all it needs
          return matched;
        }
        return andThen(narrowRoute(deps, state, matched), (route) =>
          andThen(decideRoute(deps, token, identity, route, state), () => route),
        );
      });
      if (decided instanceof Promise)
        decided.then((route) => allow(res, state, route)).catch((thrown: unknown) => refuse(res, state, thrown));
      else allow(res, state, decided);
    } catch (thrown) {
      refuse(res, state, thrown);
    }
  }

  /** Step 6, allowed: the second permission if the request needs one, else 200 with the identity headers. */
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

  /** Step 6, refused: any throw becomes its status (anything unexpected a 503, never an allow), with the reason why. */
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
}
