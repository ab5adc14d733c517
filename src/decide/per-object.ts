import type { ProtectionApi } from '../idp/protection.js';
import type { Identity } from '../tokens/verify.js';
import type { SubjectLimiter } from './limiter.js';
import type { NormalizedUri } from '../request/normalize.js';
import type { RouteMatch } from '../routes/match.js';
import { objectResource } from '../routes/objects.js';

/** The metric label of every per-object resource (resource names are unbounded; labels must not be). */
export const OBJECT_FAMILY = 'experiment:*';

/**
 * `uma.perObject`: a request that names its experiment in the URI (routes/objects.ts) is
 * decided on that experiment's own resource, `experiment:<id>`, when Keycloak has one; on the
 * route's family resource otherwise. The per-object resource takes precedence: a user who may
 * read `artifacts` is still refused experiment B's artifacts when `experiment:B` exists and
 * its policies say no.
 *
 * Whether the resource exists is asked of the protection API (`resource_set?name=…&exactName=true`,
 * with the PAT) and cached, present or absent, for `uma.resourceIdTtlSeconds`; a cached answer
 * keeps the decision synchronous.
 */
export class PerObjectResolver {
  constructor(
    private readonly protection: ProtectionApi,
    private readonly limiter?: SubjectLimiter,
  ) {}

  /**
   * The route with its resource narrowed to the object's, or the route unchanged. A lookup not
   * cached costs `caller` one from its lookup budget (the ids are the caller's to invent).
   * @throws {RejectedUri} for an ambiguous object id; the promise rejects with {@link IdpUnavailable}
   * @throws {RateLimited} when the caller is over its lookup rate
   */
  narrow(method: string, uri: NormalizedUri, route: RouteMatch, caller?: Identity): RouteMatch | Promise<RouteMatch> {
    if (route.public || route.object === undefined) return route;
    const name = objectResource(method, uri.query, route);
    if (name === undefined) return route;
    const known = this.protection.cachedResourceId(name);
    if (known !== undefined) return known.id === undefined ? route : toObject(route, name);
    if (caller !== undefined) this.limiter?.take(caller, 'resource_name');
    return this.protection.findResourceId(name).then((id) => (id === undefined ? route : toObject(route, name)));
  }
}

function toObject(route: RouteMatch, resource: string): RouteMatch {
  return { ...route, resource, family: OBJECT_FAMILY };
}
