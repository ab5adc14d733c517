/**
 * Processes of `npm run bench:nginx`: the service under test, oauth2-proxy, NGINX, wrk. Each is started in its own
 * process group and stopped by its pid at the end (or on Ctrl-C): nothing outlives the run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const started = [];

/** Start CMD detached (own process group), output to LOG; remembered for stopAll(). */
export function startProc(name, cmd, args, { env = process.env, log, cwd } = {}) {
  const fd = openSync(log, 'a', 0o600);
  const child = spawn(cmd, args, { env, cwd, detached: true, stdio: ['ignore', fd, fd] });
  const entry = { name, child, exited: false };
  child.on('exit', () => {
    entry.exited = true;
  });
  started.push(entry);
  return child;
}

/** SIGTERM every process group started here (newest first), SIGKILL after 5 s. */
export async function stopAll() {
  for (const entry of started.reverse()) {
    if (entry.exited) continue;
    try {
      process.kill(-entry.child.pid, 'SIGTERM');
    } catch {
      continue;
    }
    const until = Date.now() + 5_000;
    while (!entry.exited && Date.now() < until) await sleep(50);
    if (!entry.exited) {
      try {
        process.kill(-entry.child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  started.length = 0;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Poll FN until it returns true (or throws past the deadline). */
export async function waitUntil(what, fn, ms, child) {
  const until = Date.now() + ms;
  for (;;) {
    if (child?.exitCode !== null && child?.exitCode !== undefined) throw new Error(`${what}: exited with status ${child.exitCode}`);
    try {
      if (await fn()) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > until) throw new Error(`${what}: not ready after ${ms / 1000} s`);
    await sleep(200);
  }
}

/** oauth2-proxy's cookie secret: 32 random bytes, base64url, new for each run (never stored). */
export const cookieSecret = () => randomBytes(32).toString('base64url').slice(0, 32);

/** RSS in MiB of a pid and all its descendants (cluster workers), from /proc. */
export function treeRssMb(pid) {
  const out = spawnSync('ps', ['-o', 'pid=,ppid=,rss=', '-A'], { encoding: 'utf8' }).stdout;
  const rows = out
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number));
  const pids = new Set([pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [p, pp] of rows) {
      if (pids.has(pp) && !pids.has(p)) {
        pids.add(p);
        grew = true;
      }
    }
  }
  return rows.filter(([p]) => pids.has(p)).reduce((sum, [, , rss]) => sum + rss, 0) / 1024;
}

/** CPU seconds (user + system) used so far by the children of `pid` (NGINX's workers), from /proc/<pid>/stat. */
export function childrenCpuSeconds(pid) {
  const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  const out = spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).stdout;
  let total = 0;
  for (const child of out
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)) {
    try {
      total += statCpuTicks(readFileSync(`/proc/${child}/stat`, 'utf8'));
    } catch {
      // a worker that exited between ps and the read: its time is gone either way
    }
  }
  return total / ticks;
}

/** CPU seconds (user + system) of a process and its children (node:cluster workers): the service behind a front. */
export function treeCpuSeconds(pid) {
  const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  let own = 0;
  try {
    own = statCpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) / ticks;
  } catch {
    return Number.NaN; // gone: no number rather than a wrong one
  }
  return own + childrenCpuSeconds(pid);
}

/** utime + stime (fields 14 and 15) of a /proc/<pid>/stat line; the command name in parentheses may hold spaces. */
export function statCpuTicks(stat) {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * Puts processes, their children and all their threads under SCHED_FIFO priority 1 (`on`) or back under the normal
 * scheduler, with chrt. For `bench:nginx --rt`: during a fixed-rate load NGINX and the services then run when their
 * requests arrive instead of queueing behind a shared machine's other processes. Needs root or CAP_SYS_NICE;
 * returns false when chrt refused. `children: false`: only the given processes (with all their threads).
 */
export function setRealtime(pids, on, { children = true } = {}) {
  const all = pids.flatMap((pid) => [
    pid,
    ...(children
      ? spawnSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
          .stdout.split('\n')
          .map((l) => Number(l.trim()))
          .filter((p) => p > 0)
      : []),
  ]);
  let ok = true;
  for (const pid of all) {
    const r = spawnSync('chrt', on ? ['-a', '-f', '-p', '1', String(pid)] : ['-a', '-o', '-p', '0', String(pid)], { encoding: 'utf8' });
    if (r.status !== 0) ok = false;
  }
  return ok;
}
