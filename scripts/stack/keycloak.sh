#!/usr/bin/env bash
# Keycloak (start-dev, in-memory H2, realm "mlflow" imported from keycloak/mlflow-realm.json on every start).
# Usage: scripts/stack/keycloak.sh start|stop|kill|status|restart|logs   (kill: SIGKILL, no shutdown; for scripts/chaos.mjs)
# KC_MODE=optimized (default): `kc.sh start --optimized` on a home that install.sh pre-built with `kc.sh build`
#   (same build options as below): production mode, plain HTTP on loopback, same realm import, no Quarkus
#   augmentation at start (~45 s to ready instead of ~65-145 s on this 2-core machine).
# KC_MODE=dev: `kc.sh start-dev` (re-runs the augmentation at every start).
# Binds HTTP and the management (health) interface to 127.0.0.1 on free ports (KC_PORT, KC_MGMT_PORT in .stack/ports.env).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NAME=keycloak
KC_STATE="$STACK_DIR/keycloak"
KC_RUN_HOME="$KC_STATE/home"          # private copy of the cached distribution (start-dev writes into it)
LOGF="$STACK_DIR/logs/keycloak.log"
START_TIMEOUT="${KC_START_TIMEOUT:-240}"

prepare_home() {
  [[ -x "$KEYCLOAK_HOME/bin/kc.sh" ]] || die "Keycloak $KEYCLOAK_VERSION not installed; run scripts/stack/install.sh keycloak"
  if [[ ! -f "$KC_RUN_HOME/version.txt" ]] || ! cmp -s "$KC_RUN_HOME/version.txt" "$KEYCLOAK_HOME/version.txt"; then
    rm -rf "$KC_RUN_HOME"; mkdir -p "$KC_STATE"; cp -a "$KEYCLOAK_HOME" "$KC_RUN_HOME"
  fi
  mkdir -p "$KC_RUN_HOME/data/import"
  rm -f "$KC_RUN_HOME"/data/import/*.json
  # Placeholders ${NGINX_AUTHZ_CLIENT_SECRET:...}, ${KC_MLFLOW_ACCESS_TOKEN_LIFESPAN:...} and ${NGINX_AUTHZ_BACKCHANNEL_LOGOUT_URL:...} are resolved by Keycloak from env at import.
  cp "$REPO_ROOT/keycloak/mlflow-realm.json" "$KC_RUN_HOME/data/import/mlflow-realm.json"
}

start() {
  if svc_running "$NAME"; then load_ports; log "$NAME already running (pid $(svc_pid $NAME), port $KC_PORT)"; return 0; fi
  ensure_port KC_PORT "$NAME"; ensure_port KC_MGMT_PORT "$NAME"
  # The clients' back-channel logout URL (keycloak/mlflow-realm.json): the service's path on the NGINX MLflow site,
  # which proxies /oauth2/backchannel-logout to nginx-authz without auth_request (nginx/README.md).
  ensure_port NGINX_MLFLOW_PORT nginx
  export NGINX_AUTHZ_BACKCHANNEL_LOGOUT_URL="${NGINX_AUTHZ_BACKCHANNEL_LOGOUT_URL:-http://127.0.0.1:$NGINX_MLFLOW_PORT/oauth2/backchannel-logout}"
  prepare_home
  local jh; jh="$(pick_java_home)"
  mkdir -p "$STACK_DIR/logs"; : > "$LOGF"
  log "$NAME: starting on 127.0.0.1:$KC_PORT (management 127.0.0.1:$KC_MGMT_PORT), JAVA_HOME=$jh"
  local t0=$SECONDS
  # --db=dev-mem: fresh state every start, so the realm file is always what runs (import skips existing realms).
  local run_opts=(--import-realm --http-host=127.0.0.1 --http-port="$KC_PORT"
    --http-management-host=127.0.0.1 --http-management-port="$KC_MGMT_PORT" --hostname="http://127.0.0.1:$KC_PORT")
  local cmd
  case "${KC_MODE:-optimized}" in
    dev) rm -f "$KC_RUN_HOME/.nginx-authz-build"   # start-dev re-augments for the dev profile
         cmd=(start-dev "${KC_BUILD_OPTS[@]}" "${run_opts[@]}") ;;
    optimized)
      kc_build "$KC_RUN_HOME" "$LOGF"   # no-op when the cached home was built by install.sh with the same options
      cmd=(start --optimized --http-enabled=true "${run_opts[@]}") ;;
    *) die "KC_MODE must be dev or optimized" ;;
  esac
  # shellcheck disable=SC2086
  JAVA_HOME="$jh" start_bg "$NAME" "$LOGF" "$KC_RUN_HOME/bin/kc.sh" "${cmd[@]}" ${KC_EXTRA_ARGS:-}
  wait_http "$NAME" "http://127.0.0.1:$KC_MGMT_PORT/health/ready" "$START_TIMEOUT" "$LOGF" || { stop_svc "$NAME"; exit 1; }
  wait_http "$NAME" "http://127.0.0.1:$KC_PORT/realms/mlflow/.well-known/openid-configuration" 60 "$LOGF" || { stop_svc "$NAME"; exit 1; }
  echo "$((SECONDS - t0))" > "$KC_STATE/last-startup-seconds"
  log "$NAME: ready in $((SECONDS - t0))s; issuer http://127.0.0.1:$KC_PORT/realms/mlflow"
}

# SIGKILL the whole process group at once (a crash, not a shutdown: no goodbye to open connections).
kill_now() {
  local p i; p="$(svc_pid "$NAME")"
  if [[ -z "$p" ]] || ! kill -0 "$p" 2>/dev/null; then rm -f "$(pidfile "$NAME")"; log "$NAME: not running"; return 0; fi
  log "$NAME: SIGKILL (pgid $p)"
  kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  rm -f "$(pidfile "$NAME")"
}

status() {
  load_ports
  if svc_running "$NAME"; then
    echo "$NAME: running pid $(svc_pid $NAME) http://127.0.0.1:${KC_PORT:-?} (health http://127.0.0.1:${KC_MGMT_PORT:-?}/health/ready: $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${KC_MGMT_PORT:-0}/health/ready" || true))"
  else echo "$NAME: stopped"; return 3; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop_svc "$NAME" 30 ;;
  restart) stop_svc "$NAME" 30; start ;;
  kill) kill_now ;;
  status) status ;;
  logs) tail -n "${2:-100}" "$LOGF" ;;
  *) echo "usage: $0 start|stop|kill|status|restart|logs" >&2; exit 2 ;;
esac
