#!/usr/bin/env node
/**
 * `npm run bench:nginx`: the service as users feel it, through NGINX, side by side with oauth2-proxy.
 *
 * Uses the worktree's Keycloak (scripts/stack/keycloak.sh; started here and stopped again when it was not running),
 * starts its own nginx-authz (dist/, as `npm start`), oauth2-proxy (JWT bearer mode, same realm and audience; built
 * once by scripts/stack/install.sh oauth2proxy) and an NGINX with four fronts on one `return 200` upstream (see
 * nginx-conf.mjs). Real Keycloak tokens (password grant of the stack user alice). Each round: a fresh token, a
 * warm-up of every front, then wrk -t2 -c50 on each front in shuffled order, then a fixed-rate load (fixed-rate.c via
 * fixed-rate.mjs, 1,000 req/s, latencies in µs from each request's due time) on each front in shuffled order. The table shows the
 * median over the rounds. Any non-2xx answer or socket error in a measured run fails the bench (exit 1).
 *
 * Options: --rounds N (3) --seconds S (10, wrk) --latency-seconds S (10) --rate R (1000) --short (1 round of 3 s)
 *   --listen unix|tcp (unix: nginx-authz on a unix socket) --workers N (1) --keepalive N (32, NGINX upstream idle
 *   connections) --cpu-prof DIR (profile nginx-authz) --json FILE --no-rss (skip the 100k-decision RSS run)
 *   --only none,floor,authz,cached,oauth2proxy --keep (keep the run dir); "floor" is an auth_request answered by
 *   NGINX itself (`return 204`), the least any auth_request design costs
 * A/B of two service builds or settings in one interleaved run (front "authzB"): --b-main FILE (another dist/main.js,
 *   e.g. a copy of main's build inside the checkout), --b-listen unix|tcp, --b-node-args="...", --b-keepalive N,
 *   --b-workers N, --b-env NAME=VALUE,... (extra environment of variant B, e.g. AUTHZ_LOG_LEVEL=warn)
 * --rt: during each fixed-rate load, NGINX and the services (and the C client, always) run as SCHED_FIFO (chrt; root):
 *   their latencies then carry their own delays (GC, parsing, logging), not the wait behind a shared machine's other
 *   processes; for A/B tests of the service's own tail on a busy machine, not a production setting
 * --compare-node-client: after each fixed-rate load also the Node client's (fixed-rate-node.mjs) on the same front,
 *   logged beside it and kept in the JSON (`fixedNode`), not in the table: how late each client sends (lag p99)
 * A/B of an NGINX tuning of the decision-cache location (front "cachedB", the shipped snippet plus these directives):
 *   --cached-b="open_file_cache max=1000 inactive=20s;"; or another decision-cache snippet in its place (the others
 *   stay the shipped ones, so it may include them): --cached-b-snippet=/tmp/my-authz-cache.conf
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runFixedRate } from './fixed-rate.mjs';
import { renderBenchConf } from './nginx-conf.mjs';
import {
  childrenCpuSeconds,
  cookieSecret,
  freePort,
  setRealtime,
  sleep,
  startProc,
  stopAll,
  treeCpuSeconds,
  treeRssMb,
  waitUntil,
} from './procs.mjs';
import { report } from './report.mjs';
import { runWrk, writeWrkScript } from './wrk.mjs';

const ROOT = resolve(new URL('../..', import.meta.url).pathname);
const { values: opt } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    'latency-seconds': { type: 'string', default: '10' },
    rate: { type: 'string', default: '1000' },
    short: { type: 'boolean', default: false },
    listen: { type: 'string', default: 'unix' },
    workers: { type: 'string', default: '1' },
    keepalive: { type: 'string', default: '32' },
    'cpu-prof': { type: 'string' },
    json: { type: 'string' },
    'no-rss': { type: 'boolean', default: false },
    only: { type: 'string', default: 'none,floor,authz,cached,oauth2proxy' },
    keep: { type: 'boolean', default: false },
    'b-main': { type: 'string' },
    'b-listen': { type: 'string' },
    'b-node-args': { type: 'string' },
    'b-keepalive': { type: 'string' },
    'b-workers': { type: 'string' },
    'b-env': { type: 'string' },
    'compare-node-client': { type: 'boolean', default: false },
    rt: { type: 'boolean', default: false },
    'cached-b': { type: 'string' },
    'cached-b-snippet': { type: 'string' },
  },
});
const rounds = opt.short ? 1 : Number(opt.rounds);
const seconds = opt.short ? 3 : Number(opt.seconds);
const latencySeconds = opt.short ? 3 : Number(opt['latency-seconds']);
const rate = Number(opt.rate);
const abTest = ['b-main', 'b-listen', 'b-node-args', 'b-keepalive', 'b-workers', 'b-env'].some((name) => opt[name] !== undefined);
const fronts = [
  ...opt.only.split(','),
  ...(abTest ? ['authzB'] : []),
  ...(opt['cached-b'] !== undefined || opt['cached-b-snippet'] ? ['cachedB'] : []),
];
const STACK_DIR = process.env.STACK_DIR ?? join(ROOT, '.stack');
const CACHE = process.env.NGINX_AUTHZ_CACHE ?? join(process.env.HOME ?? '/root', '.cache/nginx-authz');
const O2P_VERSION = process.env.OAUTH2_PROXY_VERSION ?? 'v7.15.6';
const CLIENT_SECRET = process.env.NGINX_AUTHZ_CLIENT_SECRET ?? 'dev-only-nginx-authz-secret'; // the stack's development default
const ROUTE = '/api/2.0/mlflow/experiments/search?max_results=5';
const log = (line) => process.stderr.write(`[bench:nginx ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

let startedKeycloak = false;
const run = mkdtempSync(join(tmpdir(), 'abn-')); // short: unix socket paths are limited to ~100 characters
let failed = false;
// The decision cache on tmpfs, as nginx/README.md advises (/run there; /dev/shm is writable without root). Always
// removed at the end, even with --keep (without set-misc its files would hold the token).
const shm = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/abn-cache-') : undefined;

async function main() {
  if (!existsSync(join(ROOT, 'dist/main.js'))) sh('npm', ['run', 'build']);
  if (fronts.includes('oauth2proxy')) sh('bash', [join(ROOT, 'scripts/stack/install.sh'), 'oauth2proxy']);
  const kcPort = await keycloak();
  const issuer = `http://127.0.0.1:${kcPort}/realms/mlflow`;
  mkdirSync(join(run, 'conf/snippets'), { recursive: true, mode: 0o700 });
  mkdirSync(join(run, 'temp'), { recursive: true });
  mkdirSync(join(run, 'logs'), { recursive: true });

  // nginx-authz, as `npm start` runs it (the same heap and malloc bounds).
  const nodeArgs = ['--max-old-space-size=96', '--max-semi-space-size=2', '--expose-gc'];
  if (opt['cpu-prof']) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${resolve(opt['cpu-prof'])}`);
  const { addr: authzAddr, child: authz } = await startService('nginx-authz', 'dist/main.js', opt.listen, nodeArgs, issuer, opt.workers);
  const b = abTest
    ? await startService(
        'nginx-authz-b',
        opt['b-main'] ?? 'dist/main.js',
        opt['b-listen'] ?? opt.listen,
        opt['b-node-args'] !== undefined ? opt['b-node-args'].split(' ').filter(Boolean) : nodeArgs,
        issuer,
        opt['b-workers'] ?? opt.workers,
        Object.fromEntries(
          (opt['b-env'] ?? '')
            .split(',')
            .filter(Boolean)
            .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
        ),
      )
    : undefined;

  // oauth2-proxy: JWT bearer tokens of the same realm, audience nginx-authz (what the realm's mappers put in `aud`).
  const o2pPort = await freePort();
  let o2p;
  if (fronts.includes('oauth2proxy')) {
    o2p = startProc(
      'oauth2-proxy',
      join(CACHE, `bin/oauth2-proxy-${O2P_VERSION}`),
      [
        '--provider=oidc',
        `--oidc-issuer-url=${issuer}`,
        '--client-id=nginx-authz',
        `--client-secret=${CLIENT_SECRET}`,
        '--skip-jwt-bearer-tokens=true',
        '--email-domain=*',
        '--insecure-oidc-allow-unverified-email=true',
        `--http-address=127.0.0.1:${o2pPort}`,
        `--cookie-secret=${cookieSecret()}`,
        '--cookie-secure=false',
        '--upstream=static://200',
        '--redirect-url=http://127.0.0.1/oauth2/callback',
        '--reverse-proxy=true',
      ],
      { log: join(run, 'logs/oauth2-proxy.log') },
    );
    await waitUntil('oauth2-proxy', () => get(`127.0.0.1:${o2pPort}`, '/ping').then((r) => r.status === 200), 60_000, o2p);
  }

  // NGINX with the four fronts.
  const ports = {
    none: await freePort(),
    floor: await freePort(),
    authz: await freePort(),
    cached: await freePort(),
    oauth2proxy: await freePort(),
    authzB: await freePort(),
    cachedB: await freePort(),
  };
  cpSync(join(ROOT, 'nginx/snippets'), join(run, 'conf/snippets'), { recursive: true });
  if (opt['cached-b-snippet']) cpSync(resolve(opt['cached-b-snippet']), join(run, 'conf/snippets/cached-b.conf'));
  const setMisc = existsSync('/usr/lib/nginx/modules/ngx_http_set_misc_module.so');
  const conf = join(run, 'conf/nginx.conf');
  const cacheDir = join(shm ?? run, 'authz-cache');
  writeFileSync(
    conf,
    renderBenchConf({
      prefix: run,
      snippets: join(run, 'conf/snippets'),
      authz: authzAddr,
      authzKeepalive: Number(opt.keepalive),
      oauth2proxy: `127.0.0.1:${o2pPort}`,
      ports,
      user: process.getuid?.() === 0 ? 'user root;' : '',
      setMisc,
      authzB: b?.addr,
      authzBKeepalive: opt['b-keepalive'] ? Number(opt['b-keepalive']) : undefined,
      cacheDir,
      cachedBExtra: opt['cached-b'] ?? (opt['cached-b-snippet'] ? '' : undefined),
      cachedBSnippet: opt['cached-b-snippet'] ? 'cached-b.conf' : undefined,
    }),
    { mode: 0o600 },
  );
  const nginxBin = process.env.NGINX_BIN ?? '/usr/sbin/nginx';
  sh(nginxBin, ['-t', '-q', '-p', run, '-c', conf]);
  const nginx = startProc('nginx', nginxBin, ['-p', run, '-c', conf, '-g', 'daemon off;'], { log: join(run, 'logs/nginx.log') });
  await waitUntil('nginx', () => get(`127.0.0.1:${ports.none}`, '/').then((r) => r.status === 200), 20_000, nginx);

  // The process that answers each front's subrequests (its CPU per request is the service's cost; the cached front's
  // is what still reaches nginx-authz behind NGINX's cache).
  const servicePid = { authz: authz.pid, cached: authz.pid, cachedB: authz.pid, authzB: b?.child.pid, oauth2proxy: o2p?.pid };
  // One fixed-rate load; with --rt NGINX and the services run as SCHED_FIFO during it. The Node client (the bench's
  // own process) gets SCHED_FIFO too when allowed, as the C client gives itself, so the two compare as clients.
  const rtPids = [nginx.pid, authz.pid, b?.child.pid, o2p?.pid].filter((pid) => pid !== undefined);
  const fixedLoad = async (url, headers, client) => {
    if (opt.rt && !setRealtime(rtPids, true)) fail('--rt: chrt could not set SCHED_FIFO (needs root or CAP_SYS_NICE)');
    const nodeFifo = client === 'node' && setRealtime([process.pid], true, { children: false });
    try {
      const r = await runFixedRate({ url, headers, rate, seconds: latencySeconds, warmSeconds: Math.min(2, latencySeconds), client });
      return { ...r, load: loadavg(), ...(client === 'node' ? { sched: nodeFifo ? 'fifo' : 'other' } : {}) };
    } finally {
      if (nodeFifo) setRealtime([process.pid], false, { children: false });
      if (opt.rt) setRealtime(rtPids, false);
    }
  };
  const urls = Object.fromEntries(fronts.map((name) => [name, `http://127.0.0.1:${ports[name]}${ROUTE}`]));
  const results = Object.fromEntries(fronts.map((name) => [name, { wrk: [], fixed: [], fixedNode: [] }]));
  const wrkScript = join(run, 'headers.lua');
  for (let round = 1; round <= rounds; round++) {
    const token = await kcToken(kcPort);
    const headers = { Authorization: `Bearer ${token}` };
    writeWrkScript(wrkScript, headers);
    await preflight(urls, headers);
    for (const name of fronts) await runWrk({ url: urls[name], script: wrkScript, seconds: 2 }); // warm: caches, JIT, keepalive pools
    if (fronts.includes('cached')) checkDecisionCache(cacheDir, token);
    for (const name of shuffle(fronts)) {
      const cpuBefore = childrenCpuSeconds(nginx.pid);
      const serviceBefore = servicePid[name] === undefined ? Number.NaN : treeCpuSeconds(servicePid[name]);
      const r = await runWrk({ url: urls[name], script: wrkScript, seconds });
      const serviceAfter = servicePid[name] === undefined ? Number.NaN : treeCpuSeconds(servicePid[name]);
      // NGINX's own CPU per request (its workers only, this bench's NGINX alone serves these fronts): on a shared
      // machine req/s swing with the neighbours' load, the work NGINX does per request much less.
      r.nginxCpuUsPerReq = r.requests > 0 ? Math.round(((childrenCpuSeconds(nginx.pid) - cpuBefore) * 1e6) / r.requests) : Number.NaN;
      // The service's CPU per request the same way (process and workers, /proc): the figure to compare builds by.
      r.serviceCpuUsPerReq = r.requests > 0 ? Math.round(((serviceAfter - serviceBefore) * 1e6) / r.requests) : Number.NaN;
      if (r.non2xx > 0 || r.socketErrors > 0 || !(r.requests > 0))
        fail(`round ${round} ${name}: wrk saw ${r.non2xx} non-2xx, ${r.socketErrors} socket errors\n${r.raw}`);
      delete r.raw;
      results[name].wrk.push(r);
      log(
        `round ${round}/${rounds} wrk ${name}: ${Math.round(r.rps)} req/s p50 ${r.p50Us} µs p99 ${r.p99Us} µs, NGINX ${r.nginxCpuUsPerReq} µs CPU/req` +
          `${Number.isFinite(r.serviceCpuUsPerReq) ? `, service ${r.serviceCpuUsPerReq} µs CPU/req` : ''} (load ${loadavg()})`,
      );
    }
    for (const name of shuffle(fronts)) {
      const r = await fixedLoad(urls[name], headers);
      if (r.errors > 0) fail(`round ${round} ${name}: fixed-rate load saw ${r.errors} errors ${JSON.stringify(r.statuses)}`);
      results[name].fixed.push(r);
      log(
        `round ${round}/${rounds} ${rate}/s ${name}: p50 ${r.p50Us} µs p99 ${r.p99Us} µs; from send p50 ${r.p50SentUs} µs p99 ${r.p99SentUs} µs ` +
          `(${clientName(r)} client lag p99 ${r.lagP99Us} µs, load ${r.load})`,
      );
      if (opt['compare-node-client']) {
        const n = await fixedLoad(urls[name], headers, 'node');
        results[name].fixedNode.push(n);
        log(
          `round ${round}/${rounds} ${rate}/s ${name}, ${clientName(n)} client: p50 ${n.p50Us} µs p99 ${n.p99Us} µs; from send p50 ${n.p50SentUs} µs ` +
            `p99 ${n.p99SentUs} µs (lag p99 ${n.lagP99Us} µs, load ${n.load})`,
        );
      }
    }
  }
  const rssAfterBenchMb = Math.round(treeRssMb(authz.pid));
  await stopAll(); // the service writes its CPU profile on exit
  const rss = opt['no-rss'] ? undefined : rssWithFill();
  const out = report({
    results,
    fronts,
    meta: {
      date: new Date().toISOString(),
      machine: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
      nginx: spawnSync(nginxBin, ['-v'], { encoding: 'utf8' }).stderr.trim(),
      node: process.version,
      oauth2proxy: O2P_VERSION,
      command: `npm run bench:nginx -- ${process.argv.slice(2).join(' ')}`.trim(),
      rounds,
      seconds,
      latencySeconds,
      rate,
      loadClient: clientName(results[fronts[0]].fixed[0] ?? {}),
      rt: opt.rt,
      listen: opt.listen,
      workers: Number(opt.workers),
      keepalive: Number(opt.keepalive),
      variantB: abTest
        ? {
            main: opt['b-main'] ?? 'dist/main.js',
            listen: opt['b-listen'] ?? opt.listen,
            nodeArgs: opt['b-node-args'],
            keepalive: opt['b-keepalive'],
            env: opt['b-env'],
          }
        : undefined,
      nginxDecisionCacheKey: setMisc ? 'md5 (set-misc)' : 'plain (no set-misc)',
      cachedBExtra: opt['cached-b'],
      cachedBSnippet: opt['cached-b-snippet'],
    },
    rssAfterBenchMb,
    rss,
  });
  if (opt.json) writeFileSync(opt.json, `${JSON.stringify(out, null, 2)}\n`);
}

/** One nginx-authz process (or cluster) on a unix socket in the run dir or a free port; resolves once ready. */
async function startService(name, main, listen, nodeArgs, issuer, workers, extraEnv = {}) {
  const addr = listen === 'unix' ? `unix:${join(run, `${name}.sock`)}` : `127.0.0.1:${await freePort()}`;
  const child = startProc(name, process.execPath, [...nodeArgs, main], {
    cwd: ROOT,
    log: join(run, `logs/${name}.log`),
    env: {
      PATH: process.env.PATH,
      MALLOC_ARENA_MAX: '2',
      AUTHZ_ISSUER_URL: issuer,
      AUTHZ_CLIENT_ID: 'nginx-authz',
      AUTHZ_CLIENT_SECRET: CLIENT_SECRET,
      ...(listen === 'unix' ? { AUTHZ_LISTEN: addr } : { AUTHZ_PORT: addr.split(':')[1] }),
      AUTHZ_WORKERS: workers,
      AUTHZ_LOGIN_ENABLED: 'false',
      AUTHZ_BASIC_ENABLED: 'false',
      AUTHZ_LOG_LEVEL: 'info', // audit lines on, as in production
      ...extraEnv,
    },
  });
  await waitUntil(name, () => get(addr, '/readyz').then((r) => r.status === 200), 60_000, child);
  return { addr, child };
}

/** The worktree stack's Keycloak: reused when running, else started (and stopped at the end). */
async function keycloak() {
  const ports = () => Object.fromEntries(readLines(join(STACK_DIR, 'ports.env')).map((l) => l.split('=')));
  const pid = Number(readLines(join(STACK_DIR, 'run/keycloak.pid'))[0]);
  let alive = false;
  try {
    alive = pid > 0 && process.kill(pid, 0);
  } catch {
    alive = false;
  }
  if (!alive) {
    log('Keycloak not running: starting it (scripts/stack/keycloak.sh start)');
    sh('bash', [join(ROOT, 'scripts/stack/keycloak.sh'), 'start'], { KC_START_TIMEOUT: process.env.KC_START_TIMEOUT ?? '900' });
    startedKeycloak = true;
  }
  return Number(ports().KC_PORT);
}

async function kcToken(kcPort) {
  const body = new URLSearchParams({ grant_type: 'password', client_id: 'mlflow-cli', username: 'alice', password: 'alice-dev-password' });
  const res = await fetch(`http://127.0.0.1:${kcPort}/realms/mlflow/protocol/openid-connect/token`, { method: 'POST', body });
  if (!res.ok) throw new Error(`Keycloak token request: ${res.status}`);
  return (await res.json()).access_token;
}

/**
 * The cached fronts really cache (the service granted a positive X-Accel-Expires, so NGINX wrote entries) and the
 * entries hold no credentials: the token is nowhere in the cache files (with set-misc the key holds MD5 digests).
 */
function checkDecisionCache(dir, token) {
  const files = existsSync(dir) ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()) : [];
  if (files.length === 0) fail(`the NGINX decision cache (${dir}) holds no entry after the warm-up: nothing was cached`);
  const withToken = files.filter((e) => readFileSync(join(e.parentPath, e.name)).includes(token));
  if (withToken.length > 0 && existsSync('/usr/lib/nginx/modules/ngx_http_set_misc_module.so'))
    fail(`${withToken.length} NGINX decision cache file(s) hold the bearer token in plain text`);
  log(`NGINX decision cache: ${files.length} entr${files.length === 1 ? 'y' : 'ies'}, ${withToken.length} holding the token`);
}

/** Every front answers the token with the upstream's 200; every auth front refuses a request without it or with a forged one. */
async function preflight(urls, headers) {
  for (const [name, url] of Object.entries(urls)) {
    let withToken;
    let text;
    // A cold Keycloak may take longer than the decision timeout for the first UMA grant: retry those (5xx) a while.
    for (let attempt = 0; attempt < 30; attempt++) {
      withToken = await fetch(url, { headers });
      text = await withToken.text();
      if (withToken.status < 500) break;
      await sleep(1_000);
    }
    if (withToken.status !== 200 || text !== 'bench upstream\n') fail(`${name}: expected the upstream's 200, got ${withToken.status}`);
    if (name === 'none' || name === 'floor') continue; // no credentials checked there
    const without = await fetch(url);
    if (without.status !== 401) fail(`${name}: a request without credentials got ${without.status}, expected 401`);
    // A token with a bad signature: every auth front must verify, not just look for a header.
    const [head, payload] = headers.Authorization.slice('Bearer '.length).split('.');
    const forged = await fetch(url, { headers: { Authorization: `Bearer ${head}.${payload}.${'A'.repeat(342)}` } });
    if (forged.status !== 401 && forged.status !== 403) fail(`${name}: a token with a bad signature got ${forged.status}`);
  }
}

/** RSS with 100,000 cached decisions: scripts/bench.mjs fills them through a local issuer (Keycloak would take hours). */
function rssWithFill() {
  log('RSS with 100,000 cached decisions (scripts/bench.mjs, BENCH_SECONDS=2)');
  const r = spawnSync(process.execPath, ['scripts/bench.mjs'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, BENCH_SECONDS: '2' },
  });
  const json = r.stdout.slice(r.stdout.indexOf('{'), r.stdout.lastIndexOf('}') + 1);
  if (r.status !== 0 || !json) fail(`scripts/bench.mjs failed (${r.status}): ${r.stderr.slice(-500)}`);
  const parsed = JSON.parse(json);
  return { rssMb: parsed.rss_mb_after_fill, cachedDecisions: parsed.decision_cache_entries };
}

function get(addr, path) {
  return new Promise((done, reject) => {
    const target = addr.startsWith('unix:')
      ? { socketPath: addr.slice(5) }
      : { host: addr.split(':')[0], port: Number(addr.split(':')[1]) };
    const req = request({ ...target, path, timeout: 2_000 }, (res) => {
      res.resume();
      res.on('end', () => done({ status: res.statusCode }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

function sh(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

/** Which load client measured: the C one (as SCHED_FIFO when allowed) or the Node fallback. */
function clientName(r) {
  return `${r.client === 'c' ? 'C' : 'Node'}${r.sched === 'fifo' ? ' (SCHED_FIFO)' : ''}`;
}

/** The 1-minute load average of the machine, noted with every measurement (it is shared). */
function loadavg() {
  return readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
}

function readLines(path) {
  return existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
    : [];
}

function shuffle(list) {
  const copy = [...list];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

function fail(message) {
  throw new Error(message);
}

async function cleanup() {
  await stopAll();
  if (startedKeycloak) spawnSync('bash', [join(ROOT, 'scripts/stack/keycloak.sh'), 'stop'], { stdio: 'inherit' });
  if (shm) rmSync(shm, { recursive: true, force: true });
  if (opt.keep || failed) log(`run dir kept: ${run}`);
  else rmSync(run, { recursive: true, force: true });
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    failed = true;
    cleanup().finally(() => process.exit(130));
  });
}
try {
  await main();
} catch (error) {
  failed = true;
  log(`FAILED: ${error.message}`);
}
await cleanup();
await sleep(0);
process.exit(failed ? 1 : 0);
