/**
 * The PAT renews across its expiry with no failed decision: the resource-server client's
 * access-token lifespan is lowered to 30 s for this test through Keycloak's admin API (dev-only
 * admin) and restored afterwards; a ticket-mode nginx-authz of this checkout, with decision
 * caching cut to a millisecond, needs the PAT for every request for 75 s (two and a half PATs).
 * Runnable alone: `npm run build && npm run test:e2e -- --testPathPattern e2e/pat-renewal`.
 */
import { startFrontedService, viaFront } from './front.js';
import { adminHeaders } from './keycloak-admin.js';
import { stack, tokenFor } from './stack.js';

const LIFESPAN_S = 30;

it(`renews the PAT (lifespan ${LIFESPAN_S} s) with no failed decision over 75 s`, async () => {
  const api = `${stack.KC_URL}/admin/realms/mlflow/clients`;
  let headers = await adminHeaders();
  const [client] = (await (await fetch(`${api}?clientId=${stack.AUTHZ_CLIENT_ID ?? 'nginx-authz'}`, { headers })).json()) as {
    id: string;
    attributes?: Record<string, string>;
  }[];
  const original = client!.attributes?.['access.token.lifespan'];
  const setLifespan = async (value: string | undefined) => {
    headers = await adminHeaders();
    const current = (await (await fetch(`${api}/${client!.id}`, { headers })).json()) as { attributes?: Record<string, string> };
    // null removes the attribute (Keycloak's update sets each given attribute, removing null ones).
    const attributes = { ...current.attributes, 'access.token.lifespan': value ?? null };
    const put = await fetch(`${api}/${client!.id}`, { method: 'PUT', headers, body: JSON.stringify({ ...current, attributes }) });
    expect(put.status).toBe(204);
  };
  await setLifespan(String(LIFESPAN_S));
  const { service, front, stop } = await startFrontedService('pat-renewal', {
    AUTHZ_DECISION_MODE: 'ticket',
    AUTHZ_CACHE_ALLOW_TTL_SECONDS: '0.001',
    AUTHZ_CACHE_DENY_TTL_SECONDS: '0.001',
  });
  try {
    const statuses = new Map<number, number>();
    const until = Date.now() + 75_000;
    while (Date.now() < until) {
      const status = (await service.auth('GET', '/api/2.0/mlflow/experiments/get?experiment_id=0', await tokenFor('alice'))).status;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect([...statuses.keys()]).toEqual([200]);
    expect(statuses.get(200)).toBeGreaterThan(100);
    // 75 s of 30 s PATs renewed at 80%: the first PAT, then one at about 24, 48 and 72 s.
    expect(await service.metric('authz_idp_requests_total', { endpoint: 'pat', outcome: 'http_200' })).toBeGreaterThanOrEqual(3);
    expect(await service.metric('authz_idp_requests_total', { endpoint: 'permission', outcome: 'http_403' })).toBe(0);
    // After several renewals, through a real NGINX: MLflow's own answer (its Default experiment).
    const read = await viaFront(front, 'GET', '/api/2.0/mlflow/experiments/get?experiment_id=0', { token: await tokenFor('alice') });
    expect(read.status).toBe(200);
    expect(read.json?.experiment).toMatchObject({ experiment_id: '0' });
  } finally {
    await stop();
    await setLifespan(original);
  }
}, 120_000);
