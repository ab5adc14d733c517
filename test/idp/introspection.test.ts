import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { FakeIdp, UmaRequest } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { fakeIdp, type TestService, testService } from '../helpers/test-service.js';

// The primary is a Keycloak (UMA); a second issuer answers RFC 7662 introspection for opaque tokens.
let primary: FakeIdp;
let as: FakeIdp;
let service: TestService;
let now = Date.now();
const clock = () => now;
const nowSec = () => Math.floor(now / 1000);

/** Token → introspection answer body; anything else is inactive. */
let active: Map<string, Record<string, unknown>>;

beforeAll(async () => {
  [primary, as] = await Promise.all([fakeIdp(), fakeIdp()]);
  const file = join(mkdtempSync(join(tmpdir(), 'authz-introspect-')), 'c.yaml');
  writeFileSync(
    file,
    `
issuers:
  - id: opaque-as
    url: ${as.url}
    mode: introspection
    client: { id: "rs client", secret: "s3cr:t" }
    introspection: { cacheMaxSeconds: 30, negativeCacheSeconds: 10 }
    policy:
      rules:
        "experiments#read": { anyOf: [{ claim: scope, values: ["mlflow:read"] }] }
        "runs#delete": { anyOf: [{ claim: groups, values: [admins] }] }
`,
  );
  ({ service } = await testService({ idp: primary, clock, env: { AUTHZ_CONFIG: file, ...SMALL_ROUTES } }));
});
beforeEach(() => {
  now += 3_600_000; // past every cache of the previous test
  as.introspectCalls = [];
  active = new Map();
  as.introspect = (req: UmaRequest) => {
    const body = active.get(req.form.get('token') ?? '');
    return { status: 200, body: body === undefined ? { active: false } : { active: true, ...body } };
  };
});

const auth = (method: string, uri: string, token: string) =>
  request(service.handler).get('/auth').set('X-Original-Method', method).set('X-Original-URI', uri).set('Authorization', `Bearer ${token}`);
const read = (token: string) => auth('GET', '/api/2.0/mlflow/experiments/get', token);
const counter = async (result: string): Promise<number> => {
  const text = await service.metrics.registry.getSingleMetricAsString('authz_introspection_requests_total');
  return Number(new RegExp(`issuer="opaque-as",result="${result}"} (\\d+)`).exec(text)?.[1] ?? 0);
};

describe('introspection (RFC 7662)', () => {
  it('authenticates as its client (client_secret_basic) and decides the answer by the policy', async () => {
    active.set('opaque-1', { sub: 'u1', scope: 'openid mlflow:read', exp: nowSec() + 300, username: 'ida', iss: as.url });
    const res = await read('opaque-1');
    expect(res.status).toBe(200);
    expect(res.headers['x-auth-request-subject']).toBe('u1');
    const call = as.introspectCalls[0]!;
    expect(call.authorization).toBe(`Basic ${Buffer.from('rs%20client:s3cr%3At').toString('base64')}`);
    expect(call.form.get('token')).toBe('opaque-1');
    expect(call.form.get('token_type_hint')).toBe('access_token');
    expect((await auth('POST', '/api/2.0/mlflow/runs/delete', 'opaque-1')).status).toBe(403);
    expect(primary.umaCalls).toHaveLength(0);
  });

  it('reuses an active answer until min(exp, cacheMaxSeconds): a revoked token is refused within 30 s', async () => {
    active.set('opaque-2', { sub: 'u2', scope: 'mlflow:read', exp: nowSec() + 300 });
    expect((await read('opaque-2')).status).toBe(200);
    active.delete('opaque-2'); // revoked at the AS
    now += 29_000;
    expect((await read('opaque-2')).status).toBe(200); // still within the positive cache
    expect(as.introspectCalls).toHaveLength(1);
    now += 1_001;
    expect((await read('opaque-2')).status).toBe(401);
    expect(as.introspectCalls).toHaveLength(2);
  });

  it('never reuses an answer past the token exp', async () => {
    active.set('opaque-3', { sub: 'u3', scope: 'mlflow:read', exp: nowSec() + 5 });
    expect((await read('opaque-3')).status).toBe(200);
    now += 6_000;
    active.delete('opaque-3');
    expect((await read('opaque-3')).status).toBe(401);
    expect(as.introspectCalls).toHaveLength(2);
  });

  it('remembers an inactive token for negativeCacheSeconds, then asks again', async () => {
    const before = await counter('inactive');
    for (let i = 0; i < 5; i++) expect((await read('unknown-token')).status).toBe(401);
    expect(as.introspectCalls).toHaveLength(1);
    expect(await counter('inactive')).toBe(before + 1);
    now += 10_001;
    expect((await read('unknown-token')).status).toBe(401);
    expect(as.introspectCalls).toHaveLength(2);
  });

  it('makes one call for concurrent requests with one token', async () => {
    active.set('opaque-4', { sub: 'u4', scope: 'mlflow:read' });
    as.introspect = (req) => ({ status: 200, body: { active: true, ...active.get(req.form.get('token')!) }, delayMs: 100 });
    const answers = await Promise.all(Array.from({ length: 8 }, () => read('opaque-4')));
    expect(answers.map((res) => res.status)).toEqual(Array(8).fill(200));
    expect(as.introspectCalls).toHaveLength(1);
  });

  it('refuses answers for another audience, another issuer, a refresh token, or with no subject', async () => {
    active.set('aud', { sub: 'u', scope: 'mlflow:read', aud: 'other-api' });
    active.set('iss', { sub: 'u', scope: 'mlflow:read', iss: 'https://elsewhere.example' });
    active.set('refresh', { sub: 'u', scope: 'mlflow:read', token_type: 'refresh_token' });
    active.set('nosub', { scope: 'mlflow:read' });
    active.set('client', { client_id: 'svc', scope: 'mlflow:read', aud: ['rs client'] });
    for (const token of ['aud', 'iss', 'refresh', 'nosub']) expect([token, (await read(token)).status]).toEqual([token, 401]);
    const res = await read('client'); // a client-credentials token: client_id is the subject
    expect(res.status).toBe(200);
    expect(res.headers['x-auth-request-subject']).toBe('svc');
  });

  it('fails closed with 503 when the endpoint errs or refuses our client, and caches nothing', async () => {
    active.set('opaque-5', { sub: 'u5', scope: 'mlflow:read' });
    as.introspect = () => ({ status: 500 });
    expect((await read('opaque-5')).status).toBe(503);
    as.introspect = () => ({ status: 401, body: { error: 'invalid_client' } });
    expect((await read('opaque-5')).status).toBe(503);
    expect(service.logs.lines.some((line) => line.includes('refused this service'))).toBe(true);
    as.introspect = (req) => ({ status: 200, body: { active: true, ...active.get(req.form.get('token')!) } });
    expect((await read('opaque-5')).status).toBe(200);
    expect(await counter('error')).toBeGreaterThanOrEqual(2);
  });

  it('still verifies JWTs of the primary issuer locally', async () => {
    expect((await read(await primary.token({}, { nowSec: nowSec() }))).status).toBe(200);
    expect(as.introspectCalls).toHaveLength(0);
  });

  it('never logs the token', () => {
    expect(service.logs.lines.join('\n')).not.toMatch(/opaque-\d/);
  });
});
