import request from 'supertest';
import type { ProtectionApi } from '../../src/idp/protection.js';
import { KeycloakRoutes, REMOTE_FAMILY } from '../../src/routes/remote.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { type TestService, testService } from '../helpers/test-service.js';

let idp: FakeIdp;
let service: TestService;
let now: number;

beforeAll(async () => {
  now = Date.now();
  ({ idp, service } = await testService({
    env: { AUTHZ_ROUTES_FROM_KEYCLOAK: 'true', AUTHZ_DECISION_TIMEOUT_MS: '1500' },
    clock: () => now,
  }));
});
beforeEach(() => {
  idp.umaCalls = [];
  idp.protectionCalls = [];
  idp.uma = () => ({ status: 200, body: { result: true } });
  idp.uriResources = (uri) =>
    uri.startsWith('/reports/') ? [{ name: 'reports' }] : uri.startsWith('/both/') ? [{ name: 'a' }, { name: 'b' }] : [];
});

const auth = (method: string, uri: string, token?: string) => {
  const req = request(service.handler).get('/auth').set('X-Original-Method', method).set('X-Original-URI', uri);
  return token === undefined ? req : req.set('Authorization', `Bearer ${token}`);
};
const tokenAt = (sub: string) => idp.token({ sub }, { nowSec: Math.floor(now / 1000) });
const uriLookups = () => idp.protectionCalls.filter((c) => c.path.includes('uri='));

describe('routes.fromKeycloak', () => {
  it('resolves an unmapped path to the resource whose uris match, the scope from the method; cached', async () => {
    const token = await tokenAt('remote-1');
    expect((await auth('GET', '/reports/2026/q4', token)).status).toBe(200);
    expect((await auth('POST', '/reports/2026/q4', token)).status).toBe(200);
    expect((await auth('DELETE', '/reports/2026/q4', token)).status).toBe(200);
    expect(idp.umaCalls.map((c) => c.form.get('permission'))).toEqual(['reports#read', 'reports#write', 'reports#delete']);
    expect(uriLookups().map((c) => c.path)).toEqual([
      '/realms/test/authz/protection/resource_set?uri=%2Freports%2F2026%2Fq4&matchingUri=true&deep=true',
    ]);
    now += 301_000;
    expect((await auth('GET', '/reports/2026/q4', await tokenAt('remote-2'))).status).toBe(200);
    expect(uriLookups()).toHaveLength(2);
  });

  it('keeps the static table first: mapped paths are never looked up', async () => {
    expect((await auth('GET', '/api/2.0/mlflow/experiments/get?experiment_id=1', await tokenAt('remote-3'))).status).toBe(200);
    expect(idp.umaCalls[0]!.form.get('permission')).toBe('experiments#read');
    expect(uriLookups()).toHaveLength(0);
  });

  it('denies a path no resource matches, several resources match, or a method without a scope', async () => {
    const token = await tokenAt('remote-4');
    expect((await auth('GET', '/nowhere', token)).status).toBe(403);
    expect((await auth('GET', '/nowhere', token)).status).toBe(403);
    expect(uriLookups()).toHaveLength(1); // the absence is cached too
    expect((await auth('GET', '/both/x', token)).status).toBe(403);
    expect((await auth('OPTIONS', '/reports/x', token)).status).toBe(403);
    expect(idp.umaCalls).toHaveLength(0);
  });

  it('looks nothing up for anonymous requests, nor for paths the MinIO table leaves unmapped', async () => {
    expect((await auth('GET', '/reports/anon')).status).toBe(401);
    const minio = await request(service.handler)
      .get('/auth/minio')
      .set('X-Original-Method', 'GET')
      .set('X-Original-URI', '/')
      .set('Authorization', `Bearer ${await tokenAt('remote-5')}`);
    expect(minio.status).toBe(403);
    expect(uriLookups()).toHaveLength(0);
  });

  it("limits one subject's lookups of paths it invents (issue 10, A5/A8); others keep theirs", async () => {
    const token = await tokenAt('remote-flood');
    const statuses: number[] = [];
    for (let i = 0; i < 80; i++) statuses.push((await auth('GET', `/invented/${i}/${'p'.repeat(7_900)}`, token)).status);
    expect(uriLookups()).toHaveLength(50); // decision.lookupBurstPerSubject
    expect(statuses.filter((status) => status === 403)).toHaveLength(50);
    expect(statuses.filter((status) => status === 401)).toHaveLength(30);
    const refused = await auth('GET', '/invented/again', token);
    expect(refused.headers['x-authz-retry-after']).toBe('1');
    expect((await auth('GET', '/reports/2027/q1', await tokenAt('remote-other'))).status).toBe(200);
  });
});

describe('KeycloakRoutes, unit', () => {
  /** A protection API double: `uris` maps a path to its resource; `cached` is what the lookup cache already holds. */
  const protection = (uris: Record<string, string>, cached: Record<string, string> = {}) =>
    ({
      cachedResourceByUri: (uri: string) => (cached[uri] === undefined ? undefined : { name: cached[uri] }),
      resourceByUri: async (uri: string) => uris[uri],
    }) as unknown as ProtectionApi;

  it('a pending route: enforced, scope from the method (HEAD takes GET’s), the bounded metric label, nothing resolved yet', () => {
    const routes = new KeycloakRoutes({ GET: 'read', POST: 'write' }, protection({}));
    const expected = {
      pattern: '/reports/q4',
      public: false,
      authenticated: false,
      resource: '',
      family: REMOTE_FAMILY,
      scope: 'read',
      params: {},
      rest: [],
      object: undefined,
      remote: true,
    };
    expect(routes.pending('GET', '/reports/q4')).toEqual(expected);
    expect(routes.pending('HEAD', '/reports/q4')).toEqual(expected);
    expect(REMOTE_FAMILY).toBe('keycloak-uri');
    expect(routes.pending('POST', '/reports/q4').scope).toBe('write');
    expect(() => routes.pending('DELETE', '/reports/q4')).toThrow(expect.objectContaining({ status: 403, code: 'method_not_mapped' }));
  });

  it('HEAD has no scope when GET has none', () => {
    const routes = new KeycloakRoutes({ POST: 'write' }, protection({}));
    expect(() => routes.pending('HEAD', '/x')).toThrow(expect.objectContaining({ code: 'method_not_mapped' }));
  });

  it('a resolved route names its resource and is no longer pending (cached: at once; otherwise after the lookup)', async () => {
    const routes = new KeycloakRoutes({ GET: 'read' }, protection({ '/reports/q4': 'reports' }, { '/cached/x': 'cached' }));
    expect(routes.lookUp(routes.pending('GET', '/cached/x'))).toMatchObject({ resource: 'cached', remote: false, scope: 'read' });
    await expect(routes.lookUp(routes.pending('GET', '/reports/q4'))).resolves.toMatchObject({ resource: 'reports', remote: false });
    await expect(routes.lookUp(routes.pending('GET', '/nothing'))).rejects.toMatchObject({ status: 403, code: 'route_not_mapped' });
  });
});
