/**
 * UMA 2.0 against the stack's real Keycloak, with a nginx-authz of this checkout run on its
 * own port (own-service.ts): RPTs decided locally, ticket mode, the UMA challenge.
 * Runnable alone: `npm run build && npm run test:e2e -- --testPathPattern e2e/uma`
 * (`STACK_DIR=...` to use a stack started in another checkout).
 */
import { experimentByName, mlflowDirect } from './effects.js';
import { startFrontedService, viaFront, type Front } from './front.js';
import { requestRpt, startOwnService, type OwnService } from './own-service.js';
import { stack, tokenFor, uniqueName, type DemoUser } from './stack.js';

const EXPERIMENTS_READ = '/api/2.0/mlflow/experiments/search?max_results=1';
const RUNS_READ = '/api/2.0/mlflow/runs/get?run_id=x';
const RUNS_DELETE = '/api/2.0/mlflow/runs/delete';

describe('RPTs decided locally (decision mode)', () => {
  let service: OwnService;
  beforeAll(async () => {
    service = await startOwnService();
  });
  afterAll(() => service.stop());

  it('allows an RPT holding runs#read with no UMA call to Keycloak; refuses an RPT without runs#delete', async () => {
    const carol = await tokenFor('carol');
    const grant = await requestRpt(carol, { permission: 'runs#read' });
    expect(grant.status).toBe(200);
    const decisionsBefore = await service.metric('authz_idp_requests_total', { endpoint: 'uma_decision' });
    for (const uri of [RUNS_READ, '/ajax-api/2.0/mlflow/runs/get?run_id=y', RUNS_READ]) {
      const res = await service.auth('GET', uri, grant.rpt);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-auth-request-user')).toBe('carol');
    }
    expect(await service.metric('authz_idp_requests_total', { endpoint: 'uma_decision' })).toBe(decisionsBefore);
    expect(await service.metric('authz_decisions_total', { decision: 'allow', resource: 'runs', scope: 'read', source: 'local' })).toBe(3);

    // Not in the RPT: decided by Keycloak's policies (a viewer may not delete).
    expect((await service.auth('POST', RUNS_DELETE, grant.rpt)).status).toBe(403);
    expect(await service.metric('authz_idp_requests_total', { endpoint: 'uma_decision' })).toBe(decisionsBefore + 1);
  });

  it('refuses an RPT of a user without the permission (dave gets none to begin with)', async () => {
    const dave = await tokenFor('dave');
    const grant = await requestRpt(dave, { permission: 'runs#read' });
    expect(grant.status).toBe(403);
    expect(grant.error).toBe('access_denied');
    // bob's RPT for runs#read does not carry runs#delete, and his role denies it.
    const bob = await requestRpt(await tokenFor('bob'), { permission: 'runs#read' });
    expect((await service.auth('POST', RUNS_DELETE, bob.rpt)).status).toBe(403);
    expect((await service.auth('GET', EXPERIMENTS_READ, bob.rpt)).status).toBe(200);
  });
});

/** One route per resource#scope (from the hand-checked route expectations). */
const MATRIX: [method: string, uri: string, permission: string][] = [
  ['GET', '/api/2.0/mlflow/experiments/get?experiment_id=0', 'experiments#read'],
  ['POST', '/api/2.0/mlflow/experiments/create', 'experiments#write'],
  ['POST', '/api/2.0/mlflow/experiments/delete', 'experiments#delete'],
  ['POST', '/api/2.0/mlflow/runs/search', 'runs#read'],
  ['POST', '/api/2.0/mlflow/runs/log-batch', 'runs#write'],
  ['POST', '/api/2.0/mlflow/runs/delete-tag', 'runs#delete'],
  ['POST', '/api/2.0/mlflow/registered-models/alias', 'registered-models#write'],
  ['GET', '/api/2.0/mlflow-artifacts/artifacts/1/0a1b2c3d/artifacts/model/MLmodel', 'artifacts#read'],
  ['DELETE', '/ajax-api/2.0/mlflow-artifacts/artifacts/1/0a1b2c3d/artifacts/x.txt', 'artifacts#delete'],
  ['GET', '/api/3.0/mlflow/gateway/secrets/get', 'admin#read'],
  ['POST', '/api/3.0/mlflow/gateway/secrets/create', 'admin#write'],
];
const USERS: DemoUser[] = ['alice', 'bob', 'carol', 'dave'];

/** keycloak/README.md: positive role policies only; no group, no access. */
function expected(user: DemoUser, permission: string): number {
  const [resource, scope] = permission.split('#');
  if (user === 'alice') return 200;
  if (user === 'dave' || resource === 'admin') return 403;
  if (user === 'bob') return scope === 'delete' ? 403 : 200;
  return scope === 'read' ? 200 : 403;
}

describe('decision.mode: ticket gives the same answers as decision over the role matrix', () => {
  let decision: OwnService;
  let ticket: OwnService;
  beforeAll(async () => {
    [decision, ticket] = await Promise.all([startOwnService(), startOwnService({ AUTHZ_DECISION_MODE: 'ticket' })]);
  });
  afterAll(async () => {
    await Promise.all([decision.stop(), ticket.stop()]);
  });

  it('answers every user x resource#scope alike in both modes, as the realm says', async () => {
    const answers: string[] = [];
    const wrong: string[] = [];
    for (const user of USERS) {
      const token = await tokenFor(user);
      for (const [method, uri, permission] of MATRIX) {
        const [a, b] = await Promise.all([decision.auth(method, uri, token), ticket.auth(method, uri, token)]);
        answers.push(`${user} ${permission} ${a.status}`);
        if (a.status !== expected(user, permission) || b.status !== a.status)
          wrong.push(`${user} ${permission}: decision ${a.status}, ticket ${b.status}, expected ${expected(user, permission)}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(answers).toHaveLength(USERS.length * MATRIX.length);
    // Ticket mode went through the protection API and the ticket grant; decision mode did not.
    expect(await ticket.metric('authz_idp_requests_total', { endpoint: 'permission', outcome: 'http_201' })).toBe(
      USERS.length * MATRIX.length,
    );
    expect(await ticket.metric('authz_idp_requests_total', { endpoint: 'pat', outcome: 'http_200' })).toBe(1);
    expect(await ticket.metric('authz_idp_requests_total', { endpoint: 'uma_decision' })).toBe(0);
    expect(await decision.metric('authz_idp_requests_total', { endpoint: 'uma_ticket' })).toBe(0);
  }, 60_000);
});

describe('the UMA challenge (uma.challenge: true), the full dance with the real Keycloak', () => {
  let service: OwnService;
  beforeAll(async () => {
    service = await startOwnService({ AUTHZ_UMA_CHALLENGE: 'true' });
  });
  afterAll(() => service.stop());

  const challenge = async (method: string, uri: string, token: string): Promise<string> => {
    const res = await service.auth(method, uri, token);
    expect(res.status).toBe(401);
    const header = res.headers.get('www-authenticate') ?? '';
    const match = /^UMA realm="mlflow", as_uri="([^"]+)", ticket="([^"]+)"$/.exec(header);
    expect(match).not.toBeNull();
    expect(match![1]).toBe(stackIssuer());
    return match![2]!;
  };

  it('request → 401 + ticket → ticket traded at Keycloak for an RPT → retry allowed (locally)', async () => {
    const carol = await tokenFor('carol');
    const ticket = await challenge('POST', '/api/2.0/mlflow/runs/search', carol);
    const grant = await requestRpt(carol, { ticket });
    expect(grant.status).toBe(200);
    const decisions = await service.metric('authz_idp_requests_total', { endpoint: 'uma_decision' });
    const retry = await service.auth('POST', '/api/2.0/mlflow/runs/search', grant.rpt);
    expect(retry.status).toBe(200);
    expect(retry.headers.get('x-auth-request-user')).toBe('carol');
    expect(await service.metric('authz_idp_requests_total', { endpoint: 'uma_decision' })).toBe(decisions);
  });

  it('a user whose policies deny gets no RPT and stays refused (dave; carol for delete)', async () => {
    for (const [user, method, uri] of [
      ['dave', 'POST', '/api/2.0/mlflow/runs/search'],
      ['carol', 'POST', '/api/2.0/mlflow/runs/delete-tag'],
    ] as const) {
      const token = await tokenFor(user);
      const ticket = await challenge(method, uri, token);
      const grant = await requestRpt(token, { ticket });
      expect([grant.status, grant.error]).toEqual([403, 'access_denied']);
      expect((await service.auth(method, uri, token)).status).toBe(401); // still no RPT: challenged again
    }
    // carol's RPT for runs#read does not carry runs#delete: decided, and refused with 403.
    const carol = await tokenFor('carol');
    const read = await requestRpt(carol, { ticket: await challenge('POST', '/api/2.0/mlflow/runs/search', carol) });
    const res = await service.auth('POST', '/api/2.0/mlflow/runs/delete-tag', read.rpt);
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toBeNull();
  });

  it('keeps the plain Bearer challenge for a request without a token', async () => {
    const res = await service.auth('POST', '/api/2.0/mlflow/runs/search');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="mlflow"');
  });
});

function stackIssuer(): string {
  return stack.KC_ISSUER_URL!;
}

describe("ticket mode and RPTs through the real NGINX, judged by MLflow's state", () => {
  let front: Front;
  let stop: () => Promise<void>;
  beforeAll(async () => {
    ({ front, stop } = await startFrontedService('uma-ticket', { AUTHZ_DECISION_MODE: 'ticket' }));
  }, 30_000);
  afterAll(() => stop?.());

  it("an editor's create makes the experiment, a viewer's makes none, an editor's delete leaves it active; an RPT reads", async () => {
    const [bob, carol] = await Promise.all([tokenFor('bob'), tokenFor('carol')]);
    const name = uniqueName('e2e-uma-ticket');
    const created = await viaFront(front, 'POST', '/api/2.0/mlflow/experiments/create', { token: bob, body: { name } });
    expect(created.status).toBe(200);
    const id = created.json?.experiment_id as string;
    try {
      expect(await experimentByName(name)).toMatchObject({ experiment_id: id, lifecycle_stage: 'active' });
      const refused = uniqueName('e2e-uma-ticket-carol');
      expect((await viaFront(front, 'POST', '/api/2.0/mlflow/experiments/create', { token: carol, body: { name: refused } })).status).toBe(
        403,
      );
      expect(await experimentByName(refused)).toBeUndefined();
      expect(
        (await viaFront(front, 'POST', '/api/2.0/mlflow/experiments/delete', { token: bob, body: { experiment_id: id } })).status,
      ).toBe(403);
      expect(await experimentByName(name)).toMatchObject({ lifecycle_stage: 'active' });
      // An RPT holding experiments#read, decided locally, gets MLflow's answer.
      const grant = await requestRpt(carol, { permission: 'experiments#read' });
      expect(grant.status).toBe(200);
      const read = await viaFront(front, 'GET', `/api/2.0/mlflow/experiments/get?experiment_id=${id}`, { token: grant.rpt! });
      expect(read.status).toBe(200);
      expect(read.json?.experiment).toMatchObject({ experiment_id: id, name });
    } finally {
      await mlflowDirect('POST', '/api/2.0/mlflow/experiments/delete', { experiment_id: id });
    }
  }, 30_000);
});
