#!/usr/bin/env node
/**
 * `npm run bench:session-store`: cached session decisions through NGINX, memory store vs Redis store, interleaved in
 * one run (issue 11: "within 10 % of the memory store in the same run").
 *
 * Needs the worktree stack with two replicas (`AUTHZ_REPLICAS=2 npm run stack`). Replica 2 is stopped for the run
 * (both stores are measured on one replica, so the only difference is the store) and started again at the end. Each
 * round restarts replica 1 with each store in turn (the order alternates between rounds), signs the stack user carol
 * in through NGINX and Keycloak's real login form, warms the decision, then runs 3 s of wrk
 * unmeasured (the process is fresh) and `wrk -t2 -c32 -d<seconds>s` with the session cookie on the stack's load-test front (real auth_request to the
 * service, trivial 200 upstream: every request a cached decision). Prints each run and the medians; any non-2xx
 * answer or socket error fails the bench (exit 1). Options: --rounds N (3) --seconds S (10).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { needTwoReplicas, stackVars } from './stack-vars.mjs';
import { runWrk, writeWrkScript } from './wrk.mjs';

const ROOT = resolve(new URL('../..', import.meta.url).pathname);
const STACK_DIR = process.env.STACK_DIR ?? join(ROOT, '.stack');
const { values: opt } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '10' } } });
const PATH = '/ajax-api/2.0/mlflow/experiments/search?max_results=1';

const env = stackVars(STACK_DIR);
needTwoReplicas(env);
const site = env.MLFLOW_URL;
const loadFront = `http://127.0.0.1:${env.NGINX_LOAD_TEST_PORT}${PATH}`;

const authz = (args, extra = {}) =>
  execFileSync('bash', [join(ROOT, 'scripts/stack/authz.sh'), ...args], {
    cwd: ROOT,
    env: { ...process.env, STACK_BUILD: '0', ...extra },
    stdio: ['ignore', 'ignore', 'inherit'],
  });

/** Cookies a response set, into a jar (name → value). */
function keep(jar, response) {
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const at = pair.indexOf('=');
    jar.set(pair.slice(0, at).trim(), pair.slice(at + 1));
  }
}
const header = (jar) => [...jar].map(([name, value]) => `${name}=${value}`).join('; ');

/** Signs carol in through NGINX (/oauth2/start) and Keycloak's login form; the session cookie pair. */
async function signIn() {
  const siteJar = new Map();
  const start = await fetch(`${site}/oauth2/start?rd=%2F`, { redirect: 'manual' });
  keep(siteJar, start);
  const idpJar = new Map();
  const form = await fetch(start.headers.get('location'), { redirect: 'manual' });
  keep(idpJar, form);
  const action = /<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"/.exec(await form.text())?.[1]?.replace(/&amp;/g, '&');
  if (action === undefined) throw new Error(`no Keycloak login form (${form.status})`);
  const user = 'carol';
  const posted = await fetch(action, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: header(idpJar), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: user, password: `${user}${env.DEMO_PASSWORD_SUFFIX ?? '-dev-password'}`, credentialId: '' }),
  });
  const done = await fetch(posted.headers.get('location'), { redirect: 'manual', headers: { cookie: header(siteJar) } });
  const jar = new Map();
  keep(jar, done);
  const session = jar.get('nginx_authz_session');
  if (done.status !== 302 || !session) throw new Error(`login: callback answered ${done.status}`);
  return `nginx_authz_session=${session}`;
}

async function measure(store, dir) {
  authz(['stop-one', '1']);
  authz(['start-one', '1'], { AUTHZ_SESSION_STORE: store });
  const cookie = await signIn();
  for (let i = 0; ; i++) {
    const status = (await fetch(loadFront, { headers: { cookie } })).status;
    if (status === 200) break;
    if (i > 20) throw new Error(`${store}: warm-up answered ${status}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const script = join(dir, 'cookie.lua');
  writeWrkScript(script, { cookie });
  await runWrk({ url: loadFront, script, seconds: 3, connections: 32 }); // a fresh process: JIT warm-up, not measured
  const result = await runWrk({ url: loadFront, script, seconds: Number(opt.seconds), connections: 32 });
  rmSync(script);
  if (result.non2xx > 0 || result.socketErrors > 0)
    throw new Error(`${store}: ${result.non2xx} non-2xx, ${result.socketErrors} socket errors`);
  return result;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const dir = mkdtempSync(join(tmpdir(), 'session-store-bench-'));
const runs = { memory: [], redis: [] };
authz(['stop-one', '2']);
try {
  for (let round = 0; round < Number(opt.rounds); round++) {
    for (const store of round % 2 === 0 ? ['memory', 'redis'] : ['redis', 'memory']) {
      const result = await measure(store, dir);
      runs[store].push(result);
      const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
      console.log(
        `round ${round + 1} ${store.padEnd(6)} ${result.rps.toFixed(0)} req/s, p50 ${result.p50Us} µs, p99 ${result.p99Us} µs (load ${load})`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  authz(['stop-one', '1']);
  authz(['start-one', '1']);
  authz(['start-one', '2']);
}
const mem = median(runs.memory.map((r) => r.rps));
const red = median(runs.redis.map((r) => r.rps));
// Each round's two runs were back to back: their ratio is less exposed to the machine's load drifting between rounds.
const pairs = runs.redis.map((r, i) => r.rps / runs.memory[i].rps);
console.log(`redis/memory per round: ${pairs.map((x) => x.toFixed(3)).join(', ')}; median ${median(pairs).toFixed(3)}`);
console.log(
  `median: memory ${mem.toFixed(0)} req/s, redis ${red.toFixed(0)} req/s: redis/memory ${(red / mem).toFixed(3)} ` +
    `(p50 ${median(runs.memory.map((r) => r.p50Us))} vs ${median(runs.redis.map((r) => r.p50Us))} µs)`,
);
// The goal: the Redis store within 10 % of the memory store (by the medians). Measured, not asserted: the machine's
// load moves single rounds by more than that (docs/speed.md), so the verdict is printed, the exit code stays 0.
console.log(`goal, Redis store within 10 % of the memory store: ${red / mem >= 0.9 ? 'met' : 'NOT met'} (${(red / mem).toFixed(3)})`);
