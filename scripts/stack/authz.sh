#!/usr/bin/env bash
# nginx-authz (this repo's service): `node dist/main.js` on 127.0.0.1:AUTHZ_PORT against the stack's Keycloak,
# with browser login (/oauth2/*) and Basic credentials (password grant on the public mlflow-cli client) on.
# Builds first (`npm ci` if node_modules is missing, then `npm run build`) when dist/main.js is missing or older than
# any file under src/ (STACK_BUILD=0 skips, STACK_BUILD=1 forces).
# STACK_AUTHZ_LISTEN=unix: the service listens on $STACK_DIR/run/authz.sock (AUTHZ_LISTEN) and NGINX's upstream points
# there (scripts/stack/nginx.sh); tests that call the service's port directly (NGINX_AUTHZ_URL) do not apply then.
# Usage: scripts/stack/authz.sh start|stop|status|logs
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
NAME=authz
AUTHZ_SOCK="$(authz_socket)"
LOGF="$STACK_DIR/logs/nginx-authz.log"

build() {
  local need=0
  case "${STACK_BUILD:-auto}" in
    0) need=0 ;; 1) need=1 ;;
    *) if [[ ! -f "$REPO_ROOT/dist/main.js" ]] || [[ -n "$(find "$REPO_ROOT/src" -newer "$REPO_ROOT/dist/main.js" -type f -print -quit)" ]]; then need=1; fi ;;
  esac
  ((need)) || return 0
  command -v node >/dev/null || die "node not found"
  if [[ ! -d "$REPO_ROOT/node_modules" ]]; then log "authz: npm ci"; (cd "$REPO_ROOT" && npm ci --no-audit --no-fund) >&2; fi
  log "authz: npm run build"
  (cd "$REPO_ROOT" && npm run build) >&2 || die "npm run build failed (use STACK_AUTHZ=stub to check the rest of the stack without the service)"
}

start() {
  if svc_running "$NAME"; then load_ports; log "$NAME already running (pid $(svc_pid $NAME), port $AUTHZ_PORT)"; return 0; fi
  load_ports; [[ -n "${KC_PORT:-}" ]] || die "KC_PORT unknown: start Keycloak first"
  ensure_port AUTHZ_PORT "$NAME"
  build
  [[ -f "$REPO_ROOT/dist/main.js" ]] || die "dist/main.js missing"
  mkdir -p "$STACK_DIR/logs"; : > "$LOGF"
  log "$NAME: starting on 127.0.0.1:$AUTHZ_PORT (issuer http://127.0.0.1:$KC_PORT/realms/mlflow)"
  if [[ -n "$AUTHZ_SOCK" ]]; then export AUTHZ_LISTEN="unix:$AUTHZ_SOCK"; fi
  # AUTHZ_* values a caller exported win, except the ones that tie the service to this stack.
  ( cd "$REPO_ROOT" && \
    AUTHZ_ISSUER_URL="http://127.0.0.1:$KC_PORT/realms/mlflow" AUTHZ_CLIENT_ID=nginx-authz \
    AUTHZ_CLIENT_SECRET="$NGINX_AUTHZ_CLIENT_SECRET" AUTHZ_HOST=127.0.0.1 AUTHZ_PORT="$AUTHZ_PORT" \
    AUTHZ_LOG_LEVEL="${AUTHZ_LOG_LEVEL:-info}" MALLOC_ARENA_MAX=2 \
    AUTHZ_LOGIN_ENABLED="${AUTHZ_LOGIN_ENABLED:-true}" AUTHZ_BASIC_ENABLED="${AUTHZ_BASIC_ENABLED:-true}" \
    AUTHZ_BASIC_CLIENT_ID="${AUTHZ_BASIC_CLIENT_ID:-mlflow-cli}" \
    start_bg "$NAME" "$LOGF" node --max-old-space-size=96 --max-semi-space-size=2 dist/main.js )   # as `npm start`
  WAIT_UNIX_SOCKET="$AUTHZ_SOCK" wait_http "$NAME" "http://127.0.0.1:$AUTHZ_PORT/readyz" "${AUTHZ_START_TIMEOUT:-60}" "$LOGF" || { stop_svc "$NAME"; exit 1; }
}

case "${1:-}" in
  start) start ;;
  stop) stop_svc "$NAME" 10 ;;
  build) build ;;
  status) load_ports; if svc_running "$NAME"; then echo "$NAME: running pid $(svc_pid $NAME) http://127.0.0.1:$AUTHZ_PORT (readyz $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AUTHZ_PORT/readyz" || true))"; else echo "$NAME: stopped"; exit 3; fi ;;
  logs) tail -n "${2:-100}" "$LOGF" ;;
  *) echo "usage: $0 start|stop|status|build|logs" >&2; exit 2 ;;
esac
