import request from 'supertest';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { type TestService, testService } from '../helpers/test-service.js';
import { PendingLoginCookie } from '../../src/login/pending.js';

// The login callback's other outcomes (test/login/endpoints.test.ts has the successful login and the
// refusals): the IdP not answering the code exchange, an answer without the ID token, and where the
// browser returns when NGINX hands over an empty original URI. Found by mutation testing
// (docs/mutation.md): these paths were covered by no assertion.
let idp: FakeIdp;
let service: TestService;

beforeAll(async () => {
  ({ idp, service } = await testService({ env: { AUTHZ_LOGIN_ENABLED: 'true', AUTHZ_LOGIN_ALLOWED_HOSTS: 'mlflow.example.com' } }));
});
afterEach(() => {
  idp.codeExchangeAnswer = undefined;
  idp.idTokenClaims = (code) => ({ sub: 'user-1', nonce: code.nonce });
});

const viaNginx = (path: string) =>
  request(service.handler).get(path).set('X-Forwarded-Host', 'mlflow.example.com').set('X-Forwarded-Proto', 'https');

async function startLogin(rd: string) {
  const start = await viaNginx(`/oauth2/start?rd=${encodeURIComponent(rd)}`);
  expect(start.status).toBe(302);
  const cookie = (start.headers['set-cookie'] as unknown as string[]).at(-1)!.split(';')[0]!;
  return { authorizationUrl: start.headers.location!, cookie };
}
const callback = (callbackUrl: string, cookie: string) =>
  viaNginx(new URL(callbackUrl).pathname + new URL(callbackUrl).search).set('Cookie', cookie);
const setCookies = (res: request.Response) => (res.headers['set-cookie'] as unknown as string[] | undefined) ?? [];
const count = async (result: string) => (await service.metrics.logins.get()).values.find((v) => v.labels.result === result)?.value ?? 0;

describe('/oauth2/callback when the IdP does not answer the code exchange', () => {
  it.each([
    ['a 503', { status: 503, body: { error: 'temporarily_unavailable' } }],
    ['a 502 that is not OAuth JSON', { status: 502, body: 'Bad Gateway' }],
  ])('answers %s with 503 and a retry link to the same page, clears the pending login, opens no session', async (_, answer) => {
    const { authorizationUrl, cookie } = await startLogin('/experiments/9');
    const callbackUrl = idp.codes.authorize(authorizationUrl);
    idp.codeExchangeAnswer = answer;
    const sessions = service.sessions!.store.size;
    const before = { idpError: await count('idp_error'), refused: await count('refused'), ok: await count('ok') };

    const res = await callback(callbackUrl, cookie);

    expect(res.status).toBe(503);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.text).toContain('The identity provider did not answer; try again shortly.');
    expect(res.text).toContain('<a href="/oauth2/start?rd=%2Fexperiments%2F9">Sign in again</a>');
    const pendingName = cookie.split('=')[0]!;
    expect(setCookies(res)).toEqual([`${pendingName}=; Path=/oauth2/; HttpOnly; SameSite=Lax; Secure; Max-Age=0`]);
    expect(service.sessions!.store.size).toBe(sessions);
    expect(await count('idp_error')).toBe(before.idpError + 1);
    expect(await count('refused')).toBe(before.refused);
    expect(await count('ok')).toBe(before.ok);
    expect(service.logs.records.some((line) => line.msg === 'login: code exchange failed')).toBe(true);
  });

  it('answers a slow IdP within the issuer timeout rather than holding the browser', async () => {
    // issuer.httpTimeoutMs (5 s by default) bounds the code exchange; one that never answers is a 503.
    const { authorizationUrl, cookie } = await startLogin('/models');
    idp.codeExchangeAnswer = { status: 200, body: {}, delayMs: 30_000 };
    const began = Date.now();
    const res = await callback(idp.codes.authorize(authorizationUrl), cookie);
    expect(res.status).toBe(503);
    expect(Date.now() - began).toBeLessThan(25_000);
  }, 40_000);
});

describe('/oauth2/callback checks the ID token is there', () => {
  it('refuses a token answer without an ID token (the nonce could not be checked): 401, no session', async () => {
    idp.idTokenClaims = () => undefined;
    const { authorizationUrl, cookie } = await startLogin('/experiments');
    const sessions = service.sessions!.store.size;
    const res = await callback(idp.codes.authorize(authorizationUrl), cookie);
    expect(idp.codes.calls.at(-1)!.outcome).toBe('issued');
    expect(res.status).toBe(401);
    expect(service.sessions!.store.size).toBe(sessions);
    expect(setCookies(res).some((c) => c.startsWith('nginx_authz_session=') && !c.includes('Max-Age=0'))).toBe(false);
  });
});

describe('/oauth2/start return target', () => {
  it('uses ?rd= when NGINX sends an empty X-Original-URI', async () => {
    const start = await viaNginx('/oauth2/start?rd=%2Fmodels%2F3').set('X-Original-URI', '');
    const cookie = (start.headers['set-cookie'] as unknown as string[]).at(-1)!.split(';')[0]!;
    const res = await callback(idp.codes.authorize(start.headers.location!), cookie);
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/models/3');
  });

  it('prefers X-Original-URI (the page the browser asked NGINX for) over ?rd=', async () => {
    const start = await viaNginx('/oauth2/start?rd=%2Fmodels').set('X-Original-URI', '/experiments/5?tab=runs');
    const cookie = (start.headers['set-cookie'] as unknown as string[]).at(-1)!.split(';')[0]!;
    const res = await callback(idp.codes.authorize(start.headers.location!), cookie);
    expect(res.headers.location).toBe('/experiments/5?tab=runs');
  });

  it('names the pending-login cookie after the state it carries', async () => {
    const start = await viaNginx('/oauth2/start?rd=%2F');
    const state = new URL(start.headers.location!).searchParams.get('state')!;
    const cookie = (start.headers['set-cookie'] as unknown as string[]).at(-1)!;
    expect(cookie.startsWith(`${PendingLoginCookie.nameFor(state)}=`)).toBe(true);
    expect(cookie).toMatch(/; Path=\/oauth2\/; HttpOnly; SameSite=Lax; Secure; Max-Age=\d+$/);
  });
});

describe('pending-login cookies', () => {
  it('expires every older pending login when a fifth starts, on the /oauth2/ path', async () => {
    const names: string[] = [];
    let cookies = '';
    for (let i = 0; i < 4; i++) {
      const start = await viaNginx(`/oauth2/start?rd=%2F${i}`).set('Cookie', cookies);
      const pending = (start.headers['set-cookie'] as unknown as string[]).at(-1)!.split(';')[0]!;
      names.push(pending.split('=')[0]!);
      cookies = cookies === '' ? pending : `${cookies}; ${pending}`;
    }
    const fifth = await viaNginx('/oauth2/start?rd=%2F5').set('Cookie', cookies);
    const set = fifth.headers['set-cookie'] as unknown as string[];
    expect(set.slice(0, -1).sort()).toEqual(
      names.map((name) => `${name}=; Path=/oauth2/; HttpOnly; SameSite=Lax; Secure; Max-Age=0`).sort(),
    );
  });

  it('answers a callback without a state as an expired login and clears the cookie that state would name', async () => {
    const res = await viaNginx('/oauth2/callback?code=x');
    expect(res.status).toBe(400);
    expect(setCookies(res)).toEqual([`${PendingLoginCookie.nameFor('')}=; Path=/oauth2/; HttpOnly; SameSite=Lax; Secure; Max-Age=0`]);
  });
});
