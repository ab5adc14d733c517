/**
 * The service run the way the Helm chart's pod runs it, without a cluster (none runs here): the
 * configuration is the rendered ConfigMap's, the secrets are files of mode 0440 in group 1000 (a
 * Secret volume's defaultMode with the pod's fsGroup), the process runs as the pod's runAsUser /
 * runAsGroup with no new privileges, in a mount namespace where every filesystem is read-only
 * (readOnlyRootFilesystem) except a 16 MB tmpfs on /tmp (the chart's emptyDir), with the image's
 * command and environment. It must become ready (/readyz, the readiness probe) against the real
 * Keycloak, stay alive (/healthz), decide, start a browser login, and stop cleanly on SIGTERM,
 * with no write refused along the way.
 *
 * One deviation from the pod: it listens on 127.0.0.1 and a free port (AUTHZ_HOST/AUTHZ_PORT), not
 * the chart's 0.0.0.0:4180, because nothing in these tests may listen beyond loopback.
 * Needs root (unshare, setpriv), as the CI machine and this one have.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Manifest, one, render } from '../deploy/chart.js';
import { freePort } from './own-service.js';
import { ROOT, stack, tokenFor } from './stack.js';

const DIR = `${process.env.STACK_DIR ?? `${ROOT}/.stack`}/helm-pod`;
let manifests: Manifest[];
let child: ChildProcess;
let url = '';
let output = '';

/**
 * The sandbox: private mounts, all read-only but /proc, /sys and /dev, a tmpfs on /tmp, then the pod's user.
 * A checkout under /tmp (a CI clone, say) would vanish under that tmpfs: before it is mounted, the checkout is
 * bound on /mnt (after the read-only remounts, which /mnt's own sub-mounts would otherwise break), then bound
 * back, read-only, at its own path inside the tmpfs (as the image's /app is read-only too).
 */
function sandboxed(uid: number, gid: number, command: string[]): string[] {
  const script = [
    'set -e',
    'app="$1"; shift',
    'for m in $(awk \'{print $2}\' /proc/self/mounts | grep -vE "^/(proc|sys|dev)(/|$)"); do mount -o remount,bind,ro "$m"; done',
    'case "$app" in /tmp|/tmp/*) mount --bind "$app" /mnt; keep=1 ;; *) keep= ;; esac',
    'mount -t tmpfs -o size=16m,mode=1777 tmpfs /tmp',
    'if [ -n "$keep" ]; then mkdir -p "$app"; mount --bind /mnt "$app"; mount -o remount,bind,ro "$app"; fi',
    `exec setpriv --reuid=${uid} --regid=${gid} --clear-groups --no-new-privs "$@"`,
  ].join('\n');
  return ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sandbox', ROOT, ...command];
}

beforeAll(async () => {
  manifests = render([
    `config.issuer.url=${stack.KC_ISSUER_URL}`,
    'config.client.id=nginx-authz',
    'config.login.enabled=true',
    'secrets.existingSecret=nginx-authz',
    'secrets.sessionSecretKey=session-secret',
  ]);
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(join(DIR, 'secrets'), { recursive: true });
  const pod = one(manifests, 'Deployment').spec.template.spec;
  const gid: number = pod.securityContext.fsGroup;
  for (const [file, value] of [
    ['client-secret', stack.AUTHZ_CLIENT_SECRET!],
    ['session-secret', 'test-only-session-secret-of-at-least-32-characters'],
  ] as const) {
    writeFileSync(join(DIR, 'secrets', file), value);
    chownSync(join(DIR, 'secrets', file), 0, gid);
    chmodSync(join(DIR, 'secrets', file), pod.volumes.find((v: Manifest) => v.name === 'secrets').secret.defaultMode);
  }
  chownSync(join(DIR, 'secrets'), 0, gid);
  chmodSync(join(DIR, 'secrets'), 0o750);
  const config = (one(manifests, 'ConfigMap').data as Record<string, string>)['config.yaml']!.replaceAll(
    '/etc/nginx-authz/secrets',
    join(DIR, 'secrets'),
  );
  writeFileSync(join(DIR, 'config.yaml'), config);
  chmodSync(join(DIR, 'config.yaml'), 0o644);

  const container = pod.containers[0];
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', NODE_ENV: 'production', MALLOC_ARENA_MAX: '2' }; // the image's ENV
  for (const entry of container.env as { name: string; value?: string }[]) if (entry.value !== undefined) env[entry.name] = entry.value;
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  Object.assign(env, { AUTHZ_CONFIG: join(DIR, 'config.yaml'), AUTHZ_HOST: '127.0.0.1', AUTHZ_PORT: String(port) });
  // The Dockerfile's CMD, from the repository root (the image's /app).
  const command = [process.execPath, '--max-old-space-size=96', '--max-semi-space-size=2', '--expose-gc', 'dist/main.js'];
  child = spawn('unshare', sandboxed(pod.securityContext.runAsUser, pod.securityContext.runAsGroup, command), {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  process.once('exit', () => child.kill('SIGKILL'));
  // The readiness probe, with the patience of a slow Keycloak.
  for (const until = Date.now() + 60_000; ; ) {
    if (child.exitCode !== null) throw new Error(`the service exited ${child.exitCode}: ${output.slice(-2000)}`);
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) break;
    if (Date.now() > until) throw new Error(`not ready in 60 s: ${output.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}, 90_000);

afterAll(async () => {
  if (child?.exitCode === null) {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
  rmSync(DIR, { recursive: true, force: true });
});

describe('the service as the Helm chart’s pod runs it (non-root, read-only root filesystem, /tmp only)', () => {
  it('the sandbox is what the chart asks for: the pod’s user, and a write outside /tmp is refused', () => {
    const pod = one(manifests, 'Deployment').spec.template.spec;
    expect(pod.containers[0].securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsNonRoot: true });
    expect(pod.securityContext.runAsUser).not.toBe(0);
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe(String(pod.securityContext.runAsUser));
    expect(/^Gid:\s+(\d+)/m.exec(status)?.[1]).toBe(String(pod.securityContext.runAsGroup));
    expect(/^NoNewPrivs:\s+(\d)/m.exec(status)?.[1]).toBe('1');
    const root = readFileSync(`/proc/${child.pid}/mounts`, 'utf8')
      .split('\n')
      .find((line) => line.split(' ')[1] === '/');
    expect(root?.split(' ')[3]?.split(',')).toContain('ro');
    const probe = (code: string) =>
      spawnSync('unshare', sandboxed(pod.securityContext.runAsUser, pod.securityContext.runAsGroup, [process.execPath, '-e', code]), {
        cwd: ROOT,
        encoding: 'utf8',
      });
    const refused = probe("try { require('node:fs').writeFileSync('dist/written-by-the-pod', 'x'); } catch (e) { console.log(e.code); }");
    expect(refused.stdout.trim()).toBe('EROFS');
    const tmp = probe("require('node:fs').writeFileSync('/tmp/x', 'x'); console.log('tmp writable');");
    expect(tmp.stdout.trim()).toBe('tmp writable');
  });

  it('is ready and alive (the probes), decides against the real Keycloak, and starts a browser login', async () => {
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const ask = async (user: 'alice' | 'carol', method: string, uri: string) =>
      (
        await fetch(`${url}/auth`, {
          headers: { 'x-original-method': method, 'x-original-uri': uri, authorization: `Bearer ${await tokenFor(user)}` },
        })
      ).status;
    expect(await ask('alice', 'GET', '/api/2.0/mlflow/experiments/search')).toBe(200);
    expect(await ask('carol', 'POST', '/api/2.0/mlflow/experiments/create')).toBe(403);
    const login = await fetch(`${url}/oauth2/start?rd=/`, { redirect: 'manual', headers: { host: '127.0.0.1' } });
    expect(login.status).toBe(302);
    expect(login.headers.get('location')).toMatch(new RegExp(`^${stack.KC_URL}/realms/mlflow/protocol/openid-connect/auth\\?`));
  });

  it('stops cleanly on SIGTERM, having been refused no write', async () => {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(0);
    expect(output).not.toMatch(/EROFS|EACCES|read-only file system|permission denied/i);
  });
});
