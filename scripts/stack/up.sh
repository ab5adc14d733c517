#!/usr/bin/env bash
# Bring up the whole development stack on 127.0.0.1: Keycloak (realm mlflow), MinIO (+ bucket mlflow), MLflow,
# nginx-authz, NGINX. Idempotent: running services (pid files under $STACK_DIR/run) are left alone.
# Writes $STACK_DIR/env for tests (`set -a; . .stack/env; set +a`). Stop with scripts/stack/down.sh.
# Env: STACK_DIR (default <repo>/.stack), NGINX_AUTHZ_CACHE, STACK_INSTALL=0 to skip install.sh,
#      STACK_AUTHZ=service|stub (stub = TEST-ONLY NGINX stand-in for the service), STACK_BUILD=auto|0|1,
#      KC_MLFLOW_ACCESS_TOKEN_LIFESPAN (seconds, default 300), STACK_MINIO_BEARER=1|0,
#      AUTHZ_REPLICAS=1|2 (2: Redis + two nginx-authz replicas behind the NGINX upstream, session.store redis;
#      remembered in $STACK_DIR/replicas until changed).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
T0=$SECONDS
STACK_AUTHZ="${STACK_AUTHZ:-service}"; export STACK_AUTHZ
[[ "$STACK_AUTHZ" == service || "$STACK_AUTHZ" == stub ]] || die "STACK_AUTHZ must be service or stub"
mkdir -p "$STACK_DIR"/{run,logs}
REPLICAS="${AUTHZ_REPLICAS:-$(cat "$STACK_DIR/replicas" 2>/dev/null || echo 1)}"
[[ "$REPLICAS" == 1 || "$REPLICAS" == 2 ]] || die "AUTHZ_REPLICAS must be 1 or 2"
[[ "$REPLICAS" == 1 || "$STACK_AUTHZ" == service ]] || die "AUTHZ_REPLICAS=2 needs STACK_AUTHZ=service"
if [[ "$(cat "$STACK_DIR/replicas" 2>/dev/null || echo 1)" != "$REPLICAS" ]] && svc_running authz; then
  log "up: replica count changes to $REPLICAS; restarting nginx-authz"; "$STACK_SCRIPTS_DIR/authz.sh" stop; fi
echo "$REPLICAS" > "$STACK_DIR/replicas"
if [[ "$REPLICAS" == 1 ]] && svc_running redis; then "$STACK_SCRIPTS_DIR/redis.sh" stop; fi

if [[ "${STACK_INSTALL:-1}" != 0 ]]; then "$STACK_SCRIPTS_DIR/install.sh"; fi

# Reserve every port up front (one writer), then start in parallel where dependencies allow.
ensure_port KC_PORT keycloak; ensure_port KC_MGMT_PORT keycloak
ensure_port MINIO_PORT minio; ensure_port MINIO_CONSOLE_PORT minio
ensure_port MLFLOW_PORT mlflow
ensure_port NGINX_MLFLOW_PORT nginx; ensure_port NGINX_S3_PORT nginx; ensure_port NGINX_STATUS_PORT nginx
if [[ "$STACK_AUTHZ" == stub ]]; then ensure_port STUB_AUTHZ_PORT nginx; else ensure_port AUTHZ_PORT authz; fi
if [[ "$REPLICAS" == 2 ]]; then ensure_port AUTHZ2_PORT authz2; ensure_port REDIS_PORT redis; fi
s3_gateway_secret >/dev/null

fail() { log "up: $1 failed to start; see $STACK_DIR/logs/. Stopping what this run started is left to down.sh."; exit 1; }

"$STACK_SCRIPTS_DIR/keycloak.sh" start & KC_JOB=$!
"$STACK_SCRIPTS_DIR/minio.sh" start || fail minio
"$STACK_SCRIPTS_DIR/mlflow.sh" start || fail mlflow
if [[ "$STACK_AUTHZ" == service ]] && ! svc_running authz; then
  STACK_BUILD="${STACK_BUILD:-auto}" "$STACK_SCRIPTS_DIR/authz.sh" build || fail "nginx-authz build"; fi
if [[ "$REPLICAS" == 2 ]]; then "$STACK_SCRIPTS_DIR/redis.sh" start || fail redis; fi
wait "$KC_JOB" || fail keycloak
if [[ "$STACK_AUTHZ" == service ]]; then STACK_BUILD=0 "$STACK_SCRIPTS_DIR/authz.sh" start || fail nginx-authz; fi
if svc_running nginx; then "$STACK_SCRIPTS_DIR/nginx.sh" reload || fail "nginx reload"   # re-render: mode/ports may differ
else "$STACK_SCRIPTS_DIR/nginx.sh" start || fail nginx; fi

load_ports
q() { printf '%q' "$1"; }
{
  echo "# Written by scripts/stack/up.sh at $(date -u +%FT%TZ). Development values only."
  echo "STACK_DIR=$(q "$STACK_DIR")"
  echo "STACK_AUTHZ=$STACK_AUTHZ"
  echo "KC_PORT=$KC_PORT"
  echo "KC_MGMT_PORT=$KC_MGMT_PORT"
  echo "KC_URL=http://127.0.0.1:$KC_PORT"
  echo "KC_REALM=mlflow"
  echo "KC_ISSUER_URL=http://127.0.0.1:$KC_PORT/realms/mlflow"
  echo "KC_TOKEN_URL=http://127.0.0.1:$KC_PORT/realms/mlflow/protocol/openid-connect/token"
  echo "KC_ADMIN_USERNAME=$(q "$KC_BOOTSTRAP_ADMIN_USERNAME")"
  echo "KC_ADMIN_PASSWORD=$(q "$KC_BOOTSTRAP_ADMIN_PASSWORD")"
  echo "AUTHZ_ISSUER_URL=http://127.0.0.1:$KC_PORT/realms/mlflow"
  echo "AUTHZ_CLIENT_ID=nginx-authz"
  echo "AUTHZ_CLIENT_SECRET=$(q "$NGINX_AUTHZ_CLIENT_SECRET")"
  echo "MLFLOW_CLI_CLIENT_ID=mlflow-cli"
  if [[ "$STACK_AUTHZ" == service ]]; then echo "AUTHZ_PORT=$AUTHZ_PORT"; echo "NGINX_AUTHZ_URL=http://127.0.0.1:$AUTHZ_PORT";
  else echo "STUB_AUTHZ_PORT=$STUB_AUTHZ_PORT"; fi
  echo "STACK_REPLICAS=$REPLICAS"   # not AUTHZ_*: the service refuses AUTHZ_* variables it does not know (README step 1 sources this file)
  if [[ "$REPLICAS" == 2 ]]; then
    echo "AUTHZ2_PORT=$AUTHZ2_PORT"; echo "NGINX_AUTHZ2_URL=http://127.0.0.1:$AUTHZ2_PORT"
    echo "REDIS_PORT=$REDIS_PORT"; echo "REDIS_PASSWORD=$(q "$("$STACK_SCRIPTS_DIR/redis.sh" password)")"
  fi
  echo "MINIO_PORT=$MINIO_PORT"
  echo "MINIO_URL=http://127.0.0.1:$MINIO_PORT"
  echo "MINIO_ROOT_USER=$(q "$MINIO_ROOT_USER")"
  echo "MINIO_ROOT_PASSWORD=$(q "$MINIO_ROOT_PASSWORD")"
  echo "S3_BUCKET=mlflow"
  echo "MLFLOW_PORT=$MLFLOW_PORT"
  echo "MLFLOW_DIRECT_URL=http://127.0.0.1:$MLFLOW_PORT"
  echo "NGINX_MLFLOW_PORT=$NGINX_MLFLOW_PORT"
  echo "MLFLOW_URL=http://127.0.0.1:$NGINX_MLFLOW_PORT"
  echo "NGINX_S3_PORT=$NGINX_S3_PORT"
  echo "S3_URL=http://127.0.0.1:$NGINX_S3_PORT"
  echo "NGINX_STATUS_PORT=$NGINX_STATUS_PORT"
  echo "NGINX_UPSTREAM_LOG=$(q "$STACK_DIR/logs/nginx-upstream.log")"
  echo "NGINX_S3_UPSTREAM_LOG=$(q "$STACK_DIR/logs/nginx-s3-upstream.log")"
  echo "STACK_PYTHON=$(q "$STACK_VENV/bin/python")"
  echo "DEMO_USERS='alice bob carol dave'"
  echo "DEMO_PASSWORD_SUFFIX=-dev-password"
} > "$STACK_ENV_FILE.new"
mv "$STACK_ENV_FILE.new" "$STACK_ENV_FILE"

cat <<TXT

================ nginx-authz development stack is up ($((SECONDS - T0))s) ================
MLflow via NGINX : http://127.0.0.1:$NGINX_MLFLOW_PORT     (protected by $([[ $STACK_AUTHZ == stub ]] && echo "the TEST-ONLY stub" || echo "nginx-authz on 127.0.0.1:$AUTHZ_PORT$([[ $REPLICAS == 2 ]] && echo " and 127.0.0.1:$AUTHZ2_PORT, sessions in Redis 127.0.0.1:$REDIS_PORT")"))
S3 via NGINX     : http://127.0.0.1:$NGINX_S3_PORT     (SigV4 -> MinIO; Bearer -> nginx-authz; anonymous -> 401)
Keycloak         : http://127.0.0.1:$KC_PORT   (admin console: $KC_BOOTSTRAP_ADMIN_USERNAME / $KC_BOOTSTRAP_ADMIN_PASSWORD)
Issuer           : http://127.0.0.1:$KC_PORT/realms/mlflow
MinIO (direct)   : http://127.0.0.1:$MINIO_PORT    MLflow (direct): http://127.0.0.1:$MLFLOW_PORT
Env for tests    : $STACK_ENV_FILE        Logs: $STACK_DIR/logs/
Demo users (DEVELOPMENT passwords <user>-dev-password):
  alice (mlflow-admins: all)  bob (mlflow-editors: read+write)  carol (mlflow-viewers: read)  dave (no group: nothing)

curl example (carol reads experiments through NGINX):
  TOKEN=\$(curl -s http://127.0.0.1:$KC_PORT/realms/mlflow/protocol/openid-connect/token \\
      -d grant_type=password -d client_id=mlflow-cli -d username=carol -d password=carol-dev-password \\
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -H "Authorization: Bearer \$TOKEN" 'http://127.0.0.1:$NGINX_MLFLOW_PORT/api/2.0/mlflow/experiments/search?max_results=10'

Python example (bob logs a run; artifacts go through MLflow's proxy to MinIO):
  export MLFLOW_TRACKING_URI=http://127.0.0.1:$NGINX_MLFLOW_PORT
  export MLFLOW_TRACKING_TOKEN=\$(curl -s http://127.0.0.1:$KC_PORT/realms/mlflow/protocol/openid-connect/token \\
      -d grant_type=password -d client_id=mlflow-cli -d username=bob -d password=bob-dev-password \\
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  $STACK_VENV/bin/python -c 'import mlflow; mlflow.set_experiment("demo")
with mlflow.start_run(): mlflow.log_metric("m", 1.0); mlflow.log_text("hello", "hello.txt")'

Stop everything: scripts/stack/down.sh
TXT
