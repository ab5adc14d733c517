/** `node dist/main.js check` (src/check.ts) against the in-test IdP double; the e2e runs it against Keycloak. */
import { runCheck } from '../src/check.js';
import type { FakeIdp } from './helpers/fake-idp.js';
import { SMALL_ROUTES } from './helpers/service.js';
import { fakeIdp } from './helpers/test-service.js';

let idp: FakeIdp;
beforeAll(async () => {
  idp = await fakeIdp();
});
beforeEach(() => {
  idp.pat = () => ({ status: 200, body: { access_token: 'pat-1', expires_in: 300 } });
});

async function check(env: Record<string, string>, args: string[] = []): Promise<{ status: number; lines: string[] }> {
  const lines: string[] = [];
  const status = await runCheck(args, { AUTHZ_CLIENT_ID: 'nginx-authz', ...env }, (line) => lines.push(line));
  return { status, lines };
}

describe('check mode', () => {
  it('reports discovery, keys, the PAT and a sample route, and exits 0', async () => {
    const { status, lines } = await check({ AUTHZ_ISSUER_URL: idp.url, AUTHZ_CLIENT_SECRET: 's', AUTHZ_UMA_PER_OBJECT: 'true' });
    expect(lines).toEqual([
      expect.stringMatching(
        /^ok {4}config: AUTHZ_\* variables; decision mode decision; login off; basic off; listens on 127\.0\.0\.1:4180 \(not checked\)$/,
      ),
      `ok    issuer primary (keycloak-uma): ${idp.url}: token endpoint ${idp.url}/protocol/openid-connect/token; introspection ${idp.url}/protocol/openid-connect/token/introspect`,
      `ok    issuer primary (keycloak-uma) keys: 1 signing key(s) from ${idp.url}/protocol/openid-connect/certs: k1 (RS256)`,
      'ok    client "nginx-authz" (PAT): PAT obtained (client credentials accepted, service account present)',
      'ok    routes: GET /api/2.0/mlflow/experiments/get needs experiments#read (table entry /api/2.0/mlflow/experiments/get); S3 table loaded',
      'check passed: the service can start with this configuration',
    ]);
    expect(status).toBe(0);
    expect(idp.patCalls.length).toBeGreaterThan(0);
  });

  it('resolves the request it is given', async () => {
    const { status, lines } = await check({ ...SMALL_ROUTES, AUTHZ_ISSUER_URL: idp.url }, ['POST', '/not/mapped']);
    expect(status).toBe(0);
    expect(lines).toContain('ok    credentials: no client secret is used by this configuration (nothing to check)');
    expect(lines).toContain('ok    routes: POST /not/mapped is not mapped: denied (no table entry)');
  });

  it('fails with the URL, the status and a hint for a wrong realm, and for a refused client secret', async () => {
    const wrong = idp.url.replace(/\/realms\/test$/, '/realms/nope');
    const realm = await check({ AUTHZ_ISSUER_URL: wrong });
    expect(realm.status).toBe(1);
    expect(realm.lines).toContain(
      `FAIL  issuer primary (keycloak-uma): issuer discovery: ${wrong}/.well-known/openid-configuration: HTTP 404 (no realm "nope" there: check the realm name (case-sensitive); Keycloak's issuer is ${wrong.replace(/nope$/, '')}<realm>)`,
    );
    expect(realm.lines.at(-1)).toBe('check failed: 1 problem(s) above');

    idp.pat = () => ({
      status: 401,
      body: { error: 'unauthorized_client', error_description: 'Invalid client or Invalid client credentials' },
    });
    const secret = await check({ AUTHZ_ISSUER_URL: idp.url, AUTHZ_CLIENT_SECRET: 'SUPER-SECRET-VALUE-123', AUTHZ_DECISION_MODE: 'ticket' });
    expect(secret.status).toBe(1);
    const line = secret.lines.find((text) => text.startsWith('FAIL  client "nginx-authz" (PAT)'));
    expect(line).toContain('HTTP 401 unauthorized_client');
    expect(line).toContain('set client.secret / AUTHZ_CLIENT_SECRET');
    expect(secret.lines.join('\n')).not.toContain('SUPER-SECRET-VALUE-123');
  });

  it('checks a login client secret with one introspection call', async () => {
    const good = `Basic ${Buffer.from('nginx-authz:right').toString('base64')}`;
    idp.introspect = (request) =>
      request.authorization === good ? { status: 200, body: { active: false } } : { status: 401, body: { error: 'invalid_client' } };
    const env = { AUTHZ_ISSUER_URL: idp.url, AUTHZ_LOGIN_ENABLED: 'true' };
    expect((await check({ ...env, AUTHZ_CLIENT_SECRET: 'right' })).lines).toContain(
      'ok    client "nginx-authz" of issuer primary: client credentials accepted (introspection)',
    );
    const wrong = await check({ ...env, AUTHZ_CLIENT_SECRET: 'wrong' });
    expect(wrong.status).toBe(1);
    expect(wrong.lines.find((text) => text.startsWith('FAIL  client "nginx-authz" of issuer primary'))).toMatch(
      /introspect: HTTP 401 invalid_client \(the IdP refused client "nginx-authz" with this secret/,
    );
    expect(idp.introspectCalls.at(-1)!.form.get('token')).toBe('nginx-authz-credentials-check');
  });

  it('lists configuration problems and exits 1', async () => {
    const { status, lines } = await check({ AUTHZ_ISSUER_URL: 'ftp://x' });
    expect(status).toBe(1);
    expect(lines[0]).toMatch(/^FAIL {2}config: issuer\.url: must be an http\(s\) URL/);
  });
});
