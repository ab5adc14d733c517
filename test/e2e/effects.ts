/**
 * Judging e2e requests by their effect, not only by their status:
 *
 * - Did a request reach MLflow? The stack's NGINX writes one JSON line per request it proxied to
 *   MLflow (NGINX_UPSTREAM_LOG, log format `authz_upstream` in nginx/nginx.conf.template). A request
 *   carries a unique marker in its query string; its line proves MLflow answered it (and with what).
 * - Did MLflow's state change? Read it straight from MLflow (MLFLOW_DIRECT_URL, 127.0.0.1, behind
 *   no authorization), before and after a refused write.
 */
import { readFileSync } from 'node:fs';
import { stack, uniqueName } from './stack.js';

export interface UpstreamLine {
  method: string;
  uri: string;
  status: number;
  upstream: string;
  x_auth_request_preferred_username: string;
}

/** Complete lines only: the text after the last newline may be a line NGINX is still writing. */
function upstreamLines(marker: string, log = stack.NGINX_UPSTREAM_LOG!): UpstreamLine[] {
  return readFileSync(log, 'utf8')
    .split('\n')
    .slice(0, -1)
    .filter((line) => line.includes(marker))
    .map((line) => JSON.parse(line) as UpstreamLine);
}

/** `path` with a unique marker in its query (MLflow ignores the unknown parameter). */
export function marked(path: string, prefix = 'e2e'): { path: string; marker: string } {
  const marker = uniqueName(prefix);
  return { path: `${path}${path.includes('?') ? '&' : '?'}e2e=${marker}`, marker };
}

/** NGINX logs just after the response: waits up to 2 s for every marker's line, returns them. */
export async function reachedUpstream(markers: string[], log = stack.NGINX_UPSTREAM_LOG!): Promise<Map<string, UpstreamLine>> {
  const found = new Map<string, UpstreamLine>();
  for (let waited = 0; waited <= 2_000; waited += 50) {
    for (const marker of markers)
      if (!found.has(marker)) {
        const [line] = upstreamLines(marker, log);
        if (line) found.set(marker, line);
      }
    if (found.size === markers.length) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return found;
}

/**
 * The markers of `markers` that some proxied request carried, after a short wait (NGINX logs just
 * after answering): for refused requests this must come back empty.
 */
export async function proxiedAnyway(markers: string[], log = stack.NGINX_UPSTREAM_LOG!): Promise<string[]> {
  await new Promise((resolve) => setTimeout(resolve, 300));
  const text = readFileSync(log, 'utf8');
  return markers.filter((marker) => text.includes(marker));
}

/** The address MLflow's upstream lines carry. */
export const mlflowUpstream = (): string => `127.0.0.1:${stack.MLFLOW_PORT}`;

/** A call to MLflow itself (not through NGINX): for reading state, and for arranging it. */
export async function mlflowDirect(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${stack.MLFLOW_DIRECT_URL}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** An experiment as MLflow has it: `undefined` when no experiment has that name. */
export async function experimentByName(
  name: string,
): Promise<{ experiment_id: string; lifecycle_stage: string; tags?: { key: string; value: string }[] } | undefined> {
  const res = await mlflowDirect('GET', `/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`);
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`MLflow get-by-name: ${res.status}`);
  return res.json.experiment as { experiment_id: string; lifecycle_stage: string };
}

/** Creates an experiment in MLflow directly (arranging a test), returns its id. */
export async function createExperimentDirect(name: string): Promise<string> {
  const res = await mlflowDirect('POST', '/api/2.0/mlflow/experiments/create', { name });
  if (res.status !== 200) throw new Error(`MLflow create: ${res.status}`);
  return res.json.experiment_id as string;
}
