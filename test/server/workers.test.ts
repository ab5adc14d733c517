/**
 * The built service (dist/main.js) on a unix socket, as one process and as a node:cluster of workers: it decides
 * over the socket, the socket file is owner-only, a stale file left by a killed run is replaced, SIGTERM stops
 * every worker, and several workers with browser login are refused at start.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FakeIdp } from '../helpers/fake-idp.js';
import { fakeIdp } from '../helpers/test-service.js';
import { SMALL_ROUTES } from '../helpers/service.js';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'authz-workers-'));

function run(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return { child, output: () => out };
}

function get(socketPath: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; user?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, user: res.headers['x-auth-request-user'] as string | undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitFor(check: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await Promise.resolve(check()).catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('condition not met in time');
}

const pidsOf = (parent: number): number[] =>
  spawnSync('ps', ['-o', 'pid=', '--ppid', String(parent)], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n')
    .filter(Boolean)
    .map(Number);

describe('dist/main.js on a unix socket', () => {
  let idp: FakeIdp;
  beforeAll(async () => {
    idp = await fakeIdp();
  });
  const env = (sock: string, more: Record<string, string> = {}): Record<string, string> => ({
    ...SMALL_ROUTES,
    AUTHZ_ISSUER_URL: idp.url,
    AUTHZ_CLIENT_ID: 'nginx-authz',
    AUTHZ_CLIENT_SECRET: 'x',
    AUTHZ_LISTEN: `unix:${sock}`,
    ...more,
  });
  const decide = async (sock: string) =>
    get(sock, '/auth', {
      'x-original-method': 'GET',
      'x-original-uri': '/api/2.0/mlflow/experiments/get',
      authorization: `Bearer ${await idp.token()}`,
    });

  it('one process: replaces a stale socket file, decides over an owner-only socket, removes it on SIGTERM', async () => {
    const sock = join(dir, 'one.sock');
    // A run killed by SIGKILL leaves its socket file behind.
    spawnSync(process.execPath, [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect(statSync(sock).isSocket()).toBe(true);
    const { child, output } = run(env(sock));
    try {
      await waitFor(async () => (await get(sock, '/readyz')).status === 200);
      expect(statSync(sock).mode & 0o777).toBe(0o600);
      expect(await decide(sock)).toEqual({ status: 200, user: 'alice' });
      // Log lines are written in batches (every 100 ms, src/log.ts): the line may follow the first answers.
      await waitFor(() => output().includes(`"listen":"unix:${sock}"`));
      expect(output()).toContain(`"listen":"unix:${sock}"`);
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
      expect(existsSync(sock)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a second service on the same live socket exits 1 with one line, and the first keeps serving', async () => {
    const sock = join(dir, 'busy.sock');
    const first = run(env(sock));
    try {
      await waitFor(async () => (await get(sock, '/readyz')).status === 200);
      const second = run(env(sock));
      const [code] = await once(second.child, 'exit');
      expect(code).toBe(1);
      expect(second.output()).toContain(`cannot listen on unix:${sock}: another process listens there`);
      expect(second.output()).not.toContain('    at ');
      expect((await get(sock, '/readyz')).status).toBe(200);
    } finally {
      first.child.kill('SIGKILL');
    }
  });

  it('AUTHZ_WORKERS=2: two workers decide on one socket; SIGTERM stops them all', async () => {
    const sock = join(dir, 'two.sock');
    const { child, output } = run(env(sock, { AUTHZ_WORKERS: '2', AUTHZ_SOCKET_MODE: '0660' }));
    try {
      // Log lines are written in batches (every 100 ms, src/log.ts): the primary's line may follow the workers'.
      await waitFor(() => (output().match(/"msg":"listening"/g) ?? []).length === 2 && output().includes('"msg":"workers listening"'));
      expect(output()).toContain('"msg":"workers listening"');
      const workers = pidsOf(child.pid!);
      expect(workers).toHaveLength(2);
      expect(statSync(sock).mode & 0o777).toBe(0o660);
      for (let i = 0; i < 6; i++) expect(await decide(sock)).toEqual({ status: 200, user: 'alice' });
      // A worker that dies is replaced. The new one takes no connection before its discovery is done: with the
      // IdP's discovery held, every request is decided by the surviving worker (none answered 503).
      let release = (): void => {};
      idp.discoveryGate = new Promise((resolve) => (release = resolve));
      const fetchesBefore = idp.discoveryFetches;
      process.kill(workers[0]!, 'SIGKILL');
      try {
        await waitFor(() => idp.discoveryFetches > fetchesBefore);
        for (let i = 0; i < 6; i++) expect(await decide(sock)).toEqual({ status: 200, user: 'alice' });
      } finally {
        idp.discoveryGate = undefined;
        release();
      }
      await waitFor(() => pidsOf(child.pid!).length === 2 && !pidsOf(child.pid!).includes(workers[0]!));
      await waitFor(() => (output().match(/"msg":"listening"/g) ?? []).length === 3);
      for (let i = 0; i < 6; i++) expect(await decide(sock)).toEqual({ status: 200, user: 'alice' });
      const current = pidsOf(child.pid!);
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
      for (const pid of current) expect(() => process.kill(pid, 0)).toThrow();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('AUTHZ_WORKERS=2 with browser login is refused at start (exit 2), naming the option', async () => {
    const { child, output } = run(env(join(dir, 'login.sock'), { AUTHZ_WORKERS: '2', AUTHZ_LOGIN_ENABLED: 'true' }));
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(output()).toContain('server.workers: 2 workers cannot serve browser login');
  });
});
