/**
 * UMA 2.0 against the stack's real Keycloak, with a nginx-authz of this checkout run on its
 * own port (own-service.ts): RPTs decided locally, ticket mode, the UMA challenge.
 * Runnable alone: `npm run build && npm run test:e2e -- --testPathPatterns uma`
 * (`STACK_DIR=...` to use a stack started in another checkout).
 */
import { requestRpt, startOwnService, type OwnService } from './own-service.js';
import { tokenFor } from './stack.js';

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
