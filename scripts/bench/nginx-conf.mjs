/**
 * The NGINX configuration of `npm run bench:nginx`: one trivial upstream (`return 200` in its own server, on a unix
 * socket) behind four front servers that differ only in their auth: none, auth_request to nginx-authz, the same
 * behind an NGINX decision cache, and auth_request to oauth2-proxy's /oauth2/auth. The nginx-authz decision
 * locations use the repo's own snippets (nginx/snippets/authz-subrequest.conf), so the bench measures what users run.
 */

/**
 * @param {object} o
 * @param {string} o.prefix      NGINX prefix dir (pid, temp, logs, sockets)
 * @param {string} o.snippets    dir holding a copy of nginx/snippets
 * @param {string} o.authz       upstream address of nginx-authz: `unix:/path` or `127.0.0.1:port`
 * @param {number} o.authzKeepalive  idle keepalive connections NGINX keeps to nginx-authz
 * @param {string} o.oauth2proxy `127.0.0.1:port`
 * @param {{none:number, authz:number, cached:number, oauth2proxy:number}} o.ports
 * @param {string} o.user        `user root;` when running as root (workers keep the current user), else empty
 * @param {boolean} o.setMisc    hash the credentials with set-misc's set_sha1 (Debian libnginx-mod-http-set-misc)
 * @param {string} [o.authzB]   a second nginx-authz (variant B of an A/B comparison), same snippets, own front
 * @param {number} [o.authzBKeepalive]
 */
export function renderBenchConf(o) {
  const modules = o.setMisc
    ? 'load_module /usr/lib/nginx/modules/ndk_http_module.so;\nload_module /usr/lib/nginx/modules/ngx_http_set_misc_module.so;\n'
    : '';
  return `# Rendered by scripts/bench/nginx.mjs for one benchmark run. TEST-ONLY: 127.0.0.1, stops with the run.
${modules}${o.user}
worker_processes auto;
pid ${o.prefix}/nginx.pid;
error_log ${o.prefix}/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path ${o.prefix}/temp/body;
    proxy_temp_path ${o.prefix}/temp/proxy;
    fastcgi_temp_path ${o.prefix}/temp/fastcgi;
    uwsgi_temp_path ${o.prefix}/temp/uwsgi;
    scgi_temp_path ${o.prefix}/temp/scgi;
    keepalive_requests 100000;

    upstream nginx_authz {
        server ${o.authz};
        keepalive ${o.authzKeepalive};
        keepalive_requests 100000;
        keepalive_timeout 60s;
    }
${
  o.authzB
    ? `    upstream nginx_authz_b {
        server ${o.authzB};
        keepalive ${o.authzBKeepalive ?? o.authzKeepalive};
        keepalive_requests 100000;
        keepalive_timeout 60s;
    }
    # 2b. variant B of nginx-authz (an A/B comparison in one run)
    server {
        listen 127.0.0.1:${o.ports.authzB};
        location = /auth {
            include snippets/authz-subrequest.conf;
            proxy_pass http://nginx_authz_b/auth;
        }
        location / {
            auth_request /auth;
            proxy_pass http://bench_app; proxy_http_version 1.1; proxy_set_header Connection "";
        }
    }
`
    : ''
}    upstream oauth2_proxy {
        server ${o.oauth2proxy};
        keepalive ${o.authzKeepalive};
        keepalive_requests 100000;
    }
    upstream bench_app {
        server unix:${o.prefix}/app.sock;
        keepalive 64;
        keepalive_requests 100000;
    }
    # The trivial application every front proxies to; its body tells an allow from NGINX's own error pages.
    server {
        listen unix:${o.prefix}/app.sock;
        location / { default_type text/plain; return 200 "bench upstream\\n"; }
    }

    # 1. no auth
    server {
        listen 127.0.0.1:${o.ports.none};
        location / { proxy_pass http://bench_app; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }

    # 2. auth_request to nginx-authz (the repo's snippets, as in production)
    server {
        listen 127.0.0.1:${o.ports.authz};
        include ${o.snippets}/authz-location.conf;
        location / {
            auth_request /auth;
            proxy_pass http://bench_app; proxy_http_version 1.1; proxy_set_header Connection "";
        }
    }

    # 3. auth_request to nginx-authz behind an NGINX decision cache
    # ---- BEGIN decision cache (bench-local; after merge: replace this block by the repo's snippet,
    # ---- \`include ${o.snippets}/authz-cache.conf;\`, and its proxy_cache_path) ----------------------------------
    proxy_cache_path ${o.prefix}/authz-cache levels=1:2 keys_zone=authz_decisions:10m max_size=64m inactive=60s use_temp_path=off;
    server {
        listen 127.0.0.1:${o.ports.cached};
        location = /auth {
            internal;
            # NGINX writes the key in clear into each cache file: never the credentials themselves, only a hash.
            ${o.setMisc ? 'set_sha1 $authz_credentials_sha1 "$http_authorization|$http_cookie";' : 'set $authz_credentials_sha1 "$http_authorization|$http_cookie"; # no set-misc: bench only, cache dir is private to the run'}
            proxy_cache authz_decisions;
            proxy_cache_key "$authz_credentials_sha1|$request_method|$request_uri";
            proxy_cache_valid 200 5s;            # allows only; a 401/403 is never kept
            proxy_cache_lock on;
            proxy_ignore_headers Cache-Control Expires;   # X-Accel-Expires (the service's per-answer bound) still applies
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            client_max_body_size 0;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Original-Remote-Addr $remote_addr;
            proxy_set_header Host $http_host;
            proxy_set_header X-Authz-Service "";
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://nginx_authz/auth;
        }
        location / {
            auth_request /auth;
            proxy_pass http://bench_app; proxy_http_version 1.1; proxy_set_header Connection "";
        }
    }
    # ---- END decision cache ------------------------------------------------------------------------------------

    # 4. auth_request to oauth2-proxy (JWT bearer mode)
    server {
        listen 127.0.0.1:${o.ports.oauth2proxy};
        location = /oauth2/auth {
            internal;
            proxy_pass http://oauth2_proxy;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Host $host;
            proxy_set_header X-Original-URI $request_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location / {
            auth_request /oauth2/auth;
            proxy_pass http://bench_app; proxy_http_version 1.1; proxy_set_header Connection "";
        }
    }
}
`;
}
