import { Forbidden, IdpUnavailable, Unauthenticated } from '../../src/errors.js';
import type { IdentityProvider } from '../../src/idp/provider.js';
import { createLogger } from '../../src/log.js';
import { UmaDecisionClient } from '../../src/decide/uma.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { type TestService, testService } from '../helpers/test-service.js';

// Edges of the UMA decision client found by mutation testing (issue 16).

let idp: FakeIdp;
let service: TestService;
let uma: UmaDecisionClient;

beforeAll(async () => {
  ({ idp, service } = await testService({ env: { ...SMALL_ROUTES } }));
  uma = new UmaDecisionClient(service.config, service.provider, service.metrics, createLogger('silent'));
});
beforeEach(() => {
  idp.umaCalls = [];
});

describe('UmaDecisionClient edges', () => {
  it('fails closed before discovery, without a request', async () => {
    const undiscovered = { endpoints: undefined } as unknown as IdentityProvider;
    const early = new UmaDecisionClient(service.config, undiscovered, service.metrics, createLogger('silent'));
    const error = await early.decide('t', 'runs', 'read', 'runs').then(
      () => 'allowed',
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(IdpUnavailable);
    expect((error as IdpUnavailable).detail).toBe('issuer not discovered yet');
    expect(idp.umaCalls).toHaveLength(0);
  });

  it('sends the grant as a form and asks for JSON (Keycloak reads the body only as a form)', async () => {
    idp.uma = () => ({ status: 200, body: { result: true } });
    await uma.decide('t', 'runs', 'read', 'runs');
    expect([idp.umaCalls[0]!.contentType, idp.umaCalls[0]!.accept]).toEqual(['application/x-www-form-urlencoded', 'application/json']);
  });

  it('refuses a 400 without an error code as a mis-mapped route, counted as "unknown"', async () => {
    idp.uma = () => ({ status: 400, body: 'not json' });
    await expect(uma.decide('t', 'runs', 'no-code', 'runs')).rejects.toMatchObject({ code: 'route_misconfigured' });
    const values = (await service.metrics.misconfiguredRoutes.get()).values;
    expect(values.find((v) => v.labels.scope === 'no-code')?.labels.error).toBe('unknown');
  });

  /** What the client makes of Keycloak's answer (set in idp.uma): 'allowed' or the refusal. */
  const answer = () =>
    uma.decide('t', 'runs', 'read', 'runs').then(
      () => 'allowed',
      (e: unknown) => e,
    );

  it.each([
    [403, Forbidden],
    [401, Unauthenticated],
    [500, IdpUnavailable],
  ])('allows only a 200: a %i saying result: true is refused (%p)', async (status, refusal) => {
    idp.uma = () => ({ status, body: { result: true } });
    expect(await answer()).toBeInstanceOf(refusal);
  });

  it('refuses a 200 whose body is not JSON as a plain denial', async () => {
    idp.uma = () => ({ status: 200, body: 'not json' });
    const error = await answer();
    expect(error).toBeInstanceOf(Forbidden);
    expect((error as Forbidden).code).toBe('access_denied');
  });

  it('reads invalid_grant as a bad token only on a 400 (or 401): a 5xx saying it still fails closed with 503', async () => {
    idp.uma = () => ({ status: 500, body: { error: 'invalid_grant' } });
    expect(await answer()).toBeInstanceOf(IdpUnavailable);
    idp.uma = () => ({ status: 404, body: { error: 'invalid_grant' } });
    expect(await answer()).toBeInstanceOf(IdpUnavailable);
    idp.uma = () => ({ status: 400, body: { error: 'invalid_grant' } });
    expect(await answer()).toBeInstanceOf(Unauthenticated);
  });

  it('counts its calls as endpoint="uma_decision" in the IdP metrics', async () => {
    idp.uma = () => ({ status: 200, body: { result: true } });
    const counted = async () =>
      (await service.metrics.idpRequests.get()).values.find((v) => v.labels.endpoint === 'uma_decision' && v.labels.outcome === 'http_200')
        ?.value ?? 0;
    const before = await counted();
    expect(await answer()).toBe('allowed');
    expect(await counted()).toBe(before + 1);
  });
});
