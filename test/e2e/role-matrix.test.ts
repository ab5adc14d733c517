/**
 * The role matrix through NGINX, against the real Keycloak realm (keycloak/mlflow-realm.json):
 * one route per MLflow family × scope, taken from the hand-checked expectations, sent under
 * /api and /ajax-api of its version, by each demo user with a token from Keycloak's real token
 * endpoint. "Allowed" means NGINX let the request reach MLflow (whatever MLflow then answered
 * about the empty body or the made-up id); "refused" means NGINX's own 403.
 */
import { readFileSync } from 'node:fs';
import { stack, tokenFor, viaNginx, type DemoUser } from './stack.js';

interface Case { method: string; path: string; resource?: string; scope?: string }
const { cases } = JSON.parse(readFileSync(new URL('../routes/fixtures/mlflow-route-expectations.json', import.meta.url), 'utf8')) as { cases: Case[] };

// Routes that make MLflow act beyond answering (LLM calls, job runs, outbound webhooks) are
// left out of a matrix that sends them as the admin; their mapping is covered by the unit tests.
const SIDE_EFFECTS = /\/gateway\/(?!.*(endpoints|secrets|supported))|\/jobs|\/invoke|\/test$|\/demo/;

const matrix = new Map<string, Case>();
for (const c of cases) {
  if (c.resource === undefined || SIDE_EFFECTS.test(c.path) || !/^\/(api|ajax-api)\/[23]\.0\//.test(c.path)) continue;
  const key = `${c.resource}#${c.scope}`;
  if (!matrix.has(key)) matrix.set(key, c);
}

/** Who may do what (keycloak/README.md): positive policies only; no group, no access. */
function expectedAllowed(user: DemoUser, resource: string, scope: string): boolean {
  if (user === 'alice') return true;
  if (user === 'dave' || resource === 'admin') return false;
  if (user === 'bob') return scope !== 'delete';
  return scope === 'read';
}

const bothRoots = (path: string): string[] => {
  const [, version, rest] = /^\/(?:api|ajax-api)\/([23]\.0)(\/.*)$/.exec(path)!;
  return [`/api/${version}${rest}`, `/ajax-api/${version}${rest}`];
};

async function send(c: Case, path: string, token: string): Promise<number> {
  const res = await viaNginx(c.method, path, { token, ...(c.method === 'GET' || c.method === 'HEAD' ? {} : { body: {} }) });
  await res.arrayBuffer();
  return res.status;
}

describe('role matrix through NGINX (real Keycloak, real MLflow)', () => {
  it('covers every family and scope the realm defines', () => {
    const families = new Set([...matrix.values()].map((c) => c.resource));
    for (const family of ['experiments', 'runs', 'registered-models', 'logged-models', 'traces', 'datasets', 'artifacts', 'gateway', 'admin']) {
      expect(families).toContain(family);
    }
    expect(matrix.size).toBeGreaterThanOrEqual(30);
  });

  it.each(['alice', 'bob', 'carol', 'dave'] as DemoUser[])('%s gets exactly their role\'s permissions under /api and /ajax-api', async (user) => {
    const token = await tokenFor(user);
    const wrong: string[] = [];
    for (const [key, c] of matrix) {
      const [resource, scope] = key.split('#') as [string, string];
      const allowed = expectedAllowed(user, resource, scope);
      for (const path of bothRoots(c.path)) {
        const status = await send(c, path, token);
        const ok = allowed ? status !== 401 && status !== 403 : status === 403;
        if (!ok) wrong.push(`${c.method} ${path} (${key}): ${status}, expected ${allowed ? 'to reach MLflow' : '403'}`);
      }
    }
    expect(wrong).toEqual([]);
  }, 120_000);

  it('answers 401 with a Bearer challenge without a token, and for a garbage token', async () => {
    const none = await viaNginx('GET', '/api/2.0/mlflow/experiments/search?max_results=1');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="mlflow"');
    const garbage = await viaNginx('GET', '/api/2.0/mlflow/experiments/search?max_results=1', { token: 'not.a.token' });
    expect(garbage.status).toBe(401);
    expect(garbage.headers.get('www-authenticate')).toBe('Bearer realm="mlflow", error="invalid_token"');
  });

  it('refuses an unmapped MLflow route, even for the admin', async () => {
    const token = await tokenFor('alice');
    for (const path of ['/api/2.0/mlflow/unified-traces', '/api/2.0/mlflow/no-such-endpoint', '/build/index.html', '/api/9.9/mlflow/experiments/search']) {
      expect((await viaNginx('GET', path, { token })).status).toBe(403);
    }
  });

  it('refuses normalisation tricks through the real NGINX', async () => {
    const carol = await tokenFor('carol');
    // A viewer may read; each variant of a delete must still be a delete (or refused outright).
    for (const path of ['/api/2.0/mlflow/runs/search/../delete', '/api/2.0/mlflow//runs/delete', '/api/2.0/mlflow/runs/%64elete', '/ajax-api/2.0/mlflow/runs/delete/']) {
      const status = await send({ method: 'POST', path }, path, carol);
      expect([400, 403]).toContain(status); // NGINX itself may reject some forms with 400
    }
    expect(await send({ method: 'POST', path: '' }, '/api/2.0/mlflow/runs%2Fdelete', carol)).not.toBe(200);
  });

  it('refuses a token that has expired', async () => {
    // A short-lived client made for this test through Keycloak's admin API (dev-only admin).
    const admin = await (await fetch(`${stack.KC_URL}/realms/master/protocol/openid-connect/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', client_id: 'admin-cli', username: stack.KC_ADMIN_USERNAME!, password: stack.KC_ADMIN_PASSWORD! }),
    })).json() as { access_token: string };
    const headers = { authorization: `Bearer ${admin.access_token}`, 'content-type': 'application/json' };
    const api = `${stack.KC_URL}/admin/realms/mlflow/clients`;
    const [cli] = await (await fetch(`${api}?clientId=mlflow-cli`, { headers })).json() as { protocolMappers?: unknown[] }[];
    const clientId = `e2e-short-${Date.now()}`;
    const created = await fetch(api, {
      method: 'POST', headers,
      body: JSON.stringify({ clientId, publicClient: true, directAccessGrantsEnabled: true, standardFlowEnabled: false, attributes: { 'access.token.lifespan': '2' }, protocolMappers: (cli?.protocolMappers ?? []).map((m) => ({ ...(m as object), id: undefined })) }),
    });
    expect(created.status).toBe(201);
    try {
      const grant = await (await fetch(stack.KC_TOKEN_URL!, { method: 'POST', body: new URLSearchParams({ grant_type: 'password', client_id: clientId, username: 'carol', password: 'carol-dev-password' }) })).json() as { access_token: string; expires_in: number };
      expect(grant.expires_in).toBeLessThanOrEqual(2);
      expect((await viaNginx('GET', '/api/2.0/mlflow/experiments/search?max_results=1', { token: grant.access_token })).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, (grant.expires_in + 31) * 1000)); // past exp + the 30 s skew
      const expired = await viaNginx('GET', '/api/2.0/mlflow/experiments/search?max_results=2', { token: grant.access_token });
      expect(expired.status).toBe(401);
      expect(expired.headers.get('www-authenticate')).toBe('Bearer realm="mlflow", error="invalid_token"');
    } finally {
      const [client] = await (await fetch(`${api}?clientId=${clientId}`, { headers })).json() as { id: string }[];
      if (client) await fetch(`${api}/${client.id}`, { method: 'DELETE', headers });
    }
  }, 90_000);
});
