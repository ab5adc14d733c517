import type { MemorySessionStore } from '../../src/session/store.js';
import request from 'supertest';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { PendingLoginCookie } from '../../src/login/pending.js';
import { type TestService, testService } from '../helpers/test-service.js';
import { sessionCookieFor } from '../helpers/session-cookie.js';

let idp: FakeIdp;
let service: TestService;
let off: TestService;

beforeAll(async () => {
  ({ idp, service } = await testService({ env: { AUTHZ_LOGIN_ENABLED: 'true', AUTHZ_LOGIN_ALLOWED_HOSTS: 'mlflow.example.com' } }));
  ({ service: off } = await testService({ idp }));
});

const viaNginx = (path: string) =>
  request(service.handler).get(path).set('X-Forwarded-Host', 'mlflow.example.com').set('X-Forwarded-Proto', 'https');

describe('/oauth2/start', () => {
  it('redirects to the IdP with PKCE (S256), state and nonce, and keeps them in an encrypted cookie', async () => {
    const res = await viaNginx('/oauth2/start').set('X-Original-URI', '/#/experiments?x=1&y=2');
    expect(res.status).toBe(302);
    const location = new URL(res.headers.location!);
    expect(`${location.origin}${location.pathname}`).toBe(`${idp.url}/protocol/openid-connect/auth`);
    const query = Object.fromEntries(location.searchParams);
    expect(query).toMatchObject({
      response_type: 'code',
      client_id: 'nginx-authz',
      redirect_uri: 'https://mlflow.example.com/oauth2/callback',
      code_challenge_method: 'S256',
      scope: 'openid profile email',
    });
    expect(query.state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(query.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(query.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const cookie = (res.headers['set-cookie'] as unknown as string[])[0]!;
    expect(cookie).toMatch(/^nginx_authz_login_[A-Za-z0-9_-]{16}=[^;]+; Path=\/oauth2\/; HttpOnly; SameSite=Lax; Secure; Max-Age=600$/);
    expect(cookie.startsWith(`${PendingLoginCookie.nameFor(query.state!)}=`)).toBe(true);
    expect(cookie).not.toContain(query.state!); // encrypted, not just encoded
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('refuses hosts that are neither loopback nor allowed (the redirect URI would carry the code there)', async () => {
    const res = await request(service.handler).get('/oauth2/start').set('X-Forwarded-Host', 'evil.example.com');
    expect(res.status).toBe(400);
  });
});

describe('return target after login (issue 10, A4: open redirect through dot segments)', () => {
  /** Starts a login with `rd` (or X-Original-URI), comes back with its state: the fake IdP refuses the code, and the page's retry link carries the return target. */
  async function returnTarget(start: () => request.Test): Promise<string> {
    const started = await start();
    expect(started.status).toBe(302);
    const state = new URL(started.headers.location!).searchParams.get('state')!;
    const pending = (started.headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!;
    const back = await viaNginx(`/oauth2/callback?code=made-up&state=${state}`).set('Cookie', pending);
    expect(back.status).toBe(401);
    const retry = /href="([^"]+)"/.exec(back.text)![1]!.replace(/&#38;/g, '&');
    return new URL(retry, 'https://mlflow.example.com').searchParams.get('rd')!;
  }

  it.each([
    '%2F.%2F%2Fevil.example%2Fsteal',
    '%2F%252e%2F%2Fevil.example%2Fx',
    '%2Fa%2F..%2F%2Fevil.example%2Fx',
    '%2F%09%2Fevil.example',
    '%2F.%2F%2F',
    '%2F..%2F%2Fevil.example',
    '%2F%5Cevil.example',
  ])('?rd=%s returns to /', async (rd) => {
    expect(await returnTarget(() => viaNginx(`/oauth2/start?rd=${rd}`))).toBe('/');
  });

  it.each(['/.//evil.example/steal', '/%2e//evil.example/x', '/a/..//evil.example/x', '/..//evil.example', '/.//'])(
    'X-Original-URI %s returns to /',
    async (uri) => {
      expect(await returnTarget(() => viaNginx('/oauth2/start').set('X-Original-URI', uri))).toBe('/');
    },
  );

  it.each([['/%09/evil.example'], ['/%5C/evil.example'], ['/#/experiments/1?x=1']])(
    'X-Original-URI %s stays a path on this site',
    async (uri) => {
      expect(await returnTarget(() => viaNginx('/oauth2/start').set('X-Original-URI', uri))).toBe(uri);
    },
  );
});

describe('/oauth2/callback', () => {
  it('refuses a callback without the pending-login cookie (CSRF, expired, other browser)', async () => {
    const res = await viaNginx('/oauth2/callback?code=abc&state=def');
    expect(res.status).toBe(400);
    expect(service.sessions!.store.size).toBe(0);
  });

  it('refuses a state that matches no pending login', async () => {
    const start = await viaNginx('/oauth2/start?rd=/');
    const pending = (start.headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!;
    const res = await viaNginx('/oauth2/callback?code=abc&state=forged').set('Cookie', pending);
    expect(res.status).toBe(400);
    expect(service.sessions!.store.size).toBe(0);
  });

  it('refuses a pending-login cookie renamed to a forged state (the state sealed inside must match)', async () => {
    const start = await viaNginx('/oauth2/start?rd=/');
    const value = (start.headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!.split('=')[1]!;
    const res = await viaNginx('/oauth2/callback?code=abc&state=forged').set('Cookie', `${PendingLoginCookie.nameFor('forged')}=${value}`);
    expect(res.status).toBe(401);
    expect(service.sessions!.store.size).toBe(0);
  });

  it('keeps one pending login per tab: each callback finds its own, and at most four travel at once', async () => {
    const states: string[] = [];
    const cookies: string[] = [];
    for (let tab = 0; tab < 3; tab++) {
      const start = await viaNginx('/oauth2/start?rd=/').set('Cookie', cookies.join('; '));
      states.push(new URL(start.headers.location!).searchParams.get('state')!);
      cookies.push((start.headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!);
    }
    expect(new Set(cookies.map((c) => c.split('=')[0])).size).toBe(3);
    // The first tab's callback gets past the pending-login lookup (400) to the code exchange,
    // which this fake IdP refuses for the made-up code: 401 "Login did not complete", not "expired".
    const first = await viaNginx(`/oauth2/callback?code=abc&state=${states[0]}`).set('Cookie', cookies.join('; '));
    expect(first.status).toBe(401);
    expect(first.headers['set-cookie']![0]).toBe(`${cookies[0]!.split('=')[0]}=; Path=/oauth2/; HttpOnly; SameSite=Lax; Secure; Max-Age=0`);

    const fourth = await viaNginx('/oauth2/start?rd=/').set('Cookie', [...cookies, 'nginx_authz_login_extra=x'].join('; '));
    const set = fourth.headers['set-cookie'] as unknown as string[];
    expect(set.filter((c) => c.endsWith('Max-Age=0'))).toHaveLength(4); // the earlier four are dropped
    expect(set.at(-1)).toMatch(/Max-Age=600$/);
  });
});

/** `/oauth2/start` as the browser sends it: the IdP's authorization URL, the pending-login cookie and the state. */
async function startLogin(rd = '/experiments') {
  const start = await viaNginx(`/oauth2/start?rd=${encodeURIComponent(rd)}`);
  expect(start.status).toBe(302);
  const authorizationUrl = start.headers.location!;
  return {
    authorizationUrl,
    cookie: (start.headers['set-cookie'] as unknown as string[]).at(-1)!.split(';')[0]!,
    state: new URL(authorizationUrl).searchParams.get('state')!,
  };
}
/** The browser following the IdP's redirect back to the service (path and query of the callback URL). */
const callback = (callbackUrl: string, cookie: string) =>
  viaNginx(new URL(callbackUrl).pathname + new URL(callbackUrl).search).set('Cookie', cookie);
const sessionCookieOf = (res: request.Response) =>
  ((res.headers['set-cookie'] as unknown as string[] | undefined) ?? []).find(
    (c) => c.startsWith('nginx_authz_session=') && !c.includes('Max-Age=0'),
  );

describe('/oauth2/callback against an IdP that checks PKCE and issues an ID token with the nonce', () => {
  afterEach(() => {
    idp.idTokenClaims = (code) => ({ sub: 'user-1', nonce: code.nonce });
  });

  it('completes a login: the verifier of this login goes to the token endpoint, a session opens, /auth accepts its cookie', async () => {
    const before = service.sessions!.store.size;
    const { authorizationUrl, cookie } = await startLogin('/experiments?x=1');
    const res = await callback(idp.codes.authorize(authorizationUrl), cookie);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/experiments?x=1');
    const exchange = idp.codes.calls.at(-1)!;
    expect(exchange.outcome).toBe('issued');
    expect(exchange.form.get('code_verifier')).not.toBe(new URL(authorizationUrl).searchParams.get('code_challenge'));
    expect(service.sessions!.store.size).toBe(before + 1);
    const session = sessionCookieOf(res)!;
    expect(session).toMatch(/^nginx_authz_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Secure; Max-Age=\d+$/);
    const auth = await request(service.handler)
      .get('/auth')
      .set('X-Original-Method', 'GET')
      .set('X-Original-URI', '/ajax-api/2.0/mlflow/experiments/search')
      .set('Cookie', session.split(';')[0]!);
    expect(auth.status).toBe(200);
    expect(auth.headers['x-auth-request-user']).toBe('alice');
  });

  it('refuses a forged state before any token request: the code stays unspent, no session', async () => {
    const { authorizationUrl, cookie } = await startLogin();
    const callbackUrl = new URL(idp.codes.authorize(authorizationUrl));
    const code = callbackUrl.searchParams.get('code')!;
    callbackUrl.searchParams.set('state', 'forged-state');
    const sealed = cookie.slice(cookie.indexOf('=') + 1);
    const calls = idp.codes.calls.length;
    const before = service.sessions!.store.size;
    // The attacker's own pending login renamed to the forged state: the state sealed inside differs.
    const res = await callback(callbackUrl.href, `${PendingLoginCookie.nameFor('forged-state')}=${sealed}`);
    expect(res.status).toBe(401);
    expect(idp.codes.calls).toHaveLength(calls);
    expect(idp.codes.issued.get(code)!.used).toBe(false);
    expect(service.sessions!.store.size).toBe(before);
    expect(sessionCookieOf(res)).toBeUndefined();
  });

  it('refuses a code injected into another login (its PKCE verifier does not match): no tokens, no session', async () => {
    const attacker = await startLogin();
    const injected = new URL(idp.codes.authorize(attacker.authorizationUrl)).searchParams.get('code')!;
    const victim = await startLogin();
    const issued = idp.codes.tokensIssued;
    const before = service.sessions!.store.size;
    const res = await viaNginx(`/oauth2/callback?code=${injected}&state=${victim.state}`).set('Cookie', victim.cookie);
    expect(res.status).toBe(401);
    expect(idp.codes.calls.at(-1)!.outcome).toBe('invalid_grant');
    expect(idp.codes.calls.at(-1)!.form.get('code_verifier')).not.toBeNull();
    expect(idp.codes.tokensIssued).toBe(issued);
    expect(service.sessions!.store.size).toBe(before);
    expect(sessionCookieOf(res)).toBeUndefined();
  });

  it('refuses a replayed code (callback URL and pending cookie captured and sent again): no second session', async () => {
    const { authorizationUrl, cookie } = await startLogin();
    const callbackUrl = idp.codes.authorize(authorizationUrl);
    expect((await callback(callbackUrl, cookie)).status).toBe(302);
    const issued = idp.codes.tokensIssued;
    const before = service.sessions!.store.size;
    const replay = await callback(callbackUrl, cookie);
    expect(replay.status).toBe(401);
    expect(idp.codes.calls.at(-1)!.outcome).toBe('invalid_grant');
    expect(idp.codes.tokensIssued).toBe(issued);
    expect(service.sessions!.store.size).toBe(before);
    expect(sessionCookieOf(replay)).toBeUndefined();
  });

  it.each([
    ['another nonce', (nonce: string | undefined) => ({ sub: 'user-1', nonce: `${nonce}x` })],
    ['no nonce', () => ({ sub: 'user-1' })],
    ['another audience', (nonce: string | undefined) => ({ sub: 'user-1', nonce, aud: 'other-client' })],
    ['another issuer', (nonce: string | undefined) => ({ sub: 'user-1', nonce, iss: 'http://127.0.0.1:9/realms/other' })],
    [
      'an expired ID token',
      (nonce: string | undefined) => ({
        sub: 'user-1',
        nonce,
        iat: Math.floor(Date.now() / 1000) - 7200,
        exp: Math.floor(Date.now() / 1000) - 3600,
      }),
    ],
  ])('refuses an ID token with %s even though the IdP issued tokens: no session', async (_, claims) => {
    idp.idTokenClaims = (code) => claims(code.nonce);
    const { authorizationUrl, cookie } = await startLogin();
    const before = service.sessions!.store.size;
    const res = await callback(idp.codes.authorize(authorizationUrl), cookie);
    expect(idp.codes.calls.at(-1)!.outcome).toBe('issued');
    expect(res.status).toBe(401);
    expect(service.sessions!.store.size).toBe(before);
    expect(sessionCookieOf(res)).toBeUndefined();
  });

  it('counts each outcome (ok, invalid_state, refused) and offers a retry link back to the same page', async () => {
    const count = async (result: string) => (await service.metrics.logins.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
    const before = { ok: await count('ok'), invalid: await count('invalid_state'), refused: await count('refused') };
    const good = await startLogin('/experiments/7');
    expect((await callback(idp.codes.authorize(good.authorizationUrl), good.cookie)).status).toBe(302);
    expect(await count('ok')).toBe(before.ok + 1);
    const missing = await viaNginx('/oauth2/callback?code=x&state=nothing-pending');
    expect(missing.status).toBe(400);
    expect(missing.headers['cache-control']).toBe('no-store');
    expect(missing.text).toContain('<a href="/oauth2/start?rd=%2F">');
    expect(await count('invalid_state')).toBe(before.invalid + 1);
    const spent = await startLogin('/experiments/8');
    const url = idp.codes.authorize(spent.authorizationUrl);
    await callback(url, spent.cookie);
    const replay = await callback(url, spent.cookie);
    expect(replay.status).toBe(401);
    expect(replay.headers['cache-control']).toBe('no-store');
    expect(replay.text).toContain(`<a href="/oauth2/start?rd=%2Fexperiments%2F8">`);
    expect(await count('refused')).toBe(before.refused + 1);
  });

  it("returns to ?rd= when NGINX's X-Original-URI is itself a login URL", async () => {
    const start = await viaNginx('/oauth2/start?rd=%2Fmodels').set('X-Original-URI', '/oauth2/start?rd=/evil');
    const cookie = (start.headers['set-cookie'] as unknown as string[]).at(-1)!.split(';')[0]!;
    const res = await callback(idp.codes.authorize(start.headers.location!), cookie);
    expect(res.headers.location).toBe('/models');
  });

  it('signs out at the IdP too after a real login (RP-initiated logout with the ID token)', async () => {
    const { authorizationUrl, cookie } = await startLogin();
    const session = sessionCookieOf(await callback(idp.codes.authorize(authorizationUrl), cookie))!.split(';')[0]!;
    const out = await viaNginx('/oauth2/sign_out').set('Cookie', session).set('Sec-Fetch-Site', 'same-origin'); // the app's own sign-out link
    expect(out.status).toBe(302);
    const location = new URL(out.headers.location!);
    expect(`${location.origin}${location.pathname}`).toBe(`${idp.url}/protocol/openid-connect/logout`);
    expect(location.searchParams.get('post_logout_redirect_uri')).toBe('https://mlflow.example.com/');
    expect(location.searchParams.get('id_token_hint')).toMatch(/^ey[\w-]+\.[\w-]+\.[\w-]+$/);
    const auth = await request(service.handler)
      .get('/auth')
      .set('X-Original-Method', 'GET')
      .set('X-Original-URI', '/ajax-api/2.0/mlflow/experiments/search')
      .set('Cookie', session);
    expect(auth.status).toBe(401);
  });

  it('the IdP double itself refuses a missing or wrong PKCE verifier (so the tests above can fail)', async () => {
    const token = (form: Record<string, string>) =>
      fetch(`${idp.url}/protocol/openid-connect/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from('nginx-authz:s').toString('base64')}` },
        body: new URLSearchParams(form),
      });
    for (const verifier of [undefined, 'a'.repeat(43)]) {
      const { authorizationUrl } = await startLogin();
      const callbackUrl = new URL(idp.codes.authorize(authorizationUrl));
      const form: Record<string, string> = {
        grant_type: 'authorization_code',
        code: callbackUrl.searchParams.get('code')!,
        redirect_uri: `${callbackUrl.origin}${callbackUrl.pathname}`,
      };
      if (verifier !== undefined) form.code_verifier = verifier;
      const res = await token(form);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');
    }
  });
});

describe('sessions in /auth', () => {
  it('decides on the session token for a request with the session cookie; sign-out ends it at once', async () => {
    const token = await idp.token({ sub: 'u-7', preferred_username: 'carol' });
    const session = (service.sessions!.store as MemorySessionStore).create({
      accessToken: token,
      accessExpiresAtMs: Date.now() + 300_000,
      refreshToken: 'rt',
      idToken: undefined,
    });
    const cookie = `other=1; nginx_authz_session=${await service.sessions!.cookie.seal(session.id, session.absoluteExpiresAtMs)}`;
    const auth = () =>
      request(service.handler)
        .get('/auth')
        .set('X-Original-Method', 'GET')
        .set('X-Original-URI', '/ajax-api/2.0/mlflow/experiments/search')
        .set('Cookie', cookie);
    const first = await auth();
    expect(first.status).toBe(200);
    expect(first.headers['x-auth-request-user']).toBe('carol');
    expect((await auth()).status).toBe(200);

    const out = await viaNginx('/oauth2/sign_out').set('Cookie', cookie).set('Sec-Fetch-Site', 'same-origin'); // the UI's own link
    expect(out.status).toBe(302);
    expect(out.headers.location).toBe('https://mlflow.example.com/'); // no ID token: straight to postLogoutPath
    expect(out.headers['set-cookie']![0]).toMatch(/^nginx_authz_session=; Path=\/; HttpOnly; SameSite=Lax; Secure; Max-Age=0$/);
    const after = await auth();
    expect(after.status).toBe(401);
    expect(after.headers['www-authenticate']).toBe('Bearer realm="mlflow"');
  });

  it('does not sign out on a cross-site request (logout CSRF): it asks for a same-origin POST, and the session lives on', async () => {
    const token = await idp.token({ sub: 'u-8', preferred_username: 'carol' });
    const session = (service.sessions!.store as MemorySessionStore).create({
      accessToken: token,
      accessExpiresAtMs: Date.now() + 300_000,
      refreshToken: 'rt',
      idToken: undefined,
    });
    const cookie = `nginx_authz_session=${await service.sessions!.cookie.seal(session.id, session.absoluteExpiresAtMs)}`;
    const auth = () =>
      request(service.handler)
        .get('/auth')
        .set('X-Original-Method', 'GET')
        .set('X-Original-URI', '/ajax-api/2.0/mlflow/experiments/search')
        .set('Cookie', cookie);
    for (const site of ['cross-site', 'same-site']) {
      const out = await viaNginx('/oauth2/sign_out').set('Cookie', cookie).set('Sec-Fetch-Site', site);
      expect(out.status).toBe(200);
      expect(out.headers['set-cookie']).toBeUndefined();
      expect(out.text).toContain('<form method="post" action="/oauth2/sign_out">');
      expect((await auth()).status).toBe(200);
    }
    const confirmed = await request(service.handler)
      .post('/oauth2/sign_out')
      .set('X-Forwarded-Host', 'mlflow.example.com')
      .set('X-Forwarded-Proto', 'https')
      .set('Cookie', cookie)
      .set('Sec-Fetch-Site', 'same-origin');
    expect(confirmed.status).toBe(302);
    expect((await auth()).status).toBe(401);
  });

  it('without Sec-Fetch-Site, signs out only when Origin, else Referer, names this site; anything else asks for confirmation', async () => {
    const token = await idp.token({ sub: 'u-9', preferred_username: 'carol' });
    const newCookie = () => sessionCookieFor(service, token);
    const auth = (cookie: string) =>
      request(service.handler)
        .get('/auth')
        .set('X-Original-Method', 'GET')
        .set('X-Original-URI', '/ajax-api/2.0/mlflow/experiments/search')
        .set('Cookie', cookie);
    const cookie = await newCookie();
    const refused: Record<string, string>[] = [
      {}, // nothing shows where it came from (an old browser on a no-referrer page looks like this)
      { Origin: 'https://evil.example' },
      { Origin: 'null' },
      { Origin: 'http://mlflow.example.com' }, // another scheme is another origin
      { Origin: 'https://mlflow.example.com.evil.example' },
      { Referer: 'https://evil.example/page' },
      { Referer: 'https://sub.mlflow.example.com/' },
      { Origin: 'https://evil.example', Referer: 'https://mlflow.example.com/' }, // Origin decides when present
    ];
    for (const headers of refused) {
      for (const method of ['get', 'post'] as const) {
        const out = await request(service.handler)
          [method]('/oauth2/sign_out')
          .set('X-Forwarded-Host', 'mlflow.example.com')
          .set('X-Forwarded-Proto', 'https')
          .set('Cookie', cookie)
          .set(headers);
        expect([JSON.stringify(headers), method, out.status, out.headers['set-cookie']]).toEqual([
          JSON.stringify(headers),
          method,
          200,
          undefined,
        ]);
        expect(out.text).toContain('<form method="post" action="/oauth2/sign_out">');
      }
      expect((await auth(cookie)).status).toBe(200);
    }
    for (const headers of [
      { Origin: 'https://mlflow.example.com' },
      { Referer: 'https://mlflow.example.com/#/experiments' },
      { 'Sec-Fetch-Site': 'none' },
    ]) {
      const own = await newCookie();
      const out = await request(service.handler)
        .post('/oauth2/sign_out')
        .set('X-Forwarded-Host', 'mlflow.example.com')
        .set('X-Forwarded-Proto', 'https')
        .set('Cookie', own)
        .set(headers);
      expect(out.status).toBe(302);
      expect((await auth(own)).status).toBe(401);
    }
  });

  it('lets any verified identity load the UI shell (/ is AUTHENTICATED) without a UMA call; none gets 401', async () => {
    idp.umaCalls = [];
    const token = await idp.token({ sub: 'u-8', preferred_username: 'dave' });
    const shell = (bearer?: string) => {
      const req = request(service.handler).get('/auth').set('X-Original-Method', 'GET').set('X-Original-URI', '/');
      return bearer === undefined ? req : req.set('Authorization', `Bearer ${bearer}`);
    };
    expect((await shell(token)).status).toBe(200);
    expect(idp.umaCalls).toHaveLength(0);
    expect((await shell()).status).toBe(401);
    expect(
      (await request(service.handler).get('/auth').set('X-Original-Method', 'GET').set('X-Original-URI', '/static-files/app.js')).status,
    ).toBe(200);
  });

  it('refuses Basic credentials when basic.enabled is off', async () => {
    const res = await request(service.handler)
      .get('/auth')
      .set('X-Original-Method', 'GET')
      .set('X-Original-URI', '/ajax-api/2.0/mlflow/experiments/search')
      .set('Authorization', `Basic ${Buffer.from('bob:pw').toString('base64')}`);
    expect(res.status).toBe(401);
  });
});

describe('with login off', () => {
  it('answers /oauth2/* with the API 401, so NGINX never sends a browser round in circles', async () => {
    const res = await request(off.handler).get('/oauth2/start');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="mlflow"');
    expect(off.sessions).toBeUndefined();
  });
});
