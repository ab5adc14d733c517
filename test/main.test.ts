/**
 * The built service as a process (dist/main.js, built by `pretest`): start-up validation,
 * serving, and graceful shutdown on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { FakeIdp } from './helpers/fake-idp.js';
import { SMALL_ROUTES } from './helpers/service.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

function run(env: Record<string, string>): { child: ChildProcess; stdout: () => string; stderr: () => string } {
  const child = spawn(process.execPath, [MAIN], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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
    const { child, stderr } = run({ AUTHZ_ISSUER_URL: 'http://idp.example.com/realms/x', AUTHZ_PORT: '99999', AUTHZ_CLIENT_SECRET: 'hidden-value' });
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(stderr()).toContain('server.port');
    expect(stderr()).toContain('client.id: required (AUTHZ_CLIENT_ID)');
    expect(stderr()).toContain('issuer.url: plain http is only accepted for loopback hosts');
    expect(stderr()).not.toContain('hidden-value');
  });

  it('serves decisions, then shuts down cleanly on SIGTERM', async () => {
    const idp = await new FakeIdp().start();
    const port = 30_000 + Math.floor(Math.random() * 20_000);
    const { child, stdout } = run({ ...SMALL_ROUTES, AUTHZ_ISSUER_URL: idp.url, AUTHZ_CLIENT_ID: 'nginx-authz', AUTHZ_CLIENT_SECRET: 'x', AUTHZ_PORT: String(port) });
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await fetch(`${base}/readyz`)).ok);
      const res = await fetch(`${base}/auth`, { headers: { 'x-original-method': 'GET', 'x-original-uri': '/api/2.0/mlflow/experiments/get', authorization: `Bearer ${await idp.token()}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-auth-request-user')).toBe('alice');

      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
      expect(stdout()).toContain('"msg":"shutting down"');
    } finally {
      child.kill('SIGKILL');
      await idp.stop();
    }
  });
});
