/**
 * Two nginx-authz replicas behind NGINX (round robin, no stickiness) sharing sessions and Basic
 * lockouts through a real Redis (issue 11, items 1–3 and 6). Real Keycloak, NGINX, MLflow,
 * Redis and Chromium. The default e2e stack runs one replica on the memory store; this file
 * switches it to two (`AUTHZ_REPLICAS=2 scripts/stack/up.sh`: starts Redis and the second
 * replica, re-renders NGINX) unless it already runs two, and switches it back at the end.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { openBrowser, signIn, type Browser } from './browser.js';
import { adminHeaders, setClientAttribute } from './keycloak-admin.js';
import { cookieHeader, finishLogin, sessionCookieFor, signInAtKeycloak, startLogin } from './login-http.js';
import { password, ROOT, stack, tokenFor, uniqueName, viaNginx } from './stack.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const SEARCH = '/ajax-api/2.0/mlflow/experiments/search?max_results=1';
const search = (cookie: string) => viaNginx('GET', SEARCH, { headers: { cookie } });
const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

function env(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`${process.env.STACK_DIR ?? `${ROOT}/.stack`}/env`, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (match) out[match[1]!] = match[2]!.replace(/^'(.*)'$/, '$1');
  }
  return out;
}

async function stackScript(script: string, args: string[], extra: Record<string, string> = {}): Promise<void> {
  await run('bash', [`${ROOT}/scripts/stack/${script}`, ...args], {
    cwd: ROOT,
    env: { ...process.env, STACK_INSTALL: '0', STACK_BUILD: '0', ...extra },
    timeout: 600_000,
  });
}

describe('two replicas sharing sessions and lockouts through Redis (no stickiness)', () => {
  let switched = false;
  let ports: [string, string] = ['', ''];
  let browser: Browser | undefined;

  /** One sample of a replica's metrics (0 when absent). */
  async function metricOf(replica: 0 | 1, name: string, labels = ''): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${ports[replica]}/metrics`)).text();
    return text
      .split('\n')
      .filter((row) => row.startsWith(labels === '' ? `${name} ` : `${name}{`) && row.includes(labels))
      .reduce((sum, row) => sum + Number(row.split(' ').pop()), 0);
  }
  const both = async (name: string, labels = '') => (await metricOf(0, name, labels)) + (await metricOf(1, name, labels));
  /** Decisions on the experiments search (the requests these tests send; the UI's own requests not counted). */
  const decisions = (replica: 0 | 1) => metricOf(replica, 'authz_decisions_total', 'resource="experiments",scope="read"');
  /** The decision subrequest NGINX sends for the experiments search, sent straight to one replica. */
  async function authDirect(replica: 0 | 1, cookie: string, authorization?: string, address = '127.0.0.1'): Promise<number> {
    return (await authDirectResponse(replica, cookie, authorization, address)).status;
  }
  async function authDirectResponse(replica: 0 | 1, cookie: string, authorization?: string, address = '127.0.0.1'): Promise<Response> {
    const site = new URL(stack.MLFLOW_URL!);
    const headers: Record<string, string> = {
      'x-original-method': 'GET',
      'x-original-uri': SEARCH,
      'x-forwarded-host': site.host,
      'x-forwarded-proto': 'http',
      'x-original-remote-addr': address,
    };
    if (cookie !== '') headers.cookie = cookie;
    if (authorization !== undefined) headers.authorization = authorization;
    const response = await fetch(`http://127.0.0.1:${ports[replica]}/auth`, { headers });
    await response.arrayBuffer();
    return response;
  }
  /** One request per replica first: each asks Keycloak once for this token (slow on a loaded machine), later ones hit its cache. */
  async function warm(cookie: string): Promise<void> {
    for (let i = 0; i < 6; i++) if ((await search(cookie)).status !== 200) await sleep(1_000);
  }

  beforeAll(async () => {
    if (env().STACK_REPLICAS !== '2') {
      switched = true;
      await stackScript('up.sh', [], { AUTHZ_REPLICAS: '2' });
    }
    const now = env();
    ports = [now.AUTHZ_PORT!, now.AUTHZ2_PORT!];
    expect(ports.every((port) => /^\d+$/.test(port))).toBe(true);
  }, 900_000);

  afterAll(async () => {
    await browser?.close();
    // Whatever a test stopped comes back; then the stack returns to the shape it had.
    await stackScript('redis.sh', ['start']).catch(() => undefined);
    await stackScript('authz.sh', ['start']).catch(() => undefined);
    if (switched) await stackScript('up.sh', [], { AUTHZ_REPLICAS: '1' });
  }, 900_000);

  it('Chromium signs in; 50 requests alternate between the replicas and all succeed; stopping the login replica loses nothing; a restarted replica serves the session', async () => {
    const loginsBefore = [await metricOf(0, 'authz_logins_total', 'result="ok"'), await metricOf(1, 'authz_logins_total', 'result="ok"')];
    browser = await openBrowser();
    await browser.page.goto(`${stack.MLFLOW_URL}/`);
    await signIn(browser.page, 'carol');
    const sessionCookie = (await browser.context.cookies(stack.MLFLOW_URL)).find((c) => c.name === 'nginx_authz_session');
    expect(sessionCookie).toBeDefined();
    const cookie = `nginx_authz_session=${sessionCookie!.value}`;
    const loginReplica = (await metricOf(0, 'authz_logins_total', 'result="ok"')) > loginsBefore[0]! ? 0 : 1;
    expect(await metricOf(loginReplica, 'authz_logins_total', 'result="ok"')).toBe(loginsBefore[loginReplica]! + 1);

    await browser.close();
    browser = undefined;
    await warm(cookie);
    const before = [await decisions(0), await decisions(1)];
    const statuses: number[] = [];
    for (let i = 0; i < 50; i++) statuses.push((await search(cookie)).status);
    expect(statuses).toEqual(Array(50).fill(200));
    const served = [(await decisions(0)) - before[0]!, (await decisions(1)) - before[1]!];
    console.log(`50 requests: replica 1 decided ${served[0]}, replica 2 ${served[1]}`);
    expect(Math.min(...served)).toBeGreaterThanOrEqual(20); // round robin: about 25 each

    // The replica that handled the login goes away: the other one serves every request.
    await stackScript('authz.sh', ['stop-one', String(loginReplica + 1)]);
    for (let i = 0; i < 10; i++) expect((await search(cookie)).status).toBe(200);
    // It comes back (empty memory), and then serves alone while the other is stopped.
    await stackScript('authz.sh', ['start-one', String(loginReplica + 1)]);
    await stackScript('authz.sh', ['stop-one', String(2 - loginReplica)]);
    for (let i = 0; i < 10; i++) expect((await search(cookie)).status).toBe(200);
    await stackScript('authz.sh', ['start-one', String(2 - loginReplica)]);
    for (let i = 0; i < 10; i++) expect((await search(cookie)).status).toBe(200);
  }, 300_000);

  it('two concurrent requests at refresh time on different replicas: one refresh grant, both 200, the session survives', async () => {
    // Tokens of 40 s, refreshed 30 s before expiry: a refresh is due 10 s after login.
    const restore = await setClientAttribute('nginx-authz', 'access.token.lifespan', '40');
    // Keycloak's own count of refresh grants: its events, switched on for the test (the realm keeps none by default).
    const realm = `${stack.KC_URL}/admin/realms/${stack.KC_REALM ?? 'mlflow'}`;
    const eventsBefore = (await (await fetch(`${realm}/events/config`, { headers: await adminHeaders() })).json()) as Record<
      string,
      unknown
    >;
    const setEvents = async (config: Record<string, unknown>) =>
      expect(
        (await fetch(`${realm}/events/config`, { method: 'PUT', headers: await adminHeaders(), body: JSON.stringify(config) })).status,
      ).toBe(204);
    await setEvents({ ...eventsBefore, eventsEnabled: true, enabledEventTypes: ['REFRESH_TOKEN', 'REFRESH_TOKEN_ERROR'] });
    const [bob] = (await (await fetch(`${realm}/users?username=bob&exact=true`, { headers: await adminHeaders() })).json()) as {
      id: string;
    }[];
    /** Keycloak's REFRESH_TOKEN (and _ERROR) events for bob on the nginx-authz client. */
    const keycloakRefreshes = async (type: 'REFRESH_TOKEN' | 'REFRESH_TOKEN_ERROR') =>
      (
        (await (
          await fetch(`${realm}/events?type=${type}&user=${bob!.id}&client=nginx-authz&max=1000`, { headers: await adminHeaders() })
        ).json()) as unknown[]
      ).length;
    try {
      const cookie = await sessionCookieFor('bob');
      await warm(cookie);
      expect([await authDirect(0, cookie), await authDirect(1, cookie)]).toEqual([200, 200]); // both hold a local copy
      await sleep(12_000);
      const ok = await both('authz_session_refreshes_total', 'result="ok"');
      const rejected = await both('authz_session_refreshes_total', 'result="rejected"');
      const atKeycloak = [await keycloakRefreshes('REFRESH_TOKEN'), await keycloakRefreshes('REFRESH_TOKEN_ERROR')];
      // NGINX's round robin is per worker: two concurrent requests may land on one replica. So the
      // two go to each replica's /auth directly, as NGINX's auth_request subrequest sends them.
      const [first, second] = await Promise.all([authDirect(0, cookie), authDirect(1, cookie)]);
      expect([first, second]).toEqual([200, 200]);
      expect(await both('authz_session_refreshes_total', 'result="ok"')).toBe(ok + 1);
      expect(await both('authz_session_refreshes_total', 'result="rejected"')).toBe(rejected);
      for (let i = 0; i < 6; i++) expect((await search(cookie)).status).toBe(200);
      expect(await both('authz_session_refreshes_total', 'result="ok"')).toBe(ok + 1);
      // And Keycloak saw exactly one refresh grant for this user and client, and no refused one.
      expect([
        (await keycloakRefreshes('REFRESH_TOKEN')) - atKeycloak[0]!,
        (await keycloakRefreshes('REFRESH_TOKEN_ERROR')) - atKeycloak[1]!,
      ]).toEqual([1, 0]);
    } finally {
      await setEvents(eventsBefore);
      await restore();
    }
  }, 180_000);

  it('Basic guessing spread over both replicas locks the user out after the same 5 failures as against one', async () => {
    const user = 'dave';
    const rejected = (replica: 0 | 1) => metricOf(replica, 'authz_password_grants_total', 'grant="password",result="rejected"');
    const before = [await rejected(0), await rejected(1)];
    // The guesses alternate between the replicas by construction (NGINX's round robin is per worker, so
    // through NGINX they might all land on one): 3 on one, 2 on the other. Per-replica counters would
    // lock neither out after these 5; the shared Redis counters lock both.
    // From an address of their own (TEST-NET-2), so that reruns do not spend 127.0.0.1's budget (20 per 5 min).
    const guesser = `198.51.100.${1 + Math.floor(Math.random() * 250)}`;
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      statuses.push(await authDirect((attempt % 2) as 0 | 1, '', basic(user, uniqueName('guess')), guesser));
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    expect([(await rejected(0)) - before[0]!, (await rejected(1)) - before[1]!]).toEqual([3, 2]);
    // Locked on both replicas, even with the right password: refused without a grant. The service answers a
    // lockout 401 + X-Authz-Retry-After, which NGINX's snippet turns into 429 + Retry-After.
    for (const replica of [0, 1] as const) {
      const locked = await authDirectResponse(replica, '', basic(user, password(user)));
      expect([locked.status, Number(locked.headers.get('x-authz-retry-after')) > 0]).toEqual([401, true]);
    }
    for (let i = 0; i < 2; i++) {
      const locked = await viaNginx('GET', SEARCH, { headers: { authorization: basic(user, password(user)) } });
      expect(locked.status).toBe(429);
    }
    expect([(await rejected(0)) - before[0]!, (await rejected(1)) - before[1]!]).toEqual([3, 2]);
  }, 120_000);

  it('Redis stopped and started under traffic: held sessions and bearer tokens keep working, new logins and Basic get 503, nothing is falsely allowed, and it recovers by itself', async () => {
    const cookie = await sessionCookieFor('carol');
    await warm(cookie);
    for (let i = 0; i < 4; i++) expect((await search(cookie)).status).toBe(200); // held by both replicas
    const carol = await tokenFor('carol');
    const dave = await tokenFor('dave');
    // Each replica decides these tokens once with Keycloak before Redis goes (bearer decisions never need Redis).
    for (let i = 0; i < 4; i++) {
      await viaNginx('GET', SEARCH, { token: carol });
      await viaNginx('GET', SEARCH, { token: dave });
    }
    await stackScript('redis.sh', ['stop']);
    try {
      await sleep(500);
      expect(await metricOf(0, 'authz_redis_up')).toBe(0);
      expect(await metricOf(1, 'authz_redis_up')).toBe(0);
      for (let i = 0; i < 4; i++) {
        expect((await search(cookie)).status).toBe(200);
        expect((await viaNginx('GET', SEARCH, { token: carol })).status).toBe(200);
        // No false allow: a user without the permission is still refused; unknown sessions are not let in.
        expect((await viaNginx('GET', SEARCH, { token: dave })).status).toBe(403);
        expect((await search('nginx_authz_session=forged')).status).toBe(401);
        // The replica answers 503 (lockout check fails closed); NGINX turns any auth_request status but 2xx/401/403 into 500.
        expect((await viaNginx('GET', SEARCH, { headers: { authorization: basic('bob', password('bob')) } })).status).toBe(500);
      }
      // A new login: Keycloak signs alice in, but no session can be stored: 503, no session cookie.
      const { site, authorizationUrl } = await startLogin();
      const done = await finishLogin(await signInAtKeycloak(authorizationUrl, 'alice'), cookieHeader(site));
      expect(done).toEqual({ status: 503, session: undefined });
      expect(await both('authz_redis_errors_total', 'op="limiter"')).toBeGreaterThan(0);
      expect(await both('authz_decisions_total', 'reason="store_unavailable"')).toBeGreaterThan(0);
    } finally {
      await stackScript('redis.sh', ['start']);
    }
    // Back without a restart of the replicas (Redis had no persistence: sessions stored before are gone).
    const deadline = Date.now() + 20_000;
    while ((await metricOf(0, 'authz_redis_up')) + (await metricOf(1, 'authz_redis_up')) < 2 && Date.now() < deadline) await sleep(200);
    const fresh = await sessionCookieFor('alice');
    await warm(fresh);
    for (let i = 0; i < 4; i++) expect((await search(fresh)).status).toBe(200);
    // The session Redis no longer holds is not served from a stale local copy (the reconnection dropped them).
    expect((await search(cookie)).status).toBe(401);
  }, 180_000);

  it('Redis down when a held session needs its refresh: its still-valid token keeps serving, then 503 once it expires (never a 200 on an expired token); back without a restart', async () => {
    // Tokens of 45 s, refreshed 30 s before expiry: a refresh is due 15 s after login, the token is dead after 45 s.
    const restore = await setClientAttribute('nginx-authz', 'access.token.lifespan', '45');
    try {
      const t0 = Date.now();
      const cookie = await sessionCookieFor('bob');
      const t1 = Date.now();
      expect([await authDirect(0, cookie), await authDirect(1, cookie)]).toEqual([200, 200]); // both hold a local copy
      const refreshed = await both('authz_session_refreshes_total', 'result="');
      const lockErrors = await both('authz_redis_errors_total', 'op="refresh_lock"');
      await stackScript('redis.sh', ['stop']);
      try {
        // Past the refresh point: each replica tries to refresh, cannot take the lock, keeps the valid token.
        await sleep(Math.max(0, t0 + 16_000 - Date.now()));
        expect([await authDirect(0, cookie), await authDirect(1, cookie)]).toEqual([200, 200]);
        expect(await both('authz_redis_errors_total', 'op="refresh_lock"')).toBeGreaterThan(lockErrors);
        expect(await both('authz_session_refreshes_total', 'result="')).toBe(refreshed); // no refresh grant reached Keycloak
        // Past the token's expiry: 503 on both replicas (NGINX turns it into 500), no refresh, no allow.
        await sleep(Math.max(0, t1 + 47_000 - Date.now()));
        expect([await authDirect(0, cookie), await authDirect(1, cookie)]).toEqual([503, 503]);
        expect((await search(cookie)).status).toBe(500);
        expect(await both('authz_session_refreshes_total', 'result="')).toBe(refreshed);
      } finally {
        await stackScript('redis.sh', ['start']);
      }
      const deadline = Date.now() + 20_000;
      while ((await metricOf(0, 'authz_redis_up')) + (await metricOf(1, 'authz_redis_up')) < 2 && Date.now() < deadline) await sleep(200);
      // Redis came back empty (no persistence): that session is gone, refused (401), not allowed; a new login works.
      expect([await authDirect(0, cookie), await authDirect(1, cookie)]).toEqual([401, 401]);
      const fresh = await sessionCookieFor('bob');
      await warm(fresh);
      expect([await authDirect(0, fresh), await authDirect(1, fresh)]).toEqual([200, 200]);
    } finally {
      await restore();
    }
  }, 180_000);
});
