import { fileURLToPath } from 'node:url';
import request from 'supertest';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { type TestService, testService } from '../helpers/test-service.js';

// Edges of the /auth pipeline found by mutation testing (issue 16), through the service's handler
// only, so they hold however src/auth/pipeline.ts is split.

let idp: FakeIdp;
let small: TestService;
let preset: TestService;
let challenging: TestService;
/** The services' clock stands still: the lookup limit's bucket does not refill during a test. */
const now = Date.now();

beforeAll(async () => {
  ({ idp, service: small } = await testService({ env: { ...SMALL_ROUTES, AUTHZ_AUDIT_LOG: 'true' }, clock: () => now }));
  ({ service: preset } = await testService({ idp, env: { AUTHZ_AUDIT_LOG: 'true' } }));
  const templated = fileURLToPath(new URL('../fixtures/routes-templated.yaml', import.meta.url));
  ({ service: challenging } = await testService({
    idp,
    env: { AUTHZ_ROUTES_PRESET: 'none', AUTHZ_ROUTES_FILE: templated, AUTHZ_UMA_CHALLENGE: 'true' },
    clock: () => now,
  }));
});
beforeEach(() => {
  idp.umaCalls = [];
  idp.uma = () => ({ status: 200, body: { result: true } });
});

const auth = (service: TestService, method: string, uri: string, token: string) =>
  request(service.handler).get('/auth').set('X-Original-Method', method).set('X-Original-URI', uri).set('Authorization', `Bearer ${token}`);
const audited = (service: TestService) => service.logs.records.filter((r) => r.msg === 'decision');

describe('an AUTHENTICATED route (the MLflow UI shell, /)', () => {
  it('is allowed for any verified identity by itself: no decision asked, decided locally', async () => {
    preset.logs.lines = [];
    const res = await auth(preset, 'GET', '/', await idp.token({ sub: 'shell-user', preferred_username: 'shell' }));
    expect(res.status).toBe(200);
    expect(res.headers['x-auth-request-user']).toBe('shell');
    expect(idp.umaCalls).toHaveLength(0);
    expect(audited(preset).map((r) => [r.decision, r.reason, r.source])).toEqual([['allow', 'allowed', 'local']]);
  });
});

describe('the per-subject lookup limit', () => {
  it('does not count decisions on a route’s own resource (only request-named ones)', async () => {
    // The default burst is 50 lookups, not refilled on this clock: 60 fresh tokens of one subject on a fixed resource all reach the IdP.
    const statuses = new Set<number>();
    for (let i = 0; i < 60; i++) {
      const token = await idp.token({ sub: 'busy-subject', jti: `busy-${i}` }, { nowSec: Math.floor(now / 1000) });
      statuses.add((await auth(small, 'POST', '/api/2.0/mlflow/runs/delete', token)).status);
    }
    expect([...statuses]).toEqual([200]);
    expect(idp.umaCalls).toHaveLength(60);
  });
});

describe('NGINX’s decision cache', () => {
  it('is told 0 for an allow whose cache key is empty (a snippet that sent no key)', async () => {
    const token = await idp.token({ sub: 'empty-key' });
    const ask = (key: string) => auth(small, 'GET', '/api/2.0/mlflow/experiments/get', token).set('X-Authz-Cache-Key', key);
    const empty = await ask('');
    expect([empty.status, empty.headers['x-accel-expires']]).toEqual([200, '0']);
    const keyed = await ask('h1 h2 127.0.0.1:8080 _ /auth GET /');
    expect(keyed.status).toBe(200);
    expect(Number(keyed.headers['x-accel-expires'])).toBeGreaterThan(0);
  });
});

describe('an allow answered from the service’s own decision cache', () => {
  it('is kept by NGINX no longer than the service still remembers the decision', async () => {
    let at = Math.floor(Date.now() / 1000) * 1000;
    const { service } = await testService({ idp, env: { ...SMALL_ROUTES, AUTHZ_CACHE_ALLOW_TTL_SECONDS: '10' }, clock: () => at });
    const token = await idp.token({ sub: 'remembered-allow' });
    const ask = () =>
      auth(service, 'GET', '/api/2.0/mlflow/experiments/get', token).set('X-Authz-Cache-Key', 'h1 h2 127.0.0.1:8080 _ /auth GET /');
    const first = await ask();
    // nginx.cacheSeconds 5, less NGINX's extra second.
    expect([first.status, first.headers['x-accel-expires']]).toEqual([200, '4']);
    at += 8_000;
    const second = await ask();
    expect(idp.umaCalls).toHaveLength(1);
    // Remembered until 10 s after the first answer, now 8 s later: 1 s for NGINX, not 4.
    expect([second.status, second.headers['x-accel-expires']]).toEqual([200, '1']);
  });
});

describe('the UMA challenge and the per-subject lookup limit', () => {
  it('charges a ticket for a request-named resource, not for a route’s own resource', async () => {
    const at = { nowSec: Math.floor(now / 1000) };
    const challenge = (uri: string, token: string) =>
      request(challenging.handler)
        .get('/auth')
        .set('X-Original-Method', 'GET')
        .set('X-Original-URI', uri)
        .set('Authorization', `Bearer ${token}`);
    // 60 tickets for the fixed resource `experiments`: every one a UMA challenge (the burst is 50).
    const plain = await idp.token({ sub: 'challenged-plain' }, at);
    const plainAnswers = new Set<string>();
    for (let i = 0; i < 60; i++)
      plainAnswers.add(String((await challenge('/api/2.0/mlflow/experiments/get', plain)).headers['www-authenticate']).slice(0, 4));
    expect([...plainAnswers]).toEqual(['UMA ']);
    // 60 invented names: over the burst, refused with a retry time instead of a ticket.
    const named = await idp.token({ sub: 'challenged-named' }, at);
    let limited = 0;
    for (let i = 0; i < 60; i++) {
      const res = await challenge(`/things/invented-${i}/x`, named);
      expect(res.status).toBe(401);
      if (res.headers['x-authz-retry-after'] !== undefined) limited++;
    }
    expect(limited).toBeGreaterThanOrEqual(10);
  });
});

describe('a remembered denial', () => {
  it('is answered 403 again from the caches, with no second IdP call', async () => {
    idp.uma = () => ({ status: 403, body: { error: 'access_denied' } });
    const token = await idp.token({ sub: 'denied-twice' }, { nowSec: Math.floor(now / 1000) });
    for (let i = 0; i < 2; i++) expect((await auth(small, 'POST', '/api/2.0/mlflow/runs/delete', token)).status).toBe(403);
    expect(idp.umaCalls).toHaveLength(1);
  });
});
