import { Writable } from 'node:stream';
import { type AuthzError, Forbidden, IdpUnavailable, Unauthenticated } from '../../src/errors.js';
import type { ProtectionApi } from '../../src/idp/protection.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/ops/metrics.js';
import { TicketDecisionClient } from '../../src/decide/ticket.js';
import { translateUmaRefusal } from '../../src/decide/uma.js';
import type { TokenVerifier } from '../../src/tokens/verify.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { type TestService, testService } from '../helpers/test-service.js';

// What a refusal says. The detail of a refusal is what the operator reads in the decision's log line (it never
// reaches the client), so each of Keycloak's answers keeps its own text: a 5xx must not read as an "unexpected"
// answer, a refused ticket must not read as a bad RPT (mutation testing, issue 16, found these untested).

/** A logger whose lines are kept, parsed, in `lines`. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, log: createLogger('info', sink) };
}

const target = { resource: 'runs', scope: 'write', family: 'runs' };

describe("translateUmaRefusal: Keycloak's answer to a UMA grant, as our refusal", () => {
  it.each([
    [200, { result: false }, Forbidden, 'access_denied', 'keycloak: result false'],
    [200, undefined, Forbidden, 'access_denied', 'keycloak: result false'],
    [403, { error: 'access_denied' }, Forbidden, 'access_denied', 'keycloak: access_denied'],
    [403, {}, Forbidden, 'access_denied', 'keycloak: result false'],
    [401, {}, Unauthenticated, 'invalid_token', 'keycloak: unauthorized'],
    [401, { error: 'invalid_token' }, Unauthenticated, 'invalid_token', 'keycloak: invalid_token'],
    [400, { error: 'invalid_grant' }, Unauthenticated, 'invalid_token', 'keycloak: invalid_grant'],
    [500, {}, IdpUnavailable, 'idp_unavailable', 'keycloak answered 500'],
    [503, { error: 'x' }, IdpUnavailable, 'idp_unavailable', 'keycloak answered 503'],
    [400, { error: 'invalid_resource' }, Forbidden, 'route_misconfigured', 'keycloak: invalid_resource'],
    [400, { error: 42 }, Forbidden, 'route_misconfigured', 'keycloak: bad request'],
    [404, {}, IdpUnavailable, 'idp_unavailable', 'keycloak answered unexpected 404'],
    [302, {}, IdpUnavailable, 'idp_unavailable', 'keycloak answered unexpected 302'],
    [499, {}, IdpUnavailable, 'idp_unavailable', 'keycloak answered unexpected 499'],
  ])('%i %j → %p %s "%s"', (status, body, kind, code, detail) => {
    const { log } = capturingLogger();
    const refusal = translateUmaRefusal(
      status,
      body as Record<string, unknown> | undefined,
      target,
      new Metrics({ defaultMetrics: false }),
      log,
    );
    expect(refusal).toBeInstanceOf(kind);
    expect({ code: refusal.code, detail: refusal.detail }).toEqual({ code, detail });
  });

  it('a resource or scope Keycloak does not know is logged with the resource, scope and error, and counted', async () => {
    const { lines, log } = capturingLogger();
    const metrics = new Metrics({ defaultMetrics: false });
    translateUmaRefusal(
      400,
      { error: 'invalid_scope' },
      { resource: 'experiment:7', scope: 'manage', family: 'experiment:*' },
      metrics,
      log,
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 50,
      resource: 'experiment:7',
      scope: 'manage',
      error: 'invalid_scope',
      msg: 'keycloak does not know the mapped resource/scope; refusing (fix the route table or the realm)',
    });
    const counted = (await metrics.misconfiguredRoutes.get()).values.map((v) => v.labels);
    expect(counted).toEqual([expect.objectContaining({ scope: 'manage', error: 'invalid_scope' })]);
  });

  it('a 5xx or a refusal is not logged as a mis-mapped route', () => {
    const { lines, log } = capturingLogger();
    for (const status of [200, 401, 403, 500, 404]) translateUmaRefusal(status, {}, target, new Metrics({ defaultMetrics: false }), log);
    expect(lines).toEqual([]);
  });
});

describe('decision.mode: ticket, what each refusal says', () => {
  let idp: FakeIdp;
  let service: TestService;
  beforeAll(async () => {
    ({ idp, service } = await testService({ env: { ...SMALL_ROUTES, AUTHZ_DECISION_MODE: 'ticket' } }));
  });

  const protection = { ticket: async () => 'ticket.x' } as unknown as ProtectionApi;
  const client = (verifier: Partial<TokenVerifier>) =>
    new TicketDecisionClient(
      service.config,
      service.provider,
      protection,
      verifier as TokenVerifier,
      service.metrics,
      createLogger('silent'),
    );
  const refusal = (c: TicketDecisionClient) =>
    c.decide('t', 'runs', 'delete', 'runs').then(
      () => 'allowed',
      (e: unknown) => e as AuthzError,
    );

  it('an RPT without the permission: 403 "the RPT lacks the requested permission"', async () => {
    idp.uma = () => ({ status: 200, body: { access_token: 'rpt' } });
    const verifier = { verifyFresh: async () => ({ permissions: new Set(['runs#read']) }) } as unknown as Partial<TokenVerifier>;
    const error = await refusal(client(verifier));
    expect(error).toBeInstanceOf(Forbidden);
    expect([(error as AuthzError).code, (error as AuthzError).detail]).toEqual(['access_denied', 'the RPT lacks the requested permission']);
  });

  it('Keycloak refusing its own ticket: 503 that says so', async () => {
    idp.uma = () => ({ status: 403, body: { error: 'invalid_ticket' } });
    const error = await refusal(client({}));
    expect(error).toBeInstanceOf(IdpUnavailable);
    expect((error as AuthzError).detail).toBe('uma_ticket: keycloak refused the permission ticket');
  });

  it("an RPT that does not verify: 503 naming the verifier's reason", async () => {
    idp.uma = () => ({ status: 200, body: { access_token: 'rpt' } });
    const verifier = {
      verifyFresh: async () => {
        throw new Unauthenticated('invalid_token', { detail: 'signature does not verify' });
      },
    } as unknown as Partial<TokenVerifier>;
    const error = await refusal(client(verifier));
    expect(error).toBeInstanceOf(IdpUnavailable);
    expect((error as AuthzError).detail).toBe('uma_ticket: the RPT does not verify (signature does not verify)');
  });

  it('an RPT check that fails with something other than our error: 503 "(error)"', async () => {
    idp.uma = () => ({ status: 200, body: { access_token: 'rpt' } });
    const verifier = {
      verifyFresh: async () => {
        throw new TypeError('boom');
      },
    } as unknown as Partial<TokenVerifier>;
    const error = await refusal(client(verifier));
    expect(error).toBeInstanceOf(IdpUnavailable);
    expect((error as AuthzError).detail).toBe('uma_ticket: the RPT does not verify (error)');
  });

  it('the IdP down while the RPT is checked (JWKS unreachable): its own 503 passes through unchanged', async () => {
    idp.uma = () => ({ status: 200, body: { access_token: 'rpt' } });
    const down = new IdpUnavailable({ detail: 'jwks: connection refused' });
    const verifier = {
      verifyFresh: async () => {
        throw down;
      },
    } as unknown as Partial<TokenVerifier>;
    expect(await refusal(client(verifier))).toBe(down);
  });
});
