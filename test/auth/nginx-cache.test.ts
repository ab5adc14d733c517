import request from 'supertest';
import { accelExpiresValues, type CacheFacts, nginxCacheSeconds } from '../../src/auth/nginx-cache.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { type TestService, testService } from '../helpers/test-service.js';
import type { MemorySessionStore } from '../../src/session/store.js';

const NOW = 1_800_000_000_000;
const allow: CacheFacts = {
  allowed: true,
  credential: 'bearer',
  renewed: false,
  unsafeMethod: false,
  copySource: false,
  tokenExpiresAtMs: NOW + 300_000,
  decisionExpiresAtMs: undefined,
};

describe('nginxCacheSeconds: how long NGINX may keep one answer', () => {
  it('keeps a plain bearer allow for nginx.cacheSeconds, less the second NGINX’s whole-second clock may add', () => {
    // NGINX serves an entry stored in second s with X-Accel-Expires n until second s + n ends.
    expect(nginxCacheSeconds(allow, 5, 60, NOW)).toBe(4);
    expect(nginxCacheSeconds(allow, 5, 60, NOW + 949)).toBe(4);
    // Answered 40 ms before a second boundary: NGINX may store it in the next second, so one less.
    expect(nginxCacheSeconds(allow, 5, 60, NOW + 960)).toBe(3);
    expect(nginxCacheSeconds(allow, 1, 60, NOW)).toBe(0);
  });

  it('never past the token expiry (rounded down), the allow TTL, or the service’s own remembered decision', () => {
    expect(nginxCacheSeconds({ ...allow, tokenExpiresAtMs: NOW + 2_900 }, 5, 60, NOW)).toBe(1);
    expect(nginxCacheSeconds({ ...allow, tokenExpiresAtMs: NOW + 3_000 }, 5, 60, NOW)).toBe(2);
    expect(nginxCacheSeconds({ ...allow, tokenExpiresAtMs: NOW + 1_900 }, 5, 60, NOW)).toBe(0);
    expect(nginxCacheSeconds({ ...allow, tokenExpiresAtMs: NOW - 1 }, 5, 60, NOW)).toBe(0);
    expect(nginxCacheSeconds(allow, 5, 3, NOW)).toBe(2);
    expect(nginxCacheSeconds({ ...allow, decisionExpiresAtMs: NOW + 4_000 }, 5, 60, NOW)).toBe(3);
    expect(nginxCacheSeconds({ ...allow, decisionExpiresAtMs: NOW + 500 }, 5, 60, NOW)).toBe(0);
  });

  it('keeps a session’s safe-method allow, and an allowed public route without a token', () => {
    expect(nginxCacheSeconds({ ...allow, credential: 'session' }, 5, 60, NOW)).toBe(4);
    expect(nginxCacheSeconds({ ...allow, credential: 'none', tokenExpiresAtMs: undefined }, 5, 60, NOW)).toBe(4);
  });

  it.each<[string, Partial<CacheFacts>]>([
    ['a refusal, challenge, lockout or error', { allowed: false }],
    ['Basic credentials', { credential: 'basic' }],
    ['a token from a session refresh or an exchange', { credential: 'session', renewed: true }],
    ['a session cookie on an unsafe method (CSRF check reads headers not in the key)', { credential: 'session', unsafeMethod: true }],
    ['an S3 copy (the copy source is not in the key)', { copySource: true }],
  ])('0 for %s', (_kind, facts) => {
    expect(nginxCacheSeconds({ ...allow, ...facts }, 5, 60, NOW)).toBe(0);
  });

  it('keeps a bearer (or public) allow on an unsafe method: only the session cookie’s CSRF check reads headers not in the key', () => {
    expect(nginxCacheSeconds({ ...allow, unsafeMethod: true }, 5, 60, NOW)).toBe(4);
    expect(nginxCacheSeconds({ ...allow, credential: 'none', tokenExpiresAtMs: undefined, unsafeMethod: true }, 5, 60, NOW)).toBe(4);
  });

  it('0 for everything when nginx.cacheSeconds is 0', () => {
    expect(nginxCacheSeconds(allow, 0, 60, NOW)).toBe(0);
  });

  it('precomputes the header values', () => {
    expect(accelExpiresValues(3)).toEqual(['0', '1', '2', '3']);
    expect(accelExpiresValues(0)).toEqual(['0']);
    expect(accelExpiresValues(-1)).toEqual(['0']);
  });
});

describe('X-Accel-Expires on every /auth answer', () => {
  let idp: FakeIdp;
  let service: TestService;
  let off: TestService;

  beforeAll(async () => {
    const env = {
      ...SMALL_ROUTES,
      AUTHZ_DECISION_TIMEOUT_MS: '1000',
      AUTHZ_LOGIN_ENABLED: 'true',
      AUTHZ_LOGIN_ALLOWED_HOSTS: 'mlflow.example.com',
      AUTHZ_BASIC_ENABLED: 'true',
    };
    ({ idp, service } = await testService({ env }));
    ({ service: off } = await testService({ idp, env: { ...env, AUTHZ_NGINX_CACHE_SECONDS: '0' } }));
  });
  beforeEach(() => {
    idp.uma = () => ({ status: 200, body: { result: true } });
  });

  const URI = '/api/2.0/mlflow/experiments/get?experiment_id=1';
  const auth = (target: typeof service, headers: Record<string, string>, method = 'GET', uri = URI) =>
    request(target.handler)
      .get('/auth')
      .set('X-Original-Method', method)
      .set('X-Original-URI', uri)
      .set('X-Forwarded-Host', 'mlflow.example.com')
      .set('X-Forwarded-Proto', 'https')
      // What authz-cache.conf sends (the hashed key): without it every answer is 0 (see below).
      .set('X-Authz-Cache-Key', 'h1 h2 127.0.0.1:8080 _ /auth GET /')
      .set(headers);

  async function sessionCookie(sub: string, accessExpiresInMs: number): Promise<string> {
    const token = await idp.token({ sub, preferred_username: sub });
    const session = (service.sessions!.store as MemorySessionStore).create({
      accessToken: token,
      accessExpiresAtMs: Date.now() + accessExpiresInMs,
      refreshToken: 'rt',
      idToken: undefined,
    });
    const cookie = `nginx_authz_session=${await service.sessions!.cookie.seal(session.id, session.absoluteExpiresAtMs)}`;
    // Opened once here, as an earlier request would have: the answers below take the synchronous path.
    await service.sessions!.find(cookie);
    return cookie;
  }

  it('allow with a bearer token: the configured seconds, on the IdP answer and on the cached one', async () => {
    const headers = { Authorization: `Bearer ${await idp.token({ sub: 'accel-1' })}` };
    for (let i = 0; i < 2; i++) {
      const res = await auth(service, headers);
      // 5 s less NGINX's extra second: 4, or 3 when answered within 50 ms of a second's end.
      expect(res.status).toBe(200);
      expect(['3', '4']).toContain(res.headers['x-accel-expires']);
    }
  });

  it('allow with a token expiring sooner than the TTL: its remaining whole seconds', async () => {
    const token = await idp.token({ sub: 'accel-2', exp: Math.floor(Date.now() / 1000) + 3 });
    const res = await auth(service, { Authorization: `Bearer ${token}` });
    expect(res.status).toBe(200);
    expect(['1', '2']).toContain(res.headers['x-accel-expires']);
  });

  it('an allow for a decision location without a cache snippet (no X-Authz-Cache-Key) is marked 0', async () => {
    const res = await request(service.handler)
      .get('/auth')
      .set('X-Original-Method', 'GET')
      .set('X-Original-URI', URI)
      .set('Authorization', `Bearer ${await idp.token({ sub: 'accel-no-snippet' })}`);
    expect([res.status, res.headers['x-accel-expires']]).toEqual([200, '0']);
    const plain = await auth(service, { Authorization: `Bearer ${await idp.token({ sub: 'accel-plain' })}`, 'X-Authz-Cache-Key': '-' });
    expect(plain.status).toBe(200);
    expect(['3', '4']).toContain(plain.headers['x-accel-expires']);
  });

  it('nginx.cacheSeconds 0: an allow is marked 0', async () => {
    const res = await auth(off, { Authorization: `Bearer ${await idp.token({ sub: 'accel-3' })}` });
    expect([res.status, res.headers['x-accel-expires']]).toEqual([200, '0']);
  });

  it('deny (403), no credentials (401), revoked (401), lockout/limit and IdP failure (503): 0', async () => {
    const headers = { Authorization: `Bearer ${await idp.token({ sub: 'accel-4' })}` };
    idp.uma = () => ({ status: 403, body: { error: 'access_denied' } });
    const denied = await auth(service, headers);
    expect([denied.status, denied.headers['x-accel-expires']]).toEqual([403, '0']);
    const anonymous = await auth(service, {});
    expect([anonymous.status, anonymous.headers['x-accel-expires']]).toEqual([401, '0']);
    idp.uma = () => ({ status: 400, body: { error: 'invalid_grant' } });
    const revoked = await auth(service, { Authorization: `Bearer ${await idp.token({ sub: 'accel-5' })}` });
    expect([revoked.status, revoked.headers['x-accel-expires']]).toEqual([401, '0']);
    idp.uma = () => ({ status: 200, body: { result: true }, delayMs: 2_000 });
    const failed = await auth(service, { Authorization: `Bearer ${await idp.token({ sub: 'accel-6' })}` });
    expect([failed.status, failed.headers['x-accel-expires']]).toEqual([503, '0']);
  });

  it('a Basic lockout (401 + X-Authz-Retry-After, NGINX makes it 429): 0', async () => {
    idp.uma = () => ({ status: 401, body: { error: 'invalid_grant', error_description: 'Invalid user credentials' } });
    const headers = { Authorization: `Basic ${Buffer.from('locked-user:wrong').toString('base64')}` };
    let locked: request.Response | undefined;
    for (let attempt = 0; attempt < 10 && locked === undefined; attempt++) {
      const res = await auth(service, headers);
      expect([res.status, res.headers['x-accel-expires']]).toEqual([401, '0']);
      if (res.headers['x-authz-retry-after'] !== undefined) locked = res;
    }
    expect(locked).toBeDefined();
  });

  it('Basic credentials: allowed but 0 (the key would hold the password)', async () => {
    idp.uma = (req) =>
      req.form.get('grant_type') === 'password'
        ? { status: 200, body: { access_token: tokenForBasic, token_type: 'Bearer', expires_in: 300 } }
        : { status: 200, body: { result: true } };
    const tokenForBasic = await idp.token({ sub: 'accel-basic', preferred_username: 'basic-user' });
    const res = await auth(service, { Authorization: `Basic ${Buffer.from('basic-user:pw').toString('base64')}` });
    expect([res.status, res.headers['x-accel-expires']]).toEqual([200, '0']);
  });

  it('session: a GET is cached, an unsafe method is 0, and the answer that refreshed the session is 0', async () => {
    const fresh = await sessionCookie('accel-session', 300_000);
    const get = await auth(service, { Cookie: fresh });
    expect(get.status).toBe(200);
    expect(['3', '4']).toContain(get.headers['x-accel-expires']);
    const post = await auth(service, { Cookie: fresh, Origin: 'https://mlflow.example.com' }, 'POST', '/api/2.0/mlflow/runs/delete');
    expect([post.status, post.headers['x-accel-expires']]).toEqual([200, '0']);

    // Within refreshBeforeSeconds of its expiry: the next request refreshes the session's token.
    const due = await sessionCookie('accel-refresh', 10_000);
    const renewed = await idp.token({ sub: 'accel-refresh' });
    let refreshes = 0;
    idp.uma = (req) => {
      if (req.form.get('grant_type') !== 'refresh_token') return { status: 200, body: { result: true } };
      refreshes++;
      return { status: 200, body: { access_token: renewed, token_type: 'Bearer', expires_in: 300, refresh_token: 'rt2' } };
    };
    const refreshed = await auth(service, { Cookie: due });
    expect(refreshes).toBe(1);
    expect([refreshed.status, refreshed.headers['x-accel-expires']]).toEqual([200, '0']);
  });
});
