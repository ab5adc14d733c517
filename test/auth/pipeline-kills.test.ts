/**
 * Steps 4 and 5 of /auth (src/auth/identify.ts, src/auth/decide.ts) through the service's handler,
 * found unguarded by mutation round 5 (docs/mutation.md): decision keys of long request-named
 * resources, the lookup limit on decisions, the source recorded for challenges and IdP failures,
 * the issuer that decides a second Keycloak's token, and per-experiment narrowing.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { fakeIdp, type TestService, testService } from '../helpers/test-service.js';

const TEMPLATED = {
  AUTHZ_ROUTES_PRESET: 'none',
  AUTHZ_ROUTES_FILE: fileURLToPath(new URL('../fixtures/routes-templated.yaml', import.meta.url)),
  AUTHZ_AUDIT_LOG: 'true',
};
/** The services' clock stands still: the lookup limit's bucket does not refill during a test. */
const now = Date.now();
const at = { nowSec: Math.floor(now / 1000) };

let idp: FakeIdp;
beforeAll(async () => {
  idp = await fakeIdp();
});
beforeEach(() => {
  idp.umaCalls = [];
  idp.protectionCalls = [];
  idp.uma = () => ({ status: 200, body: { result: true } });
});

const auth = (service: TestService, method: string, uri: string, token: string) =>
  request(service.handler).get('/auth').set('X-Original-Method', method).set('X-Original-URI', uri).set('Authorization', `Bearer ${token}`);
/** The audit line (or the warning line of a failed decision) of each answer, in order. */
const lines = (service: TestService) => service.logs.records.filter((r) => r.msg === 'decision' || r.msg === 'decision failed');

describe('decision keys of long request-named resources (longer than the cache keeps as they are)', () => {
  let service: TestService;
  beforeAll(async () => {
    ({ service } = await testService({ idp, env: TEMPLATED, clock: () => now }));
  });
  // `thing:` + 90 characters: resource and scope together are longer than the 72 characters kept plain in a key.
  const long = (letter: string) => `/things/${letter.repeat(90)}/x`;

  it('keeps two long resources apart: an allow on one is not reused for the other', async () => {
    idp.uma = (call) =>
      call.form.get('permission') === `thing:${'a'.repeat(90)}#read`
        ? { status: 200, body: { result: true } }
        : { status: 403, body: { error: 'access_denied' } };
    const token = await idp.token({ sub: 'long-names' }, at);
    expect((await auth(service, 'GET', long('a'), token)).status).toBe(200);
    expect((await auth(service, 'GET', long('b'), token)).status).toBe(403);
    expect((await auth(service, 'GET', long('a'), token)).status).toBe(200);
    expect((await auth(service, 'GET', long('b'), token)).status).toBe(403);
    // Each resource asked once, then answered from its own cache entry.
    expect(idp.umaCalls.map((c) => c.form.get('permission'))).toEqual([`thing:${'a'.repeat(90)}#read`, `thing:${'b'.repeat(90)}#read`]);
  });

  it('are found by a logout of their token (the key still starts with the token hash)', async () => {
    const token = await idp.token({ sub: 'long-logout' }, at);
    expect((await auth(service, 'GET', long('c'), token)).status).toBe(200);
    expect((await auth(service, 'GET', '/things/short/x', token)).status).toBe(200);
    const purged = await service.revoker.revoke({ issuer: idp.url, sub: 'long-logout' });
    expect(purged).toMatchObject({ tokens: 1, decisions: 2 });
  });
});

describe('the per-subject lookup limit on decisions', () => {
  it('refuses decisions on request-named resources over the burst (401 + X-Authz-Retry-After), never on a route’s own resource', async () => {
    const { service } = await testService({ idp, env: TEMPLATED, clock: () => now });
    const token = await idp.token({ sub: 'many-names' }, at);
    const statuses: Record<number, number> = {};
    let retryAfter: string | undefined;
    for (let i = 0; i < 60; i++) {
      const res = await auth(service, 'GET', `/things/named-${i}/x`, token);
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      retryAfter ??= res.headers['x-authz-retry-after'];
    }
    expect(statuses).toEqual({ 200: 50, 401: 10 }); // decision.lookupBurstPerSubject
    expect(retryAfter).toBe('1');
    expect(idp.umaCalls).toHaveLength(50);
    expect((await request(service.handler).get('/metrics')).text).toContain('authz_rate_limited_total{lookup="decision"} 10');
    // A refused lookup was about to ask the IdP: recorded as such.
    expect(lines(service).at(-1)).toMatchObject({ decision: 'deny', reason: 'rate_limited', source: 'idp' });
    // The route's own resource is not charged: still decided.
    expect((await auth(service, 'GET', '/api/2.0/mlflow/experiments/get', token)).status).toBe(200);
  });
});

describe('the source recorded for a decision', () => {
  it('is idp for a UMA challenge and for an IdP that fails', async () => {
    const { service } = await testService({ idp, env: { ...TEMPLATED, AUTHZ_UMA_CHALLENGE: 'true' } });
    const token = await idp.token({ sub: 'challenged' });
    const challenged = await auth(service, 'GET', '/api/2.0/mlflow/experiments/get', token);
    expect([challenged.status, String(challenged.headers['www-authenticate']).slice(0, 4)]).toEqual([401, 'UMA ']);
    expect(lines(service).at(-1)).toMatchObject({ decision: 'deny', source: 'idp' });

    const { service: plain } = await testService({ idp, env: TEMPLATED });
    idp.uma = () => ({ status: 500, body: { error: 'boom' } });
    expect((await auth(plain, 'GET', '/api/2.0/mlflow/experiments/get', token)).status).toBe(503);
    expect(lines(plain).at(-1)).toMatchObject({ decision: 'error', reason: 'idp_unavailable', source: 'idp' });
  });
});

describe('a second Keycloak’s token', () => {
  it('is decided by its own issuer (its client as the audience), not by the primary', async () => {
    const other = await fakeIdp();
    const file = join(mkdtempSync(join(tmpdir(), 'authz-kills-')), 'uma.yaml');
    writeFileSync(file, `issuers:\n  - { id: realm-b, url: "${other.url}", client: { id: rs-b } }\n`);
    const { service } = await testService({ idp, env: { AUTHZ_CONFIG: file, ...SMALL_ROUTES } });
    other.uma = () => ({ status: 403, body: { error: 'access_denied' } });
    expect((await auth(service, 'GET', '/api/2.0/mlflow/experiments/get', await other.token({ aud: 'rs-b' }))).status).toBe(403);
    expect(other.umaCalls.map((c) => c.form.get('audience'))).toEqual(['rs-b']);
    expect(idp.umaCalls).toHaveLength(0);
  });
});

describe('uma.perObject: narrowed to the experiment the request names', () => {
  it('asks for experiment:<id> on the first (looked-up) and on the cached lookup, and records that resource', async () => {
    const { service } = await testService({ idp, env: { AUTHZ_UMA_PER_OBJECT: 'true', AUTHZ_AUDIT_LOG: 'true' } });
    idp.resources = (name) => `id-${name}`;
    idp.uma = (call) =>
      call.form.get('permission') === 'experiment:7#read'
        ? { status: 200, body: { result: true } }
        : { status: 403, body: { error: 'access_denied' } };
    const alice = await idp.token({ sub: 'po-alice' });
    // The first request looks the resource up (asynchronously), the second finds it cached.
    expect((await auth(service, 'GET', '/api/2.0/mlflow/experiments/get?experiment_id=7', alice)).status).toBe(200);
    expect((await auth(service, 'GET', '/api/2.0/mlflow/experiments/get?experiment_id=7', await idp.token({ sub: 'po-bob' }))).status).toBe(
      200,
    );
    expect(idp.umaCalls.map((c) => c.form.get('permission'))).toEqual(['experiment:7#read', 'experiment:7#read']);
    expect(lines(service).map((r) => [r.decision, r.resource])).toEqual([
      ['allow', 'experiment:7'],
      ['allow', 'experiment:7'],
    ]);
    // Another experiment is refused on its own resource, not allowed on the route's.
    expect((await auth(service, 'GET', '/api/2.0/mlflow/experiments/get?experiment_id=8', alice)).status).toBe(403);
  });
});

describe('the line and the metric each decision leaves (src/auth/record.ts)', () => {
  it('without the audit log: nothing for an allow or a denial, a warning for a 400 and for an IdP failure', async () => {
    const { service } = await testService({ idp, env: { ...SMALL_ROUTES, AUTHZ_AUDIT_LOG: 'false' } });
    const token = await idp.token({ sub: 'unaudited' });
    expect((await auth(service, 'GET', '/api/2.0/mlflow/experiments/get', token)).status).toBe(200);
    idp.uma = () => ({ status: 403, body: { error: 'access_denied' } });
    expect((await auth(service, 'POST', '/api/2.0/mlflow/runs/delete', token)).status).toBe(403);
    expect(service.logs.records.filter((r) => Number(r.level) >= 40)).toEqual([]);
    expect(lines(service)).toEqual([]);

    expect((await request(service.handler).get('/auth').set('X-Original-Method', 'GET')).status).toBe(400);
    idp.uma = () => ({ status: 500, body: { error: 'boom' } });
    expect((await auth(service, 'GET', '/api/2.0/mlflow/experiments/get', await idp.token({ sub: 'unaudited-2' }))).status).toBe(503);
    expect(lines(service).map((r) => [r.msg, r.level, r.decision, r.reason])).toEqual([
      ['decision failed', 40, 'deny', 'missing_original_request'],
      ['decision failed', 40, 'error', 'idp_unavailable'],
    ]);
    // A request without a route is counted under resource and scope "none".
    expect((await request(service.handler).get('/metrics')).text).toContain(
      'authz_decisions_total{decision="deny",reason="missing_original_request",resource="none",scope="none",source="none"} 1',
    );
  });

  it('with the audit log: an IdP failure is a warning, a cached decision says so, and the latency is in milliseconds', async () => {
    const { service } = await testService({ idp, env: { ...SMALL_ROUTES, AUTHZ_AUDIT_LOG: 'true' } });
    const token = await idp.token({ sub: 'audited-kills' });
    for (let i = 0; i < 2; i++) expect((await auth(service, 'GET', '/api/2.0/mlflow/experiments/get', token)).status).toBe(200);
    idp.uma = () => ({ status: 500, body: { error: 'boom' } });
    expect((await auth(service, 'POST', '/api/2.0/mlflow/runs/delete', token)).status).toBe(503);
    const written = lines(service);
    expect(written.map((r) => [r.msg, r.level, r.decision, r.source, r.cache_hit])).toEqual([
      ['decision', 30, 'allow', 'idp', false],
      ['decision', 30, 'allow', 'cache', true],
      ['decision failed', 40, 'error', 'idp', false],
    ]);
    // Each answer took well under a second here, and more than nothing.
    for (const line of written) {
      expect(line.latency_ms).toBeGreaterThan(0);
      expect(line.latency_ms).toBeLessThan(1_000);
    }
    const sum = /authz_decision_duration_seconds_sum\{source="cache"\} ([\d.e-]+)/.exec(
      (await request(service.handler).get('/metrics')).text,
    );
    expect(Number(sum?.[1])).toBeGreaterThan(0);
    expect(Number(sum?.[1])).toBeLessThan(1);
  });
});
