/**
 * NGINX's optional decision cache (nginx/snippets/authz-cache.conf, nginx/README.md "Decision cache") through a real
 * NGINX in front of the stack's nginx-authz and Keycloak. The test starts its own NGINX (the stack's stays uncached,
 * so no other test sees the cache): one with the hashed key (set-misc) holding a cached front and an uncached one, and
 * one with the plain-NGINX variant. The protected upstream is a trivial NGINX server that echoes the user NGINX sent
 * it, so every answer shows whose identity headers came with the decision. The cache status of the decision
 * subrequest ($upstream_cache_status) comes back in `X-Authz-Cache`.
 */
import { createHash } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signInAtKeycloak, sessionCookieFor } from './login-http.js';
import { freePort, startOwnService, type OwnService } from './own-service.js';
import { ROOT, stack, tokenFor } from './stack.js';

const MODULES = '/usr/lib/nginx/modules';
const SEARCH = '/api/2.0/mlflow/experiments/search?max_results=1';
/** The stack's nginx.cacheSeconds (the default): the bound this test holds sign-out to. */
const CACHE_SECONDS = 5;

interface Nginx {
  prefix: string;
  cacheDir: string;
  ports: Record<'cached' | 'uncached' | 'stub', number>;
  stop(): Promise<void>;
}

/** A throwaway decision service that allows everything with X-Accel-Expires: 5, and Set-Cookie when the URI asks. */
function startStub(): Promise<Server> {
  const server = createServer((req, res) => {
    res.setHeader('X-Accel-Expires', '5');
    res.setHeader('X-Auth-Request-User', 'stub-user');
    if (String(req.headers['x-original-uri']).includes('set-cookie')) res.setHeader('Set-Cookie', 'stub=1; Path=/');
    res.end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function startNginx(
  variant: 'authz-cache.conf' | 'authz-cache-plain.conf',
  stubPort: number,
  options: { authzPort?: number; purgePort?: number } = {},
): Promise<Nginx> {
  const prefix = mkdtempSync(join(tmpdir(), 'authz-nginx-cache-'));
  mkdirSync(join(prefix, 'conf'));
  mkdirSync(join(prefix, 'logs'));
  cpSync(join(ROOT, 'nginx/snippets'), join(prefix, 'conf/snippets'), { recursive: true });
  const ports = { cached: await freePort(), uncached: await freePort(), stub: await freePort() };
  const cacheDir = join(prefix, 'authz-cache');
  const modules =
    (variant === 'authz-cache.conf'
      ? `load_module ${MODULES}/ndk_http_module.so;\nload_module ${MODULES}/ngx_http_set_misc_module.so;\n`
      : '') + (options.purgePort === undefined ? '' : `load_module ${MODULES}/ngx_http_cache_purge_module.so;\n`);
  const purgeServer =
    options.purgePort === undefined ? '' : `server { listen 127.0.0.1:${options.purgePort}; include snippets/authz-cache-purge.conf; }`;
  // As the stack's NGINX: when the test runs as root, the workers keep that user (they reach the unix socket).
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  const protect = (status: string) => `
            include snippets/authz-protect.conf;
            auth_request_set $authz_cache_status ${status};
            add_header X-Authz-Cache $authz_cache_status always;
            proxy_pass http://unix:${prefix}/upstream.sock;`;
  writeFileSync(
    join(prefix, 'conf/nginx.conf'),
    `${modules}${user}worker_processes 1;
pid ${prefix}/nginx.pid;
events {}
http {
    access_log off;
    proxy_temp_path ${prefix}/proxy-temp;
    client_body_temp_path ${prefix}/client-temp;
    proxy_cache_path ${cacheDir} levels=1:2 keys_zone=authz_decisions:2m max_size=32m inactive=10s use_temp_path=off;
    upstream nginx_authz { server 127.0.0.1:${options.authzPort ?? stack.AUTHZ_PORT}; keepalive 32; }
    ${purgeServer}
    upstream stub_authz { server 127.0.0.1:${stubPort}; keepalive 8; }
    server {
        listen 127.0.0.1:${ports.cached};
        location = /auth { include snippets/${variant}; proxy_pass http://nginx_authz/auth; }
        include snippets/authz-errors.conf;
        location / {${protect('$upstream_cache_status')} }
    }
    server {
        listen 127.0.0.1:${ports.uncached};
        include snippets/authz-location.conf;
        include snippets/authz-errors.conf;
        location / {${protect('uncached')} }
    }
    server {
        listen 127.0.0.1:${ports.stub};
        location = /auth { include snippets/${variant}; proxy_pass http://stub_authz/auth; }
        include snippets/authz-errors.conf;
        location / {${protect('$upstream_cache_status')} }
    }
    server {
        listen unix:${prefix}/upstream.sock;
        location / { default_type text/plain; return 200 "user=$http_x_auth_request_user\\n"; }
    }
}
`,
  );
  const child: ChildProcess = spawn(
    'nginx',
    ['-p', `${prefix}/`, '-c', 'conf/nginx.conf', '-e', join(prefix, 'logs/error.log'), '-g', 'daemon off;'],
    { detached: true, stdio: 'ignore' },
  );
  const exited = once(child, 'exit');
  for (let waited = 0; ; waited += 100) {
    const up = await get(ports.uncached, '/oauth2/none').then(
      () => true,
      () => false,
    );
    if (up) break;
    if (waited > 15_000) throw new Error(`nginx did not start: ${readFileSync(join(prefix, 'logs/error.log'), 'utf8')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    prefix,
    cacheDir,
    ports,
    async stop() {
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
      // What NGINX complained about, for a failed run (never credentials: NGINX logs no header values here).
      const errors = readFileSync(join(prefix, 'logs/error.log'), 'utf8')
        .split('\n')
        .filter((line) => /\[(error|crit|alert|emerg)\]/.test(line) && !line.includes('/oauth2/none')); // the start probe
      if (errors.length > 0) console.log(`nginx (${variant}) errors:\n${errors.slice(0, 20).join('\n')}`);
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  cache: string | undefined;
  body: string;
  ms: number;
}

function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: keepAlive }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          cache: res.headers['x-authz-cache'] as string | undefined,
          body,
          ms: performance.now() - started,
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}
const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends until an answer comes from the cache (a session's first answer, which opened its cookie, is not kept). */
async function untilHit(port: number, path: string, headers: Record<string, string>): Promise<Answer> {
  let answer = await get(port, path, headers);
  for (let i = 0; i < 3 && answer.cache !== 'HIT'; i++) answer = await get(port, path, headers);
  return answer;
}

/** Every byte of every file under `dir`. */
function filesUnder(dir: string): { path: string; text: string; mode: number }[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const path = join(entry.parentPath, entry.name);
      return { path, text: readFileSync(path, 'latin1'), mode: statSync(path).mode & 0o777 };
    });
}

let stub: Server;
let hashed: Nginx;
let plain: Nginx;

beforeAll(async () => {
  stub = await startStub();
  const stubPort = (stub.address() as { port: number }).port;
  hashed = await startNginx('authz-cache.conf', stubPort);
  plain = await startNginx('authz-cache-plain.conf', stubPort);
}, 60_000);
afterAll(async () => {
  await hashed?.stop();
  await plain?.stop();
  keepAlive.destroy();
  stub?.close();
});

describe('NGINX decision cache (hashed key, set-misc)', () => {
  it('serves a repeated allow from the cache (HIT), with the identity of the same credentials only', async () => {
    const carol = await tokenFor('carol');
    const bob = await tokenFor('bob');
    const uri = `${SEARCH}&n=identity`;
    const first = await get(hashed.ports.cached, uri, bearer(carol));
    expect([first.status, first.cache, first.body]).toEqual([200, 'MISS', 'user=carol\n']);
    const second = await get(hashed.ports.cached, uri, bearer(carol));
    expect([second.status, second.cache, second.body]).toEqual([200, 'HIT', 'user=carol\n']);
    // Another user on the same URI right after: decided for bob, with bob's identity; carol's entry unchanged.
    const asBob = await get(hashed.ports.cached, uri, bearer(bob));
    expect([asBob.status, asBob.cache, asBob.body]).toEqual([200, 'MISS', 'user=bob\n']);
    expect((await get(hashed.ports.cached, uri, bearer(bob))).body).toBe('user=bob\n');
    const carolAgain = await get(hashed.ports.cached, uri, bearer(carol));
    expect([carolAgain.cache, carolAgain.body]).toEqual(['HIT', 'user=carol\n']);
  });

  it('never answers a refused token from the cache: 403 right after another user’s allow on the same URI', async () => {
    const uri = `${SEARCH}&n=denied`;
    const carol = await get(hashed.ports.cached, uri, bearer(await tokenFor('carol')));
    expect(carol.status).toBe(200);
    expect((await get(hashed.ports.cached, uri, bearer(await tokenFor('carol')))).cache).toBe('HIT');
    for (let i = 0; i < 3; i++) {
      const dave = await get(hashed.ports.cached, uri, bearer(await tokenFor('dave')));
      expect([dave.status, dave.body]).toEqual([403, expect.stringContaining('PERMISSION_DENIED')]);
    }
    const anonymous = await get(hashed.ports.cached, uri);
    expect(anonymous.status).toBe(401);
    const forged = await get(hashed.ports.cached, uri, bearer(`${await tokenFor('carol')}x`));
    expect(forged.status).toBe(401);
    // A write carol may not do is refused every time, whatever her reads left in the cache.
    for (let i = 0; i < 2; i++) {
      const write = await get(hashed.ports.cached, '/api/2.0/mlflow/experiments/create', bearer(await tokenFor('carol')), 'POST');
      expect(write.status).toBe(403);
    }
  });

  it('is faster than asking the service (median of interleaved sequential requests)', async () => {
    const headers = bearer(await tokenFor('carol'));
    const uri = `${SEARCH}&n=speed`;
    await get(hashed.ports.cached, uri, headers);
    await get(hashed.ports.uncached, uri, headers);
    const cached: number[] = [];
    const uncached: number[] = [];
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 15; i++) {
        const hit = await get(hashed.ports.cached, uri, headers);
        expect(hit.status).toBe(200);
        cached.push(hit.ms);
      }
      for (let i = 0; i < 15; i++) {
        const asked = await get(hashed.ports.uncached, uri, headers);
        expect([asked.status, asked.cache]).toEqual([200, 'uncached']);
        uncached.push(asked.ms);
      }
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    console.log(`decision cache: median ${median(cached).toFixed(3)} ms cached vs ${median(uncached).toFixed(3)} ms asking the service`);
    expect(median(cached)).toBeLessThan(median(uncached));
  }, 60_000);

  it(`refuses a signed-out session within nginx.cacheSeconds (${CACHE_SECONDS} s), and measures it`, async () => {
    const cookie = await sessionCookieFor('carol');
    const uri = `${SEARCH}&n=sign-out`;
    const asCookie = { cookie };
    const hit = await untilHit(hashed.ports.cached, uri, asCookie);
    expect([hit.status, hit.cache, hit.body]).toEqual([200, 'HIT', 'user=carol\n']);
    // Sign-out as the browser sends it, through the stack's NGINX (same service, same sessions).
    const signOut = await fetch(`${stack.MLFLOW_URL}/oauth2/sign_out`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, 'sec-fetch-site': 'same-origin' },
    });
    expect(signOut.status).toBe(302);
    const signedOutAt = performance.now();
    expect((await get(hashed.ports.uncached, uri, asCookie)).status).toBe(401); // the service refuses at once
    let refusedAfterMs: number | undefined;
    let servedAfter = 0;
    while (refusedAfterMs === undefined && performance.now() - signedOutAt < (CACHE_SECONDS + 3) * 1000) {
      const answer = await get(hashed.ports.cached, uri, asCookie);
      if (answer.status === 200) servedAfter++;
      else refusedAfterMs = performance.now() - signedOutAt;
      await sleep(50);
    }
    console.log(
      `sign-out: refused through the cache after ${refusedAfterMs?.toFixed(0)} ms (${servedAfter} requests served from the cache meanwhile)`,
    );
    expect(refusedAfterMs).toBeDefined();
    expect(refusedAfterMs!).toBeLessThanOrEqual(CACHE_SECONDS * 1000 + 300);
    expect((await get(hashed.ports.cached, uri, asCookie)).status).toBe(401);
  }, 60_000);

  it('keeps no credential in plain text on disk; the cache directory is the worker’s alone (0700), its files 0600', async () => {
    const token = await tokenFor('alice');
    const cookie = await sessionCookieFor('alice');
    const uri = `${SEARCH}&n=disk`;
    expect((await get(hashed.ports.cached, uri, bearer(token))).status).toBe(200);
    expect((await untilHit(hashed.ports.cached, uri, { cookie })).cache).toBe('HIT');
    const files = filesUnder(hashed.cacheDir);
    expect(files.length).toBeGreaterThanOrEqual(2);
    const cookieValue = cookie.slice(cookie.indexOf('=') + 1);
    const signature = token.split('.')[2]!;
    // The token's entry is keyed on one MD5 of the whole Authorization header, a line feed and the (absent) Cookie header.
    const md5 = (text: string) => createHash('md5').update(text).digest('hex');
    expect(files.some((file) => file.text.includes(`\nKEY: ${md5(`Bearer ${token}\n`)} 127.0.0.1:`))).toBe(true);
    for (const file of files) {
      expect(file.text).toMatch(/\nKEY: [0-9a-f]{32} 127\.0\.0\.1:\d+ /);
      expect(file.text.includes(token) || file.text.includes(signature) || file.text.includes(cookieValue)).toBe(false);
      expect(file.mode).toBe(0o600);
    }
    expect(statSync(hashed.cacheDir).mode & 0o777).toBe(0o700);
  });

  it('never stores an answer that sets a cookie (an answer without one is stored: the check can fail)', async () => {
    const plainAnswer = [];
    const withCookie = [];
    for (let i = 0; i < 3; i++) {
      plainAnswer.push((await get(hashed.ports.stub, '/x?n=plain', bearer('stub-token'))).cache);
      withCookie.push((await get(hashed.ports.stub, '/x?n=set-cookie', bearer('stub-token'))).cache);
    }
    expect(plainAnswer).toEqual(['MISS', 'HIT', 'HIT']);
    expect(withCookie).toEqual(['MISS', 'MISS', 'MISS']);
  });
});

describe('NGINX decision cache, plain variant (no set-misc)', () => {
  it('caches the same way, and (as documented) holds the credential in its files: hence tmpfs and 0700', async () => {
    const token = await tokenFor('carol');
    const uri = `${SEARCH}&n=plain`;
    expect((await get(plain.ports.cached, uri, bearer(token))).cache).toBe('MISS');
    const hit = await get(plain.ports.cached, uri, bearer(token));
    expect([hit.status, hit.cache, hit.body]).toEqual([200, 'HIT', 'user=carol\n']);
    const dave = await get(plain.ports.cached, uri, bearer(await tokenFor('dave')));
    expect(dave.status).toBe(403);
    const files = filesUnder(plain.cacheDir);
    expect(files.some((file) => file.text.includes(token))).toBe(true);
    expect(statSync(plain.cacheDir).mode & 0o777).toBe(0o700);
  });
});

describe('NGINX decision cache with purge on sign-out (cache-purge module, nginx.purgeUrl)', () => {
  // A service of the test's own (the stack's has no purge URL), behind an NGINX with the purge location.
  let service: OwnService;
  let front: Nginx;
  const stackHost = new URL(stack.MLFLOW_URL!).host; // the host Keycloak knows the callback of

  beforeAll(async () => {
    const authzPort = await freePort();
    const purgePort = await freePort();
    front = await startNginx('authz-cache.conf', (stub.address() as { port: number }).port, { authzPort, purgePort });
    service = await startOwnService(
      {
        AUTHZ_LOGIN_ENABLED: 'true',
        AUTHZ_LOGIN_ALLOWED_HOSTS: stackHost,
        AUTHZ_NGINX_PURGE_URL: `http://127.0.0.1:${purgePort}/authz-cache-purge`,
      },
      { port: authzPort },
    );
  }, 60_000);
  afterAll(async () => {
    await service?.stop();
    await front?.stop();
  });

  const cookiesOf = (answer: Answer): string =>
    ([answer.headers['set-cookie'] ?? []].flat() as string[]).map((line) => line.split(';')[0]!).join('; ');

  it('refuses a signed-out session at once: its cached allows are purged before the sign-out answers', async () => {
    const site = { host: stackHost };
    const start = await get(front.ports.cached, '/oauth2/start?rd=%2F', site);
    expect(start.status).toBe(302);
    const callback = new URL(await signInAtKeycloak(String(start.headers.location), 'carol'));
    const done = await get(front.ports.cached, `${callback.pathname}${callback.search}`, { ...site, cookie: cookiesOf(start) });
    expect(done.status).toBe(302);
    const cookie = cookiesOf(done)
      .split('; ')
      .find((pair) => pair.startsWith('nginx_authz_session='))!;
    expect(cookie).toBeDefined();

    const uri = `${SEARCH}&n=purge`;
    const other = `${SEARCH}&n=purge-2`;
    expect(await untilHit(front.ports.cached, uri, { cookie })).toMatchObject({ status: 200, cache: 'HIT', body: 'user=carol\n' });
    expect(await untilHit(front.ports.cached, other, { cookie })).toMatchObject({ status: 200, cache: 'HIT' });
    const signOut = await get(front.ports.cached, '/oauth2/sign_out', { ...site, cookie, 'sec-fetch-site': 'same-origin' }, 'POST');
    expect(signOut.status).toBe(302);
    const signedOutAt = performance.now();
    const after = await get(front.ports.cached, uri, { cookie });
    const afterOther = await get(front.ports.cached, other, { cookie });
    console.log(`sign-out with purge: refused ${(performance.now() - signedOutAt).toFixed(0)} ms after the sign-out answered`);
    // A cached allow would be a 200 (the entries had 3-4 s left): refused by the service, so they were purged.
    expect([after.status, afterOther.status]).toEqual([401, 401]);
  }, 60_000);
});
