import { jest } from '@jest/globals';
import request from 'supertest';
import { createService } from '../../src/app.js';
import { createLogger } from '../../src/log.js';
import { PendingLoginCookie } from '../../src/login/pending.js';
import type { MemorySessionStore } from '../../src/session/store.js';
import { FakeIdp } from '../helpers/fake-idp.js';
import { testConfig } from '../helpers/service.js';
import { type TestService, testService } from '../helpers/test-service.js';

// /oauth2/callback outcomes beyond test/login/endpoints.test.ts and endpoints-idp-down.test.ts: the session
// store failing after a good code exchange (503, no session cookie, a retry link back to the same page),
// the return target checked again on the way out (a pending login sealed by another version may hold
// any target), the session cookie's lifetime, and no Secure cookie on the plain-http loopback development stack. Found unguarded by the mutation queue of round 5
// (docs/mutation.md).
const SECRET = 'a-development-secret-of-at-least-32-chars';
let idp: FakeIdp;
let service: TestService;

beforeAll(async () => {
  ({ idp, service } = await testService({
    env: {
      AUTHZ_LOGIN_ENABLED: 'true',
      AUTHZ_LOGIN_ALLOWED_HOSTS: 'mlflow.example.com',
      AUTHZ_SESSION_SECRET: SECRET,
      AUTHZ_SESSION_ABSOLUTE_TIMEOUT_SECONDS: '3600',
    },
  }));
});
afterEach(() => jest.restoreAllMocks());

const viaNginx = (path: string) =>
  request(service.handler).get(path).set('X-Forwarded-Host', 'mlflow.example.com').set('X-Forwarded-Proto', 'https');
const setCookies = (res: request.Response) => (res.headers['set-cookie'] as unknown as string[] | undefined) ?? [];
const count = async (result: string) => (await service.metrics.logins.get()).values.find((v) => v.labels.result === result)?.value ?? 0;

async function startLogin(rd: string) {
  const start = await viaNginx(`/oauth2/start?rd=${encodeURIComponent(rd)}`);
  expect(start.status).toBe(302);
  const cookie = setCookies(start).at(-1)!.split(';')[0]!;
  return { authorizationUrl: start.headers.location!, cookie, name: cookie.split('=')[0]! };
}
/** The browser following the IdP's redirect back (path and query of the callback URL). */
const callback = (callbackUrl: string, cookie: string) =>
  viaNginx(new URL(callbackUrl).pathname + new URL(callbackUrl).search).set('Cookie', cookie);

describe('/oauth2/callback', () => {
  it('says what the user can act on when the login is unknown, or the host is not one to log in on', async () => {
    const unknown = await viaNginx('/oauth2/callback?code=c&state=nothing-pending');
    expect(unknown.status).toBe(400);
    expect(unknown.text).toBe(
      '<!doctype html><meta charset="utf-8"><title>Sign-in</title><p>This login expired or was started in another browser.</p><p><a href="/oauth2/start?rd=%2F">Sign in again</a></p>',
    );
    for (const path of ['/oauth2/start?rd=%2Fx', '/oauth2/callback?code=c&state=s']) {
      const foreign = await request(service.handler).get(path).set('X-Forwarded-Host', 'evil.example').set('X-Forwarded-Proto', 'https');
      expect(foreign.status).toBe(400);
      expect(foreign.headers['set-cookie']).toBeUndefined();
      expect(foreign.text).toBe('<!doctype html><meta charset="utf-8"><title>Sign-in</title><p>This host is not configured for login.</p>');
    }
  });

  it('opens a session whose cookie lives session.absoluteTimeoutSeconds, and clears the pending login', async () => {
    const { authorizationUrl, cookie, name } = await startLogin('/experiments/3');
    const res = await callback(idp.codes.authorize(authorizationUrl), cookie);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/experiments/3');
    expect(res.headers['cache-control']).toBe('no-store');
    const [clear, session] = setCookies(res);
    expect(clear).toBe(`${name}=; Path=/oauth2/; HttpOnly; SameSite=Lax; Secure; Max-Age=0`);
    expect(session).toMatch(/^nginx_authz_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Secure; Max-Age=3600$/);
  });

  it('answers 503 when the session store fails after the code exchange: no session cookie, a retry link to the same page', async () => {
    const before = await count('store_unavailable');
    jest.spyOn(service.sessions!.store, 'create').mockImplementation(() => Promise.reject(new Error('store down')));
    const { authorizationUrl, cookie, name } = await startLogin('/experiments/4');
    const res = await callback(idp.codes.authorize(authorizationUrl), cookie);
    expect(res.status).toBe(503);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.text).toContain('Sessions cannot be stored right now');
    expect(res.text).toContain('<a href="/oauth2/start?rd=%2Fexperiments%2F4">');
    expect(setCookies(res)).toEqual([`${name}=; Path=/oauth2/; HttpOnly; SameSite=Lax; Secure; Max-Age=0`]);
    expect(await count('store_unavailable')).toBe(before + 1);
    expect(service.logs.records.some((r) => r.msg === 'login: session store unavailable; answering 503')).toBe(true);
  });

  it('checks the return target again before sending it: a pending login holding another site returns to /', async () => {
    const { authorizationUrl, cookie, name } = await startLogin('/experiments/5');
    // The same login, sealed again as an older or compromised version might have written it.
    const sealer = new PendingLoginCookie(SECRET, 600_000, Date.now);
    const pending = (await sealer.open(cookie.slice(name.length + 1)))!;
    expect(pending.returnTo).toBe('/experiments/5');
    const forged = `${name}=${await sealer.seal({ ...pending, returnTo: 'https://evil.example/steal' })}`;
    const res = await callback(idp.codes.authorize(authorizationUrl), forged);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/');
  });

  it('marks no cookie Secure on plain http at a loopback host (the development stack), from start to sign-out', async () => {
    const local = (path: string) => request(service.handler).get(path).set('Host', 'localhost:5000');
    const start = await local('/oauth2/start?rd=%2Fx');
    expect(start.status).toBe(302);
    const pending = setCookies(start).at(-1)!;
    expect(pending).toMatch(/^nginx_authz_login_[^;]+; Path=\/oauth2\/; HttpOnly; SameSite=Lax; Max-Age=600$/);
    const back = new URL(idp.codes.authorize(start.headers.location!));
    const res = await local(back.pathname + back.search).set('Cookie', pending.split(';')[0]!);
    expect(res.status).toBe(302);
    const [clear, session] = setCookies(res);
    expect(clear).toMatch(/; Path=\/oauth2\/; HttpOnly; SameSite=Lax; Max-Age=0$/);
    expect(session).toMatch(/^nginx_authz_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=3600$/);
    const out = await local('/oauth2/sign_out').set('Sec-Fetch-Site', 'same-origin').set('Cookie', session!.split(';')[0]!);
    expect(out.status).toBe(302);
    expect(setCookies(out)).toEqual(['nginx_authz_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0']);
  });
});

// What an operator reads when a login fails (never a token or a cookie): each log line names its cause.
describe('login log lines', () => {
  const lastLog = (msg: string) => service.logs.records.filter((r) => r.msg === msg).at(-1);
  afterEach(() => {
    idp.codeExchangeAnswer = undefined;
  });

  it('names the host that is not allowed, as NGINX forwarded it', async () => {
    await request(service.handler).get('/oauth2/start').set('X-Forwarded-Host', 'evil.example');
    expect(lastLog('login: host not allowed (set login.publicUrl or login.allowedHosts)')).toMatchObject({ host: 'evil.example' });
  });

  it('names the failed grant and why when the code exchange fails', async () => {
    const { authorizationUrl, cookie } = await startLogin('/x');
    const back = idp.codes.authorize(authorizationUrl);
    idp.codeExchangeAnswer = { status: 502, body: 'Bad Gateway' };
    expect((await callback(back, cookie)).status).toBe(503);
    const line = lastLog('login: code exchange failed') as { err: { message: string; detail: string } };
    expect(line.err.message).toMatch(/\S/);
    expect(line.err.detail).toMatch(/^authorization code grant: \S/);
  });

  it('names the OAuth error of a refused login, and the page says the login did not complete', async () => {
    const { authorizationUrl, cookie } = await startLogin('/y');
    const back = idp.codes.authorize(authorizationUrl);
    expect((await callback(back, cookie)).status).toBe(302);
    const replay = await callback(back, cookie);
    expect(replay.status).toBe(401);
    expect(replay.text).toBe(
      '<!doctype html><meta charset="utf-8"><title>Sign-in</title><p>Login did not complete.</p><p><a href="/oauth2/start?rd=%2Fy">Sign in again</a></p>',
    );
    expect(lastLog('login: refused')).toMatchObject({ oauth_error: 'invalid_grant' });
  });

  it('gives the store error of a failed login or sign-out', async () => {
    const spy = jest.spyOn(service.sessions!.store, 'create').mockImplementation(() => Promise.reject(new Error('store down: create')));
    const { authorizationUrl, cookie } = await startLogin('/z');
    expect((await callback(idp.codes.authorize(authorizationUrl), cookie)).status).toBe(503);
    expect(lastLog('login: session store unavailable; answering 503')).toMatchObject({ err: { message: 'store down: create' } });
    spy.mockRestore();
    const session = await (async () => {
      const { authorizationUrl: url, cookie: pending } = await startLogin('/z');
      return setCookies(await callback(idp.codes.authorize(url), pending))
        .at(-1)!
        .split(';')[0]!;
    })();
    jest.spyOn(service.sessions!.store, 'delete').mockImplementation(() => Promise.reject(new Error('store down: delete')));
    expect((await viaNginx('/oauth2/sign_out').set('Sec-Fetch-Site', 'same-origin').set('Cookie', session)).status).toBe(503);
    expect(lastLog('sign-out: session store unavailable; answering 503')).toMatchObject({ err: { message: 'store down: delete' } });
  });

  it('says why a sign-out asks for confirmation', async () => {
    expect((await viaNginx('/oauth2/sign_out').set('Sec-Fetch-Site', 'cross-site')).status).toBe(200);
    expect(lastLog('sign-out: not shown to be same-origin; asking for confirmation')).toMatchObject({ origin: 'cross-site' });
  });
});

describe('before the IdP has been discovered', () => {
  it('answers start and callback with 503 and signs out locally (no IdP to end the session at)', async () => {
    const down = await new FakeIdp().start();
    const url = down.url;
    await down.stop(); // discovery has not happened (and is never started here)
    const env = { AUTHZ_LOGIN_ENABLED: 'true', AUTHZ_LOGIN_ALLOWED_HOSTS: 'mlflow.example.com' };
    const early = createService(testConfig({ url } as FakeIdp, env), createLogger('silent'), { defaultMetrics: false });
    try {
      const get = (path: string) =>
        request(early.handler).get(path).set('X-Forwarded-Host', 'mlflow.example.com').set('X-Forwarded-Proto', 'https');
      for (const path of ['/oauth2/start?rd=%2Fx', '/oauth2/callback?code=c&state=s']) {
        const res = await get(path);
        expect(res.status).toBe(503);
        expect(res.headers['cache-control']).toBe('no-store');
        expect(res.text).toContain('The identity provider is not available yet');
        expect(res.headers['set-cookie']).toBeUndefined();
      }
      // A session from before (another replica's login): it holds an ID token, but there is no IdP to send it to.
      const session = (early.sessions!.store as MemorySessionStore).create({
        accessToken: 'an-opaque-access-token',
        accessExpiresAtMs: Date.now() + 300_000,
        refreshToken: 'rt',
        idToken: 'an-id-token',
      });
      const cookie = `nginx_authz_session=${await early.sessions!.cookie.seal(session.id, session.absoluteExpiresAtMs)}`;
      const out = await get('/oauth2/sign_out').set('Sec-Fetch-Site', 'same-origin').set('Cookie', cookie);
      expect(out.status).toBe(302);
      expect(out.headers.location).toBe('https://mlflow.example.com/');
      expect(out.headers['set-cookie']).toEqual(['nginx_authz_session=; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=0']);
      expect(early.sessions!.store.size).toBe(0);
    } finally {
      early.stop();
    }
  });
});
