/**
 * `routes.fromKeycloak` against the stack's real Keycloak: a resource created with a `uris`
 * entry (admin API, removed afterwards) decides a path the static table does not map, with a
 * nginx-authz of this checkout on its own port. Runnable alone:
 * `npm run build && npm run test:e2e -- --testPathPattern e2e/keycloak-routes`.
 */
import { experimentByName, marked, proxiedAnyway, reachedUpstream } from './effects.js';
import { startFrontedService, viaFront, type Front } from './front.js';
import { AuthzAdmin } from './keycloak-admin.js';
import type { OwnService } from './own-service.js';
import { tokenFor, uniqueName } from './stack.js';

const NAME = `e2e-reports-${Date.now().toString(36)}`;
let admin: AuthzAdmin;
let service: OwnService;
let front: Front;
let stopFronted: () => Promise<void>;

beforeAll(async () => {
  admin = await AuthzAdmin.open();
  const resource = await admin.create('resource', {
    name: NAME,
    uris: [`/${NAME}/*`],
    scopes: [{ name: 'read' }, { name: 'write' }, { name: 'delete' }],
  });
  await admin.grant('carol', resource, 'read', NAME);
  ({ service, front, stop: stopFronted } = await startFrontedService('keycloak-routes', { AUTHZ_ROUTES_FROM_KEYCLOAK: 'true' }));
}, 60_000);
afterAll(async () => {
  await stopFronted?.();
  await admin?.cleanUp();
});

it("decides a path only Keycloak maps (by the resource's uris), scope by method; the static table still first", async () => {
  const carol = await tokenFor('carol');
  const dave = await tokenFor('dave');
  const res = await service.auth('GET', `/${NAME}/2026/q4.csv`, carol);
  expect(res.status).toBe(200);
  expect(res.headers.get('x-auth-request-user')).toBe('carol');
  expect((await service.auth('HEAD', `/${NAME}/2026/q3.csv`, carol)).status).toBe(200);
  expect((await service.auth('PUT', `/${NAME}/2026/q4.csv`, carol)).status).toBe(403); // write not granted
  expect((await service.auth('GET', `/${NAME}/2026/q4.csv`, dave)).status).toBe(403);
  expect((await service.auth('GET', `/${NAME}-other/x`, carol)).status).toBe(403); // no resource matches
  // A mapped MLflow route is decided by the table, as before (carol, a viewer, may not delete).
  expect((await service.auth('POST', '/api/2.0/mlflow/runs/delete', carol)).status).toBe(403);
  expect((await service.auth('POST', '/api/2.0/mlflow/runs/search', carol)).status).toBe(200);
  // Decisions are cached per resource#scope: q3 is the same reports#read as q4.
  expect(await service.metric('authz_decisions_total', { decision: 'allow', resource: 'keycloak-uri', scope: 'read', source: 'idp' })).toBe(
    1,
  );
  expect(
    await service.metric('authz_decisions_total', { decision: 'allow', resource: 'keycloak-uri', scope: 'read', source: 'cache' }),
  ).toBe(1);
  // Each path looked up once: q4 (3 times asked), q3, the unmatched one.
  expect(await service.metric('authz_idp_requests_total', { endpoint: 'resource_set', outcome: 'http_200' })).toBe(3);
});

it("through the real NGINX: carol's read of the Keycloak-mapped path reaches MLflow, her write does not, her create leaves MLflow unchanged", async () => {
  const carol = await tokenFor('carol');
  const read = marked(`/${NAME}/2026/q4.csv`);
  const readRes = await viaFront(front, 'GET', read.path, { token: carol });
  expect(readRes.status).not.toBe(403);
  const line = (await reachedUpstream([read.marker], front.upstreamLog)).get(read.marker);
  expect(line).toMatchObject({ method: 'GET', status: readRes.status, x_auth_request_preferred_username: 'carol' }); // MLflow answered it
  const write = marked(`/${NAME}/2026/q4.csv`);
  expect((await viaFront(front, 'PUT', write.path, { token: carol, body: {} })).status).toBe(403);
  expect(await proxiedAnyway([write.marker], front.upstreamLog)).toEqual([]);
  const name = uniqueName('e2e-keycloak-routes');
  expect((await viaFront(front, 'POST', '/api/2.0/mlflow/experiments/create', { token: carol, body: { name } })).status).toBe(403);
  expect(await experimentByName(name)).toBeUndefined();
});
