/**
 * The least-privilege Redis user of docs/redis.md, on the real redis-server over TLS: the `ACL SETUSER` line is read
 * from the docs (what a user pastes is what is tested). Two replicas (createService) work end to end as exactly that
 * user: sessions stored on one and read on the other, one refresh grant for two replicas refreshing at once (the
 * refresh lock and its release script), the Basic lockout scripts shared by both, pub/sub invalidation of a
 * sign-out, a back-channel logout reaching the other replica; Redis's ACL LOG shows no refusal but node-redis's
 * optional CLIENT SETINFO. Then, with each permission of the line removed in turn, the same run fails closed and
 * visibly: something answers 503 (or /readyz would), a log line names the refusal, and nothing that must be refused
 * is allowed.
 */
import { readFileSync } from 'node:fs';
import { SignJWT } from 'jose';
import request from 'supertest';
import { BACKCHANNEL_LOGOUT_EVENT } from '../../src/logout/logout-token.js';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { haveRedisTls, makeTlsFiles, removeTlsFiles, startTlsRedis, type TlsFiles, type TlsRedis } from '../helpers/redis-tls.js';
import { authRead as auth } from '../helpers/service.js';
import { fakeIdp, type TestService as Replica, testService } from '../helpers/test-service.js';
type Admin = Awaited<ReturnType<TlsRedis['admin']>>;

const withRedisTls = !haveRedisTls && process.env.CI !== 'true' ? describe.skip : describe;

/** The documented line: `ACL SETUSER nginx-authz reset on >CHANGE-ME <permissions...>`. */
const DOC_LINE = /^ACL SETUSER nginx-authz reset on >CHANGE-ME (.+)$/m.exec(
  readFileSync(new URL('../../docs/redis.md', import.meta.url), 'utf8'),
);
const PERMISSIONS = (DOC_LINE?.[1] ?? '').trim().split(/\s+/);
const SECRET = 'redis-acl-test-session-secret-0123456789abcdef';
const PASSWORD = 'acl-user-password-do-not-log-5e1d';
const MAX_FAILURES = 3;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Outcome {
  step: string;
  want: number;
  got: number;
}

withRedisTls('the least-privilege ACL user of docs/redis.md (real redis-server, TLS)', () => {
  let files: TlsFiles;
  let redis: TlsRedis;
  let admin: Admin;
  let idp: FakeIdp;
  /** Access tokens of subjects signed out at the IdP: its UMA grant refuses them, as Keycloak does. */
  const signedOut = new Set<string>();
  let refreshGrants = 0;

  beforeAll(async () => {
    expect(PERMISSIONS.length).toBeGreaterThan(5); // the docs hold the line
    files = makeTlsFiles();
    redis = await startTlsRedis(files);
    admin = await redis.admin();
    idp = await fakeIdp();
    idp.uma = (req) => {
      const grant = req.form.get('grant_type');
      if (grant === 'password') {
        const ok = req.form.get('password') === 'right-password';
        return ok
          ? { status: 200, body: { access_token: basicToken, token_type: 'Bearer', expires_in: 300 } }
          : { status: 401, body: { error: 'invalid_grant', error_description: 'Invalid user credentials' } };
      }
      if (grant === 'refresh_token') {
        refreshGrants++;
        return { status: 200, body: { access_token: renewed, token_type: 'Bearer', expires_in: 300, refresh_token: 'rt-2' }, delayMs: 300 };
      }
      const bearer = req.authorization?.replace(/^Bearer /, '') ?? '';
      return signedOut.has(bearer) ? { status: 400, body: { error: 'invalid_grant' } } : { status: 200, body: { result: true } };
    };
  });
  let basicToken = '';
  let renewed = '';
  afterAll(async () => {
    await redis?.stop();
    removeTlsFiles(files);
  });

  /** Creates the ACL user from the documented line (with `permissions`) and two replicas logged in as it. */
  async function replicas(user: string, permissions: string[]): Promise<[Replica, Replica]> {
    await admin.sendCommand(['ACL', 'SETUSER', user, 'reset', 'on', `>${PASSWORD}`, ...permissions]);
    await admin.sendCommand(['ACL', 'LOG', 'RESET']);
    const one = async () => {
      const { service } = await testService({
        idp,
        env: {
          AUTHZ_LOGIN_ENABLED: 'true',
          AUTHZ_LOGIN_ALLOWED_HOSTS: 'mlflow.example.com',
          AUTHZ_BASIC_ENABLED: 'true',
          AUTHZ_BASIC_MAX_FAILURES_PER_USER: String(MAX_FAILURES),
          AUTHZ_SESSION_STORE: 'redis',
          AUTHZ_SESSION_SECRET: SECRET,
          AUTHZ_REDIS_URL: `rediss://${user}@127.0.0.1:${redis.tlsPort}`,
          AUTHZ_REDIS_PASSWORD: PASSWORD,
          AUTHZ_REDIS_TLS_CA_FILE: files.ca,
        },
      });
      return service;
    };
    const pair: [Replica, Replica] = [await one(), await one()];
    const deadline = Date.now() + 8_000;
    for (const service of pair) {
      while ((await service.metrics.redisUp.get()).values[0]?.value !== 1) {
        if (Date.now() > deadline) throw new Error(`replica not connected: ${service.logs.lines.slice(-3).join('\n')}`);
        await sleep(25);
      }
    }
    await sleep(150); // the bus's subscription and PUBLISH probe
    return pair;
  }

  const statusOf = (error: unknown) => (error as { status?: number }).status ?? 500;

  /** A logout token as Keycloak posts it. */
  const logoutToken = (sub: string, sid: string) =>
    new SignJWT({
      iss: idp.url,
      aud: 'nginx-authz',
      iat: Math.floor(Date.now() / 1000),
      jti: `jti-${Math.random()}`,
      sub,
      sid,
      events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    })
      .setProtectedHeader({ alg: 'RS256', kid: idp.currentKey.kid, typ: 'logout+jwt' })
      .sign(idp.currentKey.privateKey);

  /** Polls `probe` until it answers `want` (at most 2 s) and returns the last answer. */
  async function settle(probe: () => Promise<number>, want: number): Promise<number> {
    const deadline = Date.now() + 2_000;
    let got = await probe();
    while (got !== want && Date.now() < deadline) {
      await sleep(50);
      got = await probe();
    }
    return got;
  }

  /** Everything the service does with Redis, across two replicas; each step's wanted and actual answer. */
  async function exercise(a: Replica, b: Replica): Promise<Outcome[]> {
    const out: Outcome[] = [];
    const tag = Math.random().toString(36).slice(2, 8);
    const sub = `acl-${tag}`;

    // Sessions: stored by A, read by B (B never saw it).
    const tokens = async (expiresInMs: number) => ({
      accessToken: await idp.token({ sub, sid: `sid-${tag}`, preferred_username: sub }),
      accessExpiresAtMs: Date.now() + expiresInMs,
      refreshToken: 'rt-1',
      idToken: await idp.idToken('nginx-authz', { sub, sid: `sid-${tag}` }),
    });
    const open = async (expiresInMs: number) => {
      try {
        const created = await a.sessions!.store.create(await tokens(expiresInMs));
        out.push({ step: 'session stored by A', want: 200, got: 200 });
        return { id: created.id, cookie: `nginx_authz_session=${await a.sessions!.cookie.seal(created.id, created.absoluteExpiresAtMs)}` };
      } catch (error) {
        out.push({ step: 'session stored by A', want: 200, got: statusOf(error) });
        return undefined;
      }
    };
    const session = await open(300_000);
    if (session !== undefined) out.push({ step: 'session read by B', want: 200, got: (await auth(b, { cookie: session.cookie })).status });

    // Refresh once across replicas: both need it at once, the old token already expired (no falling back on it); one
    // grant (the lock; its release script), and the replica that waited reads the new tokens (EXISTS on the lock).
    renewed = await idp.token({ sub, sid: `sid-${tag}`, preferred_username: sub });
    const due = await open(-1_000);
    if (due !== undefined) {
      refreshGrants = 0;
      const [onA, onB] = await Promise.all([auth(a, { cookie: due.cookie }), auth(b, { cookie: due.cookie })]);
      out.push({ step: 'refresh on A', want: 200, got: onA.status }, { step: 'refresh on B', want: 200, got: onB.status });
      out.push({ step: 'refresh grants', want: 1, got: refreshGrants });
    }

    // Sign-out on A: B drops its copy (pub/sub) and refuses the cookie. (A sign-out that failed, 503, ended nothing:
    // the user was told, and the session stays valid everywhere, as with Redis down.)
    if (session !== undefined) {
      let signedOutOk = true;
      try {
        await a.sessions!.store.delete(session.id);
        out.push({ step: 'sign-out on A', want: 200, got: 200 });
      } catch (error) {
        signedOutOk = false;
        out.push({ step: 'sign-out on A', want: 200, got: statusOf(error) });
      }
      if (signedOutOk)
        out.push({
          step: 'signed-out cookie on B',
          want: 401,
          got: await settle(async () => (await auth(b, { cookie: session.cookie })).status, 401),
        });
    }

    // Basic: the limiter's scripts; failures on both replicas share one budget.
    basicToken = await idp.token({ sub: `basic-${tag}`, preferred_username: `basic-${tag}` });
    const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`basic-${tag}:${password}`).toString('base64')}` });
    out.push({ step: 'Basic right password on A', want: 200, got: (await auth(a, basic('right-password'))).status });
    for (let i = 0; i < MAX_FAILURES; i++) {
      out.push({ step: `Basic failure ${i + 1}`, want: 401, got: (await auth(i % 2 === 0 ? b : a, basic(`wrong-${i}`))).status });
    }
    const locked = await auth(b, basic('right-password'));
    // Locked out: 401 with the retry header, even with the right password (a 401 without it would be a plain refusal).
    out.push({
      step: 'Basic locked out on B',
      want: 401,
      got: locked.status === 401 && locked.headers['x-authz-retry-after'] === undefined ? 0 : locked.status,
    });

    // Back-channel logout posted to A: B refuses the user's bearer token it had allowed (and cached).
    const bearer = await idp.token({ sub, sid: `sid-${tag}`, azp: 'mlflow-cli' });
    out.push({ step: 'bearer on B', want: 200, got: (await auth(b, { authorization: `Bearer ${bearer}` })).status });
    signedOut.add(bearer);
    const posted = await request(a.handler)
      .post('/oauth2/backchannel-logout')
      .type('form')
      .send({ logout_token: await logoutToken(sub, `sid-${tag}`) });
    out.push({ step: 'back-channel logout on A', want: 200, got: posted.status });
    // Accepted (200): B must refuse the token at once. Refused (500: a store failed), the IdP's log shows the logout
    // did not go through, and B's cached allow lives out the allow TTL, as with Redis down.
    if (posted.status === 200)
      out.push({
        step: 'bearer on B after logout',
        want: 401,
        got: await settle(async () => (await auth(b, { authorization: `Bearer ${bearer}` })).status, 401),
      });

    // What /readyz answers, less the client-credentials check this test's services do not run.
    for (const [name, service] of [
      ['A', a],
      ['B', b],
    ] as const) {
      const reasons = service.notReady().filter((reason) => reason.startsWith('redis'));
      out.push({ step: `ready ${name}: ${reasons.join('; ')}`, want: 200, got: reasons.length === 0 ? 200 : 503 });
    }
    return out;
  }

  /** Redis's ACL LOG: the commands (or keys, channels) it refused this user. */
  async function refused(user: string): Promise<string[]> {
    const entries = (await admin.sendCommand(['ACL', 'LOG'])) as unknown as string[][];
    return entries
      .map((flat) => Object.fromEntries(flat.flatMap((value, i) => (i % 2 === 0 ? [[value, flat[i + 1]]] : []))) as Record<string, string>)
      .filter((entry) => entry.username === user)
      .map((entry) => `${entry.reason}:${entry.object}`);
  }

  it('works end to end as exactly the documented user, and Redis refused it nothing it needs', async () => {
    const [a, b] = await replicas('nginx-authz', PERMISSIONS);
    const outcomes = await exercise(a, b);
    expect(outcomes.filter((o) => o.got !== o.want)).toEqual([]);
    expect((await refused('nginx-authz')).filter((what) => what !== 'command:client|setinfo')).toEqual([]);
    for (const service of [a, b]) {
      const text = service.logs.lines.join('\n');
      expect(text).not.toMatch(/NOPERM|redis unavailable|refused \(the ACL/);
      expect(text).not.toContain(PASSWORD);
    }
  }, 30_000);

  it('a channel the ACL refused and then grants: both replicas recover without a restart', async () => {
    const user = 'nginx-authz-late-channel';
    const [a, b] = await replicas(
      user,
      PERMISSIONS.filter((each) => !each.startsWith('&')),
    );
    const busProblems = () => [a, b].flatMap((service) => service.notReady().filter((reason) => reason.startsWith('redis bus')));
    expect(busProblems().length).toBe(2);
    await admin.sendCommand(['ACL', 'SETUSER', user, ...PERMISSIONS.filter((each) => each.startsWith('&'))]);
    const deadline = Date.now() + 6_000;
    while (busProblems().length > 0 && Date.now() < deadline) await sleep(50);
    expect(busProblems()).toEqual([]);
    expect(a.logs.lines.join('\n')).toMatch(/redis bus: subscribed; invalidations from the other replicas arrive again/);
    expect(a.logs.lines.join('\n')).toMatch(/redis bus: PUBLISH allowed again/);
    expect((await exercise(a, b)).filter((o) => o.got !== o.want)).toEqual([]);
  }, 30_000);

  it.each(PERMISSIONS.map((permission, i) => [permission, i]))(
    'without %s: fails closed and says so',
    async (permission, i) => {
      const user = `nginx-authz-minus-${i}`;
      const [a, b] = await replicas(
        user,
        PERMISSIONS.filter((each) => each !== permission),
      );
      const outcomes = await exercise(a, b);
      // Fails: some step does not get its answer (503 where Redis is needed), or a replica says it is not ready.
      expect(outcomes.filter((o) => o.got !== o.want).length).toBeGreaterThan(0);
      // Closed: nothing that must be refused is allowed.
      expect(outcomes.filter((o) => o.want === 401 && o.got === 200)).toEqual([]);
      // Visibly: Redis refused it, and a replica's log says so.
      expect((await refused(user)).filter((what) => what !== 'command:client|setinfo').length).toBeGreaterThan(0);
      const logs = [...a.logs.lines, ...b.logs.lines].join('\n');
      expect(logs).toMatch(/redis unavailable: answering 503|redis bus: (PUBLISH|SUBSCRIBE) refused/);
      expect(logs).not.toContain(PASSWORD);
    },
    30_000,
  );
});
