import type { MemorySessionStore } from '../../src/session/store.js';
import request from 'supertest';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { type TestService, testService } from '../helpers/test-service.js';
import { sessionCookieFor } from '../helpers/session-cookie.js';

let idp: FakeIdp;
let service: TestService;

beforeAll(async () => {
  ({ idp, service } = await testService({ env: { AUTHZ_LOGIN_ENABLED: 'true', AUTHZ_LOGIN_ALLOWED_HOSTS: 'mlflow.example.com' } }));
});
beforeEach(() => {
  idp.umaCalls = [];
});

async function sessionCookie(sub: string): Promise<string> {
  const token = await idp.token({ sub, preferred_username: 'bob' });
  return sessionCookieFor(service, token);
}

/** The /auth subrequest as NGINX sends it for https://mlflow.example.com (X-Forwarded-* from the snippet, the client's own headers passed through). */
const auth = (method: string, uri: string, headers: Record<string, string>) =>
  request(service.handler)
    .get('/auth')
    .set('X-Original-Method', method)
    .set('X-Original-URI', uri)
    .set('X-Forwarded-Host', 'mlflow.example.com')
    .set('X-Forwarded-Proto', 'https')
    .set(headers);

const DELETE_RUN = '/ajax-api/2.0/mlflow/runs/delete';

describe('CSRF check of state-changing requests authenticated by the session cookie (issue 10, A10c)', () => {
  it.each<Record<string, string>>([
    {},
    { Origin: 'https://evil.example' },
    { Origin: 'null' },
    { Origin: 'https://sibling.example.com' },
    { Origin: 'http://mlflow.example.com' },
    { Origin: 'https://mlflow.example.com', 'Sec-Fetch-Site': 'same-site' }, // a sibling subdomain's page
    { Origin: 'https://mlflow.example.com', 'Sec-Fetch-Site': 'cross-site' },
    { Referer: 'https://evil.example/form.html' },
  ])('refuses POST with the session cookie and %j: 403, no IdP call', async (headers) => {
    const cookie = await sessionCookie(`refused ${JSON.stringify(headers)}`);
    const res = await auth('POST', DELETE_RUN, { Cookie: cookie, ...headers });
    expect(res.status).toBe(403);
    expect(idp.umaCalls).toHaveLength(0);
  });

  it('names the reason in a log line, without the cookie', async () => {
    const cookie = await sessionCookie('logged');
    expect(
      (await auth('DELETE', '/ajax-api/2.0/mlflow/registered-models/delete', { Cookie: cookie, Origin: 'https://evil.example' })).status,
    ).toBe(403);
    const line = service.logs.records
      .filter((r) => r.msg === 'session-cookie request refused: not shown to come from this site (CSRF check)')
      .at(-1);
    expect(line).toMatchObject({ method: 'DELETE', reason: 'Origin is not https://mlflow.example.com' });
    expect(JSON.stringify(service.logs.records)).not.toContain(cookie.split('=')[1]!);
  });

  it.each([
    ['PUT', '/ajax-api/3.0/mlflow/scorers/online-config'],
    ['PATCH', '/ajax-api/2.0/mlflow/registered-models/update'],
    ['DELETE', '/ajax-api/2.0/mlflow/registered-models/delete'],
  ])('refuses %s %s from another origin too, and allows it from the site', async (method, uri) => {
    const cookie = await sessionCookie(`m ${method}`);
    expect((await auth(method, uri, { Cookie: cookie, Origin: 'https://evil.example' })).status).toBe(403);
    expect(idp.umaCalls).toHaveLength(0);
    expect((await auth(method, uri, { Cookie: cookie, Origin: 'https://mlflow.example.com' })).status).toBe(200);
    expect(idp.umaCalls).toHaveLength(1);
  });

  it.each<Record<string, string>>([
    { Origin: 'https://mlflow.example.com' },
    { Origin: 'https://mlflow.example.com', 'Sec-Fetch-Site': 'same-origin' },
    { Referer: 'https://mlflow.example.com/#/experiments/1' },
  ])("allows the site's own POST with %j", async (headers) => {
    const cookie = await sessionCookie(`own ${JSON.stringify(headers)}`);
    expect((await auth('POST', DELETE_RUN, { Cookie: cookie, ...headers })).status).toBe(200);
    expect(idp.umaCalls.map((c) => c.form.get('permission'))).toEqual(['runs#delete']);
  });

  it('leaves safe methods alone (a cross-site GET is a navigation, decided as usual)', async () => {
    const cookie = await sessionCookie('reader');
    expect(
      (
        await auth('GET', '/ajax-api/2.0/mlflow/experiments/search', {
          Cookie: cookie,
          Origin: 'https://evil.example',
          'Sec-Fetch-Site': 'cross-site',
        })
      ).status,
    ).toBe(200);
  });

  it('does not apply to a Bearer token, which no page can make a browser send', async () => {
    const token = await idp.token({ sub: 'api-client' });
    const cookie = await sessionCookie('with-bearer');
    expect(
      (await auth('POST', DELETE_RUN, { Authorization: `Bearer ${token}`, Cookie: cookie, Origin: 'https://evil.example' })).status,
    ).toBe(200);
    expect((await auth('POST', DELETE_RUN, { Authorization: `Bearer ${token}` })).status).toBe(200);
  });

  it('compares with login.publicUrl when it is set, whatever the forwarded host', async () => {
    const { service: pinned } = await testService({
      idp,
      env: { AUTHZ_LOGIN_ENABLED: 'true', AUTHZ_LOGIN_PUBLIC_URL: 'https://ml.example.org' },
    });
    const token = await idp.token({ sub: 'pinned' });
    const session = (pinned.sessions!.store as MemorySessionStore).create({
      accessToken: token,
      accessExpiresAtMs: Date.now() + 300_000,
      refreshToken: 'rt',
      idToken: undefined,
    });
    const cookie = `nginx_authz_session=${await pinned.sessions!.cookie.seal(session.id, session.absoluteExpiresAtMs)}`;
    const post = (origin: string) =>
      request(pinned.handler)
        .get('/auth')
        .set('X-Original-Method', 'POST')
        .set('X-Original-URI', DELETE_RUN)
        .set('X-Forwarded-Host', 'mlflow.example.com')
        .set('Cookie', cookie)
        .set('Origin', origin);
    expect((await post('https://mlflow.example.com')).status).toBe(403);
    expect((await post('https://ml.example.org')).status).toBe(200);
  });
});
