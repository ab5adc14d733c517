/**
 * `session.store: redis` over TLS on the real redis-server (Debian's, built with TLS): a throwaway CA and server
 * certificate made with openssl at test time, Redis listening on TLS only (`port 0`) with an ACL user. The service
 * (createService, as dist/main.js builds it) stores and reads sessions over `rediss://` with the CA file; a wrong CA, a
 * plain `redis://` URL to the TLS port, a wrong password or a missing client certificate fail closed the way Redis
 * down does (503 where Redis is needed, bearer tokens still decided, a log line that says why, no crash), and no
 * password or token reaches the log.
 */
import request from 'supertest';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { haveRedisTls, makeTlsFiles, removeTlsFiles, startTlsRedis, type TlsFiles, type TlsRedis } from '../helpers/redis-tls.js';
import { authRead as auth } from '../helpers/service.js';
import { fakeIdp, type TestService as Replica, testService } from '../helpers/test-service.js';

// Without redis-server or openssl: a counted skip on a developer's machine, a failure in CI (.ci/run installs both).
const withRedisTls = !haveRedisTls && process.env.CI !== 'true' ? describe.skip : describe;

const SECRET = 'redis-tls-test-session-secret-0123456789abcdef';
const USER = 'authz-svc';
const PASSWORD = 'tls-user-password-do-not-log-7f3a';
const PREFIX = 'tls-test:';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (bounded) until `probe` holds. */
async function eventually(probe: () => Promise<boolean> | boolean, what: string, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`not reached in time: ${what}`);
    await sleep(25);
  }
}

const withoutEmpty = (env: Record<string, string>) => Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
const redisUp = async (service: Replica) => (await service.metrics.redisUp.get()).values[0]?.value === 1;

withRedisTls('Redis over TLS (rediss://, real redis-server, ACL user)', () => {
  let files: TlsFiles;
  let redis: TlsRedis;
  let idp: FakeIdp;

  beforeAll(async () => {
    files = makeTlsFiles();
    redis = await startTlsRedis(files, { users: [`${USER} on >${PASSWORD} ~${PREFIX}* &${PREFIX}* +@all`] });
    idp = await fakeIdp();
    idp.uma = (req) =>
      req.form.get('grant_type') === 'password'
        ? { status: 401, body: { error: 'invalid_grant', error_description: 'Invalid user credentials' } }
        : { status: 200, body: { result: true } };
  });
  afterAll(async () => {
    await redis?.stop();
    removeTlsFiles(files);
  });

  /** A replica on the TLS Redis; an override of '' removes that variable. */
  async function replica(overrides: Record<string, string> = {}): Promise<Replica> {
    const { service } = await testService({
      idp,
      env: withoutEmpty({
        AUTHZ_LOGIN_ENABLED: 'true',
        AUTHZ_LOGIN_ALLOWED_HOSTS: 'mlflow.example.com',
        AUTHZ_BASIC_ENABLED: 'true',
        AUTHZ_SESSION_STORE: 'redis',
        AUTHZ_SESSION_SECRET: SECRET,
        AUTHZ_REDIS_URL: `rediss://127.0.0.1:${redis.tlsPort}`,
        AUTHZ_REDIS_USERNAME: USER,
        AUTHZ_REDIS_PASSWORD: PASSWORD,
        AUTHZ_REDIS_TLS_CA_FILE: files.ca,
        AUTHZ_REDIS_KEY_PREFIX: PREFIX,
        ...overrides,
      }),
    });
    return service;
  }

  /** A session created through `service` (in Redis), and its cookie. */
  async function session(service: Replica, sub: string): Promise<{ cookie: string; accessToken: string }> {
    const accessToken = await idp.token({ sub, sid: `sid-${sub}`, preferred_username: sub });
    const created = await service.sessions!.store.create({
      accessToken,
      accessExpiresAtMs: Date.now() + 300_000,
      refreshToken: `refresh-${sub}-do-not-log`,
      idToken: await idp.idToken('nginx-authz', { sub, sid: `sid-${sub}` }),
    });
    return { cookie: `nginx_authz_session=${await service.sessions!.cookie.seal(created.id, created.absoluteExpiresAtMs)}`, accessToken };
  }

  /** Nothing secret in a replica's log: the Redis password, the admin password, the tokens, the cookie. */
  function expectNoSecrets(service: Replica, secrets: string[]): void {
    const text = service.logs.lines.join('\n');
    for (const secret of [PASSWORD, redis.adminPassword, SECRET, 'test-secret-do-not-log', ...secrets]) expect(text).not.toContain(secret);
  }

  it('stores a session over rediss:// with the CA file and another replica reads it (sessions at rest under the prefix)', async () => {
    const [a, b] = [await replica(), await replica()];
    await eventually(async () => (await redisUp(a)) && (await redisUp(b)), 'both replicas connected over TLS');
    const { cookie, accessToken } = await session(a, 'tls-alice');
    // B has never seen it: its answer comes from the record A wrote to Redis over TLS.
    expect(b.sessions!.store.size).toBe(0);
    const res = await auth(b, { cookie });
    expect(res.status).toBe(200);
    expect(b.sessions!.store.size).toBe(1);
    // What Redis holds is under the prefix, and the record is not the token.
    const admin = await redis.admin();
    const keys = await admin.keys('*');
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every((key) => key.startsWith(PREFIX))).toBe(true);
    for (const key of keys.filter((name) => name.startsWith(`${PREFIX}s:`))) expect(await admin.get(key)).not.toContain(accessToken);
    // The connection really is TLS: the server counts it on its TLS listener (no plain one exists: port 0).
    const clients = String(await admin.sendCommand(['CLIENT', 'LIST']));
    expect(clients).toMatch(new RegExp(`user=${USER}`));
    expect(clients).toMatch(new RegExp(`laddr=127\\.0\\.0\\.1:${redis.tlsPort}`));
    expect(a.logs.lines.join('\n')).toMatch(new RegExp(`"redis":"rediss://127\\.0\\.0\\.1:${redis.tlsPort}".*redis: connected`));
    expectNoSecrets(a, [accessToken, cookie.split('=')[1]!]);
    expectNoSecrets(b, [accessToken, cookie.split('=')[1]!]);
  });

  /** The Redis-down behaviour on a replica that cannot use Redis: 503 where Redis is needed, bearer decided, no crash. */
  async function expectFailsClosed(bad: Replica, logLine: RegExp): Promise<void> {
    const good = await replica();
    await eventually(() => redisUp(good), 'the good replica connected');
    const { cookie, accessToken } = await session(good, `fc-${Math.random()}`);
    await eventually(() => bad.logs.lines.some((line) => logLine.test(line)), `log line ${logLine}`);
    expect(await redisUp(bad)).toBe(false);
    // A session in Redis this replica has not seen: 503, never 200 nor 401 (the user is not signed out).
    expect((await auth(bad, { cookie })).status).toBe(503);
    // Basic credentials: the lockout check needs Redis: 503.
    expect((await auth(bad, { authorization: `Basic ${Buffer.from('basic-user:guess').toString('base64')}` })).status).toBe(503);
    // A login cannot be stored: the store refuses (503), nothing is kept.
    await expect(session(bad, 'fc-new')).rejects.toMatchObject({ status: 503 });
    // Bearer tokens keep working from local state.
    const bearer = await idp.token({ sub: 'fc-bearer', azp: 'mlflow-cli' });
    expect((await auth(bad, { authorization: `Bearer ${bearer}` })).status).toBe(200);
    // Still alive, still retrying, and silent about secrets.
    expect((await request(bad.handler).get('/healthz')).status).toBe(200);
    expect(bad.logs.lines.some((line) => /redis unavailable: answering 503/.test(line))).toBe(true);
    expectNoSecrets(bad, [accessToken, bearer, cookie.split('=')[1]!]);
  }

  it('a CA that did not sign the server certificate: fails closed, the log names TLS certificate verification', async () => {
    const bad = await replica({ AUTHZ_REDIS_TLS_CA_FILE: files.otherCa });
    await expectFailsClosed(bad, /TLS certificate verification failed \(SELF_SIGNED_CERT_IN_CHAIN/);
  });

  it('no CA file (the system CAs do not know this CA): fails closed the same way', async () => {
    const bad = await replica({ AUTHZ_REDIS_TLS_CA_FILE: '' });
    await expectFailsClosed(bad, /TLS certificate verification failed \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/);
  });

  it('a certificate for another name (tlsServername): fails closed; the right name connects', async () => {
    const bad = await replica({ AUTHZ_REDIS_TLS_SERVERNAME: 'redis.elsewhere.example' });
    await expectFailsClosed(bad, /TLS certificate verification failed \(ERR_TLS_CERT_ALTNAME_INVALID/);
    const named = await replica({ AUTHZ_REDIS_TLS_SERVERNAME: 'localhost' });
    await eventually(() => redisUp(named), 'connected with servername localhost');
  });

  it('a plain redis:// URL to the TLS port: fails closed, the log suggests rediss://', async () => {
    const bad = await replica({ AUTHZ_REDIS_URL: `redis://127.0.0.1:${redis.tlsPort}`, AUTHZ_REDIS_TLS_CA_FILE: '' });
    await expectFailsClosed(bad, /a TLS port\? then the URL must be rediss:\/\//);
  });

  it('a wrong password: fails closed with WRONGPASS in the log, and the password nowhere', async () => {
    const wrong = 'wrong-password-do-not-log-91c2';
    const bad = await replica({ AUTHZ_REDIS_PASSWORD: wrong });
    await expectFailsClosed(bad, /WRONGPASS/);
    expect(bad.logs.lines.join('\n')).not.toContain(wrong);
  });
});

withRedisTls('Redis that demands a client certificate (tls-auth-clients yes)', () => {
  let files: TlsFiles;
  let redis: TlsRedis;
  let idp: FakeIdp;

  beforeAll(async () => {
    files = makeTlsFiles();
    redis = await startTlsRedis(files, { users: [`${USER} on >${PASSWORD} ~${PREFIX}* &${PREFIX}* +@all`], authClients: true });
    idp = await fakeIdp();
  });
  afterAll(async () => {
    await redis?.stop();
    removeTlsFiles(files);
  });

  const replica = async (env: Record<string, string>) => {
    const { service } = await testService({
      idp,
      env: {
        AUTHZ_LOGIN_ENABLED: 'true',
        AUTHZ_LOGIN_ALLOWED_HOSTS: 'mlflow.example.com',
        AUTHZ_SESSION_STORE: 'redis',
        AUTHZ_SESSION_SECRET: SECRET,
        AUTHZ_REDIS_URL: `rediss://${USER}@127.0.0.1:${redis.tlsPort}`,
        AUTHZ_REDIS_PASSWORD: PASSWORD,
        AUTHZ_REDIS_TLS_CA_FILE: files.ca,
        AUTHZ_REDIS_KEY_PREFIX: PREFIX,
        ...env,
      },
    });
    return service;
  };

  it('without one: refused, logged as a TLS handshake failure pointing at the client certificate options', async () => {
    const bad = await replica({});
    await eventually(
      () => bad.logs.lines.some((line) => /TLS handshake failed.*redis\.tlsCertFile/.test(line)),
      'a handshake failure logged',
    );
    await sleep(300);
    expect(await redisUp(bad)).toBe(false);
    await expect(
      bad.sessions!.store.create({ accessToken: 'x', accessExpiresAtMs: Date.now() + 60_000, refreshToken: 'r', idToken: undefined }),
    ).rejects.toMatchObject({
      status: 503,
    });
  });

  it('with redis.tlsCertFile and redis.tlsKeyFile: connects, and sessions work', async () => {
    const good = await replica({ AUTHZ_REDIS_TLS_CERT_FILE: files.clientCert, AUTHZ_REDIS_TLS_KEY_FILE: files.clientKey });
    await eventually(
      async () => (await good.metrics.redisUp.get()).values[0]?.value === 1,
      `connected with a client certificate: ${good.logs.lines
        .filter((l) => l.includes('redis'))
        .slice(0, 3)
        .join('\n')}`,
    );
    const accessToken = await idp.token({ sub: 'mtls-user' });
    const created = await good.sessions!.store.create({
      accessToken,
      accessExpiresAtMs: Date.now() + 300_000,
      refreshToken: 'r',
      idToken: undefined,
    });
    const admin = await redis.admin();
    expect(await admin.exists(`${PREFIX}s:${created.id}`)).toBe(0); // the id itself never reaches Redis
    expect((await admin.keys(`${PREFIX}s:*`)).length).toBe(1);
  });
});
