/**
 * The parts of `npm run bench:nginx` that decide whether a run counts: wrk's output is read for every failed
 * request (non-2xx, socket errors), the fixed-rate load counts non-2xx answers and refused connections as errors
 * and keeps its schedule, and the report does not judge latency goals when its own client was late.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
// @ts-expect-error: plain JavaScript module of the bench, no types
import { runFixedRate, percentile } from '../../scripts/bench/fixed-rate.mjs';
// @ts-expect-error: plain JavaScript module of the bench, no types
import { parseWrk } from '../../scripts/bench/wrk.mjs';
// @ts-expect-error: plain JavaScript module of the bench, no types
import { addedLatency, median, quietRounds, report } from '../../scripts/bench/report.mjs';
// @ts-expect-error: plain JavaScript module of the bench, no types
import { setRealtime, statCpuTicks } from '../../scripts/bench/procs.mjs';
// @ts-expect-error: plain JavaScript module of the bench, no types
import { renderBenchConf } from '../../scripts/bench/nginx-conf.mjs';

const WRK_FAILED = `Running 3s test @ http://127.0.0.1:1/x
  2 threads and 50 connections
  Latency Distribution
     50%  135.96ms
     75%  177.96ms
     90%  260.78ms
     99%    1.31s
  977 requests in 3.09s, 155.52KB read
  Non-2xx or 3xx responses: 12
  Socket errors: connect 0, read 1, write 0, timeout 6
Requests/sec:    315.97
`;

describe('bench:nginx result checks', () => {
  it('reads wrk: requests/s, µs percentiles, and every failed request', () => {
    expect(parseWrk(WRK_FAILED)).toEqual({ rps: 315.97, p50Us: 135_960, p99Us: 1_310_000, requests: 977, non2xx: 12, socketErrors: 7 });
    const clean = WRK_FAILED.replace(/ {2}Non-2xx.*\n/, '')
      .replace(/ {2}Socket errors.*\n/, '')
      .replace('135.96ms', '840.00us');
    expect(parseWrk(clean)).toMatchObject({ non2xx: 0, socketErrors: 0, p50Us: 840 });
  });

  it('the fixed-rate load counts non-2xx answers as errors and sends at the set rate', async () => {
    let served = 0;
    const server: Server = createServer((_req, res) => {
      served++;
      res.statusCode = served % 10 === 0 ? 503 : 200;
      res.end('ok');
    }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    try {
      const started = Date.now();
      const result = await runFixedRate({ url: `http://127.0.0.1:${port}/`, rate: 200, seconds: 1 });
      expect(result.sent).toBe(200);
      expect(result.errors).toBe(20);
      expect(result.statuses).toEqual({ 200: 180, 503: 20 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(990);
      expect(result.p50Us).toBeGreaterThan(0);
    } finally {
      server.close();
    }
  });

  it('refused connections are errors too', async () => {
    const result = await runFixedRate({ url: 'http://127.0.0.1:1/', rate: 50, seconds: 0.2 });
    expect(result.errors).toBe(10);
    expect(result.statuses).toEqual({ error: 10 });
  });

  it('the fixed-rate tool exits 1 when a request failed', () => {
    const run = spawnSync(process.execPath, ['scripts/bench/fixed-rate.mjs', 'http://127.0.0.1:1/', '20', '0.5'], { encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(JSON.parse(run.stdout).errors).toBe(10);
  });

  it('percentiles and medians', () => {
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99)).toBe(10);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });

  it('latency goals are not judged when the load client itself was late', () => {
    const round = (p50Us: number, lagP99Us: number) => ({
      wrk: [{ rps: 1000, p50Us: 1, p99Us: 2 }],
      fixed: [{ p50Us, p99Us: p50Us * 2, lagP99Us }],
    });
    const original = console.log;
    console.log = () => undefined;
    const meta = {
      date: 'd',
      machine: 'm',
      nginx: 'n',
      node: 'v',
      oauth2proxy: 'o',
      command: 'c',
      rounds: 1,
      seconds: 1,
      latencySeconds: 1,
      rate: 1000,
      listen: 'unix',
      workers: 1,
      keepalive: 32,
    };
    type Out = { goals: { goal: string; met: boolean | undefined }[] };
    let late: Out;
    let onTime: Out;
    try {
      late = report({
        results: { none: round(500, 5_000), authz: round(600, 5_000) },
        fronts: ['none', 'authz'],
        meta,
        rssAfterBenchMb: 1,
      });
      onTime = report({
        results: { none: round(500, 200), authz: round(600, 200) },
        fronts: ['none', 'authz'],
        meta,
        rssAfterBenchMb: 1,
      });
    } finally {
      console.log = original;
    }
    const p50Goal = (out: Out) => out.goals.find((g) => g.goal.startsWith('1k/s p50'))!.met;
    expect(p50Goal(late)).toBeUndefined();
    expect(p50Goal(onTime)).toBe(true);
  });

  it('warms the connections first, unmeasured: the result counts only the measured requests', async () => {
    let served = 0;
    const server: Server = createServer((_req, res) => {
      served++;
      res.end('ok');
    }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    try {
      const result = await runFixedRate({ url: `http://127.0.0.1:${port}/`, rate: 200, seconds: 0.5, warmSeconds: 0.25 });
      expect(served).toBe(150);
      expect(result.sent).toBe(100);
      expect(result.ok).toBe(100);
      // Timed from the send, a request is never slower than timed from its due time.
      expect(result.p50SentUs).toBeGreaterThan(0);
      expect(result.p50SentUs).toBeLessThanOrEqual(result.p50Us);
      expect(result.p99SentUs).toBeLessThanOrEqual(result.p99Us);
    } finally {
      server.close();
    }
  });

  it('reads utime + stime from /proc/<pid>/stat, also when the command name holds spaces and parentheses', () => {
    const line = '4242 (nginx: worker (x) 1) S 4200 4200 4200 0 -1 4194624 1234 0 0 0 321 79 0 0 20 0 1 0 100 0 0';
    expect(statCpuTicks(line)).toBe(400);
    expect(statCpuTicks(readFileSync('/proc/self/stat', 'utf8'))).toBeGreaterThan(0);
  });

  it('--rt puts a process tree under SCHED_FIFO and back (where allowed), and says when it was refused', async () => {
    const parent = spawn('sh', ['-c', 'sleep 30 & wait'], { stdio: 'ignore' });
    const policy = (pid: number) => readFileSync(`/proc/${pid}/sched`, 'utf8').match(/^policy\s*:\s*(\d+)/m)?.[1];
    let child = 0;
    try {
      await new Promise((r) => setTimeout(r, 200)); // the child sleep exists
      child = Number(spawnSync('ps', ['-o', 'pid=', '--ppid', String(parent.pid)], { encoding: 'utf8' }).stdout.trim());
      const allowed = process.getuid?.() === 0;
      expect(setRealtime([parent.pid], true)).toBe(allowed);
      if (allowed) {
        expect([policy(parent.pid as number), policy(child)]).toEqual(['1', '1']); // SCHED_FIFO, the child too
        expect(setRealtime([parent.pid], false)).toBe(true);
        expect([policy(parent.pid as number), policy(child)]).toEqual(['0', '0']); // SCHED_OTHER again
      }
    } finally {
      if (child > 0) process.kill(child, 'SIGKILL');
      parent.kill('SIGKILL');
    }
  });

  it('added latency compares fronts within a round, and judges only rounds in which the client kept its schedule', () => {
    const fixed = (p50Us: number, p99Us: number, lagP99Us: number) => ({
      p50Us,
      p99Us,
      p50SentUs: p50Us - 100,
      p99SentUs: p99Us - 100,
      lagP99Us,
    });
    const results = {
      // round 1: a busy minute (everything slow, the client late); rounds 2 and 3: quiet
      none: { wrk: [], fixed: [fixed(9_000, 90_000, 20_000), fixed(500, 1_500, 300), fixed(700, 1_700, 400)] },
      authz: { wrk: [], fixed: [fixed(5_000, 40_000, 900), fixed(700, 2_000, 500), fixed(800, 2_500, 600)] },
    };
    const { quiet, lagUs } = quietRounds(results, ['none', 'authz']);
    expect(quiet).toEqual([1, 2]);
    expect(lagUs).toBe(500);
    // Medians over the quiet rounds of (authz − none): p50 200 and 100 → 150; p99 500 and 800 → 650.
    expect(addedLatency(results, 'authz', quiet)).toEqual({ addedP50Us: 150, addedP99Us: 650, addedSentP50Us: 100, addedSentP99Us: 500 });
    // No quiet round at all: every round counts, and the report leaves the goal unjudged.
    const busy = { none: { wrk: [], fixed: [fixed(1, 1, 5_000)] }, authz: { wrk: [], fixed: [fixed(2, 3, 5_000)] } };
    expect(quietRounds(busy, ['none', 'authz'])).toEqual({ quiet: [], lagUs: 5_000 });
  });

  it('the floor front answers its auth_request inside NGINX (no proxying), the others use the shipped snippets', () => {
    const conf: string = renderBenchConf({
      prefix: '/tmp/p',
      snippets: '/tmp/p/conf/snippets',
      authz: 'unix:/tmp/p/a.sock',
      authzKeepalive: 32,
      oauth2proxy: '127.0.0.1:2',
      ports: { none: 10, floor: 11, authz: 12, cached: 13, oauth2proxy: 14, cachedB: 15 },
      user: '',
      setMisc: true,
      cacheDir: '/dev/shm/x',
      cachedBExtra: 'open_file_cache max=8;',
    });
    const server = (port: number) => conf.slice(conf.indexOf(`listen 127.0.0.1:${port};`)).split('\n    }\n')[0];
    expect(server(11)).toContain('location = /auth { internal; return 204; }');
    expect(server(11)).toContain('auth_request /auth;');
    expect(server(11)).not.toContain('nginx_authz');
    expect(server(13)).toContain('include snippets/authz-cache.conf;');
    expect(server(15)).toContain('include snippets/authz-cache.conf;\n            open_file_cache max=8;');
  });
});
