/**
 * A fixed-rate HTTP load with microsecond latencies that does not hide stalls (coordinated omission): request i is
 * due at t0 + i/rate whatever happened before, and its latency counts from that due time, not from when it was
 * sent; a request that waits for a free connection is charged the wait, as a user would be. The load itself is
 * fixed-rate.c, compiled on first use (`cc -O2`) into ~/.cache/nginx-authz/bin/fixed-rate-<hash of the source>, so
 * an edited source is rebuilt; no fixed-rate tool (wrk2, vegeta) is packaged on the machines we bench on. Without
 * a C compiler it says so on stderr and falls back to the Node client (fixed-rate-node.mjs), whose own lateness
 * (~1-2 ms p99 on 2 cores) is as large as what the bench judges.
 *
 * runFixedRate({ url, headers, rate, seconds, maxSockets, warmSeconds, client }) →
 *   { sent, ok, errors, statuses, p50Us, p90Us, p99Us, maxUs, p50SentUs, p99SentUs, lagP99Us, client, ... }
 * Any answer other than 2xx, and any socket error, is counted in `errors`; `client` is 'c' or 'node'.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { percentile, runFixedRateNode } from './fixed-rate-node.mjs';

export { percentile };

const SOURCE = fileURLToPath(new URL('./fixed-rate.c', import.meta.url));
const CFLAGS = ['-O2', '-Wall', '-Wextra'];
let warnedNoCompiler = false;

/**
 * The compiled client for `source`, built when missing: its name carries a hash of the source and flags, so an edit
 * gives a new binary and concurrent benches never run a half-written one (built under a temporary name, renamed).
 * Returns undefined when there is no C compiler (`$CC`, else `cc`); a compiler that rejects the source throws.
 */
export function fixedRateBinary({
  source = SOURCE,
  cacheDir = join(process.env.NGINX_AUTHZ_CACHE ?? join(process.env.HOME ?? '/root', '.cache/nginx-authz'), 'bin'),
  cc = process.env.CC || 'cc',
} = {}) {
  const code = readFileSync(source);
  const hash = createHash('sha256').update(code).update(CFLAGS.join(' ')).digest('hex').slice(0, 12);
  const bin = join(cacheDir, `fixed-rate-${hash}`);
  if (existsSync(bin)) return bin;
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  const r = spawnSync(cc, [...CFLAGS, '-o', tmp, source], { encoding: 'utf8' });
  if (r.error?.code === 'ENOENT') return undefined;
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`${cc} could not build ${source} (exit ${r.status}):\n${r.stderr}`);
  }
  renameSync(tmp, bin);
  return bin;
}

/**
 * @param {object} o
 * @param {number} [o.warmSeconds] an unmeasured load at the same rate on the same connections first (opens the
 *   keep-alive connections, warms the server's caches), so the measured part starts warm.
 * @param {'c'|'node'} [o.client] force a client (default: the C one when it builds)
 */
export async function runFixedRate({ url, headers = {}, rate = 1000, seconds = 10, maxSockets = 64, warmSeconds = 0, client }) {
  const bin = client === 'node' ? undefined : fixedRateBinary();
  if (!bin) {
    if (client !== 'node' && !warnedNoCompiler) {
      warnedNoCompiler = true;
      process.stderr.write(
        '[fixed-rate] NO C COMPILER (cc): using the Node load client; its own lateness (lag p99 ~1-2 ms) limits the latency rows\n',
      );
    }
    return runFixedRateNode({ url, headers, rate, seconds, maxSockets, warmSeconds });
  }
  const target = new URL(url);
  if (target.hostname !== '127.0.0.1' || target.protocol !== 'http:') throw new Error(`fixed-rate.c speaks http to 127.0.0.1 only: ${url}`);
  const args = ['-p', target.port || '80', '-r', String(rate), '-d', String(seconds), '-w', String(warmSeconds), '-c', String(maxSockets)];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  args.push(target.pathname + target.search);
  // Asynchronous: the server under test may be in this very process (the unit tests).
  const { code, out, err } = await new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
  if (code !== 0 && code !== 1) throw new Error(`${bin} exited with ${code}: ${err}`);
  return { ...JSON.parse(out), client: 'c' };
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
