/**
 * The replica wiring of src/app.ts (issue 11, item 4): two services, as two replicas, on one real
 * redis-server with `session.store: redis`. A back-channel logout posted to replica A is applied
 * by replica B too (A publishes it on the Redis bus, B's subscription runs its revoker), and a
 * logout token's `jti` claimed by A is refused by B (claimed once in Redis, not per process).
 */
import { SignJWT } from 'jose';
import request from 'supertest';
import type { RedisCluster } from '../src/cluster/redis-bus.js';
import { BACKCHANNEL_LOGOUT_EVENT } from '../src/logout/logout-token.js';
import { hashToken } from '../src/tokens/verify.js';
import type { FakeIdp } from './helpers/fake-idp.js';
import { startRedis, type TestRedis } from './helpers/redis-server.js';
import { authRead as auth } from './helpers/service.js';
import { fakeIdp, type TestService as Replica, testService } from './helpers/test-service.js';

const SECRET = 'replica-test-session-secret-0123456789abcdef';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let idp: FakeIdp;
let redis: TestRedis;

/** A replica on the test's Redis (stopped after the test, before the Redis it uses). */
async function replica(extra: Record<string, string> = {}): Promise<Replica> {
  const { service } = await testService({
    idp,
    env: {
      ...extra,
      AUTHZ_LOGIN_ENABLED: 'true',
      AUTHZ_LOGIN_ALLOWED_HOSTS: 'mlflow.example.com',
      AUTHZ_SESSION_STORE: 'redis',
      AUTHZ_REDIS_URL: redis.url,
      AUTHZ_SESSION_SECRET: SECRET,
    },
  });
  // Both the command connection and the bus subscription must be up before a logout can travel.
  await (service.cluster as RedisCluster).bus.ready();
  return service;
}

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});
beforeEach(async () => {
  idp = await fakeIdp();
});

let counter = 0;
/** A logout token as Keycloak posts it to the nginx-authz client. */
function logoutToken(sub: string, sid: string): Promise<string> {
  return new SignJWT({
    iss: idp.url,
    aud: 'nginx-authz',
    iat: Math.floor(Date.now() / 1000),
    jti: `jti-${++counter}-${Math.random()}`,
    sub,
    sid,
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
  })
    .setProtectedHeader({ alg: 'RS256', kid: idp.currentKey.kid, typ: 'logout+jwt' })
    .sign(idp.currentKey.privateKey);
}

const postLogout = (service: Replica, token: string) =>
  request(service.handler).post('/oauth2/backchannel-logout').type('form').send({ logout_token: token });

/** Waits (bounded) until `probe` holds: the bus delivers asynchronously. */
async function eventually(probe: () => Promise<boolean> | boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(20);
  }
}

describe('two services on one Redis (session.store: redis): back-channel logout across replicas', () => {
  it('a logout posted to replica A ends the session copy and refuses the bearer token on replica B', async () => {
    const [a, b] = [await replica(), await replica()];
    const sub = `user-${Math.random()}`;
    const accessToken = await idp.token({ sub, sid: 'sid-x', preferred_username: 'carol' });
    const bearer = await idp.token({ sub, sid: 'sid-x', preferred_username: 'carol', azp: 'mlflow-cli' });
    const session = await a.sessions!.store.create({
      accessToken,
      accessExpiresAtMs: Date.now() + 300_000,
      refreshToken: 'rt',
      idToken: await idp.idToken('nginx-authz', { sub, sid: 'sid-x' }),
    });
    const cookie = `nginx_authz_session=${await a.sessions!.cookie.seal(session.id, session.absoluteExpiresAtMs)}`;
    // Both replicas hold everything the logout must reach: B's session copy, and on each the verified identity and the decision.
    for (const service of [a, b]) {
      expect((await auth(service, { cookie })).status).toBe(200);
      expect((await auth(service, { authorization: `Bearer ${bearer}` })).status).toBe(200);
      expect(service.tokens.cached(hashToken(bearer))).toBeDefined();
    }
    expect(b.sessions!.store.size).toBe(1);
    const umaCalls = idp.umaCalls.length;
    expect((await auth(b, { authorization: `Bearer ${bearer}` })).status).toBe(200);
    expect(idp.umaCalls.length).toBe(umaCalls); // answered from B's cache: what the logout must purge

    const response = await postLogout(a, await logoutToken(sub, 'sid-x'));
    expect(response.status).toBe(200);

    // B applied it: the session copy is gone, the identity and decisions purged, the token revoked.
    await eventually(() => b.tokens.cached(hashToken(bearer)) === undefined && b.sessions!.store.size === 0);
    expect(b.revocations.size).toBeGreaterThan(0);
    expect(b.revocations.size).toBe(a.revocations.size); // the same records (by sub and by sid) as the replica that received it
    await expect(b.tokens.verify(bearer)).rejects.toThrow();
    for (const service of [a, b]) {
      expect((await auth(service, { cookie })).status).toBe(401);
      expect((await auth(service, { authorization: `Bearer ${bearer}` })).status).toBe(401);
    }
    // A token issued after the logout works on B.
    await sleep(1_100); // iat has one-second resolution: the new token must postdate the "revoked at" record
    const fresh = await idp.token({ sub, sid: 'sid-y', preferred_username: 'carol', azp: 'mlflow-cli' });
    expect((await auth(b, { authorization: `Bearer ${fresh}` })).status).toBe(200);
  }, 20_000);

  it("a logout posted to replica A purges B's cached Basic exchange and decisions of that subject: B's next Basic request makes a new password grant", async () => {
    const sub = `basic-user-${Math.random()}`;
    let basicToken = await idp.token({ sub, sid: 'sid-basic', preferred_username: sub, azp: 'mlflow-cli' });
    let passwordGrants = 0;
    idp.uma = (req) => {
      if (req.form.get('grant_type') !== 'password') return { status: 200, body: { result: true } };
      passwordGrants += 1;
      return { status: 200, body: { access_token: basicToken, token_type: 'Bearer', expires_in: 300 } };
    };
    const basicOn = { AUTHZ_BASIC_ENABLED: 'true', AUTHZ_BASIC_CLIENT_ID: 'mlflow-cli' };
    const [a, b] = [await replica(basicOn), await replica(basicOn)];
    const basic = {
      authorization: `Basic ${Buffer.from(`${sub}:right-password`).toString('base64')}`,
      'x-original-remote-addr': '10.1.2.3',
    };
    expect((await auth(b, basic)).status).toBe(200);
    expect((await auth(b, basic)).status).toBe(200);
    expect(passwordGrants).toBe(1); // B answers the second from its cached exchange
    const oldHash = hashToken(basicToken);
    expect(b.basic!.size).toBe(1);
    expect(b.decisions.size).toBeGreaterThan(0); // B's only decisions: this user's token
    expect(b.tokens.cached(oldHash)).toBeDefined();

    expect((await postLogout(a, await logoutToken(sub, 'sid-basic'))).status).toBe(200);

    // B applied it: its cached exchange, the identity and the decisions of the exchanged token are gone.
    await eventually(() => b.basic!.size === 0);
    expect(b.tokens.cached(oldHash)).toBeUndefined();
    expect(b.decisions.size).toBe(0);
    // The password still works: B's next Basic request makes a new grant (whose token postdates the logout).
    await sleep(1_100);
    basicToken = await idp.token({ sub, sid: 'sid-basic-2', preferred_username: sub, azp: 'mlflow-cli' });
    expect((await auth(b, basic)).status).toBe(200);
    expect(passwordGrants).toBe(2);
  }, 20_000);

  it('a logout token replayed to replica B after A accepted it is refused (its jti is claimed once in Redis)', async () => {
    const [a, b] = [await replica(), await replica()];
    const token = await logoutToken(`user-${Math.random()}`, 'sid-r');
    expect((await postLogout(a, token)).status).toBe(200);
    const replayed = await postLogout(b, token);
    expect(replayed.status).toBe(400);
    expect(replayed.body).toEqual({ error: 'invalid_request' });
    expect(b.logs.lines.filter((line) => line.includes('back-channel logout refused')).join('\n')).toMatch(/replay/i);
    // And the other way round: a token B accepted first is refused by A.
    const second = await logoutToken(`user-${Math.random()}`, 'sid-s');
    expect((await postLogout(b, second)).status).toBe(200);
    expect((await postLogout(a, second)).status).toBe(400);
  }, 20_000);
});
