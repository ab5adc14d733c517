/** The table of `npm run bench:nginx`: medians over the rounds, ratios, the issue's goals; and the JSON result. */

const LABELS = {
  none: 'no auth',
  floor: 'floor: auth_request answered by NGINX (return 204)',
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

const lagNote = (lagUs) => (lagUs > 1_000 ? ` (not judged: in every round the load client sent up to ${ms(lagUs)} ms late, p99)` : '');
const rtNote = (meta) => (meta.rt ? " (fronts as SCHED_FIFO, --rt: shielded from the machine's other processes)" : '');

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
      nginxCpuUsPerReq: median(wrk.map((r) => r.nginxCpuUsPerReq)),
      serviceCpuUsPerReq: median(wrk.map((r) => r.serviceCpuUsPerReq)),
      rounds: { wrk, fixed },
    };
  }
  // A fixed-rate client that could not send on time measured itself, not the fronts: such rounds are not judged.
  // "Added" latency compares fronts within one round (the same minute of the shared machine), and only rounds in
  // which the client kept its schedule on every front (lag p99 ≤ 1 ms) count; lagUs is the best such round's lag.
  const { quiet, lagUs } = quietRounds(results, fronts);
  const none = rows.none;
  const o2p = rows.oauth2proxy;
  const lines = [
    `nginx-authz through NGINX: ${meta.date}, ${meta.machine}, ${meta.nginx}, node ${meta.node}, oauth2-proxy ${meta.oauth2proxy}`,
    `${meta.command}: ${meta.rounds} round(s), wrk -t2 -c50 ${meta.seconds} s, fixed rate ${meta.rate}/s ${meta.latencySeconds} s ` +
      `(${meta.loadClient ?? '?'} load client${meta.rt ? '; NGINX and the services as SCHED_FIFO during it, --rt' : ''}); ` +
      `nginx-authz on ${meta.listen}, ${meta.workers} worker(s), NGINX keepalive ${meta.keepalive}; medians over the rounds`,
    '',
    '| front | req/s (wrk) | vs oauth2-proxy | vs no auth | NGINX CPU µs/req | wrk p50 / p99 ms | 1k/s p50 / p99 ms | added p50 / p99 ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const name of fronts) {
    const r = rows[name];
    r.vsOauth2proxy = ratio(r.rps, o2p?.rps);
    r.vsNoAuth = ratio(r.rps, none?.rps);
    const added = addedLatency(results, name, quiet);
    Object.assign(r, added);
    lines.push(
      `| ${LABELS[name] ?? name} | ${r.rps} | ${fmtRatio(r.vsOauth2proxy)} | ${fmtRatio(r.vsNoAuth)} | ${r.nginxCpuUsPerReq ?? '-'} | ` +
        `${ms(r.wrkP50Us)} / ${ms(r.wrkP99Us)} | ` +
        `${ms(r.fixedP50Us)} / ${ms(r.fixedP99Us)} | ${name === 'none' ? '-' : `${ms(r.addedP50Us)} / ${ms(r.addedP99Us)}`} |`,
    );
  }
  lines.push('');
  lines.push(
    `fixed-rate rounds in which the client kept its schedule (lag p99 ≤ 1 ms on every front): ${quiet.length} of ` +
      `${results.none?.fixed.length ?? 0}; "added" = median over ${quiet.length > 0 ? 'those' : 'all'} rounds of (front − no auth) in the same round` +
      loadRange(fronts.flatMap((name) => results[name].fixed.map((r) => Number(r.load)))),
  );
  const lags = (which) => fronts.flatMap((name) => (results[name][which] ?? []).map((r) => r.lagP99Us));
  if (lags('fixedNode').length > 0)
    lines.push(
      `load client lag p99, worst front and round (--compare-node-client, same fronts and rounds): ${meta.loadClient ?? '?'} ` +
        `${Math.max(...lags('fixed'))} µs, Node client ${Math.max(...lags('fixedNode'))} µs (medians ${median(lags('fixed'))} vs ` +
        `${median(lags('fixedNode'))} µs)`,
    );
  if (rows.authz && Number.isFinite(rows.authz.addedSentP50Us))
    lines.push(
      `added, timed from each request's send (without the client's own lateness), all rounds: nginx-authz ` +
        `${ms(rows.authz.addedSentP50Us)} / ${ms(rows.authz.addedSentP99Us)} ms` +
        (rows.cached ? `, decision cache ${ms(rows.cached.addedSentP50Us)} / ${ms(rows.cached.addedSentP99Us)} ms` : ''),
    );
  if (rows.floor && none)
    lines.push(`the floor of any auth_request (return 204 subrequest) vs no auth: ${fmtRatio(rows.floor.vsNoAuth)} req/s`);
  const serviceCpu = fronts.filter((name) => Number.isFinite(rows[name].serviceCpuUsPerReq));
  if (serviceCpu.length > 0)
    lines.push(
      `service CPU µs/req during wrk (the process answering the subrequests, /proc): ${serviceCpu
        .map((name) => `${LABELS[name] ?? name} ${rows[name].serviceCpuUsPerReq}`)
        .join(', ')}`,
    );
  lines.push(`nginx-authz RSS after the bench: ${rssAfterBenchMb} MB (all workers)`);
  if (rss) lines.push(`nginx-authz RSS with ${rss.cachedDecisions} cached decisions (scripts/bench.mjs): ${rss.rssMb} MB`);
  const latencyJudged = (met) => (lagUs > 1_000 ? undefined : met);
  // A goal whose fronts were not in this run (--only) is not judged rather than missed.
  const measured = (value, met) => (Number.isFinite(value) ? met : undefined);
  const goals = [
    [
      'cached decisions, no NGINX cache ≥ 2.0× oauth2-proxy',
      measured(rows.authz?.vsOauth2proxy, rows.authz?.vsOauth2proxy >= 2.0),
      fmtRatio(rows.authz?.vsOauth2proxy),
    ],
    [
      'with the NGINX decision cache ≥ 0.9× no auth',
      measured(rows.cached?.vsNoAuth, rows.cached?.vsNoAuth >= 0.9),
      fmtRatio(rows.cached?.vsNoAuth),
    ],
    [
      '1k/s p50 added ≤ 0.3 ms',
      latencyJudged(rows.authz?.addedP50Us <= 300),
      `${ms(rows.authz?.addedP50Us)} ms${lagNote(lagUs)}${rtNote(meta)}`,
    ],
    [
      '1k/s p99 added ≤ 1 ms',
      latencyJudged(rows.authz?.addedP99Us <= 1000),
      `${ms(rows.authz?.addedP99Us)} ms${lagNote(lagUs)}${rtNote(meta)}`,
    ],
    ['RSS ≤ 150 MB with 100k cached decisions', rss ? rss.rssMb <= 150 : undefined, rss ? `${rss.rssMb} MB` : 'not measured'],
  ];
  lines.push('', 'goals (issue #12):');
  for (const [goal, met, value] of goals) lines.push(`  ${met === undefined ? '?' : met ? 'met ' : 'MISS'} ${goal}: ${value}`);
  console.log(lines.join('\n'));
  return { meta, rows, rssAfterBenchMb, rss, goals: goals.map(([goal, met, value]) => ({ goal, met, value })) };
}

/** ", machine load average a – b during them": a client on time still measures a busy machine's scheduling delays. */
function loadRange(loads) {
  const known = loads.filter((l) => Number.isFinite(l));
  return known.length > 0 ? `; machine load average ${Math.min(...known)} – ${Math.max(...known)} during them` : '';
}

/** Rounds whose fixed-rate client kept its schedule on every front (lag p99 ≤ 1 ms), and the lowest worst-front lag. */
export function quietRounds(results, fronts) {
  const count = Math.min(...fronts.map((name) => results[name].fixed.length));
  const quiet = [];
  let lagUs = Number.POSITIVE_INFINITY;
  for (let i = 0; i < count; i++) {
    const worst = Math.max(...fronts.map((name) => results[name].fixed[i].lagP99Us));
    lagUs = Math.min(lagUs, worst);
    if (worst <= 1_000) quiet.push(i);
  }
  return { quiet, lagUs };
}

/** A front's latency over no auth, compared within each round: medians over the quiet rounds (all if none). */
export function addedLatency(results, name, quiet) {
  const none = results.none?.fixed;
  const mine = results[name].fixed;
  if (!none || name === 'none')
    return { addedP50Us: Number.NaN, addedP99Us: Number.NaN, addedSentP50Us: Number.NaN, addedSentP99Us: Number.NaN };
  const all = mine.map((_, i) => i).filter((i) => none[i] !== undefined);
  const rounds = quiet.length > 0 ? quiet : all;
  const diff = (which, list) => median(list.map((i) => mine[i][which] - none[i][which]));
  return {
    addedP50Us: diff('p50Us', rounds),
    addedP99Us: diff('p99Us', rounds),
    addedSentP50Us: diff('p50SentUs', all),
    addedSentP99Us: diff('p99SentUs', all),
  };
}
