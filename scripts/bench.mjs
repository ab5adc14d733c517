#!/usr/bin/env node
/**
 * Benchmark of cached decisions against the running service (`npm run bench`).
 *
 * Starts the built service (`dist/main.js`) as its own process, beside a minimal local issuer
 * (discovery, JWKS, UMA decision endpoint) that exists only so the service can start and warm
 * its cache: every measured request is a cache hit, so the issuer is off the measured path.
 * Then: autocannon with keep-alive connections over a mix of tokens and MLflow routes;
 * handler p50/p99 from the service's own latency histogram; RSS after 100,000 cached decisions.
 *
 * Options (env): BENCH_CONNECTIONS (50), BENCH_SECONDS (15), BENCH_TOKENS (200), BENCH_FILL (100000),
 * BENCH_MODE (keycloak-uma | claims: the issuer's mode; claims decisions are made locally from the
 * cached identity's claim values, source="local", and fill only the token cache),
 * BENCH_HEAP_SNAPSHOT (a file: after the RSS is read, the service writes a heap snapshot there;
 * `node scripts/heap-breakdown.mjs <file>` says what the bytes are).
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const seconds = Number(process.env.BENCH_SECONDS ?? 15);
const tokenCount = Number(process.env.BENCH_TOKENS ?? 200);
const fillCount = Number(process.env.BENCH_FILL ?? 100_000);
const mode = process.env.BENCH_MODE ?? 'keycloak-uma';
const measuredSource = mode === 'claims' ? 'local' : 'cache';
// Claims mode: every route allowed to the bench tokens' group, decided by the policy on each request.
const claimsConfig = join(mkdtempSync(join(tmpdir(), 'authz-bench-')), 'claims.yaml');
writeFileSync(
  claimsConfig,
  'issuer:\n  policy:\n    rules:\n      "*#*": { anyOf: [{ claim: groups, values: [mlflow-editors] }, { claim: scope, values: ["mlflow:write"] }] }\n',
);

const ROUTES = [
  ['GET', '/ajax-api/2.0/mlflow/experiments/get?experiment_id=1'],
  ['POST', '/ajax-api/2.0/mlflow/runs/search'],
  ['GET', '/api/2.0/mlflow/runs/get?run_id=abc'],
  ['POST', '/api/2.0/mlflow/runs/log-metric'],
  ['GET', '/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model/model.pkl'],
  ['GET', '/api/2.0/mlflow/registered-models/search?max_results=10'],
];

// --- a minimal issuer: just enough for the service to start and fill its cache --------------
const { privateKey, publicKey } = await generateKeyPair('ES256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES256', use: 'sig' };
let umaCalls = 0;
const issuerServer = createServer((req, res) => {
  const base = `http://127.0.0.1:${issuerServer.address().port}/realms/bench`;
  res.setHeader('content-type', 'application/json');
  if (req.url.endsWith('/.well-known/openid-configuration')) {
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
  } else if (req.url.endsWith('/certs')) {
    res.end(JSON.stringify({ keys: [jwk] }));
  } else if (req.url.endsWith('/token')) {
    umaCalls++;
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

async function token(i) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: issuer,
    aud: 'nginx-authz',
    sub: `user-${i}`,
    typ: 'Bearer',
    preferred_username: `user${i}`,
    email: `user${i}@bench.test`,
    groups: ['mlflow-editors'],
    iat: now,
    exp: now + 3600,
  })
    .setProtectedHeader({ alg: 'ES256', kid: 'bench' })
    .sign(privateKey);
}

// --- the service, as its own process ---------------------------------------------------------
const port = 20_000 + Math.floor(Math.random() * 20_000);
// The service runs as `npm start` runs it (its environment assignments and V8 flags: heap and
// malloc bounds), unless BENCH_NODE_ARGS overrides the flags.
const startWords = JSON.parse(readFileSync('package.json', 'utf8')).scripts.start.split(' ');
const startEnv = Object.fromEntries(startWords.filter((w) => /^[A-Z_]+=/.test(w)).map((w) => w.split('=')));
const startFlags = startWords.filter((w) => w.startsWith('--'));
const nodeArgs = process.env.BENCH_NODE_ARGS === undefined ? startFlags : process.env.BENCH_NODE_ARGS.split(' ').filter(Boolean);
const snapshotFile = process.env.BENCH_HEAP_SNAPSHOT;
const snapshotDir = snapshotFile === undefined ? undefined : mkdtempSync(join(tmpdir(), 'authz-heap-'));
if (snapshotDir !== undefined) nodeArgs.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshotDir}`);
const service = spawn(process.execPath, [...nodeArgs, 'dist/main.js'], {
  env: {
    ...process.env,
    ...startEnv,
    AUTHZ_ISSUER_URL: issuer,
    AUTHZ_CLIENT_ID: 'nginx-authz',
    AUTHZ_CLIENT_SECRET: 'bench-only',
    AUTHZ_PORT: String(port),
    AUTHZ_LOG_LEVEL: 'warn',
    AUTHZ_CACHE_ALLOW_TTL_SECONDS: '3600',
    AUTHZ_CACHE_MAX_ENTRIES: String(fillCount + 10_000),
    // The fill's decisions ask the bench's own issuer, which shares this process with autocannon:
    // on a loaded machine its answers can take seconds (a 503 would fail the fill, not measure anything).
    AUTHZ_DECISION_TIMEOUT_MS: '15000',
    ...(mode === 'claims' ? { AUTHZ_ISSUER_MODE: 'claims', AUTHZ_CONFIG: claimsConfig } : {}),
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const stop = async () => {
  service.kill('SIGTERM');
  await once(service, 'exit');
  issuerServer.close();
};
process.on('exit', () => service.kill('SIGKILL'));
const base = `http://127.0.0.1:${port}`;
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${base}/readyz`)).ok) break;
  } catch {
    /* not up yet */
  }
  if (i > 600) throw new Error('service did not become ready');
  await new Promise((r) => setTimeout(r, 100));
}

async function metric(name, labels = '') {
  const text = await (await fetch(`${base}/metrics`)).text();
  return text.split('\n').filter((line) => line.startsWith(name) && line.includes(labels));
}

function quantileFromHistogram(lines, q) {
  const buckets = lines.filter((l) => l.includes('_bucket')).map((l) => [Number(/le="([^"]+)"/.exec(l)[1]), Number(l.split(' ').pop())]);
  const total = buckets[buckets.length - 1][1];
  const hit = buckets.find(([, count]) => count >= q * total);
  return hit[0];
}

// --- warm the cache, then measure --------------------------------------------------------------
const tokens = await Promise.all(Array.from({ length: tokenCount }, (_, i) => token(i)));
const requests = [];
for (const t of tokens)
  for (const [method, uri] of ROUTES)
    requests.push({
      method: 'GET',
      path: '/auth',
      headers: { 'x-original-method': method, 'x-original-uri': uri, authorization: `Bearer ${t}` },
    });
for (const r of requests) {
  const res = await fetch(base + r.path, { headers: r.headers });
  if (res.status !== 200) throw new Error(`warm-up got ${res.status}`);
}
const warmCalls = umaCalls;
const histogramBefore = await metric('authz_decision_duration_seconds_bucket', `source="${measuredSource}"`);

const result = await autocannon({ url: base, connections, duration: seconds, pipelining: 1, requests, idReplacement: false });
const cacheLines = (await metric('authz_decision_duration_seconds_bucket', `source="${measuredSource}"`)).map((line, i) =>
  line.replace(/ (\d+)$/, (_, n) => ` ${Number(n) - Number(histogramBefore[i].split(' ').pop())}`),
);
const p50 = quantileFromHistogram(cacheLines, 0.5);
const p99 = quantileFromHistogram(cacheLines, 0.99);
const non2xx = result.non2xx + result.errors + result.timeouts;

const idpCallsDuringRun = umaCalls - warmCalls;

// --- fill 100,000 cached decisions and read the RSS --------------------------------------------
// Each token is asked about FILL_ROUTES distinct resource#scope pairs: fewer tokens to sign and
// verify for the same number of cached decisions. setupRequest hands every connection the next
// pair, so all 50 connections together walk the list once.
const FILL_ROUTES = [
  ['GET', '/api/2.0/mlflow/experiments/get'],
  ['GET', '/api/2.0/mlflow/runs/get'],
  ['POST', '/api/2.0/mlflow/runs/log-metric'],
  ['GET', '/api/2.0/mlflow-artifacts/artifacts/x'],
  ['GET', '/api/2.0/mlflow/registered-models/get'],
];
const fillStarted = Date.now();
const FILL_BATCH = 4_000; // tokens per batch
for (let done = 0; done < fillCount; ) {
  const batchTokens = Math.min(FILL_BATCH, Math.ceil((fillCount - done) / FILL_ROUTES.length));
  const batch = await Promise.all(Array.from({ length: batchTokens }, (_, i) => token(tokenCount + done + i)));
  let next = 0;
  const total = Math.min(batchTokens * FILL_ROUTES.length, fillCount - done);
  const fillResult = await autocannon({
    url: base,
    connections: 50,
    amount: total,
    requests: [
      {
        method: 'GET',
        path: '/auth',
        setupRequest: (req) => {
          const n = next++;
          const [method, uri] = FILL_ROUTES[n % FILL_ROUTES.length];
          return {
            ...req,
            headers: {
              'x-original-method': method,
              'x-original-uri': uri,
              authorization: `Bearer ${batch[Math.floor(n / FILL_ROUTES.length) % batch.length]}`,
            },
          };
        },
      },
    ],
  });
  if (fillResult.non2xx > 0) throw new Error(`fill got non-2xx answers: ${JSON.stringify(fillResult.statusCodeStats)}`);
  done += total;
}
// Let the service go idle so V8 can shrink the heap it grew while serving the fill traffic:
// the number wanted is the resident size of a service holding the entries, not of one under load.
await new Promise((resolve) => setTimeout(resolve, 15_000));
const entries = (await metric('authz_cache_entries', 'cache="decision"'))[0];
const tokenEntries = (await metric('authz_cache_entries', 'cache="token"'))[0];
const rssLine = (await metric('process_resident_memory_bytes'))[0];
const rssMb = Number(rssLine.split(' ').pop()) / 1024 / 1024;
const heapUsedMb = Number((await metric('nodejs_heap_size_used_bytes'))[0].split(' ').pop()) / 1024 / 1024;
const heapTotalMb = Number((await metric('nodejs_heap_size_total_bytes'))[0].split(' ').pop()) / 1024 / 1024;

console.log(
  JSON.stringify(
    {
      mode,
      node_args: nodeArgs.join(' '),
      start_env: startEnv,
      connections,
      seconds,
      tokens: tokenCount,
      routes: ROUTES.length,
      requests_per_second: Math.round(result.requests.average),
      latency_ms_client: { p50: result.latency.p50, p99: result.latency.p99 },
      handler_ms_from_histogram: { p50_at_most: p50 * 1000, p99_at_most: p99 * 1000 },
      non_2xx_or_errors: non2xx,
      idp_calls_during_run: idpCallsDuringRun,
      decision_cache_entries: Number(entries.split(' ').pop()),
      token_cache_entries: Number(tokenEntries.split(' ').pop()),
      rss_mb_after_fill: Math.round(rssMb),
      heap_used_mb_after_fill: Math.round(heapUsedMb),
      heap_total_mb_after_fill: Math.round(heapTotalMb),
      fill_seconds: Math.round((Date.now() - fillStarted) / 1000),
    },
    null,
    2,
  ),
);
console.log(
  `bench: ${Math.round(result.requests.average)} decisions/s, handler p99 <= ${p99 * 1000} ms, RSS ${Math.round(rssMb)} MB with ${Number(entries.split(' ').pop())} cached decisions`,
);
if (snapshotDir !== undefined) {
  // The signal's snapshot is written synchronously by the service; wait until the file stops growing.
  service.kill('SIGUSR2');
  let last = -1;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const files = readdirSync(snapshotDir).filter((f) => f.endsWith('.heapsnapshot'));
    const size = files.length === 1 ? statSync(join(snapshotDir, files[0])).size : -1;
    if (size > 0 && size === last) {
      renameSync(join(snapshotDir, files[0]), snapshotFile);
      console.log(`bench: heap snapshot in ${snapshotFile}`);
      break;
    }
    last = size;
  }
}
await stop();
process.exit(non2xx === 0 && idpCallsDuringRun === 0 ? 0 : 1);
