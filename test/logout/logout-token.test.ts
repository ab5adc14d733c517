import { generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import request from 'supertest';
import { BACKCHANNEL_LOGOUT_EVENT } from '../../src/logout/logout-token.js';
import { hashToken } from '../../src/tokens/verify.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { type TestService, testService } from '../helpers/test-service.js';

let idp: FakeIdp;
let service: TestService;
let bearer: string;

beforeEach(async () => {
  ({ idp, service } = await testService({ env: { ...SMALL_ROUTES, AUTHZ_BASIC_CLIENT_ID: 'mlflow-cli' } }));
  // A user's token, verified and cached: what a logout would purge.
  bearer = await idp.token({ sub: 'user-1', sid: 'sid-1' });
  await service.tokens.verify(bearer);
});

const nowSec = () => Math.floor(Date.now() / 1000);
let counter = 0;

/** A logout token as Keycloak sends it, with overridable claims and header. */
async function logoutToken(
  claims: JWTPayload = {},
  header: Record<string, unknown> = {},
  key: { privateKey: Parameters<SignJWT['sign']>[0]; kid: string } = idp.currentKey,
): Promise<string> {
  return new SignJWT({
    iss: idp.url,
    aud: 'nginx-authz',
    iat: nowSec(),
    jti: `jti-${++counter}-${Math.random()}`,
    sub: 'user-1',
    sid: 'sid-1',
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    ...claims,
  })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'logout+jwt', ...header })
    .sign(key.privateKey);
}

const post = (body: string, type = 'application/x-www-form-urlencoded') =>
  request(service.handler).post('/oauth2/backchannel-logout').set('Content-Type', type).send(body);
const form = (token: string) => post(`logout_token=${encodeURIComponent(token)}`);

/** Nothing was applied: no revocation, the user's token still cached and accepted. */
async function expectNothingPurged(): Promise<void> {
  expect(service.revocations.size).toBe(0);
  expect(service.tokens.cached(hashToken(bearer))).toBeDefined();
  await expect(service.tokens.verify(bearer)).resolves.toMatchObject({ subject: 'user-1' });
}

async function expectRefused(token: string | Promise<string>, reason: RegExp): Promise<void> {
  const response = await form(await token);
  expect(response.status).toBe(400);
  expect(response.body).toEqual({ error: 'invalid_request' });
  expect(response.headers['cache-control']).toBe('no-store');
  const line = service.logs.lines.filter((l) => l.includes('back-channel logout refused')).at(-1);
  expect(line).toMatch(reason);
  const signature = (await token).split('.')[2] ?? '';
  if (signature !== '') expect(service.logs.lines.join('\n')).not.toContain(signature);
  await expectNothingPurged();
}

describe('POST /oauth2/backchannel-logout: verification', () => {
  it('applies a valid logout token: 200 no-store, the token is refused after', async () => {
    const response = await form(await logoutToken());
    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(service.tokens.cached(hashToken(bearer))).toBeUndefined();
    await expect(service.tokens.verify(bearer)).rejects.toMatchObject({ code: 'invalid_token' });
    expect(await service.metrics.registry.getSingleMetricAsString('authz_backchannel_logouts_total')).toMatch(/result="ok"} 1/);
  });

  it('accepts a token addressed to the Basic client, with a JWT typ header or none', async () => {
    expect((await form(await logoutToken({ aud: ['mlflow-cli'] }, { typ: 'JWT' }))).status).toBe(200);
    expect((await form(await logoutToken({ aud: 'mlflow-cli' }, { typ: undefined }))).status).toBe(200);
  });

  it('refuses a bad signature (another key)', async () => {
    const other = await generateKeyPair('RS256');
    await expectRefused(logoutToken({}, {}, { privateKey: other.privateKey, kid: idp.currentKey.kid }), /signature/i);
  });

  it('refuses alg none and HS256', async () => {
    const valid = await logoutToken();
    const [, payload] = valid.split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'logout+jwt' })).toString('base64url')}.${payload}.`;
    await expectRefused(none, /verification failed/);
    const hs = await new SignJWT({
      iss: idp.url,
      aud: 'nginx-authz',
      iat: nowSec(),
      jti: 'h',
      sub: 'user-1',
      events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    })
      .setProtectedHeader({ alg: 'HS256', kid: idp.currentKey.kid })
      .sign(new TextEncoder().encode('a-secret-anyone-could-pick-32-bytes!'));
    await expectRefused(hs, /ALG_NOT_ALLOWED/);
  });

  it('refuses a wrong or unconfigured issuer', async () => {
    await expectRefused(logoutToken({ iss: 'http://127.0.0.1:1/realms/evil' }), /issuer not configured/);
    await expectRefused(logoutToken({ iss: undefined }), /iss missing/);
  });

  it('refuses a wrong audience', async () => {
    await expectRefused(logoutToken({ aud: 'account' }), /CLAIM_VALIDATION_FAILED \(aud\)/);
  });

  it('refuses missing or malformed events', async () => {
    await expectRefused(logoutToken({ events: undefined }), /events claim missing/);
    await expectRefused(logoutToken({ events: { 'http://example.test/other': {} } }), /no back-channel logout event/);
    await expectRefused(logoutToken({ events: { [BACKCHANNEL_LOGOUT_EVENT]: 'yes' } }), /no back-channel logout event/);
    await expectRefused(logoutToken({ events: [BACKCHANNEL_LOGOUT_EVENT] }), /events claim missing/);
  });

  it('refuses a nonce, and a token with neither sub nor sid', async () => {
    await expectRefused(logoutToken({ nonce: 'n' }), /nonce present/);
    await expectRefused(logoutToken({ sub: undefined, sid: undefined }), /neither sub nor sid/);
  });

  it('refuses iat in the future, too old, missing; and an expired token', async () => {
    await expectRefused(logoutToken({ iat: nowSec() + 600 }), /verification failed|future/);
    await expectRefused(logoutToken({ iat: nowSec() - 3_600 }), /verification failed/);
    await expectRefused(logoutToken({ iat: undefined }), /verification failed/);
    await expectRefused(logoutToken({ exp: nowSec() - 120 }), /ERR_JWT_EXPIRED|\(exp\)/);
  });

  it('refuses a missing jti and a replayed one (counted as replayed)', async () => {
    await expectRefused(logoutToken({ jti: undefined }), /verification failed/);
    const once = await logoutToken({ sub: 'someone-else', sid: 'sid-other' });
    expect((await form(once)).status).toBe(200);
    const revocations = service.revocations.size;
    const again = await form(once);
    expect(again.status).toBe(400);
    expect(service.revocations.size).toBe(revocations);
    expect(await service.metrics.registry.getSingleMetricAsString('authz_backchannel_logouts_total')).toMatch(/result="replayed"} 1/);
  });

  it('refuses a wrong typ header', async () => {
    await expectRefused(logoutToken({}, { typ: 'at+jwt' }), /typ header/);
  });

  it('answers 400, never 5xx, to bad bodies', async () => {
    for (const [body, type] of [
      ['', 'application/x-www-form-urlencoded'],
      ['logout_token=', 'application/x-www-form-urlencoded'],
      ['logout_token=not.a.jwt', 'application/x-www-form-urlencoded'],
      ['{"logout_token":"x"}', 'application/json'],
      [`logout_token=${'a'.repeat(20_000)}`, 'application/x-www-form-urlencoded'],
      ['logout_token=%E0%A4%A', 'application/x-www-form-urlencoded'],
    ] as const) {
      const response = await post(body, type);
      expect([body.slice(0, 20), response.status]).toEqual([body.slice(0, 20), 400]);
    }
    expect((await request(service.handler).get('/oauth2/backchannel-logout')).status).toBe(405);
    await expectNothingPurged();
  });

  it('hands an applied logout to the broadcaster', async () => {
    const { createService } = await import('../../src/app.js');
    const { createLogger } = await import('../../src/log.js');
    const events: unknown[] = [];
    const other = createService(service.config, createLogger('silent'), {
      defaultMetrics: false,
      broadcastLogout: async (event) => {
        events.push(event);
      },
    });
    await other.issuers.start();
    expect(
      (
        await request(other.handler)
          .post('/oauth2/backchannel-logout')
          .type('form')
          .send({ logout_token: await logoutToken() })
      ).status,
    ).toBe(200);
    expect(events).toEqual([{ kind: 'logout', issuer: idp.url, sub: 'user-1', sid: 'sid-1' }]);
    other.stop();
  });
});
