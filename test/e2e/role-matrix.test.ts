/**
 * The role matrix through NGINX, against the real Keycloak realm (keycloak/mlflow-realm.json):
 * one route per MLflow family × scope, taken from the hand-checked expectations, sent under
 * /api and /ajax-api of its version, by each demo user with a token from Keycloak's real token
 * endpoint. "Allowed" means MLflow itself answered (its line is in NGINX's upstream log, from MLflow's
 * address, with the status the client got, and that status is not 401/403): MLflow may
 * refuse the empty body or the made-up id, but the request got there. "Refused" means NGINX's own 403
 * and no line in the upstream log. The last tests judge writes by MLflow's state, read directly.
 */
import { readFileSync } from 'node:fs';
import { createExperimentDirect, experimentByName, marked, mlflowUpstream, proxiedAnyway, reachedUpstream } from './effects.js';
import { stack, tokenFor, uniqueName, viaNginx, type DemoUser } from './stack.js';

interface Case {
  method: string;
  path: string;
  resource?: string;
  scope?: string;
}
const { cases } = JSON.parse(readFileSync(new URL('../routes/fixtures/mlflow-route-expectations.json', import.meta.url), 'utf8')) as {
  cases: Case[];
};

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

/** Sends `c` to `path` (with a marker to find it in the upstream log). */
async function send(c: Case, path: string, token: string): Promise<{ status: number; marker: string }> {
  const target = marked(path, 'matrix');
  const res = await viaNginx(c.method, target.path, { token, ...(c.method === 'GET' || c.method === 'HEAD' ? {} : { body: {} }) });
  await res.arrayBuffer();
  return { status: res.status, marker: target.marker };
}

describe('role matrix through NGINX (real Keycloak, real MLflow)', () => {
  it('covers every family and scope the realm defines', () => {
    const families = new Set([...matrix.values()].map((c) => c.resource));
    for (const family of [
      'experiments',
      'runs',
      'registered-models',
      'logged-models',
      'traces',
      'datasets',
      'artifacts',
      'gateway',
      'admin',
    ]) {
      expect(families).toContain(family);
    }
    expect(matrix.size).toBeGreaterThanOrEqual(30);
  });

  it.each(['alice', 'bob', 'carol', 'dave'] as DemoUser[])(
    "%s gets exactly their role's permissions under /api and /ajax-api",
    async (user) => {
      const token = await tokenFor(user);
      const wrong: string[] = [];
      const sent: { what: string; allowed: boolean; status: number; marker: string }[] = [];
      for (const [key, c] of matrix) {
        const [resource, scope] = key.split('#') as [string, string];
        for (const path of bothRoots(c.path))
          sent.push({
            what: `${c.method} ${path} (${key})`,
            allowed: expectedAllowed(user, resource, scope),
            ...(await send(c, path, token)),
          });
      }
      const lines = await reachedUpstream(sent.filter((r) => r.allowed).map((r) => r.marker));
      for (const r of sent) {
        const line = lines.get(r.marker);
        if (r.allowed) {
          // MLflow's own answer, whatever it says about the empty body or made-up id (it answers 500 for an
          // artifact missing in S3): its line in the upstream log, from MLflow's address, with that status.
          // A 5xx of NGINX or of nginx-authz has no such line.
          if (r.status === 401 || r.status === 403) wrong.push(`${r.what}: ${r.status}, expected MLflow's own answer`);
          else if (line === undefined || line.upstream !== mlflowUpstream() || line.status !== r.status)
            wrong.push(`${r.what}: ${r.status} but MLflow did not answer it (upstream log: ${JSON.stringify(line)})`);
        } else if (r.status !== 403) wrong.push(`${r.what}: ${r.status}, expected 403`);
      }
      const leaked = await proxiedAnyway(sent.filter((r) => !r.allowed).map((r) => r.marker));
      for (const r of sent.filter((x) => leaked.includes(x.marker))) wrong.push(`${r.what}: refused, yet MLflow got it`);
      expect(wrong).toEqual([]);
    },
    120_000,
  );

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
    for (const path of [
      '/api/2.0/mlflow/unified-traces',
      '/api/2.0/mlflow/no-such-endpoint',
      '/build/index.html',
      '/api/9.9/mlflow/experiments/search',
    ]) {
      expect((await viaNginx('GET', path, { token })).status).toBe(403);
    }
  });

  it('refuses normalisation tricks through the real NGINX', async () => {
    const carol = await tokenFor('carol');
    // A viewer may read; each variant of a delete must still be a delete (or refused outright).
    const markers: string[] = [];
    for (const path of [
      '/api/2.0/mlflow/runs/search/../delete',
      '/api/2.0/mlflow//runs/delete',
      '/api/2.0/mlflow/runs/%64elete',
      '/ajax-api/2.0/mlflow/runs/delete/',
      '/api/2.0/mlflow/runs%2Fdelete',
    ]) {
      const { status, marker } = await send({ method: 'POST', path }, path, carol);
      expect([400, 403]).toContain(status); // NGINX itself may reject some forms with 400
      markers.push(marker);
    }
    expect(await proxiedAnyway(markers)).toEqual([]); // none of them reached MLflow
  });

  it('changes MLflow for an allowed write or delete, and leaves it unchanged for a refused one', async () => {
    const [alice, bob, carol, dave] = await Promise.all((['alice', 'bob', 'carol', 'dave'] as DemoUser[]).map(tokenFor));
    // An editor creates: MLflow answers 200 and has the experiment.
    const name = uniqueName('matrix-effect');
    const created = await viaNginx('POST', '/api/2.0/mlflow/experiments/create', { token: bob, body: { name } });
    expect(created.status).toBe(200);
    const id = ((await created.json()) as { experiment_id: string }).experiment_id;
    expect(await experimentByName(name)).toMatchObject({ experiment_id: id, lifecycle_stage: 'active' });
    // A viewer's and a no-role user's creates are refused: no such experiment.
    for (const [who, token] of [
      ['carol', carol],
      ['dave', dave],
    ] as const) {
      const refused = uniqueName(`matrix-refused-${who}`);
      expect((await viaNginx('POST', '/api/2.0/mlflow/experiments/create', { token, body: { name: refused } })).status).toBe(403);
      expect(await experimentByName(refused)).toBeUndefined();
    }
    // A viewer's tag write is refused: the experiment has no such tag.
    expect(
      (
        await viaNginx('POST', '/api/2.0/mlflow/experiments/set-experiment-tag', {
          token: carol,
          body: { experiment_id: id, key: 'owner', value: 'carol' },
        })
      ).status,
    ).toBe(403);
    expect(((await experimentByName(name))!.tags ?? []).filter((tag) => tag.key === 'owner')).toEqual([]);
    // An editor may not delete: still active. The admin may: deleted.
    expect((await viaNginx('POST', '/api/2.0/mlflow/experiments/delete', { token: bob, body: { experiment_id: id } })).status).toBe(403);
    expect(await experimentByName(name)).toMatchObject({ lifecycle_stage: 'active' });
    expect((await viaNginx('POST', '/api/2.0/mlflow/experiments/delete', { token: alice, body: { experiment_id: id } })).status).toBe(200);
    expect(await experimentByName(name)).toMatchObject({ lifecycle_stage: 'deleted' });
    // An experiment made outside NGINX is not deletable by a viewer either.
    const other = uniqueName('matrix-direct');
    const otherId = await createExperimentDirect(other);
    expect(
      (await viaNginx('POST', '/ajax-api/2.0/mlflow/experiments/delete', { token: carol, body: { experiment_id: otherId } })).status,
    ).toBe(403);
    expect(await experimentByName(other)).toMatchObject({ lifecycle_stage: 'active' });
  });

  it('refuses a token that has expired', async () => {
    // A short-lived client made for this test through Keycloak's admin API (dev-only admin).
    const admin = (await (
      await fetch(`${stack.KC_URL}/realms/master/protocol/openid-connect/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'password',
          client_id: 'admin-cli',
          username: stack.KC_ADMIN_USERNAME!,
          password: stack.KC_ADMIN_PASSWORD!,
        }),
      })
    ).json()) as { access_token: string };
    const headers = { authorization: `Bearer ${admin.access_token}`, 'content-type': 'application/json' };
    const api = `${stack.KC_URL}/admin/realms/mlflow/clients`;
    const [cli] = (await (await fetch(`${api}?clientId=mlflow-cli`, { headers })).json()) as { protocolMappers?: unknown[] }[];
    const clientId = `e2e-short-${Date.now()}`;
    const created = await fetch(api, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        clientId,
        publicClient: true,
        directAccessGrantsEnabled: true,
        standardFlowEnabled: false,
        attributes: { 'access.token.lifespan': '2' },
        protocolMappers: (cli?.protocolMappers ?? []).map((m) => ({ ...(m as object), id: undefined })),
      }),
    });
    expect(created.status).toBe(201);
    try {
      const grant = (await (
        await fetch(stack.KC_TOKEN_URL!, {
          method: 'POST',
          body: new URLSearchParams({ grant_type: 'password', client_id: clientId, username: 'carol', password: 'carol-dev-password' }),
        })
      ).json()) as { access_token: string; expires_in: number };
      expect(grant.expires_in).toBeLessThanOrEqual(2);
      expect((await viaNginx('GET', '/api/2.0/mlflow/experiments/search?max_results=1', { token: grant.access_token })).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, (grant.expires_in + 31) * 1000)); // past exp + the 30 s skew
      const expired = await viaNginx('GET', '/api/2.0/mlflow/experiments/search?max_results=2', { token: grant.access_token });
      expect(expired.status).toBe(401);
      expect(expired.headers.get('www-authenticate')).toBe('Bearer realm="mlflow", error="invalid_token"');
    } finally {
      const [client] = (await (await fetch(`${api}?clientId=${clientId}`, { headers })).json()) as { id: string }[];
      if (client) await fetch(`${api}/${client.id}`, { method: 'DELETE', headers });
    }
  }, 90_000);
});
