/**
 * src/auth/record.ts, the last step of every /auth answer: the decision metric always; a log line
 * with the audit log on, and without it only for what an operator must see (a deployment error,
 * a probing subrequest, the IdP or store down). Never the token.
 */
import { loadConfig } from '../../src/config/load.js';
import {
  BadOriginalRequest,
  ConflictingOriginalRequest,
  Forbidden,
  IdpUnavailable,
  UnknownRouteTable,
  type AuthzError,
} from '../../src/errors.js';
import { decisionRecorder } from '../../src/auth/record.js';
import { newDecisionState, type DecisionState } from '../../src/auth/original-request.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/ops/metrics.js';
import type { RouteMatch } from '../../src/routes/match.js';
import type { Identity } from '../../src/tokens/verify.js';
import { LogCapture } from '../helpers/service.js';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.signature-do-not-log';
const HASH = 'hhhhhhhhhhhhrest-of-the-fingerprint';

function recorder(audit: boolean) {
  const config = loadConfig({
    AUTHZ_ISSUER_URL: 'http://127.0.0.1:1/realms/x',
    AUTHZ_CLIENT_ID: 'nginx-authz',
    AUTHZ_AUDIT_LOG: String(audit),
  });
  const logs = new LogCapture();
  const metrics = new Metrics({ defaultMetrics: false });
  return { finish: decisionRecorder(config, createLogger('info', logs), metrics), logs, metrics };
}

/** A decision that got as far as the identity and the route. */
function decided(): DecisionState {
  const state = newDecisionState(performance.now() - 2, undefined);
  state.method = 'GET';
  state.uri = { path: '/api/2.0/mlflow/experiments/get' } as DecisionState['uri'];
  state.route = { resource: 'experiment:7', family: 'experiment:*', scope: 'read' } as RouteMatch;
  state.identity = { subject: 'u-1', username: 'alice', tokenHash: HASH } as Identity;
  state.token = TOKEN;
  state.source = 'cache';
  return state;
}

async function decisions(metrics: Metrics): Promise<string[]> {
  const { values } = await metrics.decisions.get();
  return values.map(
    ({ labels, value }) => `${labels.decision}/${labels.reason}/${labels.resource}/${labels.scope}/${labels.source}=${value}`,
  );
}

describe('decisionRecorder', () => {
  it('counts every decision by outcome, reason, family, scope and source; without the audit log an allow writes no line', async () => {
    const { finish, logs, metrics } = recorder(false);
    finish(decided(), 'allow', 'allowed');
    expect(await decisions(metrics)).toEqual(['allow/allowed/experiment:*/read/cache=1']);
    expect(logs.lines).toEqual([]);
  });

  it('a decision before any route was matched is counted under "none"', async () => {
    const { finish, metrics } = recorder(false);
    const state = newDecisionState(performance.now(), undefined);
    finish(state, 'deny', 'no_credentials');
    expect(await decisions(metrics)).toEqual(['deny/no_credentials/none/none/none=1']);
  });

  it('with the audit log: one info line per decision, with the user and a short token fingerprint, never the token', () => {
    const { finish, logs } = recorder(true);
    finish(decided(), 'allow', 'allowed');
    expect(logs.records).toHaveLength(1);
    expect(logs.records[0]).toMatchObject({
      level: 30,
      msg: 'decision',
      audit: true,
      user: 'alice',
      token_fp: 'hhhhhhhhhhhh',
      method: 'GET',
      path: '/api/2.0/mlflow/experiments/get',
      resource: 'experiment:7',
      scope: 'read',
      decision: 'allow',
      reason: 'allowed',
      source: 'cache',
      cache_hit: true,
    });
    expect(logs.lines.join('\n')).not.toContain(TOKEN);
    expect(logs.lines.join('\n')).not.toContain(HASH);
  });

  it('names the subject when the token carries no user name', () => {
    const { finish, logs } = recorder(true);
    const state = decided();
    state.identity = { subject: 'u-9', username: undefined, tokenHash: HASH } as Identity;
    finish(state, 'deny', 'access_denied', new Forbidden('access_denied'));
    expect(logs.records[0]).toMatchObject({ user: 'u-9', decision: 'deny' });
  });

  it.each<[string, AuthzError]>([
    ['a 400 (the subrequest is unreadable)', new BadOriginalRequest('missing_original_request', { detail: 'no X-Original-URI' })],
    ['an unknown route table', new UnknownRouteTable({ detail: 'no table "x"' })],
    ['a subrequest describing two requests', new ConflictingOriginalRequest({ detail: 'URI and URL differ' })],
    ['the IdP down (503)', new IdpUnavailable({ detail: 'uma_decision: no answer in 3000 ms' })],
  ])('without the audit log still writes a warning for %s, with its detail', (_what, error) => {
    const { finish, logs } = recorder(false);
    finish(decided(), error.status === 503 ? 'error' : 'deny', error.code, error);
    expect(logs.records).toHaveLength(1);
    expect(logs.records[0]).toMatchObject({ level: 40, msg: 'decision failed', reason: error.code, detail: error.detail });
    expect(logs.lines.join('\n')).not.toContain(TOKEN);
  });

  it('without the audit log a refusal the caller earned (403 access_denied) writes no line', () => {
    const { finish, logs } = recorder(false);
    finish(decided(), 'deny', 'access_denied', new Forbidden('access_denied', { detail: 'denied by the IdP' }));
    expect(logs.lines).toEqual([]);
  });

  it('with the audit log an operator’s problem is still a warning, not an audit line', () => {
    const { finish, logs } = recorder(true);
    finish(decided(), 'error', 'idp_unavailable', new IdpUnavailable());
    expect(logs.records[0]).toMatchObject({ level: 40, msg: 'decision failed' });
    expect(logs.records[0]).not.toHaveProperty('audit');
  });
});
