import request from 'supertest';
import { Forbidden, IdpUnavailable, Unauthenticated } from '../../src/errors.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { type TestService, testService } from '../helpers/test-service.js';

let idp: FakeIdp;
let service: TestService;

beforeAll(async () => {
  ({ idp, service } = await testService({ env: { ...SMALL_ROUTES, AUTHZ_DECISION_MODE: 'ticket', AUTHZ_DECISION_TIMEOUT_MS: '1500' } }));
});
beforeEach(() => {
  idp.umaCalls = [];
  idp.protectionCalls = [];
});

const auth = (method: string, uri: string, token: string) =>
  request(service.handler).get('/auth').set('X-Original-Method', method).set('X-Original-URI', uri).set('Authorization', `Bearer ${token}`);
const rptFor = (permissions: unknown[]) => idp.token({ aud: 'nginx-authz', authorization: { permissions } });

describe('decision.mode: ticket', () => {
  it('creates a ticket with the PAT, trades it with the caller token for an RPT, and caches the allow', async () => {
    const rpt = await rptFor([{ rsid: 'id-experiments', rsname: 'experiments', scopes: ['read'] }]);
    idp.uma = () => ({ status: 200, body: { access_token: rpt, token_type: 'Bearer', upgraded: false } });
    const token = await idp.token({ sub: 'ticket-user' });
    expect((await auth('GET', '/api/2.0/mlflow/experiments/get', token)).status).toBe(200);
    expect((await auth('GET', '/api/2.0/mlflow/experiments/get', token)).status).toBe(200);
    expect(idp.umaCalls).toHaveLength(1);
    const form = Object.fromEntries(idp.umaCalls[0]!.form);
    expect(form).toEqual({
      grant_type: 'urn:ietf:params:oauth:grant-type:uma-ticket',
      ticket: expect.stringMatching(/^ticket\./),
      submit_request: 'false',
    });
    expect(idp.umaCalls[0]!.authorization).toBe(`Bearer ${token}`);
    const ticketRequest = JSON.parse(Buffer.from(form.ticket!.slice('ticket.'.length), 'base64url').toString());
    expect(ticketRequest).toEqual([{ resource_id: 'id-experiments', resource_scopes: ['read'] }]);
  });

  it.each([
    [403, { error: 'access_denied', error_description: 'not_authorized' }, Forbidden, 403],
    [400, { error: 'invalid_grant', error_description: 'Invalid bearer token' }, Unauthenticated, 401],
    [403, { error: 'invalid_ticket' }, IdpUnavailable, 503],
    [500, {}, IdpUnavailable, 503],
  ])('maps Keycloak %i %j to %p', async (status, body, _type, httpStatus) => {
    idp.uma = () => ({ status, body });
    expect(
      (await auth('POST', '/api/2.0/mlflow/runs/delete', await idp.token({ sub: `u-${status}-${JSON.stringify(body)}` }))).status,
    ).toBe(httpStatus);
  });

  it('refuses when the RPT does not hold the permission, and fails closed when it does not verify', async () => {
    const wrong = await rptFor([{ rsid: 'id-runs', rsname: 'runs', scopes: ['read'] }]);
    idp.uma = () => ({ status: 200, body: { access_token: wrong } });
    expect((await auth('POST', '/api/2.0/mlflow/runs/delete', await idp.token({ sub: 'lacks' }))).status).toBe(403);
    const foreign = await idp.token({ aud: 'someone-else', authorization: { permissions: [{ rsname: 'runs', scopes: ['delete'] }] } });
    idp.uma = () => ({ status: 200, body: { access_token: foreign } });
    expect((await auth('POST', '/api/2.0/mlflow/runs/delete', await idp.token({ sub: 'foreign' }))).status).toBe(503);
  });

  it('counts pat, resource_set, permission and uma_ticket calls in the IdP metrics', async () => {
    const text = (await request(service.handler).get('/metrics')).text;
    for (const endpoint of ['pat', 'resource_set', 'permission', 'uma_ticket', 'uma_discovery']) {
      expect(text).toMatch(new RegExp(`authz_idp_requests_total\\{endpoint="${endpoint}",outcome="http_20[01]"\\} [1-9]`));
    }
  });
});
