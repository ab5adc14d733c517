import type { TrustedIssuer } from '../idp/trusted-issuer.js';
import type { RouteMatch } from '../routes/match.js';
import { hashToken, type Identity, type TokenVerifier } from '../tokens/verify.js';
import type { Maybe } from '../util/maybe.js';
import type { AuthDependencies } from './dependencies.js';
import type { DecisionState } from './original-request.js';

// Step 4 of the /auth pipeline (src/auth/pipeline.ts): who the token says the caller is, and
// (4a) which resource the request really names. Each answers at once when cached, else a promise.

/** Step 4: the token's identity, from the cache by token hash, else verified by its issuer. */
export function identify(verifier: TokenVerifier, token: string): Maybe<Identity> {
  const tokenHash = hashToken(token);
  return verifier.cached(tokenHash) ?? verifier.verifyFresh(token, tokenHash);
}

/** The issuer that verified the identity (the primary for one made without). */
export function issuerOf(verifier: TokenVerifier, identity: Identity): TrustedIssuer {
  return identity.issuer ?? verifier.primaryIssuer;
}

/**
 * Step 4a: a path the table does not map resolved to its Keycloak resource by URI
 * (`routes.fromKeycloak`); or (`uma.perObject`) the route's resource narrowed to the experiment
 * the URI names, when Keycloak has a resource for it. After verification, so anonymous callers cannot make
 * the service look things up; synchronous when the lookup is cached.
 */
export function narrowRoute(deps: AuthDependencies, state: DecisionState, route: RouteMatch): RouteMatch | Promise<RouteMatch> {
  // Per-experiment resources are Keycloak's: another issuer's token is decided on the route's own resource#scope.
  const perObject = deps.objects !== undefined && issuerOf(deps.verifier, state.identity!).keycloakResources;
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
