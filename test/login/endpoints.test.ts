import request from 'supertest';
import { FakeIdp } from '../helpers/fake-idp.js';
import { startService } from '../helpers/service.js';
import { PendingLoginCookie } from '../../src/login/pending.js';

let idp: FakeIdp;
let service: Awaited<ReturnType<typeof startService>>;
let off: Awaited<ReturnType<typeof startService>>;

beforeAll(async () => {
  idp = await new FakeIdp().start();
  service = await startService(idp, { env: { AUTHZ_LOGIN_ENABLED: 'true', AUTHZ_LOGIN_ALLOWED_HOSTS: 'mlflow.example.com' } });
  off = await startService(idp);
});
afterAll(async () => {
  service.provider.stop();
  off.provider.stop();
  await idp.stop();
});

const viaNginx = (path: string) => request(service.handler).get(path).set('X-Forwarded-Host', 'mlflow.example.com').set('X-Forwarded-Proto', 'https');

describe('/oauth2/start', () => {
  it('redirects to the IdP with PKCE (S256), state and nonce, and keeps them in an encrypted cookie', async () => {
    const res = await viaNginx('/oauth2/start').set('X-Original-URI', '/#/experiments?x=1&y=2');
    expect(res.status).toBe(302);
    const location = new URL(res.headers.location!);
    expect(`${location.origin}${location.pathname}`).toBe(`${idp.url}/protocol/openid-connect/auth`);
    const query = Object.fromEntries(location.searchParams);
    expect(query).toMatchObject({ response_type: 'code', client_id: 'nginx-authz', redirect_uri: 'https://mlflow.example.com/oauth2/callback', code_challenge_method: 'S256', scope: 'openid profile email' });
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

  it.each(['/.//evil.example/steal', '/%2e//evil.example/x', '/a/..//evil.example/x', '/..//evil.example', '/.//'])('X-Original-URI %s returns to /', async (uri) => {
    expect(await returnTarget(() => viaNginx('/oauth2/start').set('X-Original-URI', uri))).toBe('/');
  });

  it.each([['/%09/evil.example'], ['/%5C/evil.example'], ['/#/experiments/1?x=1']])('X-Original-URI %s stays a path on this site', async (uri) => {
    expect(await returnTarget(() => viaNginx('/oauth2/start').set('X-Original-URI', uri))).toBe(uri);
  });
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

describe('sessions in /auth', () => {
  it('decides on the session token for a request with the session cookie; sign-out ends it at once', async () => {
    const token = await idp.token({ sub: 'u-7', preferred_username: 'carol' });
    const session = service.sessions!.store.create({ accessToken: token, accessExpiresAtMs: Date.now() + 300_000, refreshToken: 'rt', idToken: undefined });
    const cookie = `other=1; nginx_authz_session=${await service.sessions!.cookie.seal(session.id, session.absoluteExpiresAtMs)}`;
    const auth = () => request(service.handler).get('/auth').set('X-Original-Method', 'GET').set('X-Original-URI', '/ajax-api/2.0/mlflow/experiments/search').set('Cookie', cookie);
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
    const session = service.sessions!.store.create({ accessToken: token, accessExpiresAtMs: Date.now() + 300_000, refreshToken: 'rt', idToken: undefined });
    const cookie = `nginx_authz_session=${await service.sessions!.cookie.seal(session.id, session.absoluteExpiresAtMs)}`;
    const auth = () => request(service.handler).get('/auth').set('X-Original-Method', 'GET').set('X-Original-URI', '/ajax-api/2.0/mlflow/experiments/search').set('Cookie', cookie);
    for (const site of ['cross-site', 'same-site']) {
      const out = await viaNginx('/oauth2/sign_out').set('Cookie', cookie).set('Sec-Fetch-Site', site);
      expect(out.status).toBe(200);
      expect(out.headers['set-cookie']).toBeUndefined();
      expect(out.text).toContain('<form method="post" action="/oauth2/sign_out">');
      expect((await auth()).status).toBe(200);
    }
    const confirmed = await request(service.handler).post('/oauth2/sign_out').set('X-Forwarded-Host', 'mlflow.example.com').set('X-Forwarded-Proto', 'https').set('Cookie', cookie).set('Sec-Fetch-Site', 'same-origin');
    expect(confirmed.status).toBe(302);
    expect((await auth()).status).toBe(401);
  });

  it('without Sec-Fetch-Site, signs out only when Origin, else Referer, names this site; anything else asks for confirmation', async () => {
    const token = await idp.token({ sub: 'u-9', preferred_username: 'carol' });
    const newCookie = async () => {
      const session = service.sessions!.store.create({ accessToken: token, accessExpiresAtMs: Date.now() + 300_000, refreshToken: 'rt', idToken: undefined });
      return `nginx_authz_session=${await service.sessions!.cookie.seal(session.id, session.absoluteExpiresAtMs)}`;
    };
    const auth = (cookie: string) => request(service.handler).get('/auth').set('X-Original-Method', 'GET').set('X-Original-URI', '/ajax-api/2.0/mlflow/experiments/search').set('Cookie', cookie);
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
        const out = await request(service.handler)[method]('/oauth2/sign_out').set('X-Forwarded-Host', 'mlflow.example.com').set('X-Forwarded-Proto', 'https').set('Cookie', cookie).set(headers);
        expect([JSON.stringify(headers), method, out.status, out.headers['set-cookie']]).toEqual([JSON.stringify(headers), method, 200, undefined]);
        expect(out.text).toContain('<form method="post" action="/oauth2/sign_out">');
      }
      expect((await auth(cookie)).status).toBe(200);
    }
    for (const headers of [{ Origin: 'https://mlflow.example.com' }, { Referer: 'https://mlflow.example.com/#/experiments' }, { 'Sec-Fetch-Site': 'none' }]) {
      const own = await newCookie();
      const out = await request(service.handler).post('/oauth2/sign_out').set('X-Forwarded-Host', 'mlflow.example.com').set('X-Forwarded-Proto', 'https').set('Cookie', own).set(headers);
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
    expect((await request(service.handler).get('/auth').set('X-Original-Method', 'GET').set('X-Original-URI', '/static-files/app.js')).status).toBe(200);
  });

  it('refuses Basic credentials when basic.enabled is off', async () => {
    const res = await request(service.handler).get('/auth').set('X-Original-Method', 'GET').set('X-Original-URI', '/ajax-api/2.0/mlflow/experiments/search').set('Authorization', `Basic ${Buffer.from('bob:pw').toString('base64')}`);
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
