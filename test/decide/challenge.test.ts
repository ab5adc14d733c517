import request from 'supertest';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { type TestService, testService } from '../helpers/test-service.js';

let idp: FakeIdp;
let service: TestService;

beforeAll(async () => {
  ({ idp, service } = await testService({ env: { ...SMALL_ROUTES, AUTHZ_UMA_CHALLENGE: 'true', AUTHZ_DECISION_TIMEOUT_MS: '1500' } }));
});
beforeEach(() => {
  idp.umaCalls = [];
  idp.protectionCalls = [];
  idp.uma = () => ({ status: 200, body: { result: true } });
  idp.permission = (body) => ({ status: 201, body: { ticket: `ticket.${Buffer.from(JSON.stringify(body)).toString('base64url')}` } });
});

const auth = (method: string, uri: string, token?: string) => {
  const req = request(service.handler).get('/auth').set('X-Original-Method', method).set('X-Original-URI', uri);
  return token === undefined ? req : req.set('Authorization', `Bearer ${token}`);
};
const ticketOf = (header: string) =>
  JSON.parse(Buffer.from(/ticket="ticket\.([^"]+)"/.exec(header)![1]!, 'base64url').toString()) as unknown;

describe('uma.challenge: true', () => {
  it('answers a non-RPT token with 401 and a UMA ticket for the route, without a decision; twice from the cached identity too', async () => {
    const token = await idp.token({ sub: 'plain' });
    for (let i = 0; i < 2; i++) {
      const res = await auth('POST', '/api/2.0/mlflow/runs/delete', token);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(
        new RegExp(`^UMA realm="mlflow", as_uri="${idp.url}", ticket="ticket\\.[A-Za-z0-9_-]+"$`),
      );
      expect(ticketOf(res.headers['www-authenticate']!)).toEqual([{ resource_id: 'id-runs', resource_scopes: ['delete'] }]);
    }
    expect(idp.umaCalls).toHaveLength(0);
  });

  it('keeps the plain Bearer challenge without a token, and for a bad token', async () => {
    expect((await auth('POST', '/api/2.0/mlflow/runs/delete')).headers['www-authenticate']).toBe('Bearer realm="mlflow"');
    expect((await auth('POST', '/api/2.0/mlflow/runs/delete', 'garbage')).headers['www-authenticate']).toBe(
      'Bearer realm="mlflow", error="invalid_token"',
    );
    expect(idp.protectionCalls).toHaveLength(0);
  });

  it('allows an RPT holding the permission locally; decides for one lacking it (403 when denied, no new ticket)', async () => {
    const rpt = await idp.token({
      sub: 'rpt',
      aud: 'nginx-authz',
      authorization: { permissions: [{ rsid: 'id-runs', rsname: 'runs', scopes: ['delete'] }] },
    });
    expect((await auth('POST', '/api/2.0/mlflow/runs/delete', rpt)).status).toBe(200);
    const other = await idp.token({
      sub: 'rpt-2',
      aud: 'nginx-authz',
      authorization: { permissions: [{ rsid: 'id-runs', rsname: 'runs', scopes: ['read'] }] },
    });
    idp.uma = () => ({ status: 403, body: { error: 'access_denied' } });
    const res = await auth('POST', '/api/2.0/mlflow/runs/delete', other);
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(idp.umaCalls).toHaveLength(1);
    expect(idp.protectionCalls.filter((c) => c.method === 'POST')).toHaveLength(0);
  });

  it('fails closed with 503 when no ticket can be made, and never logs the ticket', async () => {
    idp.permission = () => ({ status: 500, body: {} });
    expect((await auth('GET', '/api/2.0/mlflow/experiments/get', await idp.token({ sub: 'no-ticket' }))).status).toBe(503);
    idp.permission = () => ({ status: 201, body: { ticket: 'ticket.secret-ticket-value' } });
    service.logs.lines = [];
    expect((await auth('GET', '/api/2.0/mlflow/experiments/get', await idp.token({ sub: 'logged' }))).status).toBe(401);
    expect(service.logs.records.some((r) => r.reason === 'uma_ticket')).toBe(true);
    expect(service.logs.lines.join('\n')).not.toContain('secret-ticket-value');
  });
});
