/**
 * A nginx-authz of this checkout (dist/main.js, built by `pretest` or `npm run build`) run as
 * its own process on a free loopback port against the stack's real Keycloak, for tests that
 * need a configuration other than the stack's service. Talks to /auth directly, as NGINX does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { ROOT, stack } from './stack.js';

export interface OwnService {
  url: string;
  /** GET /auth as NGINX sends it. */
  auth(method: string, uri: string, token?: string): Promise<Response>;
  /** The value of one sample of a counter on /metrics (0 when absent). */
  metric(name: string, labels: Record<string, string>): Promise<number>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * @param options.port listen here (default: a free port)
 * @param options.keycloak false: no AUTHZ_ISSUER_URL/CLIENT_* for the stack's Keycloak, the config file says everything
 */
export async function startOwnService(
  env: Record<string, string> = {},
  options: { port?: number; keycloak?: boolean } = {},
): Promise<OwnService> {
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const keycloak =
    options.keycloak === false
      ? {}
      : {
          AUTHZ_ISSUER_URL: stack.KC_ISSUER_URL!,
          AUTHZ_CLIENT_ID: stack.AUTHZ_CLIENT_ID ?? 'nginx-authz',
          AUTHZ_CLIENT_SECRET: stack.AUTHZ_CLIENT_SECRET!,
        };
  const child: ChildProcess = spawn(process.execPath, [`${ROOT}/dist/main.js`], {
    env: {
      PATH: process.env.PATH ?? '',
      ...keycloak,
      AUTHZ_HOST: '127.0.0.1',
      AUTHZ_PORT: String(port),
      AUTHZ_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const until = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx-authz exited ${child.exitCode}: ${stderr}`);
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) break;
    if (Date.now() > until) {
      child.kill('SIGTERM');
      throw new Error(`nginx-authz not ready in 15 s: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    auth: (method, uri, token) =>
      fetch(`${url}/auth`, {
        headers: {
          'x-original-method': method,
          'x-original-uri': uri,
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
        redirect: 'manual',
      }),
    async metric(name, labels) {
      const text = await (await fetch(`${url}/metrics`)).text();
      const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
      for (const line of text.split('\n')) {
        if (!line.startsWith(`${name}{`)) continue;
        const inside = line.slice(name.length + 1, line.lastIndexOf('}'));
        if (wanted.every((pair) => inside.split(',').includes(pair))) return Number(line.slice(line.lastIndexOf(' ') + 1));
      }
      return 0;
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** What Keycloak's token endpoint answered to a UMA grant. */
export interface UmaGrant {
  status: number;
  rpt: string | undefined;
  error: string | undefined;
}

/** The UMA grant at Keycloak's token endpoint with the user's token: `permission=` or `ticket=` → RPT. */
export async function requestRpt(userToken: string, params: { permission?: string; ticket?: string }): Promise<UmaGrant> {
  const form = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:uma-ticket', submit_request: 'false' });
  if (params.ticket !== undefined) form.set('ticket', params.ticket);
  else form.set('audience', stack.AUTHZ_CLIENT_ID ?? 'nginx-authz');
  if (params.permission !== undefined) form.set('permission', params.permission);
  const response = await fetch(stack.KC_TOKEN_URL!, { method: 'POST', headers: { authorization: `Bearer ${userToken}` }, body: form });
  const body = (await response.json()) as { access_token?: string; error?: string };
  return { status: response.status, rpt: body.access_token, error: body.error };
}
