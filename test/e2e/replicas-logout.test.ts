/**
 * Back-channel logout across two nginx-authz replicas (issue 11, items 4 and 5, "on both
 * replicas"): real Keycloak, Redis, NGINX (round robin, no stickiness) and two replicas on the
 * Redis session store. Switches the stack to two replicas as test/e2e/replicas.test.ts does
 * (`AUTHZ_REPLICAS=2 scripts/stack/up.sh`) unless it already runs two, and back at the end.
 *
 * Every logout token Keycloak sends goes to replica 1 only: the clients' back-channel logout URL
 * points at a small recorder that forwards each token straight to replica 1 (and keeps it, so the
 * test can replay it). So replica 2 learns of a logout only through the Redis bus (src/app.ts,
 * `cluster.bus.subscribe`), and a replay to replica 2 is refused only if the `jti` claim is shared.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { adminHeaders, setClientAttribute } from './keycloak-admin.js';
import { sessionCookieFor } from './login-http.js';
import { freshToken, ROOT, stack, viaNginx, type DemoUser } from './stack.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
// carol reads experiments (viewer): her requests succeed until she is signed out.
const USER: DemoUser = 'carol';
const SEARCH = '/ajax-api/2.0/mlflow/experiments/search?max_results=1';
const realm = `${stack.KC_URL}/admin/realms/${stack.KC_REALM ?? 'mlflow'}`;

function env(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`${process.env.STACK_DIR ?? `${ROOT}/.stack`}/env`, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (match) out[match[1]!] = match[2]!.replace(/^'(.*)'$/, '$1');
  }
  return out;
}

async function upWith(replicas: '1' | '2'): Promise<void> {
  await run('bash', [`${ROOT}/scripts/stack/up.sh`], {
    cwd: ROOT,
    env: { ...process.env, STACK_INSTALL: '0', STACK_BUILD: '0', AUTHZ_REPLICAS: replicas },
    timeout: 900_000,
  });
}

/** Records the logout tokens Keycloak posts and forwards each to one replica's endpoint, answering Keycloak with its status. */
class Recorder {
  tokens: { token: string; status: number }[] = [];
  private server: Server | undefined;
  constructor(private readonly target: () => string) {}
  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        const token = new URLSearchParams(body).get('logout_token') ?? '';
        void postLogout(this.target(), token).then((status) => {
          this.tokens.push({ token, status });
          res.writeHead(status).end();
        });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/logout`;
  }
  stop(): Promise<void> {
    return new Promise((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
  }
}

async function postLogout(base: string, token: string): Promise<number> {
  const response = await fetch(`${base}/oauth2/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: token }),
  });
  await response.arrayBuffer();
  return response.status;
}

describe('back-channel logout across two replicas (Redis bus, no stickiness)', () => {
  let switched = false;
  let ports: [string, string] = ['', ''];
  const replicaUrl = (replica: 0 | 1) => `http://127.0.0.1:${ports[replica]}`;
  const recorder = new Recorder(() => replicaUrl(0));
  const restores: Array<() => Promise<void>> = [];

  async function metricOf(replica: 0 | 1, name: string, labels: string): Promise<number> {
    const text = await (await fetch(`${replicaUrl(replica)}/metrics`)).text();
    return text
      .split('\n')
      .filter((row) => row.startsWith(`${name}{`) && row.includes(labels))
      .reduce((sum, row) => sum + Number(row.split(' ').pop()), 0);
  }
  const decisionHits = (replica: 0 | 1) => metricOf(replica, 'authz_cache_requests_total', 'cache="decision",result="hit"');

  /** NGINX's decision subrequest for the experiments search, sent straight to one replica. */
  async function authDirect(replica: 0 | 1, headers: Record<string, string>): Promise<number> {
    const site = new URL(stack.MLFLOW_URL!);
    const response = await fetch(`${replicaUrl(replica)}/auth`, {
      headers: {
        ...headers,
        'x-original-method': 'GET',
        'x-original-uri': SEARCH,
        'x-forwarded-host': site.host,
        'x-forwarded-proto': 'http',
      },
    });
    await response.arrayBuffer();
    return response.status;
  }
  /** Until 200 (the first decision of a token asks Keycloak, slow on a loaded machine), then once more: answered from the cache. */
  async function warm(replica: 0 | 1, headers: Record<string, string>): Promise<void> {
    for (let i = 0; i < 10 && (await authDirect(replica, headers)) !== 200; i++) await sleep(500);
    const hits = await decisionHits(replica);
    expect(await authDirect(replica, headers)).toBe(200);
    expect(await decisionHits(replica)).toBe(hits + 1); // this replica holds the decision: what the logout must purge
  }

  beforeAll(async () => {
    if (env().STACK_REPLICAS !== '2') {
      switched = true;
      await upWith('2');
    }
    const now = env();
    ports = [now.AUTHZ_PORT!, now.AUTHZ2_PORT!];
    expect(ports.every((port) => /^\d+$/.test(port))).toBe(true);
    const url = await recorder.start();
    // The browser session's client (nginx-authz) and the bearer token's (mlflow-cli): both logouts go to replica 1 alone.
    for (const client of ['nginx-authz', stack.MLFLOW_CLI_CLIENT_ID ?? 'mlflow-cli'])
      restores.push(await setClientAttribute(client, 'backchannel.logout.url', url));
  }, 900_000);

  afterAll(async () => {
    for (const restore of restores) await restore().catch(() => undefined);
    await recorder.stop();
    if (switched) await upWith('1');
  }, 900_000);

  it('an admin sign-out in Keycloak refuses the cookie and the bearer token on both replicas (directly and through NGINX) within 1 s', async () => {
    const cookie = { cookie: await sessionCookieFor(USER) };
    const bearer = { authorization: `Bearer ${await freshToken(USER)}` };
    for (const replica of [0, 1] as const) {
      await warm(replica, cookie);
      await warm(replica, bearer);
    }
    const headers = await adminHeaders();
    const [user] = (await (await fetch(`${realm}/users?username=${USER}&exact=true`, { headers })).json()) as { id: string }[];
    const logoutsBefore = await metricOf(0, 'authz_backchannel_logouts_total', 'result="ok"');
    const replica2Before = await metricOf(1, 'authz_backchannel_logouts_total', 'result="ok"');

    // Four probes polled concurrently from the moment of the admin call, each until its first 401 (10 s at most).
    const started = performance.now();
    let answered = Number.POSITIVE_INFINITY;
    const signOut = fetch(`${realm}/users/${user!.id}/logout`, { method: 'POST', headers }).then((response) => {
      answered = performance.now();
      return response;
    });
    const refusedAt = async (replica: 0 | 1, credentials: Record<string, string>): Promise<number | undefined> => {
      while (performance.now() - started < 10_000) {
        if ((await authDirect(replica, credentials)) === 401) return performance.now();
      }
      return undefined;
    };
    const probes = {
      'replica 1 cookie': [0, cookie],
      'replica 1 bearer': [0, bearer],
      'replica 2 cookie': [1, cookie],
      'replica 2 bearer': [1, bearer],
    } as const;
    const times = await Promise.all(Object.values(probes).map(([replica, credentials]) => refusedAt(replica, credentials)));
    expect((await signOut).status).toBe(204);
    const relative = (ms: number) => (ms < 0 ? `${(-ms).toFixed(0)} ms before` : `${ms.toFixed(0)} ms after`);
    const report = Object.keys(probes).map((name, i) =>
      times[i] === undefined
        ? `${name}: never refused`
        : `${name} refused ${(times[i]! - started).toFixed(0)} ms after the admin call, ${relative(times[i]! - answered)} Keycloak answered`,
    );
    console.log(`admin sign-out (Keycloak answered after ${(answered - started).toFixed(0)} ms):\n  ${report.join('\n  ')}`);
    // Keycloak sent the logout tokens to replica 1 (the recorder forwards there); replica 2 only heard of it on the bus.
    expect(recorder.tokens.length).toBeGreaterThan(0);
    expect(recorder.tokens.every((each) => each.status === 200)).toBe(true);
    expect(await metricOf(0, 'authz_backchannel_logouts_total', 'result="ok"')).toBe(logoutsBefore + recorder.tokens.length);
    expect(await metricOf(1, 'authz_backchannel_logouts_total', 'result="ok"')).toBe(replica2Before); // none posted to replica 2
    for (const time of times) {
      expect(time).toBeDefined();
      expect(time! - answered).toBeLessThan(1_000);
    }
    // Through NGINX (round robin: both replicas answer these), and still refused a while later (not a race).
    await sleep(1_100);
    for (let i = 0; i < 4; i++) {
      expect((await viaNginx('GET', SEARCH, { headers: { ...cookie, accept: 'application/json' } })).status).toBe(401);
      expect((await viaNginx('GET', SEARCH, { headers: { ...bearer, accept: 'application/json' } })).status).toBe(401);
    }
    for (const replica of [0, 1] as const) {
      expect(await authDirect(replica, cookie)).toBe(401);
      expect(await authDirect(replica, bearer)).toBe(401);
    }
  }, 180_000);

  it('a logout token replica 1 accepted is refused when replayed to replica 2 (the jti is claimed once in Redis)', async () => {
    const accepted = recorder.tokens.find((each) => each.status === 200 && each.token !== '');
    expect(accepted).toBeDefined(); // a real Keycloak-signed token, captured during the sign-out above
    const replayedBefore = await metricOf(1, 'authz_backchannel_logouts_total', 'result="replayed"');
    expect(await postLogout(replicaUrl(1), accepted!.token)).toBe(400);
    expect(await metricOf(1, 'authz_backchannel_logouts_total', 'result="replayed"')).toBe(replayedBefore + 1);
    // And to replica 1 itself, and through NGINX.
    expect(await postLogout(replicaUrl(0), accepted!.token)).toBe(400);
    expect(await postLogout(stack.MLFLOW_URL!, accepted!.token)).toBe(400);
  }, 60_000);
});
