import { IdpUnavailable } from '../errors.js';
import type { Metrics } from '../ops/metrics.js';

/** Which IdP endpoint a call went to: the `endpoint` label of the IdP metrics. */
export type IdpEndpoint =
  | 'discovery'
  | 'jwks'
  | 'uma_decision'
  | 'uma_discovery'
  | 'pat'
  | 'resource_set'
  | 'permission'
  | 'uma_ticket'
  | 'introspection';

/**
 * fetch() for IdP calls: a hard timeout, latency and outcome metrics, and network errors
 * translated once into {@link IdpUnavailable}. HTTP error statuses are returned to the
 * caller, which knows what they mean for its endpoint.
 *
 * The one timeout policy of every IdP call: `timeoutMs` (from the config option of the call's
 * kind) bounds the whole exchange, headers and body, through one `AbortSignal.timeout`; read
 * the body with {@link readJson} / {@link readJsonValue}, which turn a body that runs out of
 * that time into {@link IdpUnavailable} as well.
 */
export async function idpFetch(
  metrics: Metrics,
  endpoint: IdpEndpoint,
  url: string | URL,
  init: RequestInit,
  timeoutMs: number,
): Promise<Response> {
  const started = performance.now();
  try {
    const response = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    metrics.idpRequests.labels(endpoint, response.status < 500 ? `http_${response.status}` : 'server_error').inc();
    return response;
  } catch (error) {
    const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
    metrics.idpRequests.labels(endpoint, timedOut ? 'timeout' : 'network_error').inc();
    throw new IdpUnavailable({
      detail: `${endpoint}: ${timedOut ? `no answer in ${timeoutMs} ms` : (error as Error).message}`,
      cause: error,
    });
  } finally {
    metrics.idpDuration.labels(endpoint).observe((performance.now() - started) / 1000);
  }
}

/**
 * The JSON of an IdP answer's body, undefined when it is not JSON.
 * @throws {IdpUnavailable} when the body does not arrive within the call's timeout (fail closed)
 */
export async function readJsonValue(response: Response, endpoint: IdpEndpoint): Promise<unknown> {
  try {
    return (await response.json()) as unknown;
  } catch (error) {
    if (error instanceof DOMException && error.name === 'TimeoutError')
      throw new IdpUnavailable({ detail: `${endpoint}: body timed out`, cause: error });
    return undefined;
  }
}

/**
 * The JSON object (or array) of an IdP answer's body, undefined when it is none.
 * @throws {IdpUnavailable} when the body does not arrive within the call's timeout (fail closed)
 */
export async function readJson(response: Response, endpoint: IdpEndpoint): Promise<Record<string, unknown> | undefined> {
  const value = await readJsonValue(response, endpoint);
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}
