import { RejectedUri } from '../errors.js';
import { decodeToFixedPoint } from '../request/normalize.js';
import type { RouteMatch } from './match.js';

/** The resource name of one experiment in Keycloak (`uma.perObject`). */
export const experimentResource = (id: string): string => `experiment:${id}`;

/** MLflow's experiment ids are integers (its SQL store's primary key). */
const EXPERIMENT_ID = /^[0-9]{1,19}$/;

/**
 * The per-object resource a request names in its URI, from its route's `object` rule, or
 * undefined when it names none (the family resource then decides). Only what auth_request can
 * see counts: the path and the query, never a body.
 *
 * A request that names its experiment ambiguously is refused rather than sent to the family
 * resource: falling back there would let a caller step around a per-object denial by
 * repeating a parameter or spelling the id oddly.
 *
 * @throws {RejectedUri} for a repeated or malformed `experiment_id` / `path`
 */
export function objectResource(method: string, query: string, route: RouteMatch): string | undefined {
  switch (route.object) {
    case undefined:
      return undefined;
    case 'experiment-query': {
      // MLflow's GET handlers read the query; a POST's query is not what its handler reads.
      if (method !== 'GET' && method !== 'HEAD') return undefined;
      const id = single(query, 'experiment_id');
      if (id === undefined) return undefined;
      if (!EXPERIMENT_ID.test(id)) throw new RejectedUri({ detail: 'experiment_id is not an experiment id' });
      // The store compares it as an integer: 007 is experiment 7.
      return experimentResource(id.replace(/^0+(?=\d)/, ''));
    }
    case 'experiment-artifact-path': {
      // <experiment_id>/<run_id>/artifacts/...; a bare listing names its directory in ?path=.
      const path = route.rest.length > 0 ? route.rest.join('/') : single(query, 'path');
      return path === undefined || path === '' ? undefined : experimentResource(artifactExperiment(path));
    }
  }
}

/** A canonical experiment id as MLflow names its artifact directory (`str(id)`): no sign, no leading zero. */
const CANONICAL_EXPERIMENT_ID = /^(?:0|[1-9][0-9]{0,18})$/;

/**
 * The experiment whose artifact directory `path` is in, read as MLflow reads it: its handlers
 * percent-decode artifact paths until they stop changing (`validate_path_is_safe`), so
 * `%2535` is directory `5`. A path whose first segment is not a canonical experiment id is
 * refused, never decided on the family resource: that fallback was the way around a
 * per-experiment denial (`%2535`, `05`, `./5`).
 *
 * @throws {RejectedUri} for anything but `<canonical id>/...` after full decoding
 */
function artifactExperiment(path: string): string {
  const settled = decodeToFixedPoint(path);
  if (settled === undefined) throw new RejectedUri({ detail: 'artifact path does not settle under percent-decoding' });
  if (/[\\\x00-\x1f\x7f]/.test(settled)) throw new RejectedUri({ detail: 'backslash or control character in artifact path' });
  const segments = settled.split('/');
  if (segments.includes('..')) throw new RejectedUri({ detail: 'path climbs out of the artifact root' });
  const first = segments[0]!;
  if (!CANONICAL_EXPERIMENT_ID.test(first)) throw new RejectedUri({ detail: 'artifact path does not start with an experiment id' });
  return first;
}

/** The one value of `name` in the query (decoded as MLflow's server decodes it), undefined when absent. */
function single(query: string, name: string): string | undefined {
  const values = new URLSearchParams(query).getAll(name);
  if (values.length > 1) throw new RejectedUri({ detail: `${name} given more than once` });
  return values[0];
}
