import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { fakeIdp, type TestService, testService } from '../helpers/test-service.js';

// Three issuers: the primary (Keycloak UMA, the fake's token endpoint decides), a claims-mode
// "second" one, and a third the service is not configured for.
let primary: FakeIdp;
let second: FakeIdp;
let third: FakeIdp;
let service: TestService;

beforeAll(async () => {
  [primary, second, third] = await Promise.all([fakeIdp(), fakeIdp(), fakeIdp()]);
  const file = join(mkdtempSync(join(tmpdir(), 'authz-issuers-')), 'c.yaml');
  writeFileSync(
    file,
    `
issuers:
  - id: second
    url: ${second.url}
    mode: claims
    audiences: [mlflow-api]
    claims: { username: ["https://example.com/username"], groups: realm_access.roles }
    policy:
      rules:
        "experiments#read": { anyOf: [{ claim: realm_access.roles, values: [viewer, editor] }, { claim: scope, values: ["mlflow:read"] }] }
        "runs#delete": { allOf: [{ claim: realm_access.roles, values: [editor] }, { claim: ["https://example.com/mfa"], values: ["true"] }] }
`,
  );
  ({ service } = await testService({ idp: primary, env: { AUTHZ_CONFIG: file, ...SMALL_ROUTES } }));
});
beforeEach(() => {
  primary.umaCalls = [];
  second.umaCalls = [];
});

const auth = (method: string, uri: string, token: string) =>
  request(service.handler).get('/auth').set('X-Original-Method', method).set('X-Original-URI', uri).set('Authorization', `Bearer ${token}`);
const fromSecond = (claims: Record<string, unknown>) =>
  second.token({ aud: 'mlflow-api', groups: undefined, preferred_username: undefined, ...claims });

describe('several issuers', () => {
  it('decides a primary token with Keycloak UMA, as before', async () => {
    const res = await auth('GET', '/api/2.0/mlflow/experiments/get', await primary.token({ sub: 'kc-user' }));
    expect(res.status).toBe(200);
    expect(primary.umaCalls).toHaveLength(1);
  });

  it('decides a second-issuer token by its claims policy, with no IdP call, identity from its claim paths', async () => {
    const token = await fromSecond({ sub: 's-1', realm_access: { roles: ['viewer'] }, 'https://example.com/username': 'sam' });
    const res = await auth('GET', '/api/2.0/mlflow/experiments/get', token);
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({ 'x-auth-request-user': 'sam', 'x-auth-request-subject': 's-1', 'x-auth-request-groups': 'viewer' });
    expect((await auth('POST', '/api/2.0/mlflow/runs/delete', token)).status).toBe(403); // not an editor
    expect(primary.umaCalls).toHaveLength(0);
    expect(second.umaCalls).toHaveLength(0);
    expect(await service.metrics.registry.getSingleMetricAsString('authz_decisions_total')).toMatch(
      /decision="allow",reason="allowed",resource="experiments",scope="read",source="local"} 1/,
    );
  });

  it('allows by a space-separated scope; denies when the claim is absent; allOf needs every condition', async () => {
    expect((await auth('GET', '/api/2.0/mlflow/experiments/get', await fromSecond({ scope: 'openid mlflow:read' }))).status).toBe(200);
    expect((await auth('GET', '/api/2.0/mlflow/experiments/get', await fromSecond({}))).status).toBe(403);
    expect((await auth('POST', '/api/2.0/mlflow/runs/delete', await fromSecond({ realm_access: { roles: ['editor'] } }))).status).toBe(403);
    expect(
      (
        await auth(
          'POST',
          '/api/2.0/mlflow/runs/delete',
          await fromSecond({ realm_access: { roles: ['editor'] }, 'https://example.com/mfa': true }),
        )
      ).status,
    ).toBe(200);
  });

  it('answers a cached claims decision synchronously', async () => {
    const token = await fromSecond({ realm_access: { roles: ['viewer'] } });
    expect((await auth('GET', '/api/2.0/mlflow/experiments/get', token)).status).toBe(200);
    // Drive the handler directly: on a cached identity the response ends before handler() returns.
    let ended = false;
    const req = {
      url: '/auth',
      headers: { 'x-original-method': 'GET', 'x-original-uri': '/api/2.0/mlflow/experiments/get', authorization: `Bearer ${token}` },
    };
    const res = {
      statusCode: 0,
      setHeader() {},
      end() {
        ended = true;
      },
    };
    service.handler(req as never, res as never);
    expect(ended).toBe(true);
    expect(res.statusCode).toBe(200);
  });

  it('verifies with the keys and audiences of the issuer the token names', async () => {
    // Claims the second issuer but is signed by the primary's key: the second issuer's JWKS does not have it.
    const forged = await primary.token({ iss: second.url, aud: 'mlflow-api', realm_access: { roles: ['viewer'] } });
    expect((await auth('GET', '/api/2.0/mlflow/experiments/get', forged)).status).toBe(401);
    // The second issuer's token for the primary's audience only.
    expect(
      (await auth('GET', '/api/2.0/mlflow/experiments/get', await second.token({ aud: 'nginx-authz', scope: 'mlflow:read' }))).status,
    ).toBe(401);
  });

  it('refuses a token from an unconfigured issuer with 401 invalid_token, asking nobody', async () => {
    const before = third.jwksFetches;
    const res = await auth('GET', '/api/2.0/mlflow/experiments/get', await third.token({ scope: 'mlflow:read' }));
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="mlflow", error="invalid_token"');
    expect(third.jwksFetches).toBe(before);
    expect(third.discoveryFetches).toBe(0);
    expect(service.logs.records.some((line) => line.detail === 'issuer not configured')).toBe(true);
  });

  it('is ready only when every issuer is discovered', async () => {
    expect((await request(service.handler).get('/readyz')).status).toBe(200);
    expect(second.discoveryFetches).toBe(1);
  });
});

describe('two keycloak-uma issuers', () => {
  let kcA: FakeIdp;
  let kcB: FakeIdp;
  let both: TestService;
  beforeAll(async () => {
    [kcA, kcB] = await Promise.all([fakeIdp(), fakeIdp()]);
    const file = join(mkdtempSync(join(tmpdir(), 'authz-issuers-')), 'uma.yaml');
    writeFileSync(file, `issuers:\n  - { id: realm-b, url: "${kcB.url}", client: { id: rs-b } }\n`);
    ({ service: both } = await testService({ idp: kcA, env: { AUTHZ_CONFIG: file, ...SMALL_ROUTES } }));
  });

  it("asks each token's own Keycloak, with that issuer's client as the audience", async () => {
    kcB.uma = () => ({ status: 403, body: { error: 'access_denied' } });
    const send = (token: string) =>
      request(both.handler)
        .get('/auth')
        .set('X-Original-Method', 'GET')
        .set('X-Original-URI', '/api/2.0/mlflow/experiments/get')
        .set('Authorization', `Bearer ${token}`);
    expect((await send(await kcA.token())).status).toBe(200);
    expect((await send(await kcB.token({ aud: 'rs-b' }))).status).toBe(403);
    expect(kcA.umaCalls.map((call) => call.form.get('audience'))).toEqual(['nginx-authz']);
    expect(kcB.umaCalls.map((call) => call.form.get('audience'))).toEqual(['rs-b']);
  });
});

describe('uma.perObject beside a claims issuer', () => {
  let kc: FakeIdp;
  let op: FakeIdp;
  let svc: TestService;
  beforeAll(async () => {
    [kc, op] = await Promise.all([fakeIdp(), fakeIdp()]);
    const file = join(mkdtempSync(join(tmpdir(), 'authz-issuers-')), 'po.yaml');
    writeFileSync(
      file,
      `issuers:\n  - id: op\n    url: "${op.url}"\n    mode: claims\n    audiences: [nginx-authz]\n    policy: { rules: { "experiments#read": { anyOf: [{ claim: groups, values: [mlflow-viewers] }] } } }\n`,
    );
    ({ service: svc } = await testService({ idp: kc, env: { AUTHZ_CONFIG: file, AUTHZ_UMA_PER_OBJECT: 'true' } })); // the MLflow table: experiments/get names its experiment
  });

  it("decides a claims token on the route's resource, with no per-experiment lookup in Keycloak", async () => {
    const send = (token: string) =>
      request(svc.handler)
        .get('/auth')
        .set('X-Original-Method', 'GET')
        .set('X-Original-URI', '/api/2.0/mlflow/experiments/get?experiment_id=7')
        .set('Authorization', `Bearer ${token}`);
    expect((await send(await op.token({ groups: ['mlflow-viewers'] }))).status).toBe(200);
    expect((await send(await op.token({ groups: ['others'] }))).status).toBe(403);
    expect(kc.protectionCalls).toHaveLength(0);
    expect((await send(await kc.token())).status).toBe(200); // a Keycloak token is still narrowed to experiment:7
    expect(kc.protectionCalls.some((call) => call.path.includes('experiment%3A7') || call.path.includes('experiment:7'))).toBe(true);
    expect(kc.umaCalls.at(-1)!.form.get('permission')).toBe('experiment:7#read');
  });
});
