import { createHash } from 'node:crypto';
import type { Decider } from '../idp/decider.js';
import type { Permission } from '../idp/trusted-issuer.js';
import { MAX_PLAIN_KEY_LENGTH } from '../ops/metered-lru.js';
import type { RouteMatch } from '../routes/match.js';
import type { Identity } from '../tokens/verify.js';
import type { Maybe } from '../util/maybe.js';
import type { AuthDependencies } from './dependencies.js';
import { issuerOf } from './identify.js';
import type { DecisionState } from './original-request.js';

// Step 5 of the /auth pipeline (src/auth/pipeline.ts): may this identity do this on this resource.
// Synchronous when the issuer decides locally or the answer is cached; one IdP call otherwise.

/**
 * Step 5: the token's issuer says how (src/idp/kinds/): decided by it (a claims policy, an RPT
 * holding the permission), or sent for an RPT (UMA challenge), or the cached decision, or one
 * single-flight call to its decision client. Throws (or rejects with) the refusal.
 */
export function decideRoute(
  deps: AuthDependencies,
  token: string,
  identity: Identity,
  route: RouteMatch,
  state: DecisionState,
): Maybe<void> {
  // A refusal by the issuer's own checks is a local decision too.
  state.source = 'local';
  // A route that reaches this step has a scope (only AUTHENTICATED routes have none, and they stop at step 4).
  const how = issuerOf(deps.verifier, identity).authorize(identity, route as Permission);
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
