import { Forbidden, IdpUnavailable } from '../../src/errors.js';
import { PatProvider } from '../../src/idp/pat.js';
import { ProtectionApi } from '../../src/idp/protection.js';
import { UmaMetadata } from '../../src/idp/uma-metadata.js';
import { createLogger } from '../../src/log.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { type TestService, testService } from '../helpers/test-service.js';

let idp: FakeIdp;
let service: TestService;
let now: number;
let api: ProtectionApi;

beforeAll(async () => {
  ({ idp, service } = await testService({ env: { ...SMALL_ROUTES, AUTHZ_DECISION_TIMEOUT_MS: '1500' } }));
});
beforeEach(() => {
  idp.patCalls = [];
  idp.protectionCalls = [];
  idp.resources = (name) => `id-${name}`;
  idp.patValid = (pat) => pat.startsWith('pat-');
  now = Date.parse('2026-11-23T12:00:00Z');
  const log = createLogger('silent');
  const clock = () => now;
  api = new ProtectionApi(
    service.config,
    new UmaMetadata(service.config, service.provider, service.metrics),
    new PatProvider(service.config, service.provider, service.metrics, log, clock),
    service.metrics,
    log,
    clock,
  );
});

describe('ProtectionApi', () => {
  it('resolves a resource name to its id with the PAT, once per TTL, single-flight', async () => {
    const ids = await Promise.all(Array.from({ length: 20 }, () => api.resourceId('runs', 'runs')));
    expect(new Set(ids)).toEqual(new Set(['id-runs']));
    expect(idp.protectionCalls).toHaveLength(1);
    expect(idp.protectionCalls[0]).toMatchObject({
      method: 'GET',
      path: '/realms/test/authz/protection/resource_set?name=runs&exactName=true',
      authorization: 'Bearer pat-1',
    });
    now += 299_000;
    await api.resourceId('runs', 'runs');
    expect(idp.protectionCalls).toHaveLength(1);
    now += 2_000;
    await api.resourceId('runs', 'runs');
    expect(idp.protectionCalls).toHaveLength(2);
  });

  it('refuses a resource Keycloak does not have as a misconfigured route', async () => {
    idp.resources = () => undefined;
    const error = await api.resourceId('ghost', 'ghost').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Forbidden);
    expect((error as Forbidden).code).toBe('route_misconfigured');
  });

  it('creates a permission ticket for the resource id and scope', async () => {
    const ticket = await api.ticket('experiments', 'read', 'experiments');
    expect(ticket).toMatch(/^ticket\./);
    const post = idp.protectionCalls.find((c) => c.method === 'POST')!;
    expect(JSON.parse(post.body)).toEqual([{ resource_id: 'id-experiments', resource_scopes: ['read'] }]);
  });

  it('renews a refused PAT once and retries; fails closed when the new one is refused too', async () => {
    idp.patValid = (pat) => pat !== 'pat-1';
    expect(await api.resourceId('runs', 'runs')).toBe('id-runs');
    expect(idp.patCalls).toHaveLength(2);
    idp.patValid = () => false;
    await expect(api.resourceId('models', 'models')).rejects.toBeInstanceOf(IdpUnavailable);
  });

  it('maps an unknown scope to a misconfigured route, and odd tickets or 5xx to unavailable', async () => {
    idp.permission = () => ({ status: 400, body: { error: 'invalid_scope' } });
    expect(((await api.ticket('runs', 'bogus', 'runs').catch((e: unknown) => e)) as Forbidden).code).toBe('route_misconfigured');
    idp.permission = () => ({ status: 201, body: { ticket: 'bad"ticket\r\n' } });
    await expect(api.ticket('runs', 'read', 'runs')).rejects.toBeInstanceOf(IdpUnavailable);
    idp.permission = () => ({ status: 500, body: {} });
    await expect(api.ticket('runs', 'read', 'runs')).rejects.toBeInstanceOf(IdpUnavailable);
  });
});
