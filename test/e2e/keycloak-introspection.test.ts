/**
 * Introspection mode against Keycloak's real RFC 7662 endpoint (token/introspect, authenticated as the
 * nginx-authz client): Keycloak's JWTs are introspected rather than verified locally, the claims policy
 * decides on the answer, and an access token revoked at Keycloak (RFC 7009, revoke endpoint) is refused
 * once the positive cache bound (cacheMaxSeconds, 3 s here) has passed. Own nginx-authz, /auth directly,
 * and once through a real NGINX of its own to MLflow, judged by MLflow's state.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { experimentByName } from './effects.js';
import { startFrontedService, viaFront, type Front } from './front.js';
import type { OwnService } from './own-service.js';
import { freshToken, stack, uniqueName } from './stack.js';

let service: OwnService;
let front: Front;
let stopFronted: () => Promise<void>;

beforeAll(async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'authz-kc-introspect-')), 'c.yaml');
  writeFileSync(
    file,
    `issuers:
  - id: keycloak
    url: ${stack.KC_ISSUER_URL}
    mode: introspection
    client: { id: ${stack.AUTHZ_CLIENT_ID ?? 'nginx-authz'}, secret: ${stack.AUTHZ_CLIENT_SECRET} }
    introspection: { cacheMaxSeconds: 3, negativeCacheSeconds: 10 }
    policy:
      rules:
        "*#read":  { anyOf: [{ claim: groups, values: [mlflow-viewers, mlflow-editors, mlflow-admins] }] }
        "*#write": { anyOf: [{ claim: realm_access.roles, values: [mlflow-editor, mlflow-admin] }] }
`,
  );
  ({
    service,
    front,
    stop: stopFronted,
  } = await startFrontedService('keycloak-introspection', { AUTHZ_CONFIG: file }, { keycloak: false }));
}, 30_000);
afterAll(() => stopFronted?.());

const SEARCH = '/api/2.0/mlflow/experiments/search';
const CREATE = '/api/2.0/mlflow/experiments/create';

it('introspects Keycloak tokens, decides by the policy, and refuses a revoked token within cacheMaxSeconds', async () => {
  const carol = await freshToken('carol');
  const bob = await freshToken('bob');
  for (let i = 0; i < 4; i++) expect((await service.auth('GET', SEARCH, carol)).status).toBe(200);
  expect((await service.auth('POST', CREATE, carol)).status).toBe(403);
  expect((await service.auth('POST', CREATE, bob)).status).toBe(200);
  expect(await service.metric('authz_introspection_requests_total', { issuer: 'keycloak', result: 'active' })).toBe(2); // one per token
  expect(await service.metric('authz_idp_requests_total', { endpoint: 'uma_decision' })).toBe(0);

  const revoked = await fetch(`${stack.KC_ISSUER_URL}/protocol/openid-connect/revoke`, {
    method: 'POST',
    body: new URLSearchParams({ client_id: stack.MLFLOW_CLI_CLIENT_ID ?? 'mlflow-cli', token: carol, token_type_hint: 'access_token' }),
  });
  expect(revoked.status).toBe(200);
  const revokedAt = Date.now();
  let refusedAfterMs: number | undefined;
  while (Date.now() - revokedAt < 8_000) {
    if ((await service.auth('GET', SEARCH, carol)).status === 401) {
      refusedAfterMs = Date.now() - revokedAt;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  expect(refusedAfterMs).toBeDefined();
  expect(refusedAfterMs!).toBeLessThanOrEqual(3_000 + 500);
  process.stdout.write(`keycloak introspection: revoked token refused ${refusedAfterMs} ms after revocation (bound 3 s)\n`);
  for (let i = 0; i < 3; i++) expect((await service.auth('GET', SEARCH, carol)).status).toBe(401);
  expect(await service.metric('authz_introspection_requests_total', { issuer: 'keycloak', result: 'inactive' })).toBe(1);
}, 60_000);

it("through the real NGINX: an editor's create makes the experiment in MLflow, a viewer's makes none", async () => {
  const bobName = uniqueName('e2e-introspection-bob');
  const bob = await viaFront(front, 'POST', CREATE, { token: await freshToken('bob'), body: { name: bobName } });
  expect(bob.status).toBe(200);
  expect(await experimentByName(bobName)).toMatchObject({ experiment_id: bob.json?.experiment_id, lifecycle_stage: 'active' });
  const carolName = uniqueName('e2e-introspection-carol');
  expect((await viaFront(front, 'POST', CREATE, { token: await freshToken('carol'), body: { name: carolName } })).status).toBe(403);
  expect(await experimentByName(carolName)).toBeUndefined();
}, 30_000);
