/**
 * The fixed-rate load in Node: the fallback of fixed-rate.mjs when no C compiler is found, and the client the
 * bench used before fixed-rate.c (`npm run bench:nginx -- --compare-node-client` runs it beside the C one). Same
 * schedule and fields as the C client, but its timers and sockets share one event loop, so on a 2-core machine it
 * sends up to ~2 ms late at p99 (its `lagP99Us`), as much as the latency the bench is meant to judge.
 *
 * runFixedRateNode({ url, headers, rate, seconds, maxSockets, warmSeconds }) →
 *   { sent, ok, errors, statuses, p50Us, p90Us, p99Us, maxUs, p50SentUs, p99SentUs, lagP99Us, client: 'node' }
 * Any answer other than 2xx, and any socket error, is counted in `errors`.
 */
import { Agent, request } from 'node:http';

/** Sorted-array percentile (nearest rank), in the array's unit. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/**
 * @param {object} o
 * @param {number} [o.warmSeconds] an unmeasured load at the same rate on the same connections first (opens the
 *   keep-alive sockets, warms this client's JIT and the server's caches), so the measured part starts warm.
 */
export async function runFixedRateNode({ url, headers = {}, rate = 1000, seconds = 10, maxSockets = 64, warmSeconds = 0 }) {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  const options = { agent, host: target.hostname, port: target.port, path: target.pathname + target.search, method: 'GET', headers };
  if (warmSeconds > 0) await phase(options, rate, Math.round(rate * warmSeconds));
  const measured = await phase(options, rate, Math.round(rate * seconds));
  agent.destroy();
  const { total, errors, statuses } = measured;
  const sorted = Array.from(measured.latencies).sort((a, b) => a - b);
  const sentSorted = Array.from(measured.sentLatencies).sort((a, b) => a - b);
  const lagSorted = Array.from(measured.lags).sort((a, b) => a - b);
  return {
    sent: total,
    ok: total - errors,
    errors,
    statuses,
    p50Us: Math.round(percentile(sorted, 50)),
    p90Us: Math.round(percentile(sorted, 90)),
    p99Us: Math.round(percentile(sorted, 99)),
    maxUs: Math.round(sorted[sorted.length - 1]),
    // From the moment this client handed the request to its agent (a wait for a free connection still counts):
    // the same as above minus this client's own lateness, which a busy machine adds to every front alike.
    p50SentUs: Math.round(percentile(sentSorted, 50)),
    p99SentUs: Math.round(percentile(sentSorted, 99)),
    lagP99Us: Math.round(percentile(lagSorted, 99)),
    client: 'node',
  };
}

/** Sends `total` requests at `rate`/s, each when due (open loop); latencies in µs from due and from sent time. */
function phase(options, rate, total) {
  const intervalNs = 1e9 / rate;
  const latencies = new Float64Array(total);
  const sentLatencies = new Float64Array(total);
  const lags = new Float64Array(total);
  const statuses = {};
  let done = 0;
  let errors = 0;
  let next = 0;
  const t0 = process.hrtime.bigint() + 5_000_000n; // first request 5 ms from now

  return new Promise((resolve) => {
    const finish = (index, due, sent) => {
      const now = process.hrtime.bigint();
      latencies[index] = Number(now - due) / 1e3;
      sentLatencies[index] = Number(now - sent) / 1e3;
      if (++done === total) resolve({ total, errors, statuses, latencies, sentLatencies, lags });
    };
    const fire = (index, due) => {
      const sent = process.hrtime.bigint();
      lags[index] = Number(sent - due) / 1e3;
      const req = request(options, (res) => {
        res.resume();
        res.on('end', () => {
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
          if (res.statusCode < 200 || res.statusCode > 299) errors++;
          finish(index, due, sent);
        });
      });
      req.on('error', () => {
        statuses.error = (statuses.error ?? 0) + 1;
        errors++;
        finish(index, due, sent);
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
}
