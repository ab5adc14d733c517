/**
 * The decision-cache snippets (nginx/snippets/authz-cache*.conf) pass `nginx -t` with the host's NGINX, in a
 * config laid out as nginx/README.md ("Decision cache") describes: the hashed variant with the NDK and set-misc
 * modules loaded, the plain variant without them. Behaviour through a running NGINX: test/e2e/nginx-cache.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MODULES = '/usr/lib/nginx/modules';
const LOAD_SET_MISC = `load_module ${MODULES}/ndk_http_module.so;\nload_module ${MODULES}/ngx_http_set_misc_module.so;\n`;

const nginxBin = [process.env.NGINX_BIN, '/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'].find(
  (path): path is string => path !== undefined && existsSync(path),
);
const setMisc = existsSync(`${MODULES}/ngx_http_set_misc_module.so`) && existsSync(`${MODULES}/ndk_http_module.so`);
// Without NGINX (or Debian's set-misc module) the check is a counted skip on a workstation and a failure in CI.
const withNginx = nginxBin === undefined && process.env.CI !== 'true' ? it.skip : it;
const withSetMisc = (nginxBin === undefined || !setMisc) && process.env.CI !== 'true' ? it.skip : it;

function nginxTest(main: string, snippet: string, extraServer = ''): { status: number | null; output: string } {
  if (nginxBin === undefined) throw new Error('no nginx binary (scripts/stack/install.sh installs it): CI must run `nginx -t`');
  const prefix = mkdtempSync(join(tmpdir(), 'authz-cache-nginx-'));
  try {
    mkdirSync(join(prefix, 'conf'));
    mkdirSync(join(prefix, 'logs'));
    cpSync(join(ROOT, 'nginx/snippets'), join(prefix, 'conf/snippets'), { recursive: true });
    const conf = `${main}pid ${prefix}/nginx.pid;
events {}
http {
    proxy_temp_path ${prefix}/proxy-temp;
    proxy_cache_path ${prefix}/authz-cache levels=1:2 keys_zone=authz_decisions:2m max_size=32m inactive=10s use_temp_path=off;
    upstream nginx_authz { server 127.0.0.1:4180; keepalive 32; }
    server {
        listen 127.0.0.1:8080;
        location = /auth { include snippets/${snippet}; proxy_pass http://nginx_authz/auth; }
        include snippets/authz-errors.conf;
        location / { include snippets/authz-protect.conf; proxy_pass http://127.0.0.1:5000; }
    }
    ${extraServer}
}
`;
    writeFileSync(join(prefix, 'conf/nginx.conf'), conf);
    const result = spawnSync(nginxBin, ['-t', '-q', '-p', `${prefix}/`, '-c', 'conf/nginx.conf', '-e', 'stderr'], { encoding: 'utf8' });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
}

describe('nginx/snippets/authz-cache*.conf', () => {
  withSetMisc('authz-cache.conf (credentials hashed by set-misc) passes `nginx -t` with the modules loaded', () => {
    expect(nginxTest(LOAD_SET_MISC, 'authz-cache.conf')).toEqual({ status: 0, output: '' });
  });

  withSetMisc('authz-cache.conf fails `nginx -t` without the set-misc module (never silently unhashed)', () => {
    const result = nginxTest('', 'authz-cache.conf');
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('unknown directive "set_md5"');
  });

  withSetMisc('authz-cache-purge.conf passes `nginx -t` in a loopback server with the cache-purge module', () => {
    const purge = `${LOAD_SET_MISC}load_module ${MODULES}/ngx_http_cache_purge_module.so;\n`;
    const server = 'server { listen 127.0.0.1:8081; include snippets/authz-cache-purge.conf; }';
    expect(nginxTest(purge, 'authz-cache.conf', server)).toEqual({ status: 0, output: '' });
    expect(nginxTest(LOAD_SET_MISC, 'authz-cache.conf', server).output).toContain('unknown directive "proxy_cache_purge"');
  });

  withNginx('authz-cache-plain.conf passes `nginx -t` with a plain NGINX (no module)', () => {
    expect(nginxTest('', 'authz-cache-plain.conf')).toEqual({ status: 0, output: '' });
  });

  it('keeps raw credentials out of the hashed key, and the plain key says it holds them', () => {
    const snippet = (name: string) => readFileSync(join(ROOT, 'nginx/snippets', name), 'utf8');
    const keyOf = (text: string) => /^(?:proxy_cache_key|set \$authz_cache_key)\s+"([^"]+)";$/m.exec(text)?.[1] ?? '';
    const hashed = keyOf(snippet('authz-cache.conf'));
    // The same value is the key and what the service is told (for the purge on sign-out).
    expect(snippet('authz-cache.conf')).toMatch(/^proxy_cache_key \$authz_cache_key;$/m);
    expect(snippet('authz-cache.conf')).toMatch(/^proxy_set_header X-Authz-Cache-Key \$authz_cache_key;$/m);
    expect(snippet('authz-cache-plain.conf')).toMatch(/^proxy_set_header X-Authz-Cache-Key "-";$/m);
    expect(hashed).toMatch(/^\$authz_cache_credentials /);
    expect(hashed).not.toMatch(/\$http_|\$cookie_/);
    // One digest of both whole headers, a line feed between them (never inside a header value: unambiguous).
    expect(snippet('authz-cache.conf')).toMatch(/^set_md5 \$authz_cache_credentials "\$http_authorization\\n\$http_cookie";$/m);
    // Both variants key on the whole headers the service reads, the decision location and the original request.
    for (const key of [hashed, keyOf(snippet('authz-cache-plain.conf'))])
      expect(key).toMatch(/ \$server_addr:\$server_port \$server_name \$uri \$request_method \$request_uri$/);
    expect(snippet('authz-cache-plain.conf')).toContain('in plain text');
    // Nothing but the service's X-Accel-Expires decides what is kept: no proxy_cache_valid, no stale answers.
    const directives = snippet('authz-cache-directives.conf');
    expect(directives).not.toMatch(/^proxy_cache_valid/m);
    expect(directives).toMatch(/^proxy_ignore_headers Cache-Control Expires Vary;$/m);
    expect(directives).toMatch(/^proxy_cache_use_stale off;$/m);
    expect(directives).toMatch(/^proxy_no_cache \$upstream_http_set_cookie;$/m);
  });

  it('keeps the hot entries of the hashed variant open (open_file_cache), bounded, and not in the plain variant', () => {
    const snippet = (name: string) => readFileSync(join(ROOT, 'nginx/snippets', name), 'utf8');
    const open = /^open_file_cache max=(\d+) inactive=(\d+)s;$/m.exec(snippet('authz-cache.conf'));
    expect(open).not.toBeNull();
    // Open files per worker, beside its connections: well under a common 1024 file limit.
    expect(Number(open![1])).toBeLessThanOrEqual(256);
    // A file kept open outlives its entry by at most this long (the zone's inactive= in nginx/README.md is 10 s).
    expect(Number(open![2])).toBeLessThanOrEqual(10);
    // The plain variant's files hold credentials: no open file may keep one alive after NGINX deletes it.
    expect(snippet('authz-cache-plain.conf')).not.toMatch(/open_file_cache/);
    expect(snippet('authz-cache-directives.conf')).not.toMatch(/open_file_cache/);
  });
});
