/**
 * Who may do what in the stack's realm (keycloak/mlflow-realm.json), and the requests the load
 * scripts send. The expectation is written out here, independently of the service, from the
 * realm's groups: alice (mlflow-admins) everything; bob (mlflow-editors) read and write on every
 * resource but `admin`; carol (mlflow-viewers) read on every resource but `admin`; dave (no
 * group) nothing. scripts/stack/verify-keycloak.sh checks the same rule against Keycloak itself.
 */

export const USERS = ['alice', 'bob', 'carol', 'dave'];

/** Would Keycloak grant `user` the scope on the resource? */
export function keycloakAllows(user, resource, scope) {
  switch (user) {
    case 'alice':
      return true;
    case 'bob':
      return resource !== 'admin' && scope !== 'delete';
    case 'carol':
      return resource !== 'admin' && scope === 'read';
    default:
      return false;
  }
}

const JSON_HEADERS = { 'content-type': 'application/json' };

/**
 * Routes of MLflow's table (src/routes/presets/mlflow.yaml) sent to the load-test front, each
 * with the resource#scope it is decided on. "early" ones are decided before Keycloak goes away
 * (so they are cached); "late" ones are first asked while it is away (distinct resource#scope
 * pairs, so no earlier decision can answer them).
 */
export const LOAD_ROUTES = [
  {
    id: 'experiments-search',
    set: 'early',
    method: 'GET',
    path: '/api/2.0/mlflow/experiments/search?max_results=10',
    resource: 'experiments',
    scope: 'read',
  },
  {
    id: 'log-metric',
    set: 'early',
    method: 'POST',
    path: '/api/2.0/mlflow/runs/log-metric',
    body: '{"run_id":"r1","key":"m","value":1,"timestamp":1}',
    resource: 'runs',
    scope: 'write',
  },
  {
    id: 'experiments-delete',
    set: 'early',
    method: 'POST',
    path: '/api/2.0/mlflow/experiments/delete',
    body: '{"experiment_id":"1"}',
    resource: 'experiments',
    scope: 'delete',
  },
  {
    id: 'models-search',
    set: 'early',
    method: 'GET',
    path: '/ajax-api/2.0/mlflow/registered-models/search?max_results=10',
    resource: 'registered-models',
    scope: 'read',
  },
  { id: 'webhooks-list', set: 'early', method: 'GET', path: '/api/2.0/mlflow/webhooks', resource: 'admin', scope: 'read' },
  { id: 'runs-get', set: 'late', method: 'GET', path: '/api/2.0/mlflow/runs/get?run_id=r1', resource: 'runs', scope: 'read' },
  {
    id: 'experiments-create',
    set: 'late',
    method: 'POST',
    path: '/api/2.0/mlflow/experiments/create',
    body: '{"name":"x"}',
    resource: 'experiments',
    scope: 'write',
  },
  {
    id: 'models-create',
    set: 'late',
    method: 'POST',
    path: '/api/2.0/mlflow/registered-models/create',
    body: '{"name":"x"}',
    resource: 'registered-models',
    scope: 'write',
  },
  {
    id: 'models-delete',
    set: 'late',
    method: 'DELETE',
    path: '/api/2.0/mlflow/registered-models/delete',
    body: '{"name":"x"}',
    resource: 'registered-models',
    scope: 'delete',
  },
  { id: 'webhooks-create', set: 'late', method: 'POST', path: '/api/2.0/mlflow/webhooks', body: '{}', resource: 'admin', scope: 'write' },
].map((r) => ({ ...r, front: 'load', headers: r.body ? JSON_HEADERS : {} }));

/**
 * Requests to the real MLflow behind the MLflow front. Writes carry a real run id (made by
 * {@link prepareMlflow}), so a write that got past the decision would succeed (200) in MLflow:
 * dave's and carol's log-metric must never get it.
 */
export function mlflowRoutes(runId) {
  let step = 0; // a new step per write, so MLflow stores every metric it is given (no duplicate rows)
  const metric = () => JSON.stringify({ run_id: runId, key: 'load', value: 1, timestamp: Date.now(), step: step++ });
  return [
    {
      id: 'mlflow-experiments-search',
      method: 'GET',
      path: '/api/2.0/mlflow/experiments/search?max_results=5',
      resource: 'experiments',
      scope: 'read',
    },
    { id: 'mlflow-log-metric', method: 'POST', path: '/api/2.0/mlflow/runs/log-metric', body: metric, resource: 'runs', scope: 'write' },
    { id: 'mlflow-runs-get', method: 'GET', path: `/api/2.0/mlflow/runs/get?run_id=${runId}`, resource: 'runs', scope: 'read' },
  ].map((r) => ({ ...r, front: 'mlflow', set: 'mlflow', headers: r.body ? JSON_HEADERS : {} }));
}

/**
 * Creates (as alice, through NGINX) one experiment and one run the MLflow requests write to.
 * @returns {Promise<string>} the run id
 */
export async function prepareMlflow(info, aliceToken) {
  const base = `http://127.0.0.1:${info.mlflowPort}/api/2.0/mlflow`;
  // A few tries: a cold Keycloak may take longer than nginx-authz's IdP timeout for its first decisions (500 here).
  const call = async (path, body) => {
    let res;
    for (let attempt = 0; attempt < 5; attempt++) {
      res = await fetch(`${base}/${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${aliceToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (res.status !== 500) break;
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, 1000));
    }
    const text = await res.text();
    return { status: res.status, json: text.startsWith('{') ? JSON.parse(text) : {} };
  };
  const name = `chaos-soak-${process.pid}-${Date.now()}`;
  const exp = await call('experiments/create', { name });
  if (exp.status !== 200) throw new Error(`MLflow experiments/create as alice: ${exp.status}`);
  const run = await call('runs/create', { experiment_id: exp.json.experiment_id, start_time: Date.now() });
  if (run.status !== 200) throw new Error(`MLflow runs/create as alice: ${run.status}`);
  return run.json.run.info.run_id;
}
