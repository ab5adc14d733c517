#!/usr/bin/env node
/**
 * The service's CPU µs per cached /auth decision, for one or more builds side by side (an A/B of a change): each build
 * runs as its own process (`npm start`'s flags, audit log on) beside a minimal local issuer; after one warm-up
 * request every measured request is a cache hit. Each round runs `wrk -t1 -c32` (keep-alive, the headers NGINX's
 * snippets send) against each build in turn (the order alternates) and divides the process's CPU time (/proc) by
 * the requests served. No NGINX: what is left is the service alone (plus the loopback TCP it answers on).
 *
 *   node scripts/bench/service-cpu.mjs ROUNDS SECONDS dist-a/main.js dist-b/main.js ...
 *   (XARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" adds node flags; KEEPLOG=1 keeps each build's stdout in /tmp)
 *
 * On a shared machine CPU per request rises with the neighbours' load (less batching per wake-up): compare builds
 * within a round, over several rounds.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

const [rounds, seconds, ...mains] = process.argv.slice(2);
const { privateKey, publicKey } = await generateKeyPair('ES256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES256', use: 'sig' };
const issuerServer = createServer((req, res) => {
  const base = `http://127.0.0.1:${issuerServer.address().port}/realms/bench`;
  res.setHeader('content-type', 'application/json');
  if (req.url.endsWith('/.well-known/openid-configuration'))
    res.end(
      JSON.stringify({
        issuer: base,
        token_endpoint: `${base}/token`,
        jwks_uri: `${base}/certs`,
        authorization_endpoint: `${base}/auth`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256'],
      }),
    );
  else if (req.url.endsWith('/certs')) res.end(JSON.stringify({ keys: [jwk] }));
  else if (req.url.endsWith('/token')) {
    req.resume();
    req.on('end', () => res.end('{"result":true}'));
  } else {
    res.statusCode = 404;
    res.end('{}');
  }
});
issuerServer.listen(0, '127.0.0.1');
await once(issuerServer, 'listening');
const issuer = `http://127.0.0.1:${issuerServer.address().port}/realms/bench`;
const now = Math.floor(Date.now() / 1000);
const token = await new SignJWT({
  iss: issuer,
  aud: 'nginx-authz',
  sub: 'user-1',
  typ: 'Bearer',
  preferred_username: 'user1',
  email: 'user1@bench.test',
  groups: ['mlflow-editors'],
  iat: now,
  exp: now + 3600,
})
  .setProtectedHeader({ alg: 'ES256', kid: 'bench' })
  .sign(privateKey);
const headers = {
  'X-Original-Method': 'GET',
  'X-Original-URI': '/api/2.0/mlflow/experiments/search?max_results=5',
  'X-Forwarded-Host': '127.0.0.1:8080',
  'X-Forwarded-Proto': 'http',
  'X-Forwarded-For': '127.0.0.1',
  'X-Original-Remote-Addr': '127.0.0.1',
  Authorization: `Bearer ${token}`,
};
const dir = mkdtempSync(join(tmpdir(), 'authz-cpu-'));
const script = join(dir, 'wrk.lua'); // owner-only: it holds a (local, throwaway) token
writeFileSync(
  script,
  Object.entries(headers)
    .map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`)
    .join('\n') + '\n',
  { mode: 0o600 },
);
const services = [];
for (const [i, main] of mains.entries()) {
  const port = 21000 + Math.floor(Math.random() * 20000);
  const child = spawn(
    process.execPath,
    ['--max-old-space-size=96', '--max-semi-space-size=2', ...(process.env.XARGS ? process.env.XARGS.split(' ') : []), main],
    {
      env: {
        PATH: process.env.PATH,
        MALLOC_ARENA_MAX: '2',
        AUTHZ_ISSUER_URL: issuer,
        AUTHZ_CLIENT_ID: 'nginx-authz',
        AUTHZ_CLIENT_SECRET: 'bench-only',
        AUTHZ_PORT: String(port),
        AUTHZ_LOGIN_ENABLED: 'false',
        AUTHZ_BASIC_ENABLED: 'false',
        AUTHZ_LOG_LEVEL: 'info',
        AUTHZ_CACHE_ALLOW_TTL_SECONDS: '3600',
      },
      stdio: ['ignore', process.env.KEEPLOG ? openSync(join(tmpdir(), `authz-cpu-out-${i}.log`), 'w') : 'ignore', 'inherit'],
    },
  );
  process.on('exit', () => child.kill('SIGKILL'));
  const base = `http://127.0.0.1:${port}`;
  for (let k = 0; ; k++) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch {}
    if (k > 300) throw new Error('not ready');
    await new Promise((r) => setTimeout(r, 100));
  }
  const r = await fetch(`${base}/auth`, { headers });
  if (r.status !== 200) throw new Error(`warm ${r.status}`);
  services.push({ name: `${String.fromCharCode(65 + i)}:${main}`, base, pid: child.pid, us: [], rps: [] });
}
const cpu = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 1e4;
}; // µs (100 Hz)
const wrk = (base, s) => {
  const out = spawnSync('wrk', ['-t1', '-c32', `-d${s}s`, '-s', script, `${base}/auth`], { encoding: 'utf8' }).stdout;
  if (/Non-2xx|Socket errors/.test(out)) throw new Error(out);
  return { n: Number(/(\d+) requests in/.exec(out)[1]), rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]) };
};
for (const s of services) {
  try {
    wrk(s.base, 3);
  } catch {}
}
for (let r = 0; r < Number(rounds); r++) {
  const order = r % 2 === 0 ? services : [...services].reverse();
  for (const s of order) {
    const c0 = cpu(s.pid);
    const { n, rps } = wrk(s.base, seconds);
    const c1 = cpu(s.pid);
    s.us.push((c1 - c0) / n);
    s.rps.push(rps);
  }
  console.log(
    `round ${r + 1} load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}: ` +
      services.map((s) => `${s.name.split(':')[0]} ${s.us.at(-1).toFixed(1)} us/req ${Math.round(s.rps.at(-1))} req/s`).join(' | '),
  );
}
const med = (a) => {
  const b = [...a].sort((x, y) => x - y);
  return b[Math.floor(b.length / 2)];
};
for (const s of services)
  console.log(
    `${s.name}: median ${med(s.us).toFixed(1)} us/req (min ${Math.min(...s.us).toFixed(1)}), median ${Math.round(med(s.rps))} req/s`,
  );
for (const s of services) process.kill(s.pid, 'SIGTERM');
await new Promise((r) => setTimeout(r, 3000));
rmSync(dir, { recursive: true, force: true });
process.exit(0);
