import { IdpUnavailable } from '../../src/errors.js';
import { PatProvider } from '../../src/idp/pat.js';
import { createLogger } from '../../src/log.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { type TestService, testService } from '../helpers/test-service.js';

let idp: FakeIdp;
let service: TestService;
let now: number;
let pat: PatProvider;

beforeAll(async () => {
  ({ idp, service } = await testService({ env: { ...SMALL_ROUTES, AUTHZ_DECISION_TIMEOUT_MS: '1500' } }));
});
beforeEach(() => {
  idp.patCalls = [];
  idp.patLifetimeSec = 300;
  idp.pat = () => ({ status: 200, body: { access_token: `pat-${idp.patCalls.length}`, expires_in: idp.patLifetimeSec } });
  now = Date.parse('2026-11-23T12:00:00Z');
  pat = new PatProvider(service.config, service.provider, service.metrics, createLogger('silent'), () => now);
});

const patCount = async (outcome: string) =>
  (await service.metrics.idpRequests.get()).values.find((v) => v.labels.endpoint === 'pat' && v.labels.outcome === outcome)?.value ?? 0;

describe('PatProvider', () => {
  it('gets a client-credentials token with the client secret in Basic auth, once for 100 concurrent callers', async () => {
    const before = await patCount('http_200');
    const pats = await Promise.all(Array.from({ length: 100 }, () => pat.get()));
    expect(new Set(pats)).toEqual(new Set(['pat-1']));
    expect(idp.patCalls).toHaveLength(1);
    expect(Object.fromEntries(idp.patCalls[0]!.form)).toEqual({ grant_type: 'client_credentials' });
    expect(idp.patCalls[0]!.authorization).toBe(`Basic ${Buffer.from('nginx-authz:test-secret-do-not-log').toString('base64')}`);
    expect(await patCount('http_200')).toBe(before + 1);
  });

  it('keeps the PAT until 80% of its lifetime, then renews in the background while it is still usable', async () => {
    expect(await pat.get()).toBe('pat-1');
    now += 239_000;
    expect(await pat.get()).toBe('pat-1');
    expect(idp.patCalls).toHaveLength(1);
    now += 2_000; // past 240 s: renewal starts, the current PAT answers meanwhile
    expect(await pat.get()).toBe('pat-1');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(idp.patCalls).toHaveLength(2);
    expect(await pat.get()).toBe('pat-2');
  });

  it('waits for a new PAT once the current one is at its end, and keeps serving through a failed background renewal', async () => {
    await pat.get();
    now += 250_000;
    idp.pat = () => ({ status: 500, body: { error: 'unknown_error' } });
    expect(await pat.get()).toBe('pat-1'); // renewal fails in the background
    await new Promise((resolve) => setTimeout(resolve, 50));
    now += 50_000; // 300 s: expired
    await expect(pat.get()).rejects.toBeInstanceOf(IdpUnavailable);
    idp.pat = () => ({ status: 200, body: { access_token: 'pat-new', expires_in: 300 } });
    expect(await pat.get()).toBe('pat-new');
  });

  it.each([
    [401, { error: 'unauthorized_client' }],
    [400, { error: 'invalid_client' }],
    [200, { token_type: 'Bearer' }],
  ])('fails closed on %i %j, without logging a secret', async (status, body) => {
    idp.pat = () => ({ status, body });
    await expect(pat.get()).rejects.toBeInstanceOf(IdpUnavailable);
  });

  it('times out and fails closed', async () => {
    idp.pat = () => ({ status: 200, body: { access_token: 'pat-slow', expires_in: 300 }, delayMs: 3_000 });
    const started = Date.now();
    await expect(pat.get()).rejects.toBeInstanceOf(IdpUnavailable);
    expect(Date.now() - started).toBeLessThan(2_900); // cut by the 1.5 s decision timeout, not the 3 s answer
    expect(await patCount('timeout')).toBeGreaterThan(0);
  });

  it('forgets a PAT the IdP refused', async () => {
    expect(await pat.get()).toBe('pat-1');
    pat.invalidate('pat-other');
    expect(await pat.get()).toBe('pat-1');
    pat.invalidate('pat-1');
    expect(await pat.get()).toBe('pat-2');
  });
});
