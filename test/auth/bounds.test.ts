/**
 * What one authenticated caller can make the service hold or ask (issue 10, A5 and A8): request-named
 * resources never become metric labels, long names are refused unasked, and IdP lookups for names the
 * caller invents are limited per subject (429 through NGINX), while other subjects are unaffected.
 */
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { fakeIdp, type TestService, testService } from '../helpers/test-service.js';

const TEMPLATED = {
  AUTHZ_ROUTES_PRESET: 'none',
  AUTHZ_ROUTES_FILE: fileURLToPath(new URL('../fixtures/routes-templated.yaml', import.meta.url)),
};

let idp: FakeIdp;
beforeAll(async () => {
  idp = await fakeIdp();
});

const auth = (service: TestService, uri: string, token: string) =>
  request(service.handler).get('/auth').set('X-Original-Method', 'GET').set('X-Original-URI', uri).set('Authorization', `Bearer ${token}`);

describe('request-named resources', () => {
  let service: TestService;
  beforeAll(async () => {
    ({ service } = await testService({ idp, env: { ...TEMPLATED, AUTHZ_CONFIG: '' } }));
  });
  beforeEach(() => {
    idp.umaCalls = [];
    // Keycloak knows none of the invented names.
    idp.uma = () => ({ status: 400, body: { error: 'invalid_resource' } });
  });

  it('never become metric labels, and a refused one is remembered (negative answers cached)', async () => {
    const token = await idp.token({ sub: 'labels-1' });
    for (let i = 0; i < 40; i++) expect((await auth(service, `/things/invented-${i}-${'n'.repeat(100)}/x`, token)).status).toBe(403);
    expect((await auth(service, `/things/invented-0-${'n'.repeat(100)}/x`, token)).status).toBe(403);
    expect(idp.umaCalls).toHaveLength(40); // the repeat was answered from the cache
    const metrics = (await request(service.handler).get('/metrics')).text;
    expect(metrics).not.toContain('invented');
    expect(metrics).toContain('authz_route_misconfigured_total{resource="thing:{thing}",scope="read",error="invalid_resource"} 40');
    expect(
      service.logs.records
        .filter((r) => r.msg?.toString().startsWith('keycloak does not know'))
        .every((r) => String(r.resource).length <= 240),
    ).toBe(true);
  });

  it('longer than Keycloak can store (255 characters) are refused without asking it', async () => {
    const token = await idp.token({ sub: 'long-1' });
    expect((await auth(service, `/things/${'a'.repeat(250)}/x`, token)).status).toBe(403);
    expect(idp.umaCalls).toHaveLength(0);
  });
});

describe('per-subject lookup limit', () => {
  let service: TestService;
  let now: number;
  beforeAll(async () => {
    now = Date.now();
    ({ service } = await testService({ idp, env: { AUTHZ_UMA_PER_OBJECT: 'true' }, clock: () => now }));
  });
  beforeEach(() => {
    idp.umaCalls = [];
    idp.protectionCalls = [];
    idp.resources = (name) => (name.startsWith('experiment:') ? undefined : `id-${name}`);
    idp.uma = () => ({ status: 200, body: { result: true } });
  });
  const lookups = () => idp.protectionCalls.filter((c) => c.path.includes('/resource_set?')).length;
  const tokenAt = (sub: string) => idp.token({ sub, preferred_username: sub }, { nowSec: Math.floor(now / 1000) });

  it('300 distinct experiment ids from one viewer cost at most the burst of lookups; then 401 + X-Authz-Retry-After', async () => {
    const carol = await tokenAt('carol-sub');
    const statuses: Record<number, number> = {};
    let retryAfter: string | undefined;
    for (let id = 1; id <= 300; id++) {
      const res = await auth(service, `/api/2.0/mlflow/experiments/get?experiment_id=${1000 + id}`, carol);
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      retryAfter ??= res.headers['x-authz-retry-after'];
    }
    expect(lookups()).toBe(50); // decision.lookupBurstPerSubject
    expect(statuses).toEqual({ 200: 50, 401: 250 });
    expect(retryAfter).toBe('1');
    expect(service.logs.records.filter((r) => r.msg?.toString().startsWith('subject exceeds its IdP lookup rate'))).toHaveLength(1);
    expect((await request(service.handler).get('/metrics')).text).toContain('authz_rate_limited_total{lookup="resource_name"} 250');

    // Ids already looked up stay answered from the cache; other subjects keep their own budget.
    expect((await auth(service, '/api/2.0/mlflow/experiments/get?experiment_id=1001', carol)).status).toBe(200);
    expect((await auth(service, '/api/2.0/mlflow/experiments/get?experiment_id=5000', await tokenAt('bob-sub'))).status).toBe(200);
    // The refusals were not cached: once the bucket refills (5/s), the same id is decided.
    now += 1_000;
    expect((await auth(service, '/api/2.0/mlflow/experiments/get?experiment_id=1300', carol)).status).toBe(200);
  });
});
