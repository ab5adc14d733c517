/** The table of `npm run bench:nginx`: medians over the rounds, ratios, the issue's goals; and the JSON result. */

const LABELS = {
  none: 'no auth',
  authz: 'nginx-authz',
  authzB: 'nginx-authz, variant B',
  cached: 'nginx-authz + NGINX decision cache',
  cachedB: 'NGINX decision cache, variant B',
  oauth2proxy: 'oauth2-proxy (JWT bearer)',
};

export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const ms = (us) => (Number.isFinite(us) ? (us / 1000).toFixed(2) : '-');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : Number.NaN);
const fmtRatio = (r) => (Number.isFinite(r) ? `${r.toFixed(2)}×` : '-');

const lagNote = (lagUs) => (lagUs > 1_000 ? ` (not judged: the load client sent up to ${ms(lagUs)} ms late, p99)` : '');

/** Prints the table on stdout and returns the JSON result. */
export function report({ results, fronts, meta, rssAfterBenchMb, rss }) {
  const rows = {};
  for (const name of fronts) {
    const { wrk, fixed } = results[name];
    rows[name] = {
      rps: Math.round(median(wrk.map((r) => r.rps))),
      wrkP50Us: median(wrk.map((r) => r.p50Us)),
      wrkP99Us: median(wrk.map((r) => r.p99Us)),
      fixedP50Us: median(fixed.map((r) => r.p50Us)),
      fixedP99Us: median(fixed.map((r) => r.p99Us)),
      rounds: { wrk, fixed },
    };
  }
  // A fixed-rate client that could not send on time measured itself, not the fronts: say so instead of judging.
  const lagUs = Math.max(...fronts.map((name) => median(results[name].fixed.map((r) => r.lagP99Us))));
  const none = rows.none;
  const o2p = rows.oauth2proxy;
  const lines = [
    `nginx-authz through NGINX: ${meta.date}, ${meta.machine}, ${meta.nginx}, node ${meta.node}, oauth2-proxy ${meta.oauth2proxy}`,
    `${meta.command}: ${meta.rounds} round(s), wrk -t2 -c50 ${meta.seconds} s, fixed rate ${meta.rate}/s ${meta.latencySeconds} s; ` +
      `nginx-authz on ${meta.listen}, ${meta.workers} worker(s), NGINX keepalive ${meta.keepalive}; medians over the rounds`,
    '',
    '| front | req/s (wrk) | vs oauth2-proxy | vs no auth | wrk p50 / p99 ms | 1k/s p50 / p99 ms | added p50 / p99 ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const name of fronts) {
    const r = rows[name];
    r.vsOauth2proxy = ratio(r.rps, o2p?.rps);
    r.vsNoAuth = ratio(r.rps, none?.rps);
    r.addedP50Us = none ? r.fixedP50Us - none.fixedP50Us : Number.NaN;
    r.addedP99Us = none ? r.fixedP99Us - none.fixedP99Us : Number.NaN;
    lines.push(
      `| ${LABELS[name]} | ${r.rps} | ${fmtRatio(r.vsOauth2proxy)} | ${fmtRatio(r.vsNoAuth)} | ${ms(r.wrkP50Us)} / ${ms(r.wrkP99Us)} | ` +
        `${ms(r.fixedP50Us)} / ${ms(r.fixedP99Us)} | ${name === 'none' ? '-' : `${ms(r.addedP50Us)} / ${ms(r.addedP99Us)}`} |`,
    );
  }
  lines.push('');
  lines.push(`fixed-rate client lag p99 (worst front's median): ${ms(lagUs)} ms`);
  lines.push(`nginx-authz RSS after the bench: ${rssAfterBenchMb} MB (all workers)`);
  if (rss) lines.push(`nginx-authz RSS with ${rss.cachedDecisions} cached decisions (scripts/bench.mjs): ${rss.rssMb} MB`);
  const latencyJudged = (met) => (lagUs > 1_000 ? undefined : met);
  const goals = [
    ['cached decisions, no NGINX cache ≥ 2.0× oauth2-proxy', rows.authz?.vsOauth2proxy >= 2.0, fmtRatio(rows.authz?.vsOauth2proxy)],
    ['with the NGINX decision cache ≥ 0.9× no auth', rows.cached?.vsNoAuth >= 0.9, fmtRatio(rows.cached?.vsNoAuth)],
    ['1k/s p50 added ≤ 0.3 ms', latencyJudged(rows.authz?.addedP50Us <= 300), `${ms(rows.authz?.addedP50Us)} ms${lagNote(lagUs)}`],
    ['1k/s p99 added ≤ 1 ms', latencyJudged(rows.authz?.addedP99Us <= 1000), `${ms(rows.authz?.addedP99Us)} ms${lagNote(lagUs)}`],
    ['RSS ≤ 150 MB with 100k cached decisions', rss ? rss.rssMb <= 150 : undefined, rss ? `${rss.rssMb} MB` : 'not measured'],
  ];
  lines.push('', 'goals (issue #12):');
  for (const [goal, met, value] of goals) lines.push(`  ${met === undefined ? '?' : met ? 'met ' : 'MISS'} ${goal}: ${value}`);
  console.log(lines.join('\n'));
  return { meta, rows, rssAfterBenchMb, rss, goals: goals.map(([goal, met, value]) => ({ goal, met, value })) };
}
