#!/usr/bin/env bash
# MLflow tracking server on 127.0.0.1:MLFLOW_PORT: sqlite backend under .stack/mlflow, artifacts proxied to MinIO s3://mlflow/artifacts.
# --allowed-hosts lists the NGINX front (127.0.0.1/localhost:NGINX_MLFLOW_PORT) and the direct port.
# Usage: scripts/stack/mlflow.sh start|stop|status|logs     (needs MinIO started first; NGINX_MLFLOW_PORT reserved by up.sh)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
NAME=mlflow
LOGF="$STACK_DIR/logs/mlflow.log"

start() {
  if svc_running "$NAME"; then load_ports; log "$NAME already running (pid $(svc_pid $NAME), port $MLFLOW_PORT)"; return 0; fi
  [[ -x "$STACK_VENV/bin/mlflow" ]] || die "mlflow not installed; run scripts/stack/install.sh mlflow"
  load_ports; [[ -n "${MINIO_PORT:-}" ]] || die "MINIO_PORT unknown: start MinIO first"
  ensure_port MLFLOW_PORT "$NAME"; ensure_port NGINX_MLFLOW_PORT
  mkdir -p "$STACK_DIR/mlflow" "$STACK_DIR/logs"; : > "$LOGF"
  local hosts="127.0.0.1:$NGINX_MLFLOW_PORT,localhost:$NGINX_MLFLOW_PORT,127.0.0.1:$MLFLOW_PORT,localhost:$MLFLOW_PORT"
  local origins="http://127.0.0.1:$NGINX_MLFLOW_PORT,http://localhost:$NGINX_MLFLOW_PORT"
  log "$NAME: starting on 127.0.0.1:$MLFLOW_PORT (allowed hosts $hosts)"
  MLFLOW_S3_ENDPOINT_URL="http://127.0.0.1:$MINIO_PORT" AWS_ACCESS_KEY_ID="$MINIO_ROOT_USER" AWS_SECRET_ACCESS_KEY="$MINIO_ROOT_PASSWORD" \
  AWS_DEFAULT_REGION=us-east-1 MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true \
  start_bg "$NAME" "$LOGF" "$STACK_VENV/bin/mlflow" server \
    --backend-store-uri "sqlite:///$STACK_DIR/mlflow/mlflow.db" \
    --artifacts-destination s3://mlflow/artifacts --serve-artifacts \
    --host 127.0.0.1 --port "$MLFLOW_PORT" --workers "${MLFLOW_WORKERS:-2}" \
    --allowed-hosts "$hosts" --cors-allowed-origins "$origins"
  wait_http "$NAME" "http://127.0.0.1:$MLFLOW_PORT/health" "${MLFLOW_START_TIMEOUT:-120}" "$LOGF" || { stop_svc "$NAME"; exit 1; }
}

case "${1:-}" in
  start) start ;;
  stop) stop_svc "$NAME" 15 ;;
  status) load_ports; if svc_running "$NAME"; then echo "$NAME: running pid $(svc_pid $NAME) http://127.0.0.1:$MLFLOW_PORT"; else echo "$NAME: stopped"; exit 3; fi ;;
  logs) tail -n "${2:-100}" "$LOGF" ;;
  *) echo "usage: $0 start|stop|status|logs" >&2; exit 2 ;;
esac
