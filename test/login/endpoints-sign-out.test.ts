import { createServer, type Server } from 'node:http';
import { jest } from '@jest/globals';
import request from 'supertest';
import type { MemorySessionStore } from '../../src/session/store.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { sessionCookieFor } from '../helpers/session-cookie.js';
import { fakeIdp, type TestService, testService } from '../helpers/test-service.js';

// /oauth2/sign_out beyond test/login/endpoints.test.ts (which has the CSRF confirmation and the
// RP-initiated logout): with `nginx.purgeUrl` it purges the signed-out user's entries in NGINX's
// decision cache before it answers, and only that user's; a host that is not allowed changes
// nothing; a failing session store is a 503; the landing page (`login.postLogoutPath`) stays under a
// public URL's path, and is where an IdP without RP-initiated logout leaves the browser. Found
// unguarded by the mutation queue of round 5 (docs/mutation.md): only e2e tests reached the purge.

/** Stands in for NGINX's purge location (authz-cache-purge.conf): records the keys asked for. */
let purgeServer: Server;
let purged: string[];
let idp: FakeIdp;
let service: TestService;
let underPath: TestService;

beforeAll(async () => {
  purgeServer = createServer((req, res) => {
    purged.push(String(req.headers['x-authz-cache-key']));
    res.statusCode = 200;
    res.end();
  });
  await new Promise<void>((resolve) => purgeServer.listen(0, '127.0.0.1', resolve));
  const purgeUrl = `http://127.0.0.1:${(purgeServer.address() as { port: number }).port}/authz-cache-purge`;
  ({ idp, service } = await testService({
    env: { AUTHZ_LOGIN_ENABLED: 'true', AUTHZ_LOGIN_ALLOWED_HOSTS: 'mlflow.example.com', AUTHZ_NGINX_PURGE_URL: purgeUrl },
  }));
  ({ service: underPath } = await testService({
    idp,
    env: { AUTHZ_LOGIN_ENABLED: 'true', AUTHZ_LOGIN_PUBLIC_URL: 'https://tools.example.com/mlflow/' },
  }));
});
afterAll(() => purgeServer.close());
beforeEach(() => {
  purged = [];
});

/** A signed-in browser's cookie for `sub`, its session opened once already (as an earlier request would have: an allow
 * that needed the session read first is never cached by NGINX, see src/auth/nginx-cache.ts). */
async function signedIn(sub: string): Promise<string> {
  const cookie = await sessionCookieFor(service, await idp.token({ sub, preferred_username: sub }));
  await service.sessions!.find(cookie);
  return cookie;
}

/** NGINX's decision subrequest through a location with the cache snippet (it sends its key). */
const auth = (cookie: string, key: string) =>
  request(service.handler)
    .get('/auth')
    .set('X-Original-Method', 'GET')
    .set('X-Original-URI', '/ajax-api/2.0/mlflow/experiments/search')
    .set('X-Authz-Cache-Key', key)
    .set('Cookie', cookie);

const signOut = (target: TestService, cookie: string, host = 'mlflow.example.com') =>
  request(target.handler)
    .post('/oauth2/sign_out')
    .set('X-Forwarded-Host', host)
    .set('X-Forwarded-Proto', 'https')
    .set('Sec-Fetch-Site', 'same-origin')
    .set('Cookie', cookie);

describe('/oauth2/sign_out with nginx.purgeUrl', () => {
  it("purges the user's cached decisions before it answers, and nobody else's", async () => {
    const erin = await signedIn('erin');
    const frank = await signedIn('frank');
    expect((await auth(erin, 'k-erin')).status).toBe(200);
    expect((await auth(frank, 'k-frank')).status).toBe(200);

    const out = await signOut(service, erin);
    expect(out.status).toBe(302);
    expect(out.headers['cache-control']).toBe('no-store');
    expect(purged).toEqual(['k-erin']);
    expect((await auth(erin, 'k-erin')).status).toBe(401);
    expect((await auth(frank, 'k-frank')).status).toBe(200);
  });

  it('purges nothing for a cross-site request (it only asks for confirmation) or a browser without a session', async () => {
    const gina = await signedIn('gina');
    expect((await auth(gina, 'k-gina')).status).toBe(200);
    const crossSite = await signOut(service, gina).set('Sec-Fetch-Site', 'cross-site');
    expect(crossSite.status).toBe(200);
    expect(crossSite.headers['cache-control']).toBe('no-store');
    const none = await signOut(service, 'other=1');
    expect(none.status).toBe(302);
    expect(purged).toEqual([]);
    expect((await auth(gina, 'k-gina')).status).toBe(200);
  });

  it('refuses a host that is neither loopback nor allowed: 400, the session lives on, nothing purged', async () => {
    const hana = await signedIn('hana');
    expect((await auth(hana, 'k-hana')).status).toBe(200);
    const out = await signOut(service, hana, 'evil.example');
    expect(out.status).toBe(400);
    expect(out.headers['cache-control']).toBe('no-store');
    expect(out.headers['set-cookie']).toBeUndefined();
    // The whole page: what the user can act on, and no retry link (there is nothing to retry on this host).
    expect(out.text).toBe('<!doctype html><meta charset="utf-8"><title>Sign-in</title><p>This host is not configured for login.</p>');
    expect(purged).toEqual([]);
    expect((await auth(hana, 'k-hana')).status).toBe(200);
  });

  it('answers 503 when the session store fails, and keeps the cookie (the session may live on elsewhere)', async () => {
    const ines = await signedIn('ines');
    const spy = jest.spyOn(service.sessions!.store, 'delete').mockImplementation(() => Promise.reject(new Error('store down')));
    try {
      const out = await signOut(service, ines);
      expect(out.status).toBe(503);
      expect(out.headers['cache-control']).toBe('no-store');
      expect(out.text).toContain('Sign-out could not be completed right now; try again shortly.');
      expect(out.headers['set-cookie']).toBeUndefined();
      expect(purged).toEqual([]);
    } finally {
      spy.mockRestore();
    }
    expect(service.logs.records.some((r) => r.msg === 'sign-out: session store unavailable; answering 503')).toBe(true);
  });
});

describe('/oauth2/sign_out landing page', () => {
  it('is login.postLogoutPath (default /) under the public URL, its path kept', async () => {
    const cookie = await sessionCookieFor(underPath, await idp.token({ sub: 'ivan' }));
    const out = await signOut(underPath, cookie, 'tools.example.com');
    expect(out.status).toBe(302);
    expect(out.headers.location).toBe('https://tools.example.com/mlflow/');
  });

  it('is reached directly when the IdP offers no RP-initiated logout (no end_session_endpoint), even with an ID token', async () => {
    const plain = await fakeIdp();
    plain.endSession = false;
    const { service: noEndSession } = await testService({
      idp: plain,
      env: { AUTHZ_LOGIN_ENABLED: 'true', AUTHZ_LOGIN_ALLOWED_HOSTS: 'mlflow.example.com' },
    });
    const session = (noEndSession.sessions!.store as MemorySessionStore).create({
      accessToken: await plain.token({ sub: 'jo' }),
      accessExpiresAtMs: Date.now() + 300_000,
      refreshToken: 'rt',
      idToken: 'an-id-token',
    });
    const cookie = `nginx_authz_session=${await noEndSession.sessions!.cookie.seal(session.id, session.absoluteExpiresAtMs)}`;
    const out = await signOut(noEndSession, cookie);
    expect(out.status).toBe(302);
    expect(out.headers.location).toBe('https://mlflow.example.com/');
    expect(noEndSession.sessions!.store.size).toBe(0);
  });
});
