/**
 * A fixed-rate HTTP load with microsecond latencies that does not hide stalls (coordinated omission): request i is
 * due at t0 + i/rate whatever happened before, and its latency counts from that due time, not from when it was
 * sent. A request that waits for a free connection or for a stalled event loop is charged the wait, as a user
 * would be. Written here because no fixed-rate tool (wrk2, vegeta) is packaged on the machines we bench on, and
 * a Go build of one costs minutes; the no-auth row of the same run shows this client's own floor (timer jitter
 * of ~0.1-0.5 ms), which the "added" columns subtract.
 *
 * runFixedRate({ url, headers, rate, seconds, maxSockets }) → { sent, ok, errors, statuses, p50Us, p90Us, p99Us, maxUs, lagP99Us }
 * Any answer other than 2xx, and any socket error, is counted in `errors`.
 */
import { Agent, request } from 'node:http';

/** Sorted-array percentile (nearest rank), in the array's unit. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export async function runFixedRate({ url, headers = {}, rate = 1000, seconds = 10, maxSockets = 64 }) {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  const total = Math.round(rate * seconds);
  const intervalNs = 1e9 / rate;
  const latencies = new Float64Array(total);
  const lags = new Float64Array(total);
  const statuses = {};
  let done = 0;
  let errors = 0;
  let next = 0;
  const t0 = process.hrtime.bigint() + 5_000_000n; // first request 5 ms from now

  const finished = new Promise((resolve) => {
    const fire = (index, due) => {
      const sent = process.hrtime.bigint();
      lags[index] = Number(sent - due) / 1e3;
      const req = request(
        { agent, host: target.hostname, port: target.port, path: target.pathname + target.search, method: 'GET', headers },
        (res) => {
          res.resume();
          res.on('end', () => {
            latencies[index] = Number(process.hrtime.bigint() - due) / 1e3;
            statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
            if (res.statusCode < 200 || res.statusCode > 299) errors++;
            if (++done === total) resolve();
          });
        },
      );
      req.on('error', () => {
        latencies[index] = Number(process.hrtime.bigint() - due) / 1e3;
        statuses.error = (statuses.error ?? 0) + 1;
        errors++;
        if (++done === total) resolve();
      });
      req.end();
    };
    const tick = () => {
      const now = process.hrtime.bigint();
      // Send everything due by now (a late tick sends the backlog at once: each is charged from its own due time).
      while (next < total) {
        const due = t0 + BigInt(Math.round(next * intervalNs));
        if (due > now) break;
        fire(next, due);
        next++;
      }
      if (next < total) {
        const waitMs = Number(t0 + BigInt(Math.round(next * intervalNs)) - process.hrtime.bigint()) / 1e6;
        setTimeout(tick, Math.max(0, Math.floor(waitMs)));
      }
    };
    tick();
  });
  await finished;
  agent.destroy();
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  const lagSorted = Array.from(lags).sort((a, b) => a - b);
  return {
    sent: total,
    ok: total - errors,
    errors,
    statuses,
    p50Us: Math.round(percentile(sorted, 50)),
    p90Us: Math.round(percentile(sorted, 90)),
    p99Us: Math.round(percentile(sorted, 99)),
    maxUs: Math.round(sorted[sorted.length - 1]),
    lagP99Us: Math.round(percentile(lagSorted, 99)),
  };
}

// As a command: node scripts/bench/fixed-rate.mjs URL [rate] [seconds]  (headers from BENCH_HEADER="Name: value").
if (import.meta.url === `file://${process.argv[1]}`) {
  const [url, rate = '1000', seconds = '5'] = process.argv.slice(2);
  const headers = {};
  if (process.env.BENCH_HEADER) {
    const at = process.env.BENCH_HEADER.indexOf(':');
    headers[process.env.BENCH_HEADER.slice(0, at).trim()] = process.env.BENCH_HEADER.slice(at + 1).trim();
  }
  const result = await runFixedRate({ url, headers, rate: Number(rate), seconds: Number(seconds) });
  console.log(JSON.stringify(result));
  process.exit(result.errors === 0 ? 0 : 1);
}
