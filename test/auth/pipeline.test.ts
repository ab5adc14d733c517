import { createHash } from 'node:crypto';
import request from 'supertest';
import { createService } from '../../src/app.js';
import { createLogger } from '../../src/log.js';
import { FakeIdp } from '../helpers/fake-idp.js';
import { LogCapture, SMALL_ROUTES, testConfig } from '../helpers/service.js';
import { type TestService, testService } from '../helpers/test-service.js';

let idp: FakeIdp;
let service: TestService;

beforeAll(async () => {
  ({ idp, service } = await testService({ env: { ...SMALL_ROUTES, AUTHZ_DECISION_TIMEOUT_MS: '1500' } }));
});
beforeEach(() => {
  idp.umaCalls = [];
  idp.uma = () => ({ status: 200, body: { result: true } });
});

const auth = (method: string, uri: string, token?: string, path = '/auth') => {
  const req = request(service.handler).get(path).set('X-Original-Method', method).set('X-Original-URI', uri);
  return token === undefined ? req : req.set('Authorization', `Bearer ${token}`);
};

describe('/auth while everything is cached', () => {
  /** Calls the handler with a bare request and response: what it answered before returning. */
  const callSync = (token: string) => {
    const answered: { status: number | undefined } = { status: undefined };
    const req = {
      url: '/auth',
      headers: {
        'x-original-method': 'GET',
        'x-original-uri': '/api/2.0/mlflow/experiments/get?experiment_id=1',
        authorization: `Bearer ${token}`,
      },
    };
    const res = {
      statusCode: 0,
      setHeader: () => undefined,
      end() {
        answered.status = this.statusCode;
      },
    };
    service.handler(req as never, res as never);
    return answered;
  };

  it('answers a cached identity and decision before the handler returns; a miss answers later', async () => {
    const token = await idp.token({ sub: 'u-sync', preferred_username: 'sync' });
    const first = callSync(token);
    expect(first.status).toBeUndefined(); // nothing cached yet: verification and the IdP call are asynchronous
    for (let waited = 0; first.status === undefined && waited < 5_000; waited += 10)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(first.status).toBe(200);
    expect(idp.umaCalls).toHaveLength(1);
    expect(callSync(token).status).toBe(200);
    expect(idp.umaCalls).toHaveLength(1);
  });
});

describe('/auth', () => {
  it('allows with identity headers for the upstream', async () => {
    const token = await idp.token({
      sub: 'u-42',
      preferred_username: 'alice',
      email: 'alice@example.test',
      groups: ['/mlflow-admins', 'ops'],
    });
    const res = await auth('GET', '/api/2.0/mlflow/experiments/get?experiment_id=1', token);
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({
      'x-auth-request-user': 'alice',
      'x-auth-request-preferred-username': 'alice',
      'x-auth-request-email': 'alice@example.test',
      'x-auth-request-groups': 'mlflow-admins,ops',
      'x-auth-request-subject': 'u-42',
    });
    expect(idp.umaCalls[0]!.form.get('permission')).toBe('experiments#read');
  });

  it('makes claim values header-safe and bounded', async () => {
    const token = await idp.token({
      preferred_username: 'eve\r\nX-Auth-Request-Groups: mlflow-admins',
      email: 'zoë@example.test',
      groups: ['a,b', 'x'.repeat(5000)],
    });
    const res = await auth('GET', '/api/2.0/mlflow/experiments/get', token);
    expect(res.status).toBe(200);
    expect(res.headers['x-auth-request-user']).toBe('eve%0D%0AX-Auth-Request-Groups: mlflow-admins');
    expect(res.headers['x-auth-request-email']).toBe('zo%C3%AB@example.test');
    expect(res.headers['x-auth-request-groups']).toBe('a%2Cb');
  });

  it('answers 401 with a Bearer challenge and no error code when no token is sent', async () => {
    const res = await auth('GET', '/api/2.0/mlflow/experiments/get');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="mlflow"');
  });

  it('answers 401 invalid_token for a bad or expired token, without asking the IdP', async () => {
    for (const token of ['garbage', await idp.token({}, { nowSec: Math.floor(Date.now() / 1000) - 3600 })]) {
      const res = await auth('GET', '/api/2.0/mlflow/experiments/get', token);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="mlflow", error="invalid_token"');
    }
    const basic = await request(service.handler)
      .get('/auth')
      .set('X-Original-Method', 'GET')
      .set('X-Original-URI', '/api/2.0/mlflow/experiments/get')
      .set('Authorization', 'Basic YWxpY2U6c2VjcmV0');
    expect(basic.status).toBe(401);
    expect(idp.umaCalls).toHaveLength(0);
  });

  it('answers 403 when the IdP denies, and 401 when it says the token is revoked', async () => {
    idp.uma = () => ({ status: 403, body: { error: 'access_denied' } });
    expect((await auth('POST', '/api/2.0/mlflow/runs/delete', await idp.token({ sub: 'viewer' }))).status).toBe(403);
    idp.uma = () => ({ status: 401, body: { error: 'invalid_grant' } });
    expect((await auth('POST', '/api/2.0/mlflow/runs/delete', await idp.token({ sub: 'revoked' }))).status).toBe(401);
  });

  it('denies an unmapped route or method before looking at credentials', async () => {
    const token = await idp.token();
    for (const [method, uri] of [
      ['GET', '/api/2.0/mlflow/unknown'],
      ['DELETE', '/api/2.0/mlflow/runs/delete'],
      ['OPTIONS', '/api/2.0/mlflow/experiments/get'],
      ['GET', '/'],
    ]) {
      expect((await auth(method!, uri!, token)).status).toBe(403);
    }
    expect((await auth('GET', '/api/2.0/mlflow/unknown')).status).toBe(403);
    expect(idp.umaCalls).toHaveLength(0);
  });

  it('lets public routes through without a token and without identity headers', async () => {
    const res = await auth('GET', '/health');
    expect(res.status).toBe(200);
    expect(res.headers['x-auth-request-user']).toBeUndefined();
    expect((await auth('POST', '/health')).status).toBe(403);
  });

  it.each([
    ['post', '/api/2.0/mlflow/runs/delete'],
    ['Post', '//api//2.0//mlflow//runs//delete//'],
    ['POST', '/ajax-api/3.0/mlflow/runs/%64elete'],
  ])('%s %s reaches the plain path rule, runs#delete', async (method, uri) => {
    const res = await auth(method, uri, await idp.token({ sub: `${method} ${uri}` })); // a fresh token: no cache hit
    expect(res.status).toBe(200);
    expect(idp.umaCalls.map((c) => c.form.get('permission'))).toEqual(['runs#delete']);
  });

  it.each([
    // Dot segments are refused, not resolved: MLflow routes the raw path (issue 10, A7).
    ['POST', '/api/2.0/mlflow/experiments/get/../../runs/delete'],
    ['POST', '/api/2.0/mlflow/experiments/get/%2e%2e/%2E%2E/runs/delete'],
    ['GET', '/api/2.0/mlflow/runs%2Fdelete'],
    ['POST', '/../api/2.0/mlflow/runs/delete'],
    ['POST', '/api/2.0/mlflow/runs/delete%00'],
    ['HEAD', '/api/2.0/mlflow/runs/delete'],
    ['GET', `/api/2.0/mlflow/experiments/get?${'x'.repeat(9000)}`],
  ])('refuses %s %.60s with 403 and no IdP call', async (method, uri) => {
    expect((await auth(method, uri, await idp.token())).status).toBe(403);
    expect(idp.umaCalls).toHaveLength(0);
  });

  it('decides S3 requests with the MinIO table when NGINX asks on /auth/minio', async () => {
    const token = await idp.token({ sub: 's3-user' });
    const s3 = (method: string, uri: string, path = '/auth/minio') => auth(method, uri, token, path);
    expect((await s3('GET', '/mlflow/artifacts/1/abc/model.pkl')).status).toBe(200);
    expect((await s3('HEAD', '/mlflow')).status).toBe(200);
    expect((await s3('PUT', '/mlflow/artifacts/x')).status).toBe(200);
    expect(idp.umaCalls.map((c) => c.form.get('permission'))).toEqual(['bucket:mlflow#read', 'bucket:mlflow#write']);
    for (const [method, uri] of [
      ['POST', '/mlflow/x?uploads'],
      ['GET', '/'],
      ['PUT', '/newbucket'],
      ['DELETE', '/mlflow'],
    ]) {
      expect((await s3(method!, uri!)).status).toBe(403);
    }
    expect(idp.umaCalls).toHaveLength(2);
    expect((await s3('GET', '/mlflow/x', '/auth/minio?x=1')).status).toBe(200);
  });

  // Issue 10, A1: the client's X-Authz-Service used to pick the table (a viewer's MLflow request
  // decided as bucket:api#read); an unknown table answered 400, which NGINX turns into 500.
  it('never lets a request header choose the route table; unknown tables are a logged 403', async () => {
    const token = await idp.token({ sub: 'table-chooser' });
    // Under the MinIO table this is bucket:api#read; under MLflow's, experiments#read.
    const get = () => auth('GET', '/api/2.0/mlflow/experiments/get', token);
    service.logs.lines = [];
    expect((await get().set('X-Authz-Service', 'minio')).status).toBe(403);
    expect((await get().set('X-Authz-Service', 'mlflow')).status).toBe(403);
    expect((await auth('GET', '/mlflow/x', token, '/auth/minio').set('X-Authz-Service', 'minio')).status).toBe(403);
    expect(idp.umaCalls).toHaveLength(0);
    for (const path of ['/auth/mystery', '/auth/', '/auth/minio/x', '/auth/__proto__', '/authx']) {
      const res = await auth('GET', '/mlflow/x', token, path);
      expect([path, res.status]).toEqual([path, path === '/authx' ? 404 : 403]);
    }
    expect(idp.umaCalls).toHaveLength(0);
    const warnings = service.logs.records.filter((r) => r.reason === 'unknown_service' && r.msg === 'decision failed');
    expect(warnings).toHaveLength(7);
    // Without the header the same request is decided on MLflow's table.
    expect((await get()).status).toBe(200);
    expect(idp.umaCalls.map((c) => c.form.get('permission'))).toEqual(['experiments#read']);
  });

  it('answers 400 when NGINX did not send the original request', async () => {
    expect((await request(service.handler).get('/auth')).status).toBe(400);
    expect((await request(service.handler).get('/auth').set('X-Original-Method', 'GET')).status).toBe(400);
    expect((await request(service.handler).get('/auth').set('X-Original-URI', '/x').set('X-Original-Method', 'GE T')).status).toBe(400);
  });

  it('fails closed with 503 on an IdP timeout, and never redirects', async () => {
    idp.uma = () => ({ status: 200, body: { result: true }, delayMs: 3_000 });
    const res = await auth('GET', '/api/2.0/mlflow/experiments/get', await idp.token({ sub: 'slow' }));
    expect(res.status).toBe(503);
    idp.uma = () => ({ status: 302, body: {} });
    expect((await auth('GET', '/api/2.0/mlflow/experiments/get', await idp.token({ sub: 'redirected' }))).status).toBe(503);
  });

  it('shares one IdP call between 100 concurrent identical requests, then answers from cache', async () => {
    const token = await idp.token({ sub: 'concurrent' });
    idp.uma = () => ({ status: 200, body: { result: true }, delayMs: 50 });
    const answers = await Promise.all(Array.from({ length: 100 }, () => auth('GET', '/api/3.0/mlflow/experiments/get', token)));
    expect(answers.every((r) => r.status === 200)).toBe(true);
    expect(idp.umaCalls).toHaveLength(1);
    expect((await auth('GET', '/ajax-api/2.0/mlflow/experiments/get', token)).status).toBe(200);
    expect(idp.umaCalls).toHaveLength(1); // same resource#scope under another root: same cache entry
  });

  it('writes one audit line per decision, with no token, password or cookie in any log line', async () => {
    const token = await idp.token({ sub: 'audited' });
    service.logs.lines = [];
    await auth('GET', '/api/2.0/mlflow/experiments/get', token).set('Cookie', '_oauth2_proxy=cookie-value-secret');
    await request(service.handler)
      .get('/auth')
      .set('X-Original-Method', 'GET')
      .set('X-Original-URI', '/api/2.0/mlflow/experiments/get')
      .set('Authorization', `Basic ${Buffer.from('alice:password-secret').toString('base64')}`);
    idp.uma = () => ({ status: 500, body: { error: 'boom' } });
    await auth('POST', '/api/2.0/mlflow/runs/delete', token);
    await request(service.handler).get('/auth').set('X-Original-URI', '/x');

    const records = service.logs.records;
    const audit = records.filter((r) => r.audit === true);
    expect(audit[0]).toMatchObject({
      user: 'alice',
      method: 'GET',
      path: '/api/2.0/mlflow/experiments/get',
      resource: 'experiments',
      scope: 'read',
      decision: 'allow',
      reason: 'allowed',
      cache_hit: false,
      source: 'idp',
    });
    expect(audit[0]!.latency_ms).toEqual(expect.any(Number));
    // docs/operations.md promises a 12-character fingerprint (the start of the token's base64url SHA-256 prefix) to correlate lines.
    expect(audit[0]!.token_fp).toBe(createHash('sha256').update(token).digest().subarray(0, 16).toString('base64url').slice(0, 12));
    expect(audit[1]).toMatchObject({ decision: 'deny', reason: 'unsupported_credentials' });
    expect(records.some((r) => r.decision === 'error' && r.reason === 'idp_unavailable')).toBe(true);
    expect(records.some((r) => r.reason === 'missing_original_request')).toBe(true);

    const everything = service.logs.lines.join('\n');
    for (const secret of [
      token,
      token.split('.')[2]!,
      'cookie-value-secret',
      'password-secret',
      'test-secret-do-not-log',
      Buffer.from('alice:password-secret').toString('base64'),
    ]) {
      expect(everything).not.toContain(secret);
    }
  });

  it('publishes decision, cache and IdP metrics', async () => {
    const text = (await request(service.handler).get('/metrics')).text;
    expect(text).toMatch(
      /authz_decisions_total\{decision="allow",reason="allowed",resource="experiments",scope="read",source="cache"\} \d+/,
    );
    expect(text).toMatch(/authz_decision_duration_seconds_bucket\{le="0.0005",source="cache"\} \d+/);
    expect(text).toMatch(/authz_cache_requests_total\{cache="decision",result="hit"\} \d+/);
    expect(text).toMatch(/authz_idp_requests_total\{endpoint="uma_decision",outcome="http_200"\} \d+/);
    expect(text).toMatch(/authz_jwks_refreshes_total\{outcome="ok"\} \d+/);
    expect(text).toMatch(/authz_cache_entries\{cache="token"\} [1-9]/);
  });
});

describe('readiness', () => {
  it('is live at once, ready only after discovery and keys, and fails closed until then', async () => {
    const down = await new FakeIdp().start();
    const url = down.url;
    const token = await down.token();
    await down.stop(); // the IdP is unreachable at start
    const logs = new LogCapture();
    const early = createService(testConfig({ url } as FakeIdp, SMALL_ROUTES), createLogger('info', logs), { defaultMetrics: false });
    void early.provider.start();
    expect((await request(early.handler).get('/healthz')).status).toBe(200);
    expect((await request(early.handler).get('/readyz')).status).toBe(503);
    const res = await request(early.handler)
      .get('/auth')
      .set('X-Original-Method', 'GET')
      .set('X-Original-URI', '/api/2.0/mlflow/experiments/get')
      .set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(503);
    early.provider.stop();
    expect((await request(service.handler).get('/readyz')).status).toBe(200);
  });
});

describe('RPTs', () => {
  const rpt = (permissions: unknown[], sub = 'rpt-user') => idp.token({ sub, aud: 'nginx-authz', authorization: { permissions } });

  it("allows an RPT holding the route's resource#scope with no IdP call, also on the cached path", async () => {
    const token = await rpt([
      { rsid: 'id-1', rsname: 'experiments', scopes: ['read'] },
      { rsid: 'id-2', rsname: 'runs', scopes: ['read'] },
    ]);
    for (const uri of ['/api/2.0/mlflow/experiments/get', '/ajax-api/3.0/mlflow/experiments/get']) {
      const res = await auth('GET', uri, token);
      expect(res.status).toBe(200);
      expect(res.headers['x-auth-request-user']).toBe('alice');
    }
    expect(idp.umaCalls).toHaveLength(0);
    const text = (await request(service.handler).get('/metrics')).text;
    expect(text).toMatch(/authz_decisions_total\{decision="allow",reason="allowed",resource="experiments",scope="read",source="local"\} 2/);
  });

  it('falls back to a decision for an RPT lacking the permission, and refuses when the IdP denies', async () => {
    const token = await rpt([{ rsid: 'id-2', rsname: 'runs', scopes: ['read'] }], 'rpt-viewer');
    idp.uma = () => ({ status: 403, body: { error: 'access_denied' } });
    expect((await auth('POST', '/api/2.0/mlflow/runs/delete', token)).status).toBe(403);
    expect(idp.umaCalls.map((c) => c.form.get('permission'))).toEqual(['runs#delete']);
    idp.uma = () => ({ status: 200, body: { result: true } });
    expect((await auth('GET', '/api/2.0/mlflow/experiments/get', token)).status).toBe(200); // granted by policy, not by the RPT
    expect(idp.umaCalls).toHaveLength(2);
  });

  it('never trusts permissions of a token that fails verification', async () => {
    const forged = await idp.token(
      { authorization: { permissions: [{ rsname: 'runs', scopes: ['delete'] }] } },
      { nowSec: Math.floor(Date.now() / 1000) - 3600 },
    );
    expect((await auth('POST', '/api/2.0/mlflow/runs/delete', forged)).status).toBe(401);
    const otherAudience = await idp.token({
      aud: 'other-resource-server',
      authorization: { permissions: [{ rsname: 'runs', scopes: ['delete'] }] },
    });
    expect((await auth('POST', '/api/2.0/mlflow/runs/delete', otherAudience)).status).toBe(401);
    expect(idp.umaCalls).toHaveLength(0);
  });
});
