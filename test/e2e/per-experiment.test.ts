/**
 * Per-experiment permissions (`uma.perObject`) against the stack's real Keycloak, with a
 * nginx-authz of this checkout on its own port (own-service.ts). Through Keycloak's admin API
 * (dev-only admin) the test creates resources `experiment:<A>` and `experiment:<B>` (scopes
 * read/write/delete) in the nginx-authz client, a user policy for carol and a scope
 * permission granting her `read` on A only; it removes them afterwards.
 * carol is a viewer who may read the family resource `artifacts`: the per-object resource
 * must take precedence where it exists. Runnable alone:
 * `npm run build && npm run test:e2e -- --testPathPattern e2e/per-experiment`.
 */
import { createExperimentDirect, experimentByName, mlflowDirect } from './effects.js';
import { startFrontedService, viaFront, type Front } from './front.js';
import type { OwnService } from './own-service.js';
import { AuthzAdmin } from './keycloak-admin.js';
import { tokenFor, uniqueName } from './stack.js';

// A and B are real MLflow experiments (made directly in MLflow), so the requests through NGINX get
// MLflow's own answers; NONE is an id no experiment of the stack uses, with no resource in Keycloak.
const NAME_A = uniqueName('e2e-per-experiment-a');
let A = '';
let B = '';
let NONE = '';
const artifact = (experiment: string) => `/api/2.0/mlflow-artifacts/artifacts/${experiment}/0a1b2c3d/artifacts/model/MLmodel`;

let admin: AuthzAdmin;
let service: OwnService;
let front: Front;
let stopFronted: () => Promise<void>;

beforeAll(async () => {
  A = await createExperimentDirect(NAME_A);
  B = await createExperimentDirect(uniqueName('e2e-per-experiment-b'));
  NONE = String(Number(A) + 900_000);
  admin = await AuthzAdmin.open();
  const scopes = [{ name: 'read' }, { name: 'write' }, { name: 'delete' }];
  const resourceA = await admin.create('resource', { name: `experiment:${A}`, scopes });
  await admin.create('resource', { name: `experiment:${B}`, scopes });
  await admin.grant('carol', resourceA, 'read', `e2e-carol-reads-${A}`);

  // Started after the resources exist: the service remembers absences for uma.resourceIdTtlSeconds.
  ({ service, front, stop: stopFronted } = await startFrontedService('per-experiment', { AUTHZ_UMA_PER_OBJECT: 'true' }));
}, 60_000);

afterAll(async () => {
  await stopFronted?.();
  await admin?.cleanUp();
  for (const id of [A, B]) if (id !== '') await mlflowDirect('POST', '/api/2.0/mlflow/experiments/delete', { experiment_id: id });
});

describe('per-experiment permissions (uma.perObject) with the real Keycloak', () => {
  it("lets carol read experiment A's artifacts and refuses B's, though she may read the artifacts family", async () => {
    const carol = await tokenFor('carol');
    expect((await service.auth('GET', artifact(A), carol)).status).toBe(200);
    expect((await service.auth('GET', artifact(B), carol)).status).toBe(403);
    // The bare listing names its directory in ?path=, and experiments/get in ?experiment_id=.
    expect((await service.auth('GET', `/api/2.0/mlflow-artifacts/artifacts?path=${B}/0a1b2c3d/artifacts`, carol)).status).toBe(403);
    expect((await service.auth('GET', `/ajax-api/2.0/mlflow-artifacts/artifacts?path=${A}/0a1b2c3d/artifacts`, carol)).status).toBe(200);
    expect((await service.auth('GET', `/api/2.0/mlflow/experiments/get?experiment_id=${B}`, carol)).status).toBe(403);
    expect((await service.auth('GET', `/api/2.0/mlflow/experiments/get?experiment_id=${A}`, carol)).status).toBe(200);
    // Only read was granted on A.
    expect((await service.auth('DELETE', artifact(A), carol)).status).toBe(403);
    // An experiment without its own resource falls back to the family: a viewer reads, cannot write.
    expect((await service.auth('GET', artifact(NONE), carol)).status).toBe(200);
    expect((await service.auth('PUT', artifact(NONE), carol)).status).toBe(403);
    // Spelling B's id so that only MLflow's repeated decoding reveals it (%2539... -> %39... -> 9...)
    // used to fall back to the family, which carol may read (issue 10, A3); now refused or decided on B.
    const encodedB = `%25${B.charCodeAt(0).toString(16)}${B.slice(1)}`;
    expect((await service.auth('GET', artifact(encodedB), carol)).status).toBe(403);
    expect((await service.auth('GET', `/api/2.0/mlflow-artifacts/artifacts?path=${encodedB}/0a1b2c3d/artifacts`, carol)).status).toBe(403);
    expect((await service.auth('GET', artifact(`0${B}`), carol)).status).toBe(403); // no experiment's directory: refused, not the family
    // Repeating the parameter to dodge the per-object check is refused.
    expect((await service.auth('GET', `/api/2.0/mlflow/experiments/get?experiment_id=${NONE}&experiment_id=${B}`, carol)).status).toBe(403);

    // One Keycloak decision per experiment for the three routes naming it; the others were cache hits.
    for (const decision of ['allow', 'deny']) {
      expect(await service.metric('authz_decisions_total', { decision, resource: 'experiment:*', scope: 'read', source: 'idp' })).toBe(1);
      // (B's two encoded spellings are decided on experiment:B as well: two more cached denials.)
      expect(await service.metric('authz_decisions_total', { decision, resource: 'experiment:*', scope: 'read', source: 'cache' })).toBe(
        decision === 'allow' ? 2 : 4,
      );
    }
  });

  it('decides the object resource per user (bob, an editor, has no permission on A) and caches the lookups', async () => {
    const bob = await tokenFor('bob');
    const lookups = await service.metric('authz_idp_requests_total', { endpoint: 'resource_set', outcome: 'http_200' });
    expect((await service.auth('GET', artifact(A), bob)).status).toBe(403);
    expect((await service.auth('GET', artifact(NONE), bob)).status).toBe(200);
    expect((await service.auth('PUT', artifact(NONE), bob)).status).toBe(200);
    // A, B and NONE were looked up (found or not) for carol already.
    expect(await service.metric('authz_idp_requests_total', { endpoint: 'resource_set', outcome: 'http_200' })).toBe(lookups);
  });

  it("names the permission the refusal was decided on: the experiment's own, or the family where it has none", async () => {
    const carol = await tokenFor('carol');
    const reason = async (method: string, uri: string) => (await service.auth(method, uri, carol)).headers.get('x-authz-reason');
    // The id is the one the request named; the refusal adds only that experiment B has its own resource.
    expect(await reason('GET', artifact(B))).toBe(`Permission denied: missing permission experiment:${B}#read for user carol`);
    expect(await reason('PUT', artifact(NONE))).toBe('Permission denied: missing permission artifacts#write for user carol');
  });

  it('through the real NGINX: carol gets experiment A from MLflow and is refused B; her refused tag write leaves A unchanged', async () => {
    const carol = await tokenFor('carol');
    const a = await viaFront(front, 'GET', `/api/2.0/mlflow/experiments/get?experiment_id=${A}`, { token: carol });
    expect(a.status).toBe(200);
    expect(a.json?.experiment).toMatchObject({ experiment_id: A, name: NAME_A });
    const b = await viaFront(front, 'GET', `/api/2.0/mlflow/experiments/get?experiment_id=${B}`, { token: carol });
    expect([b.status, b.json?.experiment]).toEqual([403, undefined]);
    const tag = await viaFront(front, 'POST', '/api/2.0/mlflow/experiments/set-experiment-tag', {
      token: carol,
      body: { experiment_id: A, key: 'e2e-written-by', value: 'carol' },
    });
    expect(tag.status).toBe(403);
    expect(((await experimentByName(NAME_A))!.tags ?? []).filter((t) => t.key === 'e2e-written-by')).toEqual([]);
  });
});
