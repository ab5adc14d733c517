import request from 'supertest';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { type TestService, testService } from '../helpers/test-service.js';

let idp: FakeIdp;
let service: TestService;
let now: number;

const A = '/api/2.0/mlflow-artifacts/artifacts/1/0a1b/artifacts/model/MLmodel';
const NO_RESOURCE = '/api/2.0/mlflow-artifacts/artifacts/2/0a1b/artifacts/model/MLmodel';

beforeAll(async () => {
  now = Date.now();
  ({ idp, service } = await testService({ env: { AUTHZ_UMA_PER_OBJECT: 'true', AUTHZ_DECISION_TIMEOUT_MS: '1500' }, clock: () => now }));
});
beforeEach(() => {
  idp.umaCalls = [];
  idp.protectionCalls = [];
  idp.patValid = (pat) => pat.startsWith('pat-');
  // Keycloak has a resource for experiment 1 only.
  idp.resources = (name) => (name.startsWith('experiment:') ? (name === 'experiment:1' ? 'id-exp-1' : undefined) : `id-${name}`);
  idp.uma = (req) => ({
    status: req.form.get('permission') === 'experiment:1#read' ? 403 : 200,
    body: req.form.get('permission') === 'experiment:1#read' ? { error: 'access_denied' } : { result: true },
  });
});

const auth = (method: string, uri: string, token?: string) => {
  const req = request(service.handler).get('/auth').set('X-Original-Method', method).set('X-Original-URI', uri);
  return token === undefined ? req : req.set('Authorization', `Bearer ${token}`);
};
/** A token issued at the service's (movable) clock. */
const tokenAt = (claims: Record<string, unknown>) => idp.token(claims, { nowSec: Math.floor(now / 1000) });
const lookups = () => idp.protectionCalls.filter((c) => c.path.includes('/resource_set?'));

describe('uma.perObject', () => {
  it('decides on experiment:<id> when Keycloak has it, even if the family resource would allow', async () => {
    const token = await tokenAt({ sub: 'per-object-1' });
    expect((await auth('GET', A, token)).status).toBe(403);
    expect(idp.umaCalls.map((c) => c.form.get('permission'))).toEqual(['experiment:1#read']);
    expect(lookups()[0]!.path).toBe('/realms/test/authz/protection/resource_set?name=experiment%3A1&exactName=true');
  });

  it('falls back to the family resource when the experiment has none, and caches the absence', async () => {
    const first = await tokenAt({ sub: 'per-object-2' });
    const second = await tokenAt({ sub: 'per-object-3' });
    expect((await auth('GET', NO_RESOURCE, first)).status).toBe(200);
    expect((await auth('GET', NO_RESOURCE, second)).status).toBe(200);
    expect(idp.umaCalls.map((c) => c.form.get('permission'))).toEqual(['artifacts#read', 'artifacts#read']);
    expect(lookups()).toHaveLength(1);
    // The absence is remembered for uma.resourceIdTtlSeconds (300 s), then asked again.
    now += 301_000;
    expect((await auth('GET', NO_RESOURCE, await tokenAt({ sub: 'per-object-4' }))).status).toBe(200);
    expect(lookups()).toHaveLength(2);
  });

  it('answers cached object decisions synchronously, with no further IdP call', async () => {
    const token = await tokenAt({ sub: 'per-object-5' });
    idp.uma = () => ({ status: 200, body: { result: true } });
    await auth('GET', '/api/2.0/mlflow/experiments/get?experiment_id=1', token);
    const calls = idp.umaCalls.length + idp.protectionCalls.length;
    expect((await auth('GET', '/ajax-api/2.0/mlflow/experiments/get?experiment_id=01', token)).status).toBe(200);
    expect(idp.umaCalls.length + idp.protectionCalls.length).toBe(calls);
    expect(idp.umaCalls.map((c) => c.form.get('permission'))).toEqual(['experiment:1#read']);
    const metrics = (await request(service.handler).get('/metrics')).text;
    expect(metrics).toMatch(
      /authz_decisions_total\{decision="allow",reason="allowed",resource="experiment:\*",scope="read",source="cache"\} [1-9]/,
    );
  });

  it('looks nothing up for anonymous or bad tokens, refuses ambiguous ids, fails closed when Keycloak cannot answer', async () => {
    expect((await auth('GET', '/api/2.0/mlflow-artifacts/artifacts/99/r/artifacts/x')).status).toBe(401);
    expect((await auth('GET', '/api/2.0/mlflow-artifacts/artifacts/99/r/artifacts/x', 'garbage')).status).toBe(401);
    expect(lookups()).toHaveLength(0);
    const token = await tokenAt({ sub: 'per-object-6' });
    expect((await auth('GET', '/api/2.0/mlflow/experiments/get?experiment_id=2&experiment_id=1', token)).status).toBe(403);
    idp.patValid = () => false;
    expect((await auth('GET', '/api/2.0/mlflow-artifacts/artifacts/98/r/artifacts/x', token)).status).toBe(503);
    expect(idp.umaCalls).toHaveLength(0);
  });

  it('leaves routes without an object hint alone', async () => {
    expect((await auth('POST', '/api/2.0/mlflow/runs/search?experiment_id=1', await tokenAt({ sub: 'per-object-7' }))).status).toBe(200);
    expect(idp.umaCalls.map((c) => c.form.get('permission'))).toEqual(['runs#read']);
    expect(lookups()).toHaveLength(0);
  });
});
