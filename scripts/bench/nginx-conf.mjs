/**
 * The NGINX configuration of `npm run bench:nginx`: one trivial upstream (`return 200` in its own server, on a unix
 * socket) behind front servers that differ only in their auth: none, auth_request to nginx-authz, the same
 * behind an NGINX decision cache, auth_request to oauth2-proxy's /oauth2/auth, and "floor": an auth_request whose
 * subrequest NGINX answers itself (`return 204`), what any auth_request design costs at the least. The nginx-authz decision
 * locations use the repo's own snippets (nginx/snippets/authz-subrequest.conf), so the bench measures what users run.
 */

/**
 * @param {object} o
 * @param {string} o.prefix      NGINX prefix dir (pid, temp, logs, sockets)
 * @param {string} o.snippets    dir holding a copy of nginx/snippets
 * @param {string} o.authz       upstream address of nginx-authz: `unix:/path` or `127.0.0.1:port`
 * @param {number} o.authzKeepalive  idle keepalive connections NGINX keeps to nginx-authz
 * @param {string} o.oauth2proxy `127.0.0.1:port`
 * @param {{none:number, floor:number, authz:number, cached:number, oauth2proxy:number}} o.ports
 * @param {string} o.user        `user root;` when running as root (workers keep the current user), else empty
 * @param {boolean} o.setMisc    hash the credentials with set-misc's set_md5 (Debian libnginx-mod-http-set-misc)
 * @param {string} [o.authzB]   a second nginx-authz (variant B of an A/B comparison), same snippets, own front
 * @param {number} [o.authzBKeepalive]
 * @param {string} o.cacheDir    the decision cache's directory (tmpfs, as nginx/README.md advises)
 * @param {string} [o.cachedBExtra] NGINX directives added to a second cached front's /auth (front "cachedB"): an A/B of
 *   a tuning of the decision location in one interleaved run
 * @param {string} [o.cachedBSnippet] a snippet (in o.snippets) the "cachedB" front includes instead of the shipped one
 */
export function renderBenchConf(o) {
  // As documented: NDK + set-misc hash the credentials in the key (authz-cache.conf); without them, the plain variant.
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

    # 1b. the floor of any auth_request design: a subrequest NGINX answers itself (no proxying, no cache, no service)
    server {
        listen 127.0.0.1:${o.ports.floor};
        location = /auth { internal; return 204; }
        location / {
            auth_request /auth;
            proxy_pass http://bench_app; proxy_http_version 1.1; proxy_set_header Connection "";
        }
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

    # 3. auth_request to nginx-authz behind the NGINX decision cache, exactly as nginx/README.md ("Decision cache")
    # tells adopters: the zone in the http block (here on tmpfs, like /run there), the shipped snippet in /auth.
    proxy_cache_path ${o.cacheDir} levels=1:2 keys_zone=authz_decisions:2m max_size=32m inactive=10s use_temp_path=off;
${cachedFront(o, o.ports.cached, '')}${o.cachedBExtra === undefined ? '' : cachedFront(o, o.ports.cachedB, o.cachedBExtra, o.cachedBSnippet)}
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

/** One front whose /auth is the shipped decision-cache snippet (plus `extra` directives, for an A/B of a tuning). */
function cachedFront(o, port, extra, snippet) {
  return `    server {
        listen 127.0.0.1:${port};
        location = /auth {
            include snippets/${snippet ?? (o.setMisc ? 'authz-cache.conf' : 'authz-cache-plain.conf')};
${extra ? `            ${extra}\n` : ''}            proxy_pass http://nginx_authz/auth;
        }
        location / {
            auth_request /auth;
            proxy_pass http://bench_app; proxy_http_version 1.1; proxy_set_header Connection "";
        }
    }
`;
}
