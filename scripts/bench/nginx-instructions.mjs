#!/usr/bin/env node
/**
 * `npm run bench:nginx-instructions`: NGINX's own user-space instructions per request on the fronts of
 * `npm run bench:nginx` (same configuration, nginx-conf.mjs), counted by valgrind's callgrind in one NGINX process.
 *
 * Why: on a shared 2-core machine req/s and even NGINX CPU µs/request swing by ±10 µs with the neighbours' load, more
 * than the 1 – 3 µs a decision-cache tuning can change. Instructions executed are the same at any load, so a variant
 * of the decision-cache snippet can be judged in a minute and to within a few hundred instructions per request.
 * Kernel time (system calls) is not counted: count those with `strace -c -f` when a variant changes them.
 *
 * No Keycloak and no nginx-authz: the decision server is a stub on a unix socket answering every /auth as the
 * service answers a cacheable allow (the same header lines; X-Accel-Expires 60), so after the warm-up every request
 * on a cached front is a cache hit, the path the 0.9× goal is about. The client sends sequential keep-alive requests
 * with a bearer token of a Keycloak token's length (1,234 bytes): what NGINX hashes and parses per request.
 *
 * Options: --requests N (300 per front) --only none,floor,cached (fronts) --cached-b-snippet FILE (a front "cachedB"
 *   whose /auth includes FILE instead of the shipped authz-cache.conf, as in bench:nginx) --top N (print the N
 *   functions whose self cost differs most between each cached front and the floor)
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { selfCost } from './callgrind.mjs';
import { renderBenchConf } from './nginx-conf.mjs';
import { freePort, sleep } from './procs.mjs';

const ROOT = resolve(new URL('../..', import.meta.url).pathname);
const { values: opt } = parseArgs({
  options: {
    requests: { type: 'string', default: '300' },
    only: { type: 'string', default: 'none,floor,cached' },
    'cached-b-snippet': { type: 'string' },
    top: { type: 'string', default: '0' },
  },
});
const n = Number(opt.requests);
const fronts = [...opt.only.split(','), ...(opt['cached-b-snippet'] ? ['cachedB'] : [])];
const ROUTE = '/api/2.0/mlflow/experiments/search?max_results=5';
const TOKEN = `Bearer eyJ${'x'.repeat(1224)}`; // not a credential: the length of a Keycloak access token
const run = mkdtempSync(join(tmpdir(), 'abi-'));
const cacheDir = mkdtempSync('/dev/shm/abi-cache-');
const ports = {};
for (const name of ['none', 'floor', 'authz', 'cached', 'oauth2proxy', 'authzB', 'cachedB']) ports[name] = await freePort();

/** The stub decision server: the header lines of the service's cacheable allow (src/auth, `X-Accel-Expires` > 0). */
function stub(path) {
  const server = createServer((_req, res) => {
    res.writeHead(200, {
      'X-Accel-Expires': '60',
      'X-Auth-Request-User': 'alice',
      'X-Auth-Request-Email': 'alice@example.test',
      'X-Auth-Request-Preferred-Username': 'alice',
      'X-Auth-Request-Groups': 'mlflow-users',
      'X-Auth-Request-Subject': '0b4c1f7e-8a0e-4c52-9a47-3a1f0e2b7d11',
      'Content-Length': '0',
    });
    res.end();
  });
  server.keepAliveTimeout = 65_000;
  return new Promise((done) => server.listen(path, () => done(server)));
}

/** N sequential keep-alive GETs on one connection; throws on anything but the upstream's 200. */
async function drive(port, count) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  for (let i = 0; i < count; i++) {
    const status = await new Promise((done, fail) => {
      const req = request({ host: '127.0.0.1', port, agent, path: ROUTE, headers: { Authorization: TOKEN } }, (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode));
      });
      req.on('error', fail);
      req.end();
    });
    if (status !== 200) throw new Error(`front on port ${port}: status ${status}`);
  }
  agent.destroy();
}

async function main() {
  mkdirSync(join(run, 'conf'), { recursive: true });
  mkdirSync(join(run, 'temp'));
  mkdirSync(join(run, 'logs'));
  cpSync(join(ROOT, 'nginx/snippets'), join(run, 'conf/snippets'), { recursive: true });
  if (opt['cached-b-snippet']) cpSync(resolve(opt['cached-b-snippet']), join(run, 'conf/snippets/cached-b.conf'));
  const stubServer = await stub(join(run, 'authz.sock'));
  const conf = renderBenchConf({
    prefix: run,
    snippets: join(run, 'conf/snippets'),
    authz: `unix:${join(run, 'authz.sock')}`,
    authzKeepalive: 32,
    oauth2proxy: '127.0.0.1:9', // never asked: no front of this script uses it
    ports,
    user: process.getuid?.() === 0 ? 'user root;' : '',
    setMisc: true,
    cacheDir: join(cacheDir, 'authz-cache'),
    cachedBExtra: opt['cached-b-snippet'] ? '' : undefined,
    cachedBSnippet: opt['cached-b-snippet'] ? 'cached-b.conf' : undefined,
  }).replace('worker_processes auto;', 'worker_processes 1; master_process off; daemon off;');
  writeFileSync(join(run, 'conf/nginx.conf'), conf, { mode: 0o600 });
  const vg = spawn(
    'valgrind',
    ['--tool=callgrind', `--callgrind-out-file=${join(run, 'cg.%p')}`, '/usr/sbin/nginx', '-p', run, '-c', join(run, 'conf/nginx.conf')],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let vgErr = '';
  vg.stderr.on('data', (d) => {
    vgErr += d;
  });
  try {
    for (let i = 0; ; i++) {
      try {
        await drive(ports.none, 1);
        break;
      } catch (error) {
        if (i > 120 || vg.exitCode !== null) throw new Error(`NGINX under valgrind did not start: ${error.message}\n${vgErr}`);
        await sleep(500);
      }
    }
    for (const name of fronts) await drive(ports[name], 20); // warm-up: the cached fronts' entries are written here
    const costs = {};
    const rows = [];
    for (const name of fronts) {
      spawnSync('callgrind_control', ['-z', String(vg.pid)]);
      await drive(ports[name], n);
      spawnSync('callgrind_control', ['-d', name, String(vg.pid)]);
      const dump = readdirSync(run)
        .filter((f) => f.startsWith(`cg.${vg.pid}.`))
        .map((f) => join(run, f))
        .sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()))
        .pop();
      const total = Number(/^(?:summary|totals): (\d+)/m.exec(readFileSync(dump, 'utf8'))?.[1]);
      costs[name] = selfCost(readFileSync(dump, 'utf8'));
      rmSync(dump);
      rows.push({ name, perRequest: Math.round(total / n) });
    }
    const floor = rows.find((r) => r.name === 'floor')?.perRequest;
    process.stdout.write(`NGINX user-space instructions per request (callgrind, ${n} requests per front, keep-alive):\n`);
    for (const r of rows)
      process.stdout.write(
        `  ${r.name.padEnd(8)} ${String(r.perRequest).padStart(7)}${floor ? `  (${r.perRequest - floor >= 0 ? '+' : ''}${r.perRequest - floor} vs floor)` : ''}\n`,
      );
    const top = Number(opt.top);
    if (top > 0 && costs.floor) {
      for (const name of fronts.filter((f) => f.startsWith('cached'))) {
        const a = costs[name];
        const keys = [...new Set([...a.keys(), ...costs.floor.keys()])];
        const diff = keys.map((k) => [k, ((a.get(k) ?? 0) - (costs.floor.get(k) ?? 0)) / n]).sort((x, y) => y[1] - x[1]);
        process.stdout.write(`${name} minus floor, self instructions per request, largest first:\n`);
        for (const [k, d] of diff.slice(0, top)) process.stdout.write(`  ${String(Math.round(d)).padStart(7)}  ${k}\n`);
      }
    }
  } finally {
    vg.kill('SIGTERM');
    await new Promise((done) => (vg.exitCode !== null ? done() : vg.on('exit', done)));
    stubServer.close();
    rmSync(cacheDir, { recursive: true, force: true });
    rmSync(run, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
