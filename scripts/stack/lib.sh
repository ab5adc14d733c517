# shellcheck shell=bash
# Common helpers for the "real stack without Docker" scripts. Sourced, not executed.
# Everything binds to 127.0.0.1; runtime state lives under $STACK_DIR; downloads under $NGINX_AUTHZ_CACHE.

STACK_SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$STACK_SCRIPTS_DIR/../.." && pwd)"
export REPO_ROOT
export NGINX_AUTHZ_CACHE="${NGINX_AUTHZ_CACHE:-$HOME/.cache/nginx-authz}"
export STACK_DIR="${STACK_DIR:-$REPO_ROOT/.stack}"

# ---- pinned versions (change here only) ------------------------------------------------------
KEYCLOAK_VERSION="${KEYCLOAK_VERSION:-26.7.3}"
# github.com/minio/minio publishes no semver tags; this is the module proxy's @latest pseudo-version.
MINIO_MODULE_VERSION="${MINIO_MODULE_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"
MLFLOW_VERSION="${MLFLOW_VERSION:-3.17.2}"   # 3.18.0 is listed on PyPI but its mlflow-skinny==3.18.0 is not served
BOTO3_SPEC="${BOTO3_SPEC:-boto3>=1.34,<2}"
OAUTH2_PROXY_VERSION="${OAUTH2_PROXY_VERSION:-v7.15.6}"   # only for the NGINX benchmark (npm run bench:nginx)
# Deployment checks (test/deploy/): Prometheus + promtool and Helm built from the Go module proxy, the Kubernetes
# schema validator from PyPI, and the prometheus-operator CRDs from its Go module.
PROMETHEUS_MODULE_VERSION="${PROMETHEUS_MODULE_VERSION:-v0.316.0}"   # the module's tag for Prometheus 3.x
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
K8S_VALIDATE_SPEC="${K8S_VALIDATE_SPEC:-kubernetes-validate==1.37.0}"
PROMETHEUS_OPERATOR_VERSION="${PROMETHEUS_OPERATOR_VERSION:-v0.85.0}"   # the newest version of the root module the proxy serves

KEYCLOAK_HOME="${KEYCLOAK_HOME:-$NGINX_AUTHZ_CACHE/keycloak/keycloak-$KEYCLOAK_VERSION}"
STACK_VENV="${STACK_VENV:-$NGINX_AUTHZ_CACHE/venv-mlflow-$MLFLOW_VERSION}"
MINIO_BIN="${MINIO_BIN:-$NGINX_AUTHZ_CACHE/bin/minio-$MINIO_MODULE_VERSION}"
OAUTH2_PROXY_BIN="${OAUTH2_PROXY_BIN:-$NGINX_AUTHZ_CACHE/bin/oauth2-proxy-$OAUTH2_PROXY_VERSION}"
PROMETHEUS_BIN="${PROMETHEUS_BIN:-$NGINX_AUTHZ_CACHE/bin/prometheus-$PROMETHEUS_MODULE_VERSION}"
PROMTOOL_BIN="${PROMTOOL_BIN:-$NGINX_AUTHZ_CACHE/bin/promtool-$PROMETHEUS_MODULE_VERSION}"
HELM_BIN="${HELM_BIN:-$NGINX_AUTHZ_CACHE/bin/helm-$HELM_VERSION}"
K8S_VALIDATE_VENV="${K8S_VALIDATE_VENV:-$NGINX_AUTHZ_CACHE/venv-k8s-validate}"
PROMETHEUS_OPERATOR_CRDS="${PROMETHEUS_OPERATOR_CRDS:-$NGINX_AUTHZ_CACHE/prometheus-operator-crds-$PROMETHEUS_OPERATOR_VERSION}"
NGINX_BIN="${NGINX_BIN:-$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)}"

# ---- development defaults (NOT for production) ---------------------------------------------
export KC_BOOTSTRAP_ADMIN_USERNAME="${KC_BOOTSTRAP_ADMIN_USERNAME:-admin}"
export KC_BOOTSTRAP_ADMIN_PASSWORD="${KC_BOOTSTRAP_ADMIN_PASSWORD:-dev-only-admin-password}"
export NGINX_AUTHZ_CLIENT_SECRET="${NGINX_AUTHZ_CLIENT_SECRET:-dev-only-nginx-authz-secret}"
export MINIO_ROOT_USER="${MINIO_ROOT_USER:-minio-dev-root}"
export MINIO_ROOT_PASSWORD="${MINIO_ROOT_PASSWORD:-dev-only-minio-root-password}"
export KC_MLFLOW_ACCESS_TOKEN_LIFESPAN="${KC_MLFLOW_ACCESS_TOKEN_LIFESPAN:-300}"

# Keycloak build-time options used by the stack (kc.sh build for KC_MODE=optimized, and start-dev).
KC_BUILD_OPTS=(--db=dev-mem --health-enabled=true --metrics-enabled=false --cache=local)

# kc_build HOME LOGFILE: run `kc.sh build` with KC_BUILD_OPTS unless HOME was already built with them.
kc_build() {
  local home="$1" logf="$2" stamp="$1/.nginx-authz-build" want="${KC_BUILD_OPTS[*]}"
  [[ "$(cat "$stamp" 2>/dev/null)" == "$want" ]] && return 0
  log "keycloak: kc.sh build $want ($home)"
  JAVA_HOME="$(pick_java_home)" "$home/bin/kc.sh" build "${KC_BUILD_OPTS[@]}" >>"$logf" 2>&1 || { tail -n 40 "$logf" >&2; die "kc.sh build failed"; }
  echo "$want" > "$stamp"
}

STACK_ENV_FILE="$STACK_DIR/env"
STACK_PORTS_FILE="$STACK_DIR/ports.env"

log()  { printf '[stack %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die()  { log "ERROR: $*"; exit 1; }

# Pick a JDK for Keycloak 26.x (supports OpenJDK 17, 21, 25; 25 recommended). Explicit JAVA_HOME wins.
pick_java_home() {
  if [[ -n "${KC_JAVA_HOME:-}" ]]; then echo "$KC_JAVA_HOME"; return; fi
  local c
  for c in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25-jdk* /usr/lib/jvm/java-25-openjdk* \
           /usr/lib/jvm/temurin-21-jdk* /usr/lib/jvm/java-21-openjdk* /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk*; do
    [[ -x "$c/bin/java" ]] && { echo "$c"; return; }
  done
  [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]] && { echo "$JAVA_HOME"; return; }
  die "no JDK 17/21/25 found under /usr/lib/jvm; set KC_JAVA_HOME"
}

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

port_in_use() { # port -> 0 if something listens on 127.0.0.1:port
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket(); s.settimeout(0.3)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
}

# ports.env holds NAME=port lines; a port is chosen once and reused while the stack dir exists.
ensure_port() { # VAR_NAME [owner-service]  -> exports VAR_NAME
  local var="$1" owner="${2:-}" val=""
  mkdir -p "$STACK_DIR"; touch "$STACK_PORTS_FILE"
  val="$(sed -n "s/^${var}=//p" "$STACK_PORTS_FILE" | tail -n1)"
  if [[ -n "$val" ]]; then
    if [[ -n "$owner" ]] && ! svc_running "$owner" && port_in_use "$val"; then
      log "port $val ($var) is taken by something else; choosing a new one"; val=""
    fi
  fi
  if [[ -z "$val" ]]; then
    val="$(free_port)"
    sed -i "/^${var}=/d" "$STACK_PORTS_FILE"; echo "${var}=${val}" >> "$STACK_PORTS_FILE"
  fi
  printf -v "$var" '%s' "$val"; export "${var?}"
}

load_ports() { [[ -f "$STACK_PORTS_FILE" ]] && { set -a; . "$STACK_PORTS_FILE"; set +a; }; return 0; }

pidfile() { echo "$STACK_DIR/run/$1.pid"; }

svc_pid() { local f; f="$(pidfile "$1")"; [[ -f "$f" ]] && cat "$f"; return 0; }

svc_running() { local p; p="$(svc_pid "$1")"; [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; }

# start_bg NAME LOGFILE CMD... : runs CMD in its own session (pid == process group id), records the pid.
start_bg() {
  local name="$1" logf="$2"; shift 2
  mkdir -p "$STACK_DIR/run" "$(dirname "$logf")"
  setsid "$@" </dev/null >>"$logf" 2>&1 &
  echo $! > "$(pidfile "$name")"
}

# stop_svc NAME [timeout_s]: TERM the process group recorded for NAME, then KILL after the timeout.
stop_svc() {
  local name="$1" t="${2:-20}" p i
  p="$(svc_pid "$name")"
  if [[ -z "$p" ]] || ! kill -0 "$p" 2>/dev/null; then rm -f "$(pidfile "$name")"; log "$name: not running"; return 0; fi
  log "$name: stopping (pgid $p)"
  kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
  for ((i = 0; i < t * 10; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$p" 2>/dev/null; then log "$name: still alive after ${t}s, KILL"; kill -KILL -- "-$p" 2>/dev/null || true; fi
  # Any stragglers in the group (e.g. gunicorn/uvicorn workers)
  kill -0 -- "-$p" 2>/dev/null && { sleep 1; kill -KILL -- "-$p" 2>/dev/null || true; }
  rm -f "$(pidfile "$name")"
}

# The service's unix socket when STACK_AUTHZ_LISTEN=unix (empty otherwise: loopback TCP on AUTHZ_PORT).
authz_socket() {
  case "${STACK_AUTHZ_LISTEN:-tcp}" in
    unix) echo "$STACK_DIR/run/authz.sock" ;;
    tcp) echo "" ;;
    *) die "STACK_AUTHZ_LISTEN must be tcp or unix" ;;
  esac
}

# wait_http NAME URL TIMEOUT_S LOGFILE [expected-codes-regex]   (WAIT_UNIX_SOCKET=path: ask over that socket)
wait_http() {
  local name="$1" url="$2" t="$3" logf="$4" want="${5:-^2}" code="" start=$SECONDS
  while (( SECONDS - start < t )); do
    if ! svc_running "$name"; then
      log "$name exited during startup; last log lines ($logf):"; tail -n 60 "$logf" >&2 || true; return 1
    fi
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 ${WAIT_UNIX_SOCKET:+--unix-socket "$WAIT_UNIX_SOCKET"} "$url" || true)"
    if [[ "$code" =~ $want ]]; then log "$name healthy after $((SECONDS - start))s ($url -> $code)"; return 0; fi
    sleep 0.5
  done
  log "$name not healthy after ${t}s ($url -> ${code:-no answer}); last log lines ($logf):"
  tail -n 60 "$logf" >&2 || true
  return 1
}

# Keycloak service token helper for scripts: kc_token USER PASSWORD -> access token on stdout
kc_token() {
  curl -sf "http://127.0.0.1:${KC_PORT}/realms/mlflow/protocol/openid-connect/token" \
    --data-urlencode grant_type=password --data-urlencode client_id=mlflow-cli \
    --data-urlencode "username=$1" --data-urlencode "password=$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

# Shared secret NGINX puts in the Referer header of S3 requests it forwards after an nginx-authz allow; bucket
# "mlflow"'s anonymous policy requires it (aws:Referer), so only NGINX's authorized path gets anonymous access.
s3_gateway_secret() {
  local f="$STACK_DIR/secrets/s3-gateway-referer"
  if [[ ! -s "$f" ]]; then
    mkdir -p "$(dirname "$f")"; chmod 700 "$(dirname "$f")"
    python3 -c 'import secrets; print("nginx-authz-gw-" + secrets.token_hex(16))' > "$f"; chmod 600 "$f"
  fi
  cat "$f"
}
