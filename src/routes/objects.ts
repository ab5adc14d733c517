import { RejectedUri } from '../errors.js';
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
      const first = route.rest.length > 0 ? route.rest[0] : firstPathSegment(single(query, 'path'));
      // Artifact storage is keyed by the literal directory name; anything but an id is no experiment's.
      return first !== undefined && EXPERIMENT_ID.test(first) ? experimentResource(first) : undefined;
    }
  }
}

/** The one value of `name` in the query (decoded as MLflow's server decodes it), undefined when absent. */
function single(query: string, name: string): string | undefined {
  const values = new URLSearchParams(query).getAll(name);
  if (values.length > 1) throw new RejectedUri({ detail: `${name} given more than once` });
  return values[0];
}

function firstPathSegment(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  const segments = path.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..') || path.includes('\\')) throw new RejectedUri({ detail: 'path climbs out of the artifact root' });
  return segments[0];
}
