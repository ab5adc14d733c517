import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { Forbidden, IdpUnavailable, type AuthzError } from '../errors.js';
import { logName, type Logger } from '../log.js';
import { boundedKey, MeteredLru, stringBytes } from '../ops/metered-lru.js';
import type { Metrics } from '../ops/metrics.js';
import { SingleFlight } from '../util/single-flight.js';
import { idpFetch, readJson, readJsonValue, type IdpEndpoint } from './http.js';
import type { PatProvider } from './pat.js';
import type { UmaMetadata } from './uma-metadata.js';

/**
 * Each lookup cache holds at most this many answers and this many estimated bytes: keys are
 * request-named (experiment ids, whole paths), so the byte bound is what keeps a flood of long
 * distinct paths from growing the heap (long keys are hashed, see MeteredLru).
 */
const LOOKUP_CACHE = { maxEntries: 10_000, maxBytes: 4 * 1024 * 1024 };

/** Keycloak's permission tickets are JWTs; anything else must not reach a header. */
const TICKET = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Keycloak's protection API, called with the PAT: resource name → id (cached for
 * `uma.resourceIdTtlSeconds`, single-flight per name) and permission tickets.
 *
 * Keycloak answers a refused PAT with 401, or 403 `invalid_bearer_token`: the PAT is then
 * forgotten and the call retried once with a new one. Its other errors become ours here.
 */
export class ProtectionApi {
  /**
   * Resource name → its id (undefined: Keycloak has none; remembered as long, since per-object
   * lookups mostly ask about objects without a resource) and when to look it up again.
   */
  private readonly resourceIds: MeteredLru<{ id: string | undefined; untilMs: number }>;
  private readonly idLookups = new SingleFlight<string, string | undefined>();
  /** Request path → the name of the one resource whose `uris` match it (undefined: none), and until when. */
  private readonly uriResources: MeteredLru<{ name: string | undefined; untilMs: number }>;
  private readonly uriLookups = new SingleFlight<string, string | undefined>();

  constructor(
    private readonly config: Config,
    private readonly metadata: UmaMetadata,
    private readonly pat: PatProvider,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {
    this.resourceIds = new MeteredLru(
      'resource_id',
      { ...LOOKUP_CACHE, sizeOf: (entry: { id: string | undefined }) => 48 + stringBytes(entry.id) },
      metrics,
    );
    this.uriResources = new MeteredLru(
      'resource_uri',
      { ...LOOKUP_CACHE, sizeOf: (entry: { name: string | undefined }) => 48 + stringBytes(entry.name) },
      metrics,
    );
  }

  /** Answers held by the two lookup caches (for `authz_cache_entries`). */
  get sizes(): { resource_id: number; resource_uri: number } {
    return { resource_id: this.resourceIds.size, resource_uri: this.uriResources.size };
  }

  /**
   * The id of the resource named `name` (`resource_set?name=…&exactName=true`).
   * @throws {Forbidden} `route_misconfigured` when Keycloak has no such resource
   * @throws {IdpUnavailable} otherwise
   */
  async resourceId(name: string, family: string): Promise<string> {
    const id = await this.findResourceId(name);
    if (id === undefined) throw this.misconfigured({ resource: name, scope: '*', family }, { error: 'no_such_resource' });
    return id;
  }

  /**
   * The id of the resource named `name`, or undefined when Keycloak has none; both answers
   * cached for `uma.resourceIdTtlSeconds`, single-flight per name.
   * @throws {IdpUnavailable} when Keycloak cannot answer
   */
  findResourceId(name: string): Promise<string | undefined> {
    const known = this.cachedResourceId(name);
    if (known !== undefined) return Promise.resolve(known.id);
    return this.idLookups.run(boundedKey(name), () => this.lookUp(name));
  }

  /** The cached answer of {@link findResourceId}, synchronously; undefined when not known (or stale). */
  cachedResourceId(name: string): { id: string | undefined } | undefined {
    const now = this.clock();
    return this.resourceIds.lookup(name, (known) => known.untilMs > now);
  }

  /**
   * The name of the resource whose `uris` match `path` (`resource_set?uri=…&matchingUri=true&deep=true`),
   * or undefined when none does; cached, found or not, for `uma.resourceIdTtlSeconds`.
   * @throws {Forbidden} `route_misconfigured` when several resources match (which one would be a guess)
   * @throws {IdpUnavailable} when Keycloak cannot answer
   */
  resourceByUri(path: string): Promise<string | undefined> {
    const known = this.cachedResourceByUri(path);
    if (known !== undefined) return Promise.resolve(known.name);
    return this.uriLookups.run(boundedKey(path), () => this.lookUpUri(path));
  }

  /** The cached answer of {@link resourceByUri}, synchronously; undefined when not known (or stale). */
  cachedResourceByUri(path: string): { name: string | undefined } | undefined {
    const now = this.clock();
    return this.uriResources.lookup(path, (known) => known.untilMs > now);
  }

  /**
   * A permission ticket for `resource#scope` (POST permission endpoint, UMA Federated
   * Authorization §4.1).
   * @throws {Forbidden} `route_misconfigured` when Keycloak does not know the resource or scope
   * @throws {IdpUnavailable} otherwise
   */
  async ticket(resource: string, scope: string, family: string): Promise<string> {
    const resourceId = await this.resourceId(resource, family);
    const { permissionEndpoint } = await this.metadata.get();
    const body = JSON.stringify([{ resource_id: resourceId, resource_scopes: [scope] }]);
    const response = await this.call('permission', permissionEndpoint, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    const answer = await readJson(response, 'permission');
    if ((response.status === 201 || response.status === 200) && typeof answer?.ticket === 'string' && TICKET.test(answer.ticket))
      return answer.ticket;
    if (response.status === 400) {
      // invalid_resource_id (a resource deleted since its id was cached) or invalid_scope.
      this.resourceIds.delete(resource);
      throw this.misconfigured({ resource, scope, family }, answer);
    }
    throw new IdpUnavailable({ detail: `permission: keycloak answered ${response.status}` });
  }

  private async lookUp(name: string): Promise<string | undefined> {
    const { resourceRegistrationEndpoint } = await this.metadata.get();
    const url = new URL(resourceRegistrationEndpoint);
    url.searchParams.set('name', name);
    url.searchParams.set('exactName', 'true');
    const response = await this.call('resource_set', url, { method: 'GET' });
    const answer = await readJsonValue(response, 'resource_set');
    if (response.status !== 200 || !Array.isArray(answer)) {
      throw new IdpUnavailable({ detail: `resource_set: keycloak answered ${response.status}` });
    }
    const [first] = answer as unknown[];
    const id = typeof first === 'string' ? first : undefined;
    this.resourceIds.set(name, { id, untilMs: this.clock() + this.config.uma.resourceIdTtlSeconds * 1000 });
    return id;
  }

  private async lookUpUri(path: string): Promise<string | undefined> {
    const { resourceRegistrationEndpoint } = await this.metadata.get();
    const url = new URL(resourceRegistrationEndpoint);
    url.searchParams.set('uri', path);
    url.searchParams.set('matchingUri', 'true');
    url.searchParams.set('deep', 'true');
    const response = await this.call('resource_set', url, { method: 'GET' });
    const answer = await readJsonValue(response, 'resource_set');
    if (response.status !== 200 || !Array.isArray(answer)) {
      throw new IdpUnavailable({ detail: `resource_set: keycloak answered ${response.status}` });
    }
    const names = [
      ...new Set(
        answer
          .map((resource: unknown) => (resource as { name?: unknown } | null)?.name)
          .filter((name): name is string => typeof name === 'string'),
      ),
    ];
    if (names.length > 1) {
      this.metrics.routeMisconfigured('keycloak-uri', '*', 'ambiguous_uri');
      this.log.error(
        { path: logName(path), resources: names.slice(0, 10).map(logName) },
        'several keycloak resources match this path; refusing (make their uris disjoint)',
      );
      throw new Forbidden('route_misconfigured', { detail: 'several resources match the path' });
    }
    this.uriResources.set(path, { name: names[0], untilMs: this.clock() + this.config.uma.resourceIdTtlSeconds * 1000 });
    return names[0];
  }

  /** One protection API call with the PAT, retried once with a fresh PAT if Keycloak refuses it. */
  private async call(
    endpoint: IdpEndpoint,
    url: string | URL,
    init: RequestInit & { headers?: Record<string, string> },
  ): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const pat = await this.pat.get();
      const response = await idpFetch(
        this.metrics,
        endpoint,
        url,
        {
          ...init,
          headers: { ...init.headers, authorization: `Bearer ${pat}`, accept: 'application/json' },
        },
        this.config.decision.timeoutMs,
      );
      if (attempt === 0 && (response.status === 401 || (response.status === 403 && (await refusedPat(response))))) {
        this.pat.invalidate(pat);
        continue;
      }
      return response;
    }
  }

  private misconfigured(
    target: { resource: string; scope: string; family: string },
    answer: Record<string, unknown> | undefined,
  ): AuthzError {
    const error = typeof answer?.error === 'string' ? answer.error : 'unknown';
    this.metrics.routeMisconfigured(target.family, target.scope, error);
    this.log.error(
      { resource: logName(target.resource), scope: target.scope, error },
      'keycloak does not know the mapped resource/scope; refusing (fix the route table or the realm)',
    );
    return new Forbidden('route_misconfigured', { detail: `keycloak: ${error}` });
  }
}

/** Keycloak 26 answers a bad PAT on the protection API with 403 `invalid_bearer_token`. */
async function refusedPat(response: Response): Promise<boolean> {
  const body = await readJson(response.clone(), 'resource_set');
  return body?.error === 'invalid_bearer_token';
}
