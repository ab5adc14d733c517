import type { IncomingMessage } from 'node:http';
import type { Config } from '../config/schema.js';
import { BadOriginalRequest, UnknownRouteTable, UnmappedRoute } from '../errors.js';
import type { Identity } from '../idp/trusted-issuer.js';
import type { DecisionSource } from '../ops/metrics.js';
import { readOriginal, type ContractSettings, type OriginalRequest } from '../request/original.js';
import type { CredentialSource } from './nginx-cache.js';
import { normalizeMethod, normalizeUri, type NormalizedUri } from '../request/normalize.js';
import { copySourceRoute } from '../routes/copy-source.js';
import type { ServiceName } from '../routes/load.js';
import type { RouteMatch, RouteMatcher } from '../routes/match.js';
import type { KeycloakRoutes } from '../routes/remote.js';

// Steps 1 and 2 of the /auth pipeline (src/auth/pipeline.ts): what the proxy asks about, and which route it needs.

/** What is known about one decision so far; each step adds to it. */
export interface DecisionState {
  startedAt: number;
  /** The original request as the proxy described it (which contract, the client's address). */
  original: OriginalRequest | undefined;
  method: string | undefined;
  uri: NormalizedUri | undefined;
  route: RouteMatch | undefined;
  identity: Identity | undefined;
  source: DecisionSource;
  /** The raw `x-amz-copy-source` header, for routes marked `s3-copy-source`. */
  copySource: string | undefined;
  /** A second permission the request needs once the first is allowed (the S3 copy source). */
  next: RouteMatch | undefined;
  /** The caller's token, kept only to decide `next`; never logged. */
  token: string | undefined;
  /** Where the token came from, and whether obtaining it took a refresh or an exchange (NGINX's cache, auth/nginx-cache.ts). */
  credential: CredentialSource;
  renewed: boolean;
  /** When the service's remembered allow ends, when the decision came from its cache. */
  decidedUntilMs: number | undefined;
  /** NGINX's cache key of this decision (authz-cache.conf sends it; hashes, no credentials), for purging. */
  cacheKey: string | string[] | undefined;
}

/** The state of a decision that has just begun: nothing known yet but when it started and NGINX's cache key. */
export function newDecisionState(startedAt: number, cacheKey: string | string[] | undefined): DecisionState {
  return {
    startedAt,
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
    cacheKey,
  };
}

/**
 * Step 1: the original method and URI from the proxy, normalised once: this project's NGINX
 * snippets or, from a trusted sender, ingress-nginx's `auth-url` headers (request/original.ts).
 */
export function readOriginalRequest(req: IncomingMessage, config: Config, contract: ContractSettings, state: DecisionState): void {
  // The TCP peer: who sent the subrequest (undefined for a bare request object, which no proxy is trusted for).
  const peer = (req.socket as IncomingMessage['socket'] | undefined)?.remoteAddress;
  const original = readOriginal(req.headers, peer, contract);
  state.original = original;
  // ingress-nginx never sends NGINX's cache key (only this project's cache snippet does), but it passes the client's
  // headers on: one here is the client's, so no answer to the controller is marked cacheable (X-Accel-Expires stays 0,
  // which NGINX obeys ahead of an auth-cache-duration; docs/ingress-nginx.md).
  if (original.contract === 'ingress-nginx') state.cacheKey = undefined;
  const rawMethod = original.method;
  state.method = normalizeMethod(rawMethod);
  // NGINX accepts methods of capitals, `_` and `-` (M-SEARCH): one it passed is the client's to answer (403, never a 400 that NGINX makes a 500).
  if (state.method === undefined)
    throw /^[A-Z_-]{1,64}$/.test(rawMethod)
      ? new UnmappedRoute('method_not_mapped', { detail: 'no route maps this method' })
      : new BadOriginalRequest('bad_original_method', { detail: 'X-Original-Method is not a method token' });
  state.uri = normalizeUri(original.target, config.request.maxUriLength);
  const copySource = req.headers['x-amz-copy-source'];
  state.copySource = typeof copySource === 'string' ? copySource : undefined;
}

/** The retired table selector: a client could set it on any front that did not overwrite it (issue 10). */
const RETIRED_SERVICE_HEADER = 'x-authz-service';

/**
 * Step 2a: the route table, chosen by NGINX alone through the decision path it proxies to:
 * `/auth` is MLflow's table, `/auth/<table>` names one (`/auth/minio`, the S3 front). Nothing
 * the client sends can choose it: the path is written in NGINX's config, and a subrequest that
 * still carries `X-Authz-Service` (an old config, or a client's header on a front that does
 * not clear it) is refused rather than read.
 */
export function selectMatcher(req: IncomingMessage, matchers: ReadonlyMap<ServiceName, RouteMatcher>): RouteMatcher {
  if (req.headers[RETIRED_SERVICE_HEADER] !== undefined) {
    throw new UnknownRouteTable({
      detail: 'X-Authz-Service is no longer read: point the decision location at /auth/<table> (nginx/README.md)',
    });
  }
  const url = req.url ?? '';
  const path = url.split('?', 1)[0]!;
  const table = path === '/auth' ? 'mlflow' : path.startsWith('/auth/') ? path.slice('/auth/'.length) : '';
  const matcher = table === '' ? undefined : matchers.get(table as ServiceName);
  if (matcher === undefined)
    throw new UnknownRouteTable({ detail: `decision path ${JSON.stringify(path.slice(0, 64))} names no configured route table` });
  return matcher;
}

/**
 * Step 2: which resource and scope the request needs; default deny. A path the table does not
 * map may still be a Keycloak resource's (`routes.fromKeycloak`: resolved after verification).
 */
export function matchRoute(matcher: RouteMatcher, state: DecisionState, remote: KeycloakRoutes | undefined): RouteMatch {
  const outcome = matcher.match(state.method!, state.uri!.path);
  if (outcome.kind === 'no_route' && remote !== undefined) {
    state.route = remote.pending(state.method!, state.uri!.path);
    return state.route;
  }
  if (outcome.kind === 'no_route') throw new UnmappedRoute('route_not_mapped');
  if (outcome.kind === 'no_method')
    throw new UnmappedRoute('method_not_mapped', { detail: `${state.method} not mapped on ${outcome.pattern}` });
  state.route = outcome.match;
  // S3 CopyObject/UploadPartCopy: reading the source is decided too (routes/copy-source.ts).
  if (outcome.match.copySource === true && !outcome.match.public && state.copySource !== undefined)
    state.next = copySourceRoute(matcher, state.copySource);
  return outcome.match;
}
