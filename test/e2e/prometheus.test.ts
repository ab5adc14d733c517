/**
 * A real Prometheus (built from the Prometheus module by scripts/stack/install.sh) scrapes the
 * stack's nginx-authz every second while this file sends real traffic through NGINX: Keycloak
 * tokens of the demo users (allowed and denied), no token, a browser session, and wrong Basic
 * credentials up to a lockout, a back-channel logout Keycloak posts when one of dave's sessions is
 * ended, and a forged logout token. The stack runs two replicas on Redis for this file (switched with
 * `AUTHZ_REPLICAS=2 scripts/stack/up.sh` when it ran one, and back at the end), and Prometheus
 * scrapes both, so that the Redis and logout panels show what a several-replica deployment shows.
 * Then:
 * - `promtool check metrics` accepts the service's real /metrics;
 * - label values stay bounded: a second burst with new paths, experiment ids and user names
 *   adds no series, and none of those names appears in a label;
 * - EVERY query of deploy/grafana/nginx-authz.json (read from the file) is valid PromQL that
 *   returns data, and the alert rules load into the real Prometheus and evaluate on its data;
 * - decisions/s and p99 over the run are saved (test-artifacts/prometheus-e2e.json) and drawn by
 *   scripts/metrics-chart.mjs (test-artifacts/metrics-e2e.svg; docs/images/ holds one such run).
 * Prometheus listens on 127.0.0.1 on a free port, keeps its data in a temporary directory, and is
 * stopped after the tests (and by `timeout` after 15 minutes whatever happens).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { dashboardQueries } from '../deploy/dashboard.js';
import { run, toolPath } from '../deploy/tools.js';
import { endSession } from './keycloak-admin.js';
import { sessionCookieFor } from './login-http.js';
import { freePort } from './own-service.js';
import { claimsOf, freshToken, ROOT, stack, tokenFor, uniqueName, viaNginx } from './stack.js';

const JOB = 'nginx-authz';
const TRAFFIC_MS = 30_000;
const SEARCH = '/api/2.0/mlflow/experiments/search?max_results=1';

let prometheus: ChildProcess | undefined;
let promUrl = '';
let dir = '';
let trafficStart = 0;
let trafficEnd = 0;
const counts = new Map<number, number>();
let switched = false;
let targets: string[] = [];

/** The stack's current .stack/env (the switch to two replicas rewrites it). */
function stackEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`${process.env.STACK_DIR ?? `${ROOT}/.stack`}/env`, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (match) out[match[1]!] = match[2]!.replace(/^'(.*)'$/, '$1');
  }
  return out;
}

async function upWithReplicas(replicas: '1' | '2'): Promise<void> {
  await promisify(execFile)('bash', [`${ROOT}/scripts/stack/up.sh`], {
    cwd: ROOT,
    env: { ...process.env, STACK_INSTALL: '0', STACK_BUILD: '0', AUTHZ_REPLICAS: replicas },
    timeout: 600_000,
  });
}

/**
 * A real back-channel logout: a session of dave's of its own (a password grant), used through NGINX
 * until both replicas remember its token, then ended through Keycloak's admin API; Keycloak posts
 * the logout token to the service through NGINX before it answers. Then a forged one (refused).
 */
async function backchannelLogouts(): Promise<{ ended: string; forged: number }> {
  const token = await freshToken('dave');
  for (let i = 0; i < 4; i++) await send('GET', SEARCH, { token });
  await endSession(String(claimsOf(token).sid));
  const forged = await fetch(`${stack.MLFLOW_URL}/oauth2/backchannel-logout`, {
    method: 'POST',
    body: new URLSearchParams({ logout_token: 'not.a-logout.token' }),
  });
  await forged.arrayBuffer();
  return { ended: 'dave', forged: forged.status };
}

async function promQuery(
  path: string,
  params: Record<string, string>,
): Promise<{ status: string; data: { result: unknown[] }; error?: string }> {
  const response = await fetch(`${promUrl}${path}`, { method: 'POST', body: new URLSearchParams(params) });
  return (await response.json()) as { status: string; data: { result: unknown[] }; error?: string };
}

/** GET through NGINX from a chosen loopback address (the Basic lockout is per user and per address). */
function basicFrom(source: string, user: string, secret: string): Promise<number> {
  const target = new URL(SEARCH, stack.MLFLOW_URL);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname + target.search,
        localAddress: source,
        agent: false,
        headers: { authorization: `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}` },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function send(method: string, path: string, options: Parameters<typeof viaNginx>[2] = {}): Promise<void> {
  const response = await viaNginx(method, path, options);
  await response.arrayBuffer();
  counts.set(response.status, (counts.get(response.status) ?? 0) + 1);
}

/** One round of the mix: allowed reads, denied writes and reads, no token, a browser session. */
async function round(tokens: Record<'alice' | 'bob' | 'carol' | 'dave', string>, cookie: string, marker: string): Promise<void> {
  await send('GET', SEARCH, { token: tokens.alice });
  await send('GET', `/api/2.0/mlflow/experiments/get?experiment_id=${marker}`, { token: tokens.bob });
  await send('POST', '/api/2.0/mlflow/experiments/create', { token: tokens.carol, body: { name: marker } });
  await send('GET', SEARCH, { token: tokens.dave });
  await send('GET', `/api/2.0/mlflow/runs/get?run_id=${marker}`);
  await send('GET', SEARCH, { headers: { cookie } });
}

async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) throw new Error(`${url} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const authzMetrics = async (): Promise<string> => (await fetch(`${stack.NGINX_AUTHZ_URL}/metrics`)).text();
/** Both replicas' /metrics, one after the other: NGINX spreads the requests over them round robin. */
const allReplicasMetrics = async (): Promise<string> =>
  (await Promise.all(targets.map(async (target) => (await fetch(`http://${target}/metrics`)).text()))).join('\n');

/** The authz_* series of a /metrics text, as `name{labels}` keys. */
const seriesOf = (text: string): Set<string> =>
  new Set(
    text
      .split('\n')
      .filter((line) => line.startsWith('authz_'))
      .map((line) => line.slice(0, line.lastIndexOf(' '))),
  );

beforeAll(async () => {
  if (stackEnv().STACK_REPLICAS !== '2') {
    switched = true;
    await upWithReplicas('2');
  }
  const now = stackEnv();
  targets = [now.AUTHZ_PORT!, now.AUTHZ2_PORT!].map((port) => `127.0.0.1:${port}`);
  const binary = toolPath('PROMETHEUS_BIN');
  dir = mkdtempSync(join(tmpdir(), 'nginx-authz-prometheus-'));
  copyFileSync(join(ROOT, 'deploy/prometheus/alerts.yml'), join(dir, 'alerts.yml'));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'rule_files: [alerts.yml]',
      'scrape_configs:',
      `  - { job_name: ${JOB}, metrics_path: /metrics, static_configs: [{ targets: [${targets.map((t) => `'${t}'`).join(', ')}] }] }`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  prometheus = spawn(
    'timeout',
    [
      '900',
      binary,
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      '--storage.tsdb.retention.time=1h',
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await waitReady(`${promUrl}/-/ready`, 60_000);

  const tokens = {
    alice: await tokenFor('alice'),
    bob: await tokenFor('bob'),
    carol: await tokenFor('carol'),
    dave: await tokenFor('dave'),
  };
  const cookie = await sessionCookieFor('alice');
  trafficStart = Date.now();
  // Wrong Basic passwords for a user of nobody's, from an address of its own, until the lockout answers 429.
  const stranger = uniqueName('e2e-prom-nobody').toLowerCase();
  const basic: number[] = [];
  for (let i = 0; i < 7; i++) basic.push(await basicFrom('127.0.0.9', stranger, `wrong-${i}`));
  expect(basic.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
  expect(basic.slice(5)).toEqual([429, 429]);
  expect(await backchannelLogouts()).toEqual({ ended: 'dave', forged: 400 });
  // Four clients for TRAFFIC_MS, each round with fresh made-up ids.
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (Date.now() - trafficStart < TRAFFIC_MS) await round(tokens, cookie, uniqueName('prom'));
    }),
  );
  trafficEnd = Date.now();
  // Three more scrapes, so that the last requests are in Prometheus.
  await new Promise((r) => setTimeout(r, 3_000));
}, 900_000);

afterAll(async () => {
  if (prometheus?.pid !== undefined && prometheus.exitCode === null) {
    const exited = new Promise((r) => prometheus!.once('exit', r));
    prometheus.kill('SIGTERM');
    await exited;
  }
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
  if (switched) await upWithReplicas('1');
}, 900_000);

describe('a real Prometheus scraping nginx-authz during real traffic', () => {
  it('the traffic had allows and refusals, and Prometheus scraped the service', async () => {
    expect(counts.get(200) ?? 0).toBeGreaterThan(50);
    expect(counts.get(403) ?? 0).toBeGreaterThan(50);
    expect(counts.get(401) ?? 0).toBeGreaterThan(20);
    const up = await promQuery('/api/v1/query', { query: `up{job="${JOB}"}` });
    expect(up.data.result).toEqual(targets.map(() => expect.objectContaining({ value: [expect.any(Number), '1'] })));
  });

  it('promtool check metrics accepts the service’s real /metrics', async () => {
    const result = run(toolPath('PROMTOOL_BIN'), ['check', 'metrics'], { input: await authzMetrics() });
    expect({ status: result.status, problems: (result.stdout + result.stderr).trim() }).toEqual({ status: 0, problems: '' });
  });

  it('label values are bounded: new paths, ids and user names add no series and appear in no label', async () => {
    const tokens = {
      alice: await tokenFor('alice'),
      bob: await tokenFor('bob'),
      carol: await tokenFor('carol'),
      dave: await tokenFor('dave'),
    };
    const burst = async (marker: string): Promise<void> => {
      await round(tokens, '', marker);
      await send('GET', `/ajax-api/2.0/mlflow/${marker}/unknown-route`, { token: tokens.alice });
    };
    // One burst makes every series this kind of request can produce; ten more, each with new names, must add none.
    await burst(uniqueName('bounded'));
    const before = seriesOf(await allReplicasMetrics());
    const markers: string[] = [];
    for (let i = 0; i < 10; i++) {
      markers.push(uniqueName('bounded'));
      await burst(markers[i]!);
    }
    const text = await allReplicasMetrics();
    const after = seriesOf(text);
    expect([...after].filter((series) => !before.has(series))).toEqual([]);
    for (const needle of [...markers, 'alice', 'bob', 'carol', 'dave', 'e2e-prom-nobody', '127.0.0.9']) expect(text).not.toContain(needle);
  });

  it('every panel query of the Grafana dashboard is valid PromQL and returns data from the real Prometheus', async () => {
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThanOrEqual(16);
    const at = String(trafficEnd / 1000);
    const empty: string[] = [];
    for (const { title, expr } of queries) {
      // What Grafana substitutes: the job variable, the rate window (4 scrapes or more), the dashboard's range.
      const query = expr.replaceAll('$job', JOB).replaceAll('$__rate_interval', '15s').replaceAll('$__range', '5m');
      const answer = await promQuery('/api/v1/query', { query, time: at });
      expect({ title, status: answer.status, error: answer.error }).toEqual({ title, status: 'success', error: undefined });
      if (answer.data.result.length === 0) empty.push(title);
    }
    expect(empty).toEqual([]);
  });

  it('the alert rules load into the real Prometheus and evaluate without error on its data', async () => {
    const rules = (await (await fetch(`${promUrl}/api/v1/rules?type=alert`)).json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string; lastEvaluation: string }[] }[] };
    };
    const loaded = rules.data.groups.flatMap((g) => g.rules);
    expect(loaded).toHaveLength(10);
    for (const rule of loaded) {
      expect({ rule: rule.name, health: rule.health, error: rule.lastError ?? '' }).toEqual({ rule: rule.name, health: 'ok', error: '' });
      expect(Date.parse(rule.lastEvaluation)).toBeGreaterThanOrEqual(trafficStart);
    }
  });

  it('decisions/s and p99 over the run are saved and drawn as a chart', async () => {
    const range = { start: String((trafficStart - 5_000) / 1000), end: String((trafficEnd + 3_000) / 1000), step: '1' };
    const rate = await promQuery('/api/v1/query_range', {
      ...range,
      query: `sum by (decision) (rate(authz_decisions_total{job="${JOB}"}[5s]))`,
    });
    const p99 = await promQuery('/api/v1/query_range', {
      ...range,
      query: `histogram_quantile(0.99, sum by (le) (rate(authz_decision_duration_seconds_bucket{job="${JOB}"}[5s])))`,
    });
    expect(rate.status).toBe('success');
    expect(p99.status).toBe('success');
    expect(rate.data.result.length).toBeGreaterThanOrEqual(2);
    mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true });
    const data = join(ROOT, 'test-artifacts/prometheus-e2e.json');
    writeFileSync(
      data,
      `${JSON.stringify({ start: trafficStart, end: trafficEnd, decisions: rate.data.result, p99: p99.data.result }, null, 1)}\n`,
    );
    const chart = run(process.execPath, ['scripts/metrics-chart.mjs', data, join(ROOT, 'test-artifacts/metrics-e2e.svg')]);
    expect({ status: chart.status, stderr: chart.stderr }).toEqual({ status: 0, stderr: '' });
    expect(chart.stdout).toMatch(/decisions\/s/);
  });
});
