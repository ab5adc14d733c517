/**
 * The built service as a process (dist/main.js, built by `pretest`): start-up validation,
 * serving, graceful shutdown on SIGTERM (also through `npm start`), and the errors an operator
 * meets at run time (wrong realm, wrong client secret, port in use), none of which may print a
 * secret.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FakeIdp } from './helpers/fake-idp.js';
import { fakeIdp } from './helpers/test-service.js';
import { SMALL_ROUTES } from './helpers/service.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECRET = 'SUPER-SECRET-VALUE-123';

function run(env: Record<string, string>, args: string[] = []): { child: ChildProcess; stdout: () => string; stderr: () => string } {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return { child, stdout: () => out, stderr: () => err };
}

async function waitFor(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('condition not met in time');
}

describe('dist/main.js', () => {
  it('exits with status 2 listing every configuration problem', async () => {
    const { child, stderr } = run({
      AUTHZ_ISSUER_URL: 'http://idp.example.com/realms/x',
      AUTHZ_PORT: '99999',
      AUTHZ_CLIENT_SECRET: 'hidden-value',
    });
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(stderr()).toContain('server.port');
    expect(stderr()).toContain('client.id: required (AUTHZ_CLIENT_ID)');
    expect(stderr()).toContain('issuer.url: plain http is only accepted for loopback hosts');
    expect(stderr()).not.toContain('hidden-value');
  });

  it('serves decisions, then shuts down cleanly on SIGTERM', async () => {
    const idp = await fakeIdp();
    const port = 30_000 + Math.floor(Math.random() * 20_000);
    const { child, stdout } = run({
      ...SMALL_ROUTES,
      AUTHZ_ISSUER_URL: idp.url,
      AUTHZ_CLIENT_ID: 'nginx-authz',
      AUTHZ_CLIENT_SECRET: 'x',
      AUTHZ_PORT: String(port),
    });
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await fetch(`${base}/readyz`)).ok);
      const res = await fetch(`${base}/auth`, {
        headers: {
          'x-original-method': 'GET',
          'x-original-uri': '/api/2.0/mlflow/experiments/get',
          authorization: `Bearer ${await idp.token()}`,
        },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-auth-request-user')).toBe('alice');

      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
      expect(stdout()).toContain('"msg":"shutting down"');
    } finally {
      child.kill('SIGKILL');
    }
  });
});

const freePort = () => 30_000 + Math.floor(Math.random() * 20_000);

async function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const [code] = await once(child, 'exit');
  return code as number | null;
}

describe('secrets never reach the output', () => {
  const dir = mkdtempSync(join(tmpdir(), 'authz-main-'));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const cases: [string, Record<string, string>][] = [
    [
      'an unknown key beside the secret',
      {
        AUTHZ_CONFIG: file(
          'k.yaml',
          `issuer:\n  url: http://127.0.0.1:1/realms/x\nclient:\n  id: nginx-authz\n  secret: ${SECRET}\n  secertFile: /x\n`,
        ),
      },
    ],
    [
      'a secret of the wrong type',
      { AUTHZ_CONFIG: file('t.yaml', `issuer:\n  url: http://127.0.0.1:1/realms/x\nclient:\n  id: c\n  secret: {value: ${SECRET}}\n`) },
    ],
    [
      'a wrong value in AUTHZ_SESSION_SECRET beside AUTHZ_CLIENT_SECRET',
      {
        AUTHZ_ISSUER_URL: 'http://127.0.0.1:1/realms/x',
        AUTHZ_CLIENT_ID: 'c',
        AUTHZ_CLIENT_SECRET: SECRET,
        AUTHZ_SESSION_SECRET: `${SECRET}-short`,
        AUTHZ_PORT: 'x',
      },
    ],
    [
      'a missing secret file',
      {
        AUTHZ_ISSUER_URL: 'http://127.0.0.1:1/realms/x',
        AUTHZ_CLIENT_ID: 'c',
        AUTHZ_CLIENT_SECRET_FILE: join(dir, 'missing'),
        AUTHZ_SESSION_SECRET: `${SECRET}-${SECRET}-${SECRET}`,
        AUTHZ_LOGIN_ENABLED: 'yes',
      },
    ],
  ];
  it.each(cases)('%s: exit 2, the problem named, the secret nowhere', async (_name, env) => {
    const { child, stdout, stderr } = run(env);
    expect(await exited(child)).toBe(2);
    expect(stderr()).toMatch(/invalid configuration/);
    expect(stdout() + stderr()).not.toContain(SECRET);
  });
});

describe('errors at run time', () => {
  let idp: FakeIdp;
  beforeAll(async () => {
    idp = await fakeIdp();
  });

  it('port in use: one line saying what to change, exit 1, no stack trace', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const { child, stderr } = run({
        ...SMALL_ROUTES,
        AUTHZ_ISSUER_URL: idp.url,
        AUTHZ_CLIENT_ID: 'nginx-authz',
        AUTHZ_PORT: String(port),
      });
      expect(await exited(child)).toBe(1);
      expect(stderr()).toBe(
        `nginx-authz: cannot listen on 127.0.0.1:${port}: address in use (another process listens there); stop it, or set AUTHZ_PORT (server.port)\n`,
      );
    } finally {
      blocker.close();
    }
  });

  it('wrong realm: the URL tried, the status and a hint in the log and in /readyz, retried with backoff', async () => {
    const port = freePort();
    const wrong = idp.url.replace(/\/realms\/test$/, '/realms/tset');
    const { child, stdout } = run({ ...SMALL_ROUTES, AUTHZ_ISSUER_URL: wrong, AUTHZ_CLIENT_ID: 'nginx-authz', AUTHZ_PORT: String(port) });
    try {
      await waitFor(async () => (stdout().match(/issuer discovery failed/g) ?? []).length >= 2, 10_000);
      const failures = stdout()
        .split('\n')
        .filter((line) => line.includes('issuer discovery failed'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(failures[0]).toMatchObject({
        url: `${wrong}/.well-known/openid-configuration`,
        outcome: 'HTTP 404',
        attempt: 1,
        retryInMs: 2000,
      });
      expect(failures[0]!.hint).toMatch(/no realm "tset" there: check the realm name.*\/realms\/<realm>/);
      expect(failures[1]).toMatchObject({ attempt: 2, retryInMs: 4000 });
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { reason: string }).reason).toContain(
        `issuer primary: ${wrong}/.well-known/openid-configuration: HTTP 404 (no realm "tset"`,
      );
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('wrong client secret: not ready, /readyz and the log say which secret to fix, and never show it', async () => {
    const good = `Basic ${Buffer.from('nginx-authz:right-secret').toString('base64')}`;
    idp.pat = (request) =>
      request.authorization === good
        ? { status: 200, body: { access_token: 'pat-1', expires_in: 300 } }
        : { status: 401, body: { error: 'unauthorized_client', error_description: 'Invalid client or Invalid client credentials' } };
    const port = freePort();
    const { child, stdout, stderr } = run({
      ...SMALL_ROUTES,
      AUTHZ_ISSUER_URL: idp.url,
      AUTHZ_CLIENT_ID: 'nginx-authz',
      AUTHZ_CLIENT_SECRET: SECRET,
      AUTHZ_UMA_PER_OBJECT: 'true',
      AUTHZ_PORT: String(port),
    });
    try {
      await waitFor(async () => stdout().includes('credentials check failed'));
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(503);
      const { reason } = (await ready.json()) as { reason: string };
      expect(reason).toContain('client "nginx-authz" (PAT): ');
      expect(reason).toContain(
        'HTTP 401 unauthorized_client "Invalid client or Invalid client credentials" (the IdP refused client "nginx-authz" with this secret: set client.secret / AUTHZ_CLIENT_SECRET',
      );
      expect(stdout()).toMatch(
        /"msg":"credentials check failed: client \\"nginx-authz\\" \(PAT\): .*AUTHZ_CLIENT_SECRET.*; not ready; retrying in 2 s"/,
      );
      expect(stdout() + stderr()).not.toContain(SECRET);
    } finally {
      child.kill('SIGKILL');
      idp.pat = () => ({ status: 200, body: { access_token: 'pat-1', expires_in: 300 } });
    }
  });
});

describe('npm start', () => {
  it('stops with one SIGTERM: the node process exits and the port is free', async () => {
    const idp = await fakeIdp();
    const port = freePort();
    // detached: its own process group, to find (and, on failure, clean up) every process of the tree
    const npm = spawn('npm', ['start', '--silent'], {
      cwd: ROOT,
      detached: true,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        ...SMALL_ROUTES,
        AUTHZ_ISSUER_URL: idp.url,
        AUTHZ_CLIENT_ID: 'nginx-authz',
        AUTHZ_PORT: String(port),
      },
      stdio: 'ignore',
    });
    const group = (): string[] => {
      try {
        return execFileSync('pgrep', ['-g', String(npm.pid)], { encoding: 'utf8' })
          .split('\n')
          .filter((line) => line !== '');
      } catch {
        return []; // pgrep exits 1 when no process matches
      }
    };
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, 15_000);
      expect(group().length).toBeGreaterThanOrEqual(2); // npm and node
      npm.kill('SIGTERM');
      await waitFor(async () => group().length === 0, 5_000);
      await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    } finally {
      for (const pid of group()) process.kill(Number(pid), 'SIGKILL');
    }
  });
});
