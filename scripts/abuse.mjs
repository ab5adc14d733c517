#!/usr/bin/env node
/**
 * Abuse run (`npm run abuse`): one authenticated user with no permissions sends many requests
 * that each name something new (long distinct URIs, resources, experiment ids, run ids, Basic
 * logins), in parallel, against the built service started as `npm start` starts it (same
 * 96 MB heap flags), beside a local issuer (scripts/fuzz-lib.mjs). It checks that the service
 * stays up, that its resident size stays under the bound, and that other users' cached
 * decisions and cached Basic logins survive (they are answered again without any IdP call).
 *
 * Options (env): ABUSE_REQUESTS (100000), ABUSE_PARALLEL (50), ABUSE_RSS_LIMIT_MB (200),
 * ABUSE_KINDS (comma list of the kinds below; all by default),
 * ABUSE_UNLIMITED=1 (per-subject lookup limit lifted: proves the byte bounds alone hold the heap).
 * Prints one JSON summary; exits 1 when a check fails.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pool, startIssuer, startService } from './fuzz-lib.mjs';

const PAD = 'p'.repeat(7_900);

/** What the abuser sends, by kind: each request names something no earlier one did. */
const KINDS = {
  // Not in the table: looked up among Keycloak's resources by URI (routes.fromKeycloak).
  'long-path': (i) => ({ uri: `/custom/${i}/${PAD}` }),
  // A templated resource named by the request (like MinIO's bucket:{bucket}).
  resource: (i) => ({ uri: `/things/t${i}-${'r'.repeat(180)}/object` }),
  // A resource longer than Keycloak can store: refused unasked.
  'long-resource': (i) => ({ uri: `/things/t${i}-${PAD.slice(0, 3000)}/object` }),
  // A new experiment id each time (uma.perObject looks it up).
  'experiment-id': (i) => ({ uri: `/api/2.0/mlflow/experiments/get?experiment_id=${100 + i}` }),
  'artifact-path': (i) => ({ uri: `/api/2.0/mlflow-artifacts/artifacts/${100 + i}/run/artifacts/${PAD.slice(0, 4000)}` }),
  // Long distinct query strings on a mapped route.
  'run-id': (i) => ({ uri: `/api/2.0/mlflow/runs/get?run_id=${i}${PAD}` }),
  // A new Basic login each time (wrong password): throttled per user and address.
  login: (i) => ({ uri: '/api/2.0/mlflow/experiments/search', basic: `intruder${i}:${'w'.repeat(200)}${i}` }),
};

/**
 * @param {{ requests?: number, parallel?: number, rssLimitMb?: number, kinds?: string[], unlimited?: boolean, quiet?: boolean }} options
 * @returns {Promise<{ ok: boolean, failures: string[], summary: object }>}
 */
export async function runAbuse(options = {}) {
  const requests = options.requests ?? 100_000;
  const parallel = options.parallel ?? 50;
  const rssLimitMb = options.rssLimitMb ?? 200;
  const kinds = options.kinds ?? Object.keys(KINDS);
  const dir = mkdtempSync(join(tmpdir(), 'authz-abuse-'));
  writeFileSync(
    join(dir, 'routes.yaml'),
    'paths:\n  - path: /things/{thing}/*\n    name: "thing:{thing}"\n    methods: [{ method: GET, scopes: [read] }]\n',
  );
  const limits = options.unlimited ? 'decision:\n  lookupBurstPerSubject: 1000000000\n  lookupsPerSecondPerSubject: 1000000000\n' : '';
  writeFileSync(join(dir, 'config.yaml'), `${limits}cache:\n  allowTtlSeconds: 3600\n  denyTtlSeconds: 60\n`);

  const issuer = await startIssuer();
  const service = await startService(issuer.state.url, {
    AUTHZ_CONFIG: join(dir, 'config.yaml'),
    AUTHZ_ROUTES_FILE: join(dir, 'routes.yaml'),
    AUTHZ_ROUTES_FROM_KEYCLOAK: 'true',
    AUTHZ_UMA_PER_OBJECT: 'true',
    AUTHZ_BASIC_ENABLED: 'true',
    AUTHZ_BASIC_CLIENT_ID: 'mlflow-cli',
  });
  const auth = (uri, { bearer, basic, address = '10.0.0.1', method = 'GET' } = {}) =>
    fetch(`${service.base}/auth`, {
      headers: {
        'x-original-method': method,
        'x-original-uri': uri,
        'x-original-remote-addr': address,
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        ...(basic ? { authorization: `Basic ${Buffer.from(basic).toString('base64')}` } : {}),
      },
    }).then(
      (res) => res.status,
      () => 'network_error',
    );

  // Other users, before the abuse: their answers are cached now.
  const alice = await issuer.token('alice');
  const victims = [
    ['alice per-experiment', () => auth('/api/2.0/mlflow/experiments/get?experiment_id=5', { bearer: alice, address: '10.0.0.2' })],
    ['alice runs', () => auth('/api/2.0/mlflow/runs/search', { bearer: alice, method: 'POST', address: '10.0.0.2' })],
    ['carol basic', () => auth('/api/2.0/mlflow/experiments/search', { basic: 'carol:carol-pw', address: '10.0.0.3' })],
  ];
  const failures = [];
  for (const [name, call] of victims) {
    const status = await call();
    if (status !== 200) failures.push(`${name}: ${status} before the abuse`);
  }
  const callsBefore = { ...issuer.state.calls };

  const mallory = await issuer.token('mallory');
  const statuses = {};
  let rssMaxMb = service.rssMb() ?? 0;
  const sampler = setInterval(() => {
    rssMaxMb = Math.max(rssMaxMb, service.rssMb() ?? 0);
  }, 100);
  const started = Date.now();
  let done = 0;
  await pool(requests, parallel, async (i) => {
    if (!service.alive()) return;
    const kind = kinds[i % kinds.length];
    const request = KINDS[kind](i);
    const status = await auth(request.uri, request.basic ? { basic: request.basic } : { bearer: mallory });
    const key = `${kind}:${status}`;
    statuses[key] = (statuses[key] ?? 0) + 1;
    if (!options.quiet && ++done % 10_000 === 0) console.error(`abuse: ${done}/${requests}, RSS ${Math.round(service.rssMb() ?? 0)} MB`);
  });
  clearInterval(sampler);
  const seconds = (Date.now() - started) / 1000;
  const alive = service.alive();
  rssMaxMb = Math.max(rssMaxMb, service.rssMb() ?? 0);

  if (!alive) failures.push(`the service died (${service.exit.code ?? service.exit.signal}): ${service.stderr().slice(-500)}`);
  if (rssMaxMb > rssLimitMb) failures.push(`RSS reached ${Math.round(rssMaxMb)} MB (bound ${rssLimitMb} MB)`);
  const unexpected = Object.keys(statuses).filter((key) => !/:(200|401|403)$/.test(key));
  if (unexpected.length > 0) failures.push(`unexpected answers: ${unexpected.join(', ')}`);
  let heapUsedMb;
  if (alive) {
    // Other users' answers survived in the caches: asked again, they cost no decision, lookup or password grant.
    const callsAfterAbuse = { ...issuer.state.calls };
    for (const [name, call] of victims) {
      const status = await call();
      if (status !== 200) failures.push(`${name}: ${status} after the abuse`);
    }
    for (const [kind, count] of Object.entries(issuer.state.calls)) {
      if (count !== callsAfterAbuse[kind])
        failures.push(`other users' cached answers were lost: ${count - callsAfterAbuse[kind]} new ${kind} call(s)`);
    }
    const metrics = await service.metrics();
    heapUsedMb = Math.round(Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)?.[1] ?? 0) / 2 ** 20);
    if (/intruder|custom\/\d|thing:t\d/.test(metrics)) failures.push('a request-named value reached the metrics');
  }
  const summary = {
    requests,
    parallel,
    kinds,
    unlimited: Boolean(options.unlimited),
    node_flags: service.flags.join(' '),
    seconds: Math.round(seconds * 10) / 10,
    requests_per_second: Math.round(requests / seconds),
    alive,
    rss_max_mb: Math.round(rssMaxMb),
    rss_limit_mb: rssLimitMb,
    heap_used_mb_after: heapUsedMb,
    idp_calls_during_abuse: Object.fromEntries(Object.entries(issuer.state.calls).map(([k, v]) => [k, v - callsBefore[k]])),
    statuses,
  };
  await service.stop();
  await issuer.stop();
  return { ok: failures.length === 0, failures, summary };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { ok, failures, summary } = await runAbuse({
    requests: Number(process.env.ABUSE_REQUESTS ?? 100_000),
    parallel: Number(process.env.ABUSE_PARALLEL ?? 50),
    rssLimitMb: Number(process.env.ABUSE_RSS_LIMIT_MB ?? 200),
    kinds: process.env.ABUSE_KINDS ? process.env.ABUSE_KINDS.split(',') : undefined,
    unlimited: process.env.ABUSE_UNLIMITED === '1',
  });
  console.log(JSON.stringify({ ...summary, failures }, null, 2));
  process.exit(ok ? 0 : 1);
}
