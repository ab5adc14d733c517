/**
 * src/logout/endpoint.ts, the HTTP side of back-channel logout (test/logout/logout-token.test.ts has
 * the token's checks): what an applied logout purged is counted by kind; a store that fails is a
 * 500 the IdP can see, counted as error, and never logs the token; only POST is answered.
 */
import { SignJWT } from 'jose';
import request from 'supertest';
import { BACKCHANNEL_LOGOUT_EVENT } from '../../src/logout/logout-token.js';
import { BACKCHANNEL_LOGOUT_PATH } from '../../src/logout/endpoint.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { SMALL_ROUTES } from '../helpers/service.js';
import { type TestService, testService } from '../helpers/test-service.js';

let idp: FakeIdp;
let service: TestService;
beforeEach(async () => {
  ({ idp, service } = await testService({ env: SMALL_ROUTES }));
});

let counter = 0;
async function logoutToken(sub: string): Promise<string> {
  return new SignJWT({
    iss: idp.url,
    aud: 'nginx-authz',
    iat: Math.floor(Date.now() / 1000),
    jti: `endpoint-${++counter}`,
    sub,
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
  })
    .setProtectedHeader({ alg: 'RS256', kid: idp.currentKey.kid, typ: 'logout+jwt' })
    .sign(idp.currentKey.privateKey);
}

const post = (token: string) =>
  request(service.handler)
    .post(BACKCHANNEL_LOGOUT_PATH)
    .set('Content-Type', 'application/x-www-form-urlencoded')
    .send(`logout_token=${encodeURIComponent(token)}`);

const metric = (name: string) => service.metrics.registry.getSingleMetricAsString(name);

describe('POST /oauth2/backchannel-logout', () => {
  it('counts what it purged by kind (cached identities here), and logs the subject, not the token', async () => {
    for (const n of [1, 2]) await service.tokens.verify(await idp.token({ sub: 'user-9', jti: `at-${n}` }));
    const token = await logoutToken('user-9');
    expect((await post(token)).status).toBe(200);
    expect(await metric('authz_logout_purged_total')).toMatch(/authz_logout_purged_total\{kind="token"\} 2/);
    expect(await metric('authz_logout_purged_total')).not.toMatch(/kind="session"/);
    const line = service.logs.records.find((record) => record.msg === 'back-channel logout applied');
    expect(line).toMatchObject({ sub: 'user-9', tokens: 2 });
    expect(service.logs.lines.join('\n')).not.toContain(token.split('.')[2]!);
  });

  it('a logout that cannot be applied (a store fails): 500 server_error, counted as error, no token in the log', async () => {
    service.revoker.revoke = () => Promise.reject(new Error('redis: connection lost'));
    const token = await logoutToken('user-1');
    const response = await post(token);
    expect(response.status).toBe(500);
    expect(response.body).toEqual({ error: 'server_error' });
    expect(response.headers['cache-control']).toBe('no-store');
    expect(await metric('authz_backchannel_logouts_total')).toMatch(/result="error"\} 1/);
    expect(await metric('authz_backchannel_logouts_total')).not.toMatch(/result="ok"\}/);
    expect(service.logs.records.find((record) => record.msg === 'back-channel logout failed')).toMatchObject({
      err: 'redis: connection lost',
    });
    expect(service.logs.lines.join('\n')).not.toContain(token.split('.')[2]!);
  });

  it('answers 405 with Allow: POST to any other method', async () => {
    for (const method of ['get', 'put', 'delete'] as const) {
      const response = await request(service.handler)[method](BACKCHANNEL_LOGOUT_PATH);
      expect(response.status).toBe(405);
      expect(response.headers.allow).toBe('POST');
      expect(response.body).toEqual({ error: 'invalid_request' });
    }
  });
});
