/**
 * What MLflow receives about the caller: after an allow, NGINX sets the X-Auth-Request-* headers
 * from nginx-authz's answer and replaces whatever the client sent under those names. The stack's
 * NGINX writes one JSON line per request it proxied to MLflow (NGINX_UPSTREAM_LOG, log format
 * `authz_upstream` in nginx/nginx.conf.template) with those headers and the client's own
 * X-Auth-Request-User; each request here carries a unique marker in its query to find its line.
 */
import { readFileSync } from 'node:fs';
import { claimsOf, stack, tokenFor, uniqueName, viaNginx } from './stack.js';

interface UpstreamLine {
  uri: string;
  status: number;
  x_auth_request_user: string;
  x_auth_request_email: string;
  x_auth_request_preferred_username: string;
  x_auth_request_groups: string;
  x_auth_request_subject: string;
  client_sent_x_auth_request_user: string;
}

/** Complete lines only: the text after the last newline may be a line NGINX is still writing. */
const linesWith = (marker: string): UpstreamLine[] =>
  readFileSync(stack.NGINX_UPSTREAM_LOG!, 'utf8')
    .split('\n')
    .slice(0, -1)
    .filter((line) => line.includes(marker))
    .map((line) => JSON.parse(line) as UpstreamLine);

/** Logs are written just after the response: wait for them briefly. */
async function poll(done: () => boolean, what: string): Promise<void> {
  for (let waited = 0; waited < 2_000; waited += 25) {
    if (done()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`waited 2 s for ${what}`);
}

/** The upstream log line of the request carrying `marker`. */
async function upstreamLine(marker: string): Promise<UpstreamLine> {
  await poll(() => linesWith(marker).length > 0, `${marker} in ${stack.NGINX_UPSTREAM_LOG}`);
  return linesWith(marker)[0]!;
}

/** Reads experiments as `token` through NGINX; returns the marker its log line carries. */
async function search(token: string, headers: Record<string, string> = {}): Promise<{ marker: string; status: number }> {
  const marker = uniqueName('identity');
  const response = await viaNginx('GET', `/api/2.0/mlflow/experiments/search?max_results=1&e2e=${marker}`, { token, headers });
  await response.arrayBuffer();
  return { marker, status: response.status };
}

describe('identity headers NGINX sends to MLflow', () => {
  let carol: Record<string, unknown>;
  let expected: Partial<UpstreamLine>;

  beforeAll(async () => {
    carol = claimsOf(await tokenFor('carol'));
    expected = {
      x_auth_request_user: 'carol',
      x_auth_request_email: 'carol@example.test',
      x_auth_request_preferred_username: 'carol',
      x_auth_request_groups: 'mlflow-viewers',
      x_auth_request_subject: carol.sub as string,
    };
  });

  it("are the caller's, from the verified token", async () => {
    const { marker, status } = await search(await tokenFor('carol'));
    expect(status).toBe(200);
    expect(carol.sub).toMatch(/^[0-9a-f-]{36}$/);
    expect(await upstreamLine(marker)).toMatchObject({ ...expected, status: 200, client_sent_x_auth_request_user: '' });
  });

  it('replace an X-Auth-Request-User the client sent itself', async () => {
    const { marker, status } = await search(await tokenFor('carol'), {
      'X-Auth-Request-User': 'mallory',
      'X-Auth-Request-Groups': 'mlflow-admins',
    });
    expect(status).toBe(200);
    const { client_sent_x_auth_request_user: clientSent, ...sentUpstream } = await upstreamLine(marker);
    expect(clientSent).toBe('mallory'); // NGINX did receive the forged header...
    expect(sentUpstream).toMatchObject(expected); // ...and sent carol's identity instead
    expect(Object.values(sentUpstream)).not.toContain('mallory');
  });

  it('are never sent for a refused request: it does not reach MLflow at all', async () => {
    const refused = await search(await tokenFor('dave'), { 'X-Auth-Request-User': 'mallory' });
    expect(refused.status).toBe(403);
    // MLflow's own access log: once a later allowed request is in it, the refused one would be too.
    const mlflowLog = (): string => readFileSync(`${stack.STACK_DIR}/logs/mlflow.log`, 'utf8');
    const allowed = await search(await tokenFor('carol'));
    await poll(() => mlflowLog().includes(allowed.marker), 'MLflow to log the allowed request');
    expect(mlflowLog()).not.toContain(refused.marker);
  });
});
