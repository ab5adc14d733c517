/**
 * Real NGINX in front of the built service on a unix socket (two workers): `upstream { server unix:...; keepalive }`
 * with the repo's own decision snippets. An allowed request reaches the application, a request without or with a
 * bad token gets NGINX's 401, and NGINX keeps reusing its upstream connections to the socket.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fakeIdp } from '../helpers/test-service.js';
import { SMALL_ROUTES } from '../helpers/service.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const nginxBin = [process.env.NGINX_BIN, '/usr/sbin/nginx', '/usr/local/sbin/nginx'].find(
  (path): path is string => path !== undefined && existsSync(path),
);
// Without NGINX: a counted skip on a workstation, a failure in CI (.ci/run refuses skips).
const withNginx = nginxBin === undefined && process.env.CI !== 'true' ? it.skip : it;

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

async function waitFor(check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('condition not met in time');
}

describe('NGINX → nginx-authz over a unix socket', () => {
  withNginx('decides every request through the socket, with upstream keepalive', async () => {
    if (nginxBin === undefined) throw new Error('nginx not found: scripts/stack/install.sh nginx');
    const dir = mkdtempSync(join(tmpdir(), 'ans-'));
    const sock = join(dir, 'authz.sock');
    const idp = await fakeIdp();
    const children: ChildProcess[] = [];
    try {
      const service = spawn(process.execPath, [join(ROOT, 'dist/main.js')], {
        env: {
          PATH: process.env.PATH ?? '',
          ...SMALL_ROUTES,
          AUTHZ_ISSUER_URL: idp.url,
          AUTHZ_CLIENT_ID: 'nginx-authz',
          AUTHZ_CLIENT_SECRET: 'x',
          AUTHZ_LISTEN: `unix:${sock}`,
          AUTHZ_WORKERS: '2',
          AUTHZ_LOG_LEVEL: 'info',
        },
        stdio: ['ignore', openSync(join(dir, 'service.log'), 'w'), 'inherit'],
      });
      children.push(service);
      await waitFor(async () => existsSync(sock));

      const port = await freePort();
      mkdirSync(join(dir, 'conf'));
      cpSync(join(ROOT, 'nginx/snippets'), join(dir, 'conf/snippets'), { recursive: true });
      const conf = join(dir, 'conf/nginx.conf');
      writeFileSync(
        conf,
        `${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
    access_log ${dir}/access.log combined;
    client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
    upstream nginx_authz { server unix:${sock}; keepalive 4; }
    upstream app { server unix:${dir}/app.sock; }
    server { listen unix:${dir}/app.sock; location / { return 200 "app\\n"; } }
    server {
        listen 127.0.0.1:${port};
        include snippets/authz-location.conf;
        location / { auth_request /auth; proxy_pass http://app; }
    }
}
`,
      );
      const check = spawnSync(nginxBin, ['-t', '-q', '-p', dir, '-c', conf], { encoding: 'utf8' });
      expect(check.stderr).toBe('');
      const nginx = spawn(nginxBin, ['-p', dir, '-c', conf, '-g', 'daemon off;'], { stdio: 'ignore' });
      children.push(nginx);
      const url = `http://127.0.0.1:${port}/api/2.0/mlflow/experiments/get?experiment_id=1`;
      await waitFor(async () => (await fetch(url)).status === 401);

      const token = await idp.token();
      for (let i = 0; i < 20; i++) {
        const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
        if (res.status !== 200) console.log(readFileSync(join(dir, 'service.log'), 'utf8'), readFileSync(join(dir, 'error.log'), 'utf8'));
        expect(res.status).toBe(200);
        expect(await res.text()).toBe('app\n');
      }
      // Keepalive to the socket: far fewer connections to the service than subrequests. Read right after the
      // allowed requests, a few times (a loaded machine may list the accepted sockets late).
      let toService = 0;
      for (let attempt = 0; attempt < 20 && toService === 0; attempt++) {
        const stats = spawnSync('ss', ['-x', '-p'], { encoding: 'utf8' }).stdout;
        // The service may bind through a shorter relative path (sun_path is 108 bytes): match the socket's last two parts.
        toService = stats.split('\n').filter((line) => line.includes(`${basename(dir)}/authz.sock`)).length;
        if (toService === 0) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(toService).toBeGreaterThan(0);
      expect(toService).toBeLessThan(20);
      expect((await fetch(url, { headers: { authorization: 'Bearer not-a-jwt' } })).status).toBe(401);
      expect(readFileSync(join(dir, 'error.log'), 'utf8')).not.toMatch(/\[(error|crit|alert|emerg)\]/);
    } finally {
      for (const child of children.reverse()) {
        child.kill('SIGTERM');
        if (child.exitCode === null) await once(child, 'exit');
      }
    }
  });
});
