import type { SubjectLimiter } from '../decide/limiter.js';
import { UnmappedRoute } from '../errors.js';
import type { ProtectionApi } from '../idp/protection.js';
import type { Identity } from '../tokens/verify.js';
import type { RouteMatch } from './match.js';

/** The metric label of every route resolved in Keycloak (resource names there are not bounded). */
export const REMOTE_FAMILY = 'keycloak-uri';

/**
 * `routes.fromKeycloak`: a path the static table does not map is looked up among the
 * resource server's resources by their `uris` (protection API, `matchingUri=true`: Keycloak's
 * own path patterns, like the policy enforcer's `lazy-load-paths`), so teams can keep routes
 * in Keycloak. The static table always wins where it maps a path; the method gives the scope
 * (`routes.keycloakScopes`). No resource → the default deny.
 */
export class KeycloakRoutes {
  constructor(
    private readonly scopes: Readonly<Record<string, string>>,
    private readonly protection: ProtectionApi,
    private readonly limiter?: SubjectLimiter,
  ) {}

  /**
   * A route to be resolved after the caller is verified (so anonymous requests cause no lookup).
   * @throws {UnmappedRoute} `method_not_mapped` for a method without a scope
   */
  pending(method: string, path: string): RouteMatch {
    const scope = this.scopes[method] ?? (method === 'HEAD' ? this.scopes.GET : undefined);
    if (scope === undefined) throw new UnmappedRoute('method_not_mapped', { detail: `${method} has no scope in routes.keycloakScopes` });
    return {
      pattern: path,
      public: false,
      authenticated: false,
      resource: '',
      family: REMOTE_FAMILY,
      scope,
      params: {},
      rest: [],
      object: undefined,
      remote: true,
    };
  }

  /**
   * The pending route with its resource, synchronously when the lookup is cached. A lookup not
   * cached costs `caller` one from its lookup budget (every path is a new one).
   * @throws {UnmappedRoute} `route_not_mapped` (the promise rejects) when no resource's uris match
   * @throws {RateLimited} when the caller is over its lookup rate
   */
  lookUp(route: RouteMatch, caller?: Identity): RouteMatch | Promise<RouteMatch> {
    const known = this.protection.cachedResourceByUri(route.pattern);
    if (known !== undefined) return withResource(route, known.name);
    if (caller !== undefined) this.limiter?.take(caller, 'resource_uri');
    return this.protection.resourceByUri(route.pattern).then((name) => withResource(route, name));
  }
}

function withResource(route: RouteMatch, name: string | undefined): RouteMatch {
  if (name === undefined)
    throw new UnmappedRoute('route_not_mapped', { detail: 'neither the route table nor a keycloak resource maps the path' });
  return { ...route, resource: name, remote: false };
}
