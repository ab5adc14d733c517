/**
 * `node dist/main.js check` and the start-up credentials check against the stack's real
 * Keycloak: what an operator sees for a good deployment, a wrong client secret and a wrong realm.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { freePort } from './own-service.js';
import { ROOT, stack } from './stack.js';

const run = promisify(execFile);
const WRONG = 'wrong-secret-e2e-4f1c9a';

async function check(env: Record<string, string>, args: string[] = []): Promise<{ code: number; out: string }> {
  const full = {
    PATH: process.env.PATH ?? '',
    AUTHZ_ISSUER_URL: stack.KC_ISSUER_URL!,
    AUTHZ_CLIENT_ID: stack.AUTHZ_CLIENT_ID ?? 'nginx-authz',
    AUTHZ_CLIENT_SECRET: stack.AUTHZ_CLIENT_SECRET!,
    ...env,
  };
  try {
    const { stdout, stderr } = await run(process.execPath, ['dist/main.js', 'check', ...args], { cwd: ROOT, env: full, timeout: 30_000 });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, out: stdout + stderr };
  }
}

describe('check mode against Keycloak', () => {
  it('passes for the stack: discovery, keys, the PAT, login credentials, a route', async () => {
    const { code, out } = await check({ AUTHZ_UMA_PER_OBJECT: 'true' }, ['POST', '/api/2.0/mlflow/runs/create']);
    expect(out).toContain(`ok    issuer primary (keycloak-uma): ${stack.KC_ISSUER_URL}: token endpoint`);
    expect(out).toMatch(
      /ok {4}issuer primary \(keycloak-uma\) keys: [1-9]\d* signing key\(s\) from .*\/protocol\/openid-connect\/certs: [^\n]*\(RS256\)/,
    );
    expect(out).not.toContain('RSA-OAEP'); // Keycloak's encryption key is not a signing key
    expect(out).toContain('ok    client "nginx-authz" (PAT): PAT obtained');
    expect(out).toContain('ok    routes: POST /api/2.0/mlflow/runs/create needs runs#write');
    expect(out).toContain('check passed');
    expect(code).toBe(0);
    const login = await check({ AUTHZ_LOGIN_ENABLED: 'true' });
    expect(login.out).toContain('ok    client "nginx-authz" of issuer primary: client credentials accepted (introspection)');
    expect(login.code).toBe(0);
  });

  it('fails for a wrong client secret with what Keycloak said and what to set, never the secret', async () => {
    const pat = await check({ AUTHZ_CLIENT_SECRET: WRONG, AUTHZ_UMA_PER_OBJECT: 'true' });
    expect(pat.code).toBe(1);
    expect(pat.out).toMatch(
      /FAIL {2}client "nginx-authz" \(PAT\): .*\/protocol\/openid-connect\/token: HTTP 401 unauthorized_client .*set client\.secret \/ AUTHZ_CLIENT_SECRET/,
    );
    const login = await check({ AUTHZ_CLIENT_SECRET: WRONG, AUTHZ_LOGIN_ENABLED: 'true' });
    expect(login.code).toBe(1);
    expect(login.out).toMatch(
      /FAIL {2}client "nginx-authz" of issuer primary: .*\/token\/introspect: HTTP 401.*set client\.secret \/ AUTHZ_CLIENT_SECRET/,
    );
    expect(pat.out + login.out).not.toContain(WRONG);
  });

  it('fails for a wrong realm with the URL, the 404 and the realm named', async () => {
    const wrong = stack.KC_ISSUER_URL!.replace(/\/realms\/[^/]+$/, '/realms/mlfow');
    const { code, out } = await check({ AUTHZ_ISSUER_URL: wrong });
    expect(code).toBe(1);
    expect(out).toContain(
      `FAIL  issuer primary (keycloak-uma): issuer discovery: ${wrong}/.well-known/openid-configuration: HTTP 404 (no realm "mlfow" there`,
    );
  });
});

describe('a service with a wrong client secret', () => {
  it('starts, stays not ready, and /readyz and the log say which secret Keycloak refused', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['dist/main.js'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        AUTHZ_ISSUER_URL: stack.KC_ISSUER_URL!,
        AUTHZ_CLIENT_ID: 'nginx-authz',
        AUTHZ_CLIENT_SECRET: WRONG,
        AUTHZ_UMA_PER_OBJECT: 'true',
        AUTHZ_PORT: String(port),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    try {
      let body: { status?: string; reason?: string } = {};
      for (let i = 0; i < 150 && body.reason?.includes('HTTP 401') !== true; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
        if (res === undefined) continue;
        expect(res.status).toBe(503);
        body = (await res.json()) as typeof body;
      }
      expect(body.reason).toMatch(/^client "nginx-authz" \(PAT\): .*HTTP 401 unauthorized_client.*AUTHZ_CLIENT_SECRET/);
      // Log lines are written in batches (every 100 ms, src/log.ts): wait for the line rather than read at once.
      const line = 'credentials check failed: client \\"nginx-authz\\" (PAT)';
      for (let i = 0; i < 30 && !out.includes(line); i++) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(out).toContain(line);
      expect(out).not.toContain(WRONG);
    } finally {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    }
  });
});
