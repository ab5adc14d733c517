/**
 * A real NGINX configured the way ingress-nginx's controller renders an Ingress that carries
 * the annotations of docs/ingress-nginx.md (auth-url, auth-signin, auth-response-headers):
 * written here from reading the controller's template, not copied from it. What matters is the
 * contract the service sees and what the upstream receives:
 *
 * - an internal auth location per protected path, whose subrequest carries every client header
 *   (the controller passes request headers on) plus X-Original-URL `$scheme://$http_host$request_uri`,
 *   X-Original-Method, X-Sent-From, X-Real-IP, X-Forwarded-For, X-Auth-Request-Redirect, and an
 *   emptied X-Forwarded-Proto; Host is the auth-url's host;
 * - `auth_request_set` of each auth-response-header, then `proxy_set_header` of it upstream;
 * - `error_page 401` to a named location answering 302 to auth-signin with
 *   `rd=$pass_access_scheme://$http_host$escaped_request_uri` (set-misc's set_escape_uri);
 * - a second Ingress without auth annotations routing `/oauth2/` to the service (the sign-in
 *   endpoints), with the X-Forwarded-* headers the controller sets on proxied requests.
 *
 * Its subrequests leave from 127.0.0.2 (`proxy_bind`, still loopback): that is "the controller"
 * the service trusts (`ingress.trustedProxies`), while the test itself calls from 127.0.0.1.
 *
 * With `authCache` it also renders the auth-cache-key / auth-cache-duration annotations as the
 * controller does: `proxy_cache` on the auth location, one `proxy_cache_valid` per duration, and
 * the key `<host><auth location><annotation>` (the controller hashes that string with Lua before
 * using it; the plain string selects the same entries).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { IDENTITY_HEADERS } from '../../src/auth/respond.js';
import { freePort } from './own-service.js';
import { ROOT, stack } from './stack.js';

/** The auth-response-headers annotation's list: every identity header the service answers with (test/docs/ingress-nginx.test.ts checks the doc says the same). */
export const RESPONSE_HEADERS: readonly string[] = Object.values(IDENTITY_HEADERS);

/** The address the front's subrequests come from: the only one the service is told to trust. */
export const CONTROLLER_ADDRESS = '127.0.0.2';

export interface IngressFront {
  url: string;
  /** One JSON line per request proxied to MLflow, with the identity headers sent upstream. */
  upstreamLog: string;
  stop(): Promise<void>;
}

/** The auth-cache-key annotation (NGINX variables) and the auth-cache-duration annotation's entries. */
export interface AuthCache {
  key: string;
  durations: string[];
}

function conf(dir: string, port: number, authzPort: number, authCache: AuthCache | undefined): string {
  const authLocation = '/_external-auth-Lw-Prefix'; // the controller names it after the Ingress path ("/" base64)
  const signin = `http://127.0.0.1:${port}/oauth2/start`;
  const mlflowHost = new URL(stack.MLFLOW_URL!).host; // the upstream-vhost annotation: a host MLflow's --allowed-hosts holds
  const sets = RESPONSE_HEADERS.flatMap((header, i) => [
    `auth_request_set $authHeader${i} $upstream_http_${header.toLowerCase().replaceAll('-', '_')};`,
    `proxy_set_header '${header}' $authHeader${i};`,
  ]);
  const cacheZone =
    authCache === undefined ? '' : `proxy_cache_path ${dir}/auth-cache levels=1:2 keys_zone=auth_cache:1m inactive=30m use_temp_path=off;`;
  const cache =
    authCache === undefined
      ? []
      : [
          'proxy_cache auth_cache;',
          ...authCache.durations.map((duration) => `proxy_cache_valid ${duration};`),
          `proxy_cache_key "127.0.0.1:${port}${authLocation}${authCache.key}";`,
          'proxy_buffering on;',
        ];
  const logged = RESPONSE_HEADERS.map((header, i) => `"${header.toLowerCase().replaceAll('-', '_')}":"$authHeader${i}"`).join(',');
  return `
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_set_misc_module.so;
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  client_body_temp_path ${dir}/temp/body;
  proxy_temp_path ${dir}/temp/proxy;
  fastcgi_temp_path ${dir}/temp/fastcgi;
  uwsgi_temp_path ${dir}/temp/uwsgi;
  scgi_temp_path ${dir}/temp/scgi;
  access_log ${dir}/access.log;
  uninitialized_variable_warn off;
  ${cacheZone}
  # Only requests MLflow answered are logged (ingress-nginx answers a refusal in the same location).
  map $upstream_addr $proxied { '' 0; default 1; }
  log_format upstream escape=json '{"method":"$request_method","uri":"$request_uri","status":$status,"upstream":"$upstream_addr",'
    '"client_sent_x_auth_request_user":"$http_x_auth_request_user",${logged}}';
  map $http_host $best_http_host { default $http_host; '' $host; }
  map '' $pass_access_scheme { default $scheme; }
  server {
    listen 127.0.0.1:${port};
    location = ${authLocation} {
      internal;
      ${cache.join('\n      ')}
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Forwarded-Proto "";
      proxy_set_header X-Request-ID $request_id;
      proxy_set_header Host 127.0.0.1:${authzPort};
      proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Sent-From "nginx-ingress-controller";
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Auth-Request-Redirect $request_uri;
      proxy_pass_request_headers on;
      proxy_http_version 1.1;
      proxy_bind ${CONTROLLER_ADDRESS};
      set $target http://127.0.0.1:${authzPort}/auth;
      proxy_pass $target;
    }
    location @signin {
      internal;
      add_header Set-Cookie $auth_cookie;
      return 302 ${signin}?rd=$pass_access_scheme://$http_host$escaped_request_uri;
    }
    location /oauth2/ {
      proxy_set_header Host $best_http_host;
      proxy_set_header X-Forwarded-Host $best_http_host;
      proxy_set_header X-Forwarded-Proto $pass_access_scheme;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_pass http://127.0.0.1:${authzPort};
    }
    location / {
      access_log ${dir}/upstream.log upstream if=$proxied;
      auth_request ${authLocation};
      auth_request_set $auth_cookie $upstream_http_set_cookie;
      add_header Set-Cookie $auth_cookie;
      ${sets.join('\n      ')}
      set_escape_uri $escaped_request_uri $request_uri;
      error_page 401 = @signin;
      client_max_body_size 0;
      proxy_set_header Host ${mlflowHost};
      proxy_pass http://127.0.0.1:${stack.MLFLOW_PORT};
    }
  }
}
`;
}

/** Starts that NGINX on a free loopback port in front of the stack's MLflow and the service on `authzPort`. */
export async function startIngressFront(authzPort: number, options: { authCache?: AuthCache } = {}): Promise<IngressFront> {
  const dir = `${process.env.STACK_DIR ?? `${ROOT}/.stack`}/fronts/ingress-nginx${options.authCache === undefined ? '' : '-cache'}`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(`${dir}/temp`, { recursive: true });
  const port = await freePort();
  writeFileSync(`${dir}/nginx.conf`, conf(dir, port, authzPort, options.authCache));
  writeFileSync(`${dir}/upstream.log`, '');
  const bin = process.env.NGINX_BIN ?? '/usr/sbin/nginx';
  const child: ChildProcess = spawn(bin, ['-p', dir, '-c', `${dir}/nginx.conf`, '-e', `${dir}/error.log`], { stdio: 'ignore' });
  // Never outlive the test run, even when it dies without its afterAll.
  const kill = () => child.kill('SIGTERM');
  process.once('exit', kill);
  const url = `http://127.0.0.1:${port}`;
  for (let waited = 0; ; waited += 100) {
    if (child.exitCode !== null) throw new Error(`nginx exited ${child.exitCode}: ${readFileSync(`${dir}/error.log`, 'utf8')}`);
    const up = await fetch(`${url}/health`, { redirect: 'manual' }).then(
      () => true,
      () => false,
    );
    if (up) break;
    if (waited > 15_000) {
      kill();
      throw new Error('nginx not listening after 15 s');
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    upstreamLog: `${dir}/upstream.log`,
    async stop() {
      process.removeListener('exit', kill);
      if (child.exitCode !== null) return;
      child.kill('SIGQUIT');
      await once(child, 'exit');
    },
  };
}
