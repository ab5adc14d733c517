/**
 * The order of the /auth steps (src/auth/pipeline.ts) as seen in its answers, found unguarded by
 * mutation round 5 (docs/mutation.md): what NGINX may cache and what a logout purges from it, the
 * asynchronous credential path, the S3 copy's second permission, Keycloak-resolved routes on the
 * MLflow table only, and the explanation a refusal carries.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { MemorySessionStore } from '../../src/session/store.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { fakeIdp, type TestService, testService } from '../helpers/test-service.js';

const KEY = 'X-Authz-Cache-Key';
const URI = '/api/2.0/mlflow/experiments/get';

let idp: FakeIdp;
/** Stands in for NGINX's purge location: records each key asked for. */
let purgeServer: Server;
let purged: string[] = [];
beforeAll(async () => {
  idp = await fakeIdp();
  purgeServer = createServer((req, res) => {
    purged.push(String(req.headers['x-authz-cache-key']));
    res.statusCode = 200;
    res.end();
  });
  await new Promise<void>((resolve) => purgeServer.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  purgeServer.closeAllConnections();
  await new Promise((resolve) => purgeServer.close(resolve));
});
beforeEach(() => {
  purged = [];
  idp.umaCalls = [];
  idp.uma = () => ({ status: 200, body: { result: true } });
});

const ask = (service: TestService, method: string, uri: string, headers: Record<string, string> = {}, path = '/auth') =>
  request(service.handler).get(path).set('X-Original-Method', method).set('X-Original-URI', uri).set(headers);
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('NGINX’s decision cache and the purge on logout', () => {
  let service: TestService;
  beforeAll(async () => {
    const purgeUrl = `http://127.0.0.1:${(purgeServer.address() as AddressInfo).port}/authz-cache-purge`;
    ({ service } = await testService({ idp, env: { ...SMALL_ROUTES, AUTHZ_NGINX_PURGE_URL: purgeUrl } }));
  });

  it('remembers for its subject only the allows NGINX may keep; a public route’s allow (no identity) is kept too', async () => {
    const kept = await ask(service, 'GET', URI, { ...bearer(await idp.token({ sub: 'purged-sub' })), [KEY]: 'key-kept' });
    expect(kept.status).toBe(200);
    expect(Number(kept.headers['x-accel-expires'])).toBeGreaterThan(0);
    // A token with a second left: NGINX may not keep the answer, so there is nothing to purge later.
    const expiring = await idp.token({ sub: 'purged-sub', jti: 'short' }, { nowSec: Math.floor(Date.now() / 1000) - 299 });
    const brief = await ask(service, 'GET', URI, { ...bearer(expiring), [KEY]: 'key-not-kept' });
    expect([brief.status, brief.headers['x-accel-expires']]).toEqual([200, '0']);
    const open = await ask(service, 'GET', '/health', { [KEY]: 'key-public' });
    expect(open.status).toBe(200);
    expect(service.logs.records.filter((r) => r.msg === 'decision').at(-1)).toMatchObject({ decision: 'allow', reason: 'public' });
    expect(Number(open.headers['x-accel-expires'])).toBeGreaterThan(0);

    await service.revoker.revoke({ issuer: idp.url, sub: 'purged-sub' });
    expect(purged).toEqual(['key-kept']);
  });

  it('an allow without X-Authz-Cache-Key (no cache snippet in that location) is 0', async () => {
    const res = await ask(service, 'GET', URI, bearer(await idp.token({ sub: 'no-key' })));
    expect([res.status, res.headers['x-accel-expires']]).toEqual([200, '0']);
  });
});

describe('a token obtained asynchronously (the first opening of a session cookie)', () => {
  let service: TestService;
  beforeAll(async () => {
    ({ service } = await testService({
      idp,
      env: { ...SMALL_ROUTES, AUTHZ_LOGIN_ENABLED: 'true', AUTHZ_LOGIN_ALLOWED_HOSTS: 'mlflow.example.com' },
    }));
  });
  const site = { 'X-Forwarded-Host': 'mlflow.example.com', 'X-Forwarded-Proto': 'https', [KEY]: 'key-session' };

  async function cookieFor(sub: string): Promise<string> {
    const session = (service.sessions!.store as MemorySessionStore).create({
      accessToken: await idp.token({ sub }),
      accessExpiresAtMs: Date.now() + 300_000,
      refreshToken: 'rt',
      idToken: undefined,
    });
    return `nginx_authz_session=${await service.sessions!.cookie.seal(session.id, session.absoluteExpiresAtMs)}`;
  }

  it('is decided, and that answer is 0 for NGINX; the next, synchronous one is kept', async () => {
    const cookie = await cookieFor('async-session');
    const first = await ask(service, 'GET', URI, { ...site, Cookie: cookie });
    expect([first.status, first.headers['x-accel-expires']]).toEqual([200, '0']);
    const second = await ask(service, 'GET', URI, { ...site, Cookie: cookie });
    expect(second.status).toBe(200);
    expect(Number(second.headers['x-accel-expires'])).toBeGreaterThan(0);
  });

  it('is refused when the cookie names no live session (the asynchronous refusal is answered)', async () => {
    const session = (service.sessions!.store as MemorySessionStore).create({
      accessToken: await idp.token({ sub: 'ended-session' }),
      accessExpiresAtMs: Date.now() + 300_000,
      refreshToken: 'rt',
      idToken: undefined,
    });
    const cookie = `nginx_authz_session=${await service.sessions!.cookie.seal(session.id, session.absoluteExpiresAtMs)}`;
    service.sessions!.store.delete(session.id);
    const res = await ask(service, 'GET', URI, { ...site, Cookie: cookie });
    expect([res.status, res.headers['x-accel-expires']]).toEqual([401, '0']);
  });
});

describe('an S3 copy (X-Amz-Copy-Source): both permissions, never kept by NGINX', () => {
  let service: TestService;
  beforeAll(async () => {
    ({ service } = await testService({ idp, env: SMALL_ROUTES }));
  });

  it('allows a copy the caller may read, refuses one it may not, and marks even the allow 0', async () => {
    idp.uma = (call) =>
      ['bucket:dest#write', 'bucket:dest#read'].includes(call.form.get('permission')!)
        ? { status: 200, body: { result: true } }
        : { status: 403, body: { error: 'access_denied' } };
    const copy = async (source: string, sub: string) =>
      ask(
        service,
        'PUT',
        '/dest/copied.bin',
        { ...bearer(await idp.token({ sub })), 'X-Amz-Copy-Source': source, [KEY]: 'key-copy' },
        '/auth/minio',
      );
    const allowed = await copy('/dest/original.bin', 'copier-a');
    expect([allowed.status, allowed.headers['x-accel-expires']]).toEqual([200, '0']);
    expect((await copy('/secret/data.bin', 'copier-b')).status).toBe(403);
    expect(idp.umaCalls.map((c) => c.form.get('permission'))).toEqual([
      'bucket:dest#write',
      'bucket:dest#read',
      'bucket:dest#write',
      'bucket:secret#read',
    ]);
  });
});

describe('routes.fromKeycloak', () => {
  it('resolves unmapped MLflow paths through Keycloak, never paths of another table', async () => {
    const kc = await fakeIdp();
    const { service } = await testService({ idp: kc, env: { AUTHZ_ROUTES_FROM_KEYCLOAK: 'true' } });
    // Keycloak would resolve both paths; the MinIO table leaves `/` unmapped, and it must stay so.
    kc.uriResources = (uri) => (uri === '/' || uri.startsWith('/reports/') ? [{ name: 'reports' }] : []);
    const token = await kc.token({ sub: 'remote-user' });
    expect((await ask(service, 'GET', '/reports/q4', bearer(token))).status).toBe(200);
    expect((await ask(service, 'GET', '/', bearer(token), '/auth/minio')).status).toBe(403);
    expect(kc.umaCalls.map((c) => c.form.get('permission'))).toEqual(['reports#read']);
  });
});

describe('the explanation of a refusal (X-Authz-Reason)', () => {
  it('names the missing permission and the caller’s user name', async () => {
    const { service } = await testService({ idp, env: SMALL_ROUTES });
    idp.uma = () => ({ status: 403, body: { error: 'access_denied' } });
    const named = await ask(
      service,
      'POST',
      '/api/2.0/mlflow/runs/delete',
      bearer(await idp.token({ sub: 'u-reason', preferred_username: 'rita' })),
    );
    expect([named.status, named.headers['x-authz-reason']]).toEqual([
      403,
      'Permission denied: missing permission runs#delete for user rita',
    ]);
    const bySubject = await ask(
      service,
      'POST',
      '/api/2.0/mlflow/runs/delete',
      bearer(await idp.token({ sub: 'u-nameless', preferred_username: undefined })),
    );
    expect(bySubject.headers['x-authz-reason']).toBe('Permission denied: missing permission runs#delete for user u-nameless');
  });
});

describe('behind ingress-nginx (ingress.enabled, a trusted sender)', () => {
  it('decides the request X-Original-URL names', async () => {
    const { service } = await testService({
      idp,
      env: { ...SMALL_ROUTES, AUTHZ_INGRESS_ENABLED: 'true', AUTHZ_INGRESS_TRUSTED_PROXIES: '127.0.0.1,::1' },
    });
    const res = await request(service.handler)
      .get('/auth')
      .set('X-Original-Method', 'POST')
      .set('X-Original-URL', 'https://mlflow.example.com/api/2.0/mlflow/runs/delete')
      .set(bearer(await idp.token({ sub: 'behind-ingress' })));
    expect(res.status).toBe(200);
    expect(idp.umaCalls.map((c) => c.form.get('permission'))).toEqual(['runs#delete']);
  });
});

describe('an unexpected error while deciding', () => {
  it('fails closed with 503 and an error line naming it (never the token)', async () => {
    const { service } = await testService({ idp, env: SMALL_ROUTES });
    // Fault injection: the decision cache breaks the way a bug would (a plain Error, not a refusal).
    service.decisions.peekEntry = () => {
      throw new Error('decision cache broke');
    };
    const token = await idp.token({ sub: 'unexpected' });
    expect((await ask(service, 'GET', URI, bearer(token))).status).toBe(503);
    const errors = service.logs.records.filter((r) => r.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ msg: 'unexpected error in /auth; failing closed', err: { message: 'decision cache broke' } });
    expect(String((errors[0]!.err as { stack?: string }).stack)).toContain('decision cache broke');
    expect(service.logs.records.filter((r) => r.msg === 'decision failed')).toMatchObject([
      { decision: 'error', reason: 'idp_unavailable', detail: 'unexpected: decision cache broke' },
    ]);
    expect(service.logs.lines.join('\n')).not.toContain(token);
  });
});
