#!/usr/bin/env bash
# NGINX for the stack: renders nginx/nginx.conf.template into .stack/nginx/conf/, copies nginx/snippets/, runs as the
# current user with -p/-c (pid and temp files under .stack/nginx). STACK_AUTHZ=stub points the nginx_authz upstream at a
# TEST-ONLY stub (allows any request that has an Authorization header) instead of the real service.
# Usage: scripts/stack/nginx.sh start|stop|reload|status|render|logs
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
NAME=nginx
PREFIX="$STACK_DIR/nginx"
CONF="$PREFIX/conf/nginx.conf"
LOGF="$STACK_DIR/logs/nginx-stdout.log"

render() {
  load_ports
  for v in MLFLOW_PORT MINIO_PORT; do [[ -n "${!v:-}" ]] || die "$v unknown: start ${v%_PORT} first"; done
  ensure_port NGINX_MLFLOW_PORT "$NAME"; ensure_port NGINX_S3_PORT "$NAME"; ensure_port NGINX_STATUS_PORT "$NAME"
  ensure_port NGINX_LOAD_TEST_PORT "$NAME"   # TEST-ONLY load-test front (scripts/soak.mjs, scripts/chaos.mjs)
  local upstream user_directive=""
  mkdir -p "$PREFIX"/{conf/conf.d,conf/snippets,temp,logs} "$STACK_DIR/logs"
  rm -f "$PREFIX"/conf/conf.d/*.conf
  if [[ "${STACK_AUTHZ:-service}" == stub ]]; then
    ensure_port STUB_AUTHZ_PORT "$NAME"
    upstream="127.0.0.1:$STUB_AUTHZ_PORT"
    sed -e "s|@@STUB_AUTHZ_PORT@@|$STUB_AUTHZ_PORT|g" -e "s|@@LOG_DIR@@|$STACK_DIR/logs|g" \
      "$REPO_ROOT/nginx/authz-stub.conf.template" > "$PREFIX/conf/conf.d/authz-stub.conf"
    log "nginx: WARNING STACK_AUTHZ=stub: nginx_authz upstream is a TEST-ONLY stub that allows any Authorization header"
  else
    ensure_port AUTHZ_PORT authz
    upstream="127.0.0.1:$AUTHZ_PORT"
    local sock; sock="$(authz_socket)"
    if [[ -n "$sock" ]]; then
      upstream="unix:$sock"   # STACK_AUTHZ_LISTEN=unix (scripts/stack/authz.sh)
    # Two replicas (AUTHZ_REPLICAS=2): round robin, no stickiness; NGINX passes a request the first refuses to the next.
    elif [[ "$(cat "$STACK_DIR/replicas" 2>/dev/null || echo 1)" == 2 ]]; then
      ensure_port AUTHZ2_PORT authz2
      upstream="127.0.0.1:$AUTHZ_PORT max_fails=1 fail_timeout=2s; server 127.0.0.1:$AUTHZ2_PORT max_fails=1 fail_timeout=2s"
    fi
  fi
  [[ $(id -u) -eq 0 ]] && user_directive="user root;   # rendered because the stack runs as root; workers keep the current user"
  cp "$REPO_ROOT"/nginx/snippets/*.conf "$PREFIX/conf/snippets/"
  sed -e "s|@@USER_DIRECTIVE@@|$user_directive|" -e "s|@@PREFIX@@|$PREFIX|g" -e "s|@@LOG_DIR@@|$STACK_DIR/logs|g" \
      -e "s|@@AUTHZ_UPSTREAM@@|$upstream|g" -e "s|@@MLFLOW_PORT@@|$MLFLOW_PORT|g" -e "s|@@MINIO_PORT@@|$MINIO_PORT|g" \
      -e "s|@@NGINX_MLFLOW_PORT@@|$NGINX_MLFLOW_PORT|g" -e "s|@@NGINX_S3_PORT@@|$NGINX_S3_PORT|g" \
      -e "s|@@NGINX_STATUS_PORT@@|$NGINX_STATUS_PORT|g" -e "s|@@NGINX_LOAD_TEST_PORT@@|$NGINX_LOAD_TEST_PORT|g" -e "s|@@S3_GATEWAY_REFERER@@|$(s3_gateway_secret)|g" \
      "$REPO_ROOT/nginx/nginx.conf.template" > "$CONF.new"
  grep -q '@@' "$CONF.new" && die "unrendered placeholder in $CONF.new: $(grep -o '@@[A-Z_]*@@' "$CONF.new" | sort -u | tr '\n' ' ')"
  mv "$CONF.new" "$CONF"; chmod 600 "$CONF"   # holds the S3 gateway secret
  "$NGINX_BIN" -t -q -p "$PREFIX" -c "$CONF" -e "$STACK_DIR/logs/nginx-error.log" || die "nginx -t failed for $CONF"
}

start() {
  if svc_running "$NAME"; then load_ports; log "$NAME already running (pid $(svc_pid $NAME)); use reload to apply changes"; return 0; fi
  render
  : > "$LOGF"
  log "$NAME: starting (MLflow front 127.0.0.1:$NGINX_MLFLOW_PORT, S3 front 127.0.0.1:$NGINX_S3_PORT)"
  start_bg "$NAME" "$LOGF" "$NGINX_BIN" -p "$PREFIX" -c "$CONF" -e "$STACK_DIR/logs/nginx-error.log"
  wait_http "$NAME" "http://127.0.0.1:$NGINX_STATUS_PORT/healthz" 20 "$STACK_DIR/logs/nginx-error.log" || { stop_svc "$NAME"; exit 1; }
}

case "${1:-}" in
  start) start ;;
  stop) stop_svc "$NAME" 10 ;;
  reload) render; svc_running "$NAME" && kill -HUP "$(svc_pid $NAME)" && log "nginx: reloaded" ;;
  render) render; echo "$CONF" ;;
  status) load_ports; if svc_running "$NAME"; then echo "$NAME: running pid $(svc_pid $NAME) mlflow http://127.0.0.1:$NGINX_MLFLOW_PORT s3 http://127.0.0.1:$NGINX_S3_PORT"; else echo "$NAME: stopped"; exit 3; fi ;;
  logs) tail -n "${2:-100}" "$STACK_DIR/logs/nginx-error.log" ;;
  *) echo "usage: $0 start|stop|reload|status|render|logs" >&2; exit 2 ;;
esac
