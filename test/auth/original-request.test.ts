import request from 'supertest';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { type TestService, testService } from '../helpers/test-service.js';

// Steps 1 and 2 of /auth (src/auth/original-request.ts), through the service's handler: which
// method and which route table a subrequest is decided on (issue 16, mutation testing).

let idp: FakeIdp;
let service: TestService;
let ingress: TestService;

beforeAll(async () => {
  ({ idp, service } = await testService({ env: { ...SMALL_ROUTES } }));
  ({ service: ingress } = await testService({
    idp,
    env: { ...SMALL_ROUTES, AUTHZ_INGRESS_ENABLED: 'true', AUTHZ_INGRESS_TRUSTED_PROXIES: '127.0.0.1,::1' },
  }));
});
beforeEach(() => {
  idp.umaCalls = [];
  idp.uma = () => ({ status: 200, body: { result: true } });
});

const auth = (method: string, uri: string, token?: string, path = '/auth') => {
  const req = request(service.handler).get(path).set('X-Original-Method', method).set('X-Original-URI', uri);
  return token === undefined ? req : req.set('Authorization', `Bearer ${token}`);
};

describe('the original method', () => {
  // A method NGINX would pass (capitals, `_`, `-`, at most 64) that no route maps is the client's
  // to answer: 403. Anything else is not a method token: 400, a deployment error, logged.
  it.each([
    ['M-SEARCH', 403],
    ['VERSION_CONTROL', 403],
    ['A'.repeat(17), 403],
    ['A'.repeat(64), 403],
    ['A'.repeat(65), 400],
    ['m-search', 400],
    ['x M-SEARCH', 400],
    ['M-SEARCH x', 400],
    ['GET;', 400],
    ['GE T', 400],
  ])('%s is answered %i, never with an IdP call', async (method, status) => {
    service.logs.lines = [];
    const res = await auth(method, '/api/2.0/mlflow/experiments/get', await idp.token({ sub: 'method-tester' }));
    expect(res.status).toBe(status);
    expect(idp.umaCalls).toHaveLength(0);
    // A 400 is a deployment error, logged with its reason; a 403 tells the caller no permission is mapped.
    const failed = service.logs.records.filter((r) => r.msg === 'decision failed').map((r) => r.reason);
    expect(failed).toEqual(status === 400 ? ['bad_original_method'] : []);
    expect(res.headers['x-authz-reason'] ?? '').toMatch(status === 400 ? /^$/ : /^Permission denied: no permission is mapped for /);
  });
});

describe('the route table', () => {
  it('is MLflow’s for /auth with a query string, like plain /auth', async () => {
    const token = await idp.token({ sub: 'query-path' });
    expect((await auth('GET', '/api/2.0/mlflow/experiments/get', token, '/auth?from=nginx')).status).toBe(200);
    expect(idp.umaCalls.map((c) => c.form.get('permission'))).toEqual(['experiments#read']);
    // Under the MinIO table this path is a bucket's: the query does not change the table.
    expect((await auth('GET', '/mlflow/x', token, '/auth?minio')).status).toBe(403);
  });
});

describe('NGINX’s decision cache key under the ingress-nginx contract', () => {
  // ingress-nginx passes every client header on, so an X-Authz-Cache-Key there is the client's: with it an allow
  // would be marked cacheable for the controller's auth-cache (auth-cache-key / auth-cache-duration).
  const KEY = 'h1 h2 127.0.0.1:8080 _ /auth GET /api/2.0/mlflow/experiments/get';

  it('is ignored: an allow read from X-Original-URL is never marked cacheable', async () => {
    const token = await idp.token({ sub: 'ingress-cache-key' });
    const res = await request(ingress.handler)
      .get('/auth')
      .set('X-Original-Method', 'GET')
      .set('X-Original-URL', 'https://mlflow.example.com/api/2.0/mlflow/experiments/get')
      .set('Authorization', `Bearer ${token}`)
      .set('X-Authz-Cache-Key', KEY);
    expect([res.status, res.headers['x-accel-expires']]).toEqual([200, '0']);
  });

  it('still counts from this project’s cache snippet (X-Original-URI) on the same service', async () => {
    const token = await idp.token({ sub: 'snippet-cache-key' });
    const res = await request(ingress.handler)
      .get('/auth')
      .set('X-Original-Method', 'GET')
      .set('X-Original-URI', '/api/2.0/mlflow/experiments/get')
      .set('Authorization', `Bearer ${token}`)
      .set('X-Authz-Cache-Key', KEY);
    expect(res.status).toBe(200);
    expect(Number(res.headers['x-accel-expires'])).toBeGreaterThan(0);
  });
});
