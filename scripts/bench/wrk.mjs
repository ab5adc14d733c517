/** `wrk -t2 -c50 --latency` on one URL, credentials from a Lua file (never on the command line); parsed result. */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';

/** Writes the wrk Lua script that sets HEADERS (owner-only: it holds a token). */
export function writeWrkScript(path, headers) {
  const lines = Object.entries(headers).map(([name, value]) => `wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`);
  writeFileSync(path, `${lines.join('\n')}\n`, { mode: 0o600 });
}

const UNIT_US = { us: 1, ms: 1e3, s: 1e6 };
const toUs = (text) => {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text);
  return m ? Math.round(Number(m[1]) * UNIT_US[m[2]]) : Number.NaN;
};

/** Parses wrk's text: requests/s, p50/p99 (µs), and every sign of a failed request. */
export function parseWrk(text) {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? Number.NaN);
  const p50 = toUs(/\s50%\s+(\S+)/.exec(text)?.[1] ?? '');
  const p99 = toUs(/\s99%\s+(\S+)/.exec(text)?.[1] ?? '');
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return { rps, p50Us: p50, p99Us: p99, requests, non2xx, socketErrors };
}

/** Runs wrk; resolves with the parsed result and the raw text. */
export function runWrk({ url, script, seconds, threads = 2, connections = 50 }) {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '10s', '-s', script, url], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`wrk exited with ${code}: ${out.slice(0, 500)}`));
      else resolve({ ...parseWrk(out), raw: out });
    });
  });
}
