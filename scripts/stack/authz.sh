#!/usr/bin/env bash
# nginx-authz (this repo's service): `node dist/main.js` on 127.0.0.1:AUTHZ_PORT against the stack's Keycloak,
# with browser login (/oauth2/*) and Basic credentials (password grant on the public mlflow-cli client) on.
# Builds first (`npm ci` if node_modules is missing, then `npm run build`) when dist/main.js is missing or older than
# any file under src/ (STACK_BUILD=0 skips, STACK_BUILD=1 forces).
# Several replicas: with AUTHZ_REPLICAS=2 (remembered in $STACK_DIR/replicas by up.sh) a second replica `authz2` runs on
# AUTHZ2_PORT (log nginx-authz2.log); both use `session.store: redis` (scripts/stack/redis.sh) and one generated
# session secret ($STACK_DIR/session.secret, DEVELOPMENT value), so a session opened on one is served by the other.
# Usage: scripts/stack/authz.sh start|stop|restart|status|logs|build, or start-one|stop-one 1|2 (one replica)
# STACK_AUTHZ_LISTEN=unix: replica 1 listens on $STACK_DIR/run/authz.sock (AUTHZ_LISTEN) and NGINX's upstream points
# there (scripts/stack/nginx.sh); tests that call the service's port directly (NGINX_AUTHZ_URL) do not apply then.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPLICAS="$(cat "$STACK_DIR/replicas" 2>/dev/null || echo "${AUTHZ_REPLICAS:-1}")"
[[ "$REPLICAS" == 1 || "$REPLICAS" == 2 ]] || die "AUTHZ_REPLICAS must be 1 or 2"
AUTHZ_SOCK="$(authz_socket)"

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

# The shared settings of several replicas: Redis and one session secret.
shared_env() {
  ((REPLICAS > 1)) || return 0
  load_ports; [[ -n "${REDIS_PORT:-}" ]] || die "REDIS_PORT unknown: start Redis first (scripts/stack/redis.sh start)"
  local secretf="$STACK_DIR/session.secret"
  [[ -s "$secretf" ]] || { (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$secretf"); }
  # AUTHZ_SESSION_STORE=memory from the caller: one replica on the memory store (scripts/bench/session-store.mjs compares the two).
  export AUTHZ_SESSION_STORE="${AUTHZ_SESSION_STORE:-redis}" AUTHZ_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" AUTHZ_SESSION_SECRET
  AUTHZ_REDIS_PASSWORD="$("$STACK_SCRIPTS_DIR/redis.sh" password)"; export AUTHZ_REDIS_PASSWORD
  AUTHZ_SESSION_SECRET="$(cat "$secretf")"
}

# start_one 1|2: replica 1 is `authz` on AUTHZ_PORT, replica 2 `authz2` on AUTHZ2_PORT.
start_one() {
  local n="$1" NAME=authz PORTVAR=AUTHZ_PORT LOGF="$STACK_DIR/logs/nginx-authz.log"
  [[ "$n" == 2 ]] && { NAME=authz2; PORTVAR=AUTHZ2_PORT; LOGF="$STACK_DIR/logs/nginx-authz2.log"; }
  if svc_running "$NAME"; then load_ports; log "$NAME already running (pid $(svc_pid $NAME), port ${!PORTVAR})"; return 0; fi
  load_ports; [[ -n "${KC_PORT:-}" ]] || die "KC_PORT unknown: start Keycloak first"
  ensure_port "$PORTVAR" "$NAME"
  local port="${!PORTVAR}"
  shared_env
  [[ -f "$REPO_ROOT/dist/main.js" ]] || die "dist/main.js missing"
  mkdir -p "$STACK_DIR/logs"; : > "$LOGF"
  log "$NAME: starting on 127.0.0.1:$port (issuer http://127.0.0.1:$KC_PORT/realms/mlflow, ${AUTHZ_SESSION_STORE:-memory} session store)"
  # AUTHZ_* values a caller exported win, except the ones that tie the service to this stack. The scripts' own
  # AUTHZ_REPLICAS / AUTHZ_START_TIMEOUT are not the service's (it refuses unknown AUTHZ_* variables).
  local sock=""; [[ "$n" == 1 ]] && sock="$AUTHZ_SOCK"
  ( unset AUTHZ_REPLICAS AUTHZ_START_TIMEOUT; if [[ -n "$sock" ]]; then export AUTHZ_LISTEN="unix:$sock"; fi; cd "$REPO_ROOT" && \
    AUTHZ_ISSUER_URL="http://127.0.0.1:$KC_PORT/realms/mlflow" AUTHZ_CLIENT_ID=nginx-authz \
    AUTHZ_CLIENT_SECRET="$NGINX_AUTHZ_CLIENT_SECRET" AUTHZ_HOST=127.0.0.1 AUTHZ_PORT="$port" \
    AUTHZ_LOG_LEVEL="${AUTHZ_LOG_LEVEL:-info}" MALLOC_ARENA_MAX=2 \
    AUTHZ_LOGIN_ENABLED="${AUTHZ_LOGIN_ENABLED:-true}" AUTHZ_BASIC_ENABLED="${AUTHZ_BASIC_ENABLED:-true}" \
    AUTHZ_BASIC_CLIENT_ID="${AUTHZ_BASIC_CLIENT_ID:-mlflow-cli}" \
    start_bg "$NAME" "$LOGF" node --max-old-space-size=96 --max-semi-space-size=2 --expose-gc dist/main.js )   # as `npm start`
  WAIT_UNIX_SOCKET="$sock" wait_http "$NAME" "http://127.0.0.1:$port/readyz" "${AUTHZ_START_TIMEOUT:-60}" "$LOGF" || { stop_svc "$NAME"; exit 1; }
}

start() {
  build
  local n; for ((n = 1; n <= REPLICAS; n++)); do start_one "$n"; done
}

stop() { stop_svc authz2 10; stop_svc authz 10; }

status_one() {
  local name="$1" port="$2"
  if svc_running "$name"; then echo "$name: running pid $(svc_pid "$name") http://127.0.0.1:$port (readyz $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true))"; else echo "$name: stopped"; return 3; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  start-one) build; start_one "${2:?replica 1 or 2}" ;;
  stop-one) if [[ "${2:?replica 1 or 2}" == 2 ]]; then stop_svc authz2 10; else stop_svc authz 10; fi ;;
  build) build ;;
  status) load_ports; rc=0; status_one authz "${AUTHZ_PORT:-}" || rc=$?; ((REPLICAS < 2)) || status_one authz2 "${AUTHZ2_PORT:-}" || rc=$?; exit "$rc" ;;
  logs) tail -n "${2:-100}" "$STACK_DIR/logs/nginx-authz.log" ;;
  *) echo "usage: $0 start|stop|restart|status|build|logs|start-one N|stop-one N" >&2; exit 2 ;;
esac
