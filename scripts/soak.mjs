#!/usr/bin/env node
/**
 * Soak (`npm run soak`): a long fixed-rate load through the stack's real NGINX, mixed routes and
 * users (alice, bob, carol, dave), against the running development stack (`npm run stack`).
 *
 * Most requests go to the TEST-ONLY load-test front (nginx/nginx.conf.template: real auth_request to
 * the real nginx-authz, trivial upstream), a smaller fixed share to the real MLflow. Every answer is
 * judged against what Keycloak's policies allow for its user (allowed → 200 from the upstream,
 * refused → 403 from NGINX); anything else — a refusal of an allowed request, an allow of a refused
 * one, a 5xx, a reset, a timeout — is an error. Tokens are renewed every --rotate seconds, so
 * decisions keep missing the cache and going to Keycloak throughout. nginx-authz's RSS is sampled
 * every --sample seconds; the mean of the first minute after --warmup is compared with the last minute.
 *
 * Defaults are the full soak (10 min at 2,000 requests/s); `--short` is the CI setting (30 s at 300/s).
 * Exit code: 0 when there were no errors, the rate held (≥ --min-rate of the target) and (full runs)
 * RSS stayed within --rss-tolerance; 1 otherwise. Writes a JSON report with --json FILE.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FixedRateLoad } from './chaos-soak/load.mjs';
import { LOAD_ROUTES, USERS, keycloakAllows, mlflowRoutes, prepareMlflow } from './chaos-soak/matrix.mjs';
import { outcome, Tally, Violations } from './chaos-soak/judge.mjs';
import { cpuSeconds, treeCpuSeconds, fetchToken, rssBytes, servicePid, sleep, stackInfo } from './chaos-soak/stack.mjs';

const { values: opt } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    duration: { type: 'string' },
    rate: { type: 'string' },
    'mlflow-rate': { type: 'string' },
    warmup: { type: 'string' },
    sample: { type: 'string' },
    rotate: { type: 'string' },
    'min-rate': { type: 'string', default: '0.95' },
    'rss-tolerance': { type: 'string', default: '0.10' },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (opt.help) {
  process.stdout.write(
    'usage: npm run soak -- [--short] [--duration S] [--rate N] [--mlflow-rate N] [--warmup S] [--sample S] [--rotate S] [--min-rate F] [--rss-tolerance F] [--json FILE]\n',
  );
  process.exit(0);
}
const num = (v, full, short) => Number(v ?? (opt.short ? short : full));
const duration = num(opt.duration, 600, 30);
const rate = num(opt.rate, 2000, 300);
const mlflowRate = num(opt['mlflow-rate'], 50, 10);
const warmup = num(opt.warmup, 60, 5);
const sampleEvery = num(opt.sample, 5, 1);
const rotateEvery = num(opt.rotate, 60, 10);
// RSS windows: the minute after warm-up and the last minute (shorter runs: a quarter of what is left each).
const window = Math.max(2 * sampleEvery, Math.min(60, (duration - warmup) / 4));
const checkRss = duration - warmup >= 300; // a trend needs minutes; shorter runs only report RSS

const log = (m) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const info = stackInfo();
const authzPid = servicePid('authz');
if (!authzPid || rssBytes(authzPid) === undefined) throw new Error('nginx-authz is not running (npm run stack)');

// ---- tokens: one current token per user, renewed every rotateEvery seconds ---------------------
const tokens = new Map();
const mlflowTokens = new Map();
let renewals = 0;
let renewalFailures = 0;
async function renew(map) {
  for (const u of USERS) {
    const t = await fetchToken(info, u);
    if (t) {
      map.set(u, t);
      renewals++;
    } else renewalFailures++;
  }
}
await renew(tokens);
await renew(mlflowTokens);
if (tokens.size !== USERS.length) throw new Error('could not get tokens from Keycloak');
const runId = await prepareMlflow(info, await fetchToken(info, 'alice'));
const mlRoutes = mlflowRoutes(runId);

// ---- load ---------------------------------------------------------------------------------------
const byStatus = new Tally();
const violations = new Violations();
const pick = (routes, map, port) => () => {
  const route = routes[Math.floor(Math.random() * routes.length)];
  const user = USERS[Math.floor(Math.random() * USERS.length)];
  return { route, user, token: map.get(user), port, tag: route.front };
};
function judge(r) {
  const { user, route } = r.shot;
  byStatus.add(`${route.front} ${r.status || r.error}`);
  const allowed = keycloakAllows(user, route.resource, route.scope);
  const seen = outcome(r);
  if (allowed && seen === 'allow' && r.status === 200) return;
  if (!allowed && seen === 'deny' && r.status === 403) return;
  if (!allowed && seen === 'allow') violations.add('false-allow', r);
  else if (allowed && seen === 'deny') violations.add('false-deny', r);
  else violations.add(`error-${seen}`, r, r.status ? `HTTP ${r.status}` : r.error);
}
// Client timeout well above NGINX's own (10 s for the decision): NGINX must always answer first.
const main = new FixedRateLoad({
  rate: rate - mlflowRate,
  pick: pick(LOAD_ROUTES, tokens, info.loadPort),
  onResult: judge,
  timeoutMs: 30_000,
});
const ml = new FixedRateLoad({
  rate: mlflowRate,
  pick: pick(mlRoutes, mlflowTokens, info.mlflowPort),
  onResult: judge,
  maxInFlight: 64,
  sockets: 16,
  timeoutMs: 30_000,
});

const rss = [];
const t0 = Date.now();
const elapsed = () => (Date.now() - t0) / 1000;
log(`${duration} s at ${rate} requests/s (${mlflowRate}/s to MLflow), RSS every ${sampleEvery} s, tokens renewed every ${rotateEvery} s`);
const nginxPid = servicePid('nginx');
const cpuAtStart = { authz: cpuSeconds(authzPid), nginx: treeCpuSeconds(nginxPid), self: process.cpuUsage() };
main.start();
ml.start();
const sampler = setInterval(() => rss.push({ t: elapsed(), rss: rssBytes(authzPid) }), sampleEvery * 1000);
const rotator = setInterval(() => {
  void renew(tokens).then(() => renew(mlflowTokens));
}, rotateEvery * 1000);
const progress = setInterval(() => {
  const last = rss.at(-1);
  log(
    `t=${elapsed().toFixed(0)} s sent ${main.sent + ml.sent} (${(main.achievedRate() + ml.achievedRate()).toFixed(0)}/s) skipped ${main.skipped + ml.skipped} errors ${violations.count}${last?.rss ? ` RSS ${(last.rss / 2 ** 20).toFixed(1)} MB` : ''}`,
  );
}, 30_000);
await sleep(duration * 1000);
clearInterval(sampler);
clearInterval(rotator);
clearInterval(progress);
await Promise.all([main.stop(), ml.stop()]);
const selfCpu = process.cpuUsage(cpuAtStart.self);
const cpuPercent = {
  authz: +((100 * (cpuSeconds(authzPid) - cpuAtStart.authz)) / duration).toFixed(1),
  nginx: +((100 * (treeCpuSeconds(nginxPid) - cpuAtStart.nginx)) / duration).toFixed(1),
  loadGenerator: +((100 * (selfCpu.user + selfCpu.system)) / 1e6 / duration).toFixed(1),
};

// ---- report -------------------------------------------------------------------------------------
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const inWindow = (from, to) => rss.filter((s) => s.t >= from && s.t <= to && s.rss !== undefined).map((s) => s.rss);
const first = inWindow(warmup, warmup + window);
const last = inWindow(duration - window, duration);
const alive = rssBytes(authzPid) !== undefined && servicePid('authz') === authzPid;
const rssFirst = first.length ? mean(first) : NaN;
const rssLast = last.length ? mean(last) : NaN;
const rssChange = (rssLast - rssFirst) / rssFirst;
const achieved = main.achievedRate() + ml.achievedRate();
const report = {
  kind: 'soak',
  startedAt: new Date(t0).toISOString(),
  durationSeconds: duration,
  targetRate: rate,
  achievedRate: Math.round(achieved),
  mlflowRate: Math.round(ml.achievedRate()),
  sent: main.sent + ml.sent,
  answered: main.done + ml.done,
  skipped: main.skipped + ml.skipped,
  errors: violations.count,
  errorKinds: violations.kinds.toJSON(),
  examples: violations.examples,
  statuses: byStatus.toJSON(),
  latencyMs: {
    load: { p50: main.histogram.quantile(0.5), p99: main.histogram.quantile(0.99), max: main.histogram.quantile(1) },
    mlflow: { p50: ml.histogram.quantile(0.5), p99: ml.histogram.quantile(0.99), max: ml.histogram.quantile(1) },
  },
  tokenRenewals: renewals,
  tokenRenewalFailures: renewalFailures,
  rss: {
    windowSeconds: window,
    firstMB: +(rssFirst / 2 ** 20).toFixed(1),
    lastMB: +(rssLast / 2 ** 20).toFixed(1),
    changePercent: +(rssChange * 100).toFixed(1),
    minMB: +(Math.min(...rss.map((s) => s.rss ?? Infinity)) / 2 ** 20).toFixed(1),
    maxMB: +(Math.max(...rss.map((s) => s.rss ?? 0)) / 2 ** 20).toFixed(1),
    checked: checkRss,
    samples: rss.map((s) => [Math.round(s.t), +((s.rss ?? 0) / 2 ** 20).toFixed(1)]),
  },
  cpuPercent,
  serviceStayedUp: alive,
  loadAverage: (await import('node:os')).loadavg().map((x) => +x.toFixed(2)),
};
if (opt.json) writeFileSync(opt.json, `${JSON.stringify(report, null, 2)}\n`);
const { samples: _samples, ...rssSummary } = report.rss;
process.stdout.write(`${JSON.stringify({ ...report, rss: rssSummary }, null, 2)}\n`);

const failures = [];
if (violations.count > 0) failures.push(`${violations.count} errors (${JSON.stringify(violations.kinds)})`);
if (!alive) failures.push('nginx-authz died or was restarted during the soak');
if (achieved < rate * Number(opt['min-rate']))
  failures.push(
    `achieved ${achieved.toFixed(0)} requests/s, below ${opt['min-rate']} × ${rate} (the load generator or the machine could not keep up; see skipped and loadAverage)`,
  );
if (checkRss && !(Math.abs(rssChange) <= Number(opt['rss-tolerance'])))
  failures.push(
    `RSS changed ${(rssChange * 100).toFixed(1)} % between the first and the last ${window} s window (tolerance ${Number(opt['rss-tolerance']) * 100} %)`,
  );
if (failures.length) {
  log(`FAIL: ${failures.join('; ')}`);
  process.exit(1);
}
log(
  `PASS: ${report.answered} answers, 0 errors, ${report.achievedRate}/s, RSS ${report.rss.firstMB} → ${report.rss.lastMB} MB (${report.rss.changePercent} %${checkRss ? '' : ', not checked: run shorter than 5 min after warm-up'})`,
);
