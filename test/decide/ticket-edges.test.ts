import request from 'supertest';
import { IdpUnavailable } from '../../src/errors.js';
import type { ProtectionApi } from '../../src/idp/protection.js';
import type { IdentityProvider } from '../../src/idp/provider.js';
import { createLogger } from '../../src/log.js';
import { UmaChallenger } from '../../src/decide/challenge.js';
import { TicketDecisionClient } from '../../src/decide/ticket.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { type TestService, testService } from '../helpers/test-service.js';

// Edges of the ticket decision mode and the UMA challenge found by mutation testing (issue 16).

let idp: FakeIdp;
let service: TestService;

beforeAll(async () => {
  ({ idp, service } = await testService({ env: { ...SMALL_ROUTES, AUTHZ_DECISION_MODE: 'ticket' } }));
});
beforeEach(() => {
  idp.umaCalls = [];
});

const auth = (method: string, uri: string, token: string) =>
  request(service.handler).get('/auth').set('X-Original-Method', method).set('X-Original-URI', uri).set('Authorization', `Bearer ${token}`);

/** A protection API double that records whether a ticket was asked for. */
const recordingProtection = () => {
  const asked: string[] = [];
  const protection = {
    ticket: async (resource: string, scope: string) => {
      asked.push(`${resource}#${scope}`);
      return 'ticket.x';
    },
  } as unknown as ProtectionApi;
  return { asked, protection };
};
const undiscovered = { endpoints: undefined } as unknown as IdentityProvider;
const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (e: unknown) => e,
  );

describe('decision.mode: ticket, edges', () => {
  it('fails closed with 503 when Keycloak answers 200 without an RPT', async () => {
    idp.uma = () => ({ status: 200, body: { token_type: 'Bearer' } });
    service.logs.lines = [];
    expect((await auth('POST', '/api/2.0/mlflow/runs/delete', await idp.token({ sub: 'no-rpt' }))).status).toBe(503);
    expect(idp.umaCalls).toHaveLength(1);
    // Said as such in the log (not as an RPT that failed verification).
    const failed = service.logs.records.filter((r) => r.msg === 'decision failed').map((r) => r.detail);
    expect(failed).toEqual(['uma_ticket: 200 without an RPT']);
  });

  it('sends the ticket grant as a form and asks for JSON', async () => {
    const rpt = await idp.token({
      aud: 'nginx-authz',
      authorization: { permissions: [{ rsid: 'id-runs', rsname: 'runs', scopes: ['delete'] }] },
    });
    idp.uma = () => ({ status: 200, body: { access_token: rpt } });
    expect((await auth('POST', '/api/2.0/mlflow/runs/delete', await idp.token({ sub: 'form-check' }))).status).toBe(200);
    expect([idp.umaCalls[0]!.contentType, idp.umaCalls[0]!.accept]).toEqual(['application/x-www-form-urlencoded', 'application/json']);
  });

  it.each([
    [401, 401],
    [400, 403],
  ])(
    'maps an invalid_ticket error with status %i to %i like any such answer: only a 403 one is Keycloak refusing its own ticket (503)',
    async (status, httpStatus) => {
      idp.uma = () => ({ status, body: { error: 'invalid_ticket' } });
      expect((await auth('POST', '/api/2.0/mlflow/runs/delete', await idp.token({ sub: `ticket-${status}` }))).status).toBe(httpStatus);
    },
  );

  it('fails closed before discovery, without asking for a ticket', async () => {
    const { asked, protection } = recordingProtection();
    const client = new TicketDecisionClient(
      service.config,
      undiscovered,
      protection,
      service.tokens,
      service.metrics,
      createLogger('silent'),
    );
    const error = await rejection(client.decide('t', 'runs', 'delete', 'runs'));
    expect(error).toBeInstanceOf(IdpUnavailable);
    expect((error as IdpUnavailable).detail).toBe('issuer not discovered yet');
    expect(asked).toEqual([]);
    expect(idp.umaCalls).toHaveLength(0);
  });
});

describe('UMA challenge, edges', () => {
  it('fails closed before discovery, without asking for a ticket', async () => {
    const { asked, protection } = recordingProtection();
    const error = await rejection(new UmaChallenger(undiscovered, protection).challenge('runs', 'delete', 'runs'));
    expect(error).toBeInstanceOf(IdpUnavailable);
    expect((error as IdpUnavailable).detail).toBe('issuer not discovered yet');
    expect(asked).toEqual([]);
  });
});
