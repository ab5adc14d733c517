import { Forbidden, IdpUnavailable, Unauthenticated } from '../../src/errors.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { UmaDecisionClient } from '../../src/decide/uma.js';
import { type TestService, testService } from '../helpers/test-service.js';

let idp: FakeIdp;
let service: TestService;
let uma: UmaDecisionClient;

beforeAll(async () => {
  ({ idp, service } = await testService({ env: { ...SMALL_ROUTES, AUTHZ_DECISION_TIMEOUT_MS: '1500' } }));
  uma = new UmaDecisionClient(service.config, service.provider, service.metrics, (await import('../../src/log.js')).createLogger('silent'));
});
beforeEach(() => {
  idp.umaCalls = [];
});

describe('UmaDecisionClient', () => {
  it('sends one form-encoded UMA decision request with the caller token', async () => {
    idp.uma = () => ({ status: 200, body: { result: true } });
    await uma.decide('the-user-token', 'runs', 'delete', 'runs');
    expect(idp.umaCalls).toHaveLength(1);
    const [call] = idp.umaCalls;
    expect(call!.authorization).toBe('Bearer the-user-token');
    expect(Object.fromEntries(call!.form)).toEqual({
      grant_type: 'urn:ietf:params:oauth:grant-type:uma-ticket',
      audience: 'nginx-authz',
      permission: 'runs#delete',
      response_mode: 'decision',
      submit_request: 'false',
    });
  });

  it('encodes values so that resource text cannot inject form fields', async () => {
    await uma.decide('t', 'experiment:1&audience=evil&permission=admin', 'read', 'experiment:*');
    const [call] = idp.umaCalls;
    expect(call!.form.getAll('audience')).toEqual(['nginx-authz']);
    expect(call!.form.getAll('permission')).toEqual(['experiment:1&audience=evil&permission=admin#read']);
    expect(call!.rawBody).toContain('permission=experiment%3A1%26audience%3Devil%26permission%3Dadmin%23read');
  });

  it.each([
    [403, { error: 'access_denied' }, Forbidden, 'access_denied'],
    [200, { result: false }, Forbidden, 'access_denied'],
    [401, { error: 'invalid_grant' }, Unauthenticated, 'invalid_token'],
    [400, { error: 'invalid_grant', error_description: 'Invalid bearer token' }, Unauthenticated, 'invalid_token'],
    [400, { error: 'invalid_resource' }, Forbidden, 'route_misconfigured'],
    [400, { error: 'invalid_scope' }, Forbidden, 'route_misconfigured'],
    [400, { error: 'invalid_request' }, Forbidden, 'route_misconfigured'],
    [500, { error: 'unknown_error' }, IdpUnavailable, 'idp_unavailable'],
    [502, 'not json', IdpUnavailable, 'idp_unavailable'],
    [302, {}, IdpUnavailable, 'idp_unavailable'],
  ])('maps Keycloak %i %j to %p', async (status, body, type, code) => {
    idp.uma = () => ({ status, body });
    const error = await uma.decide('t', 'runs', 'read', 'runs').then(
      () => 'allowed',
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(type);
    expect((error as Forbidden).code).toBe(code);
  });

  it('counts a mis-mapped route in a metric', async () => {
    idp.uma = () => ({ status: 400, body: { error: 'invalid_scope' } });
    await expect(uma.decide('t', 'runs', 'bogus', 'runs')).rejects.toMatchObject({ code: 'route_misconfigured' });
    const values = (await service.metrics.misconfiguredRoutes.get()).values;
    expect(values.find((v) => v.labels.scope === 'bogus')?.value).toBe(1);
  });

  it('gives up after the timeout and fails closed', async () => {
    idp.uma = () => ({ status: 200, body: { result: true }, delayMs: 3_000 });
    const started = Date.now();
    await expect(uma.decide('t', 'runs', 'read', 'runs')).rejects.toBeInstanceOf(IdpUnavailable);
    expect(Date.now() - started).toBeLessThan(2_900); // cut by the 1.5 s decision timeout, not the 3 s answer
  });
});
