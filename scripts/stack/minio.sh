#!/usr/bin/env bash
# MinIO server on 127.0.0.1 (S3 API on MINIO_PORT; web console disabled), data under .stack/minio/data.
# Creates bucket "mlflow" with boto3 from the stack venv (no mc client: it is a second ~10 min Go build).
# STACK_MINIO_BEARER=1 (default) also gives bucket "mlflow" an anonymous policy so NGINX can forward requests that
# nginx-authz approved for a Bearer token (see nginx/README.md, "MinIO: three ways"). Set 0 to keep it private.
# Usage: scripts/stack/minio.sh start|stop|status|logs
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
NAME=minio
LOGF="$STACK_DIR/logs/minio.log"

start() {
  if svc_running "$NAME"; then load_ports; log "$NAME already running (pid $(svc_pid $NAME), port $MINIO_PORT)"; return 0; fi
  [[ -x "$MINIO_BIN" ]] || die "minio not installed; run scripts/stack/install.sh minio"
  ensure_port MINIO_PORT "$NAME"; ensure_port MINIO_CONSOLE_PORT "$NAME"
  mkdir -p "$STACK_DIR/minio/data" "$STACK_DIR/logs"; : > "$LOGF"
  log "$NAME: starting on 127.0.0.1:$MINIO_PORT"
  MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CALLHOME_ENABLE=off MINIO_PROMETHEUS_AUTH_TYPE=public \
  start_bg "$NAME" "$LOGF" "$MINIO_BIN" server "$STACK_DIR/minio/data" \
    --address "127.0.0.1:$MINIO_PORT" --console-address "127.0.0.1:$MINIO_CONSOLE_PORT" --quiet --anonymous
  wait_http "$NAME" "http://127.0.0.1:$MINIO_PORT/minio/health/ready" 60 "$LOGF" || { stop_svc "$NAME"; exit 1; }
  make_bucket
}

make_bucket() {
  load_ports
  [[ -x "$STACK_VENV/bin/python" ]] || die "stack venv missing (boto3); run scripts/stack/install.sh mlflow"
  S3_GATEWAY_REFERER="$(s3_gateway_secret)" STACK_MINIO_BEARER="${STACK_MINIO_BEARER:-1}" "$STACK_VENV/bin/python" - "http://127.0.0.1:$MINIO_PORT" <<'PY'
import json, os, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  aws_access_key_id=os.environ["MINIO_ROOT_USER"], aws_secret_access_key=os.environ["MINIO_ROOT_PASSWORD"],
                  config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}))
try:
    s3.create_bucket(Bucket="mlflow"); print("[minio] bucket mlflow created", file=sys.stderr)
except ClientError as e:
    if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"): raise
    print("[minio] bucket mlflow exists", file=sys.stderr)
if os.environ.get("STACK_MINIO_BEARER") == "1":
    # Anonymous access to bucket mlflow ONLY, and only with NGINX's secret Referer, so NGINX can forward Bearer
    # requests that nginx-authz approved. MinIO must be reachable from NGINX alone (here: 127.0.0.1).
    # Development design; see nginx/README.md "MinIO: three ways".
    cond = {"StringEquals": {"aws:Referer": [os.environ["S3_GATEWAY_REFERER"]]}}
    pol = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Resource": ["arn:aws:s3:::mlflow"], "Condition": cond,
         "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]},
        {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Resource": ["arn:aws:s3:::mlflow/*"], "Condition": cond,
         "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]}]}
    s3.put_bucket_policy(Bucket="mlflow", Policy=json.dumps(pol)); print("[minio] anonymous policy set on bucket mlflow (STACK_MINIO_BEARER=1)", file=sys.stderr)
else:
    try: s3.delete_bucket_policy(Bucket="mlflow")
    except ClientError: pass
    print("[minio] bucket mlflow private (STACK_MINIO_BEARER=0)", file=sys.stderr)
PY
}

case "${1:-}" in
  start) start ;;
  stop) stop_svc "$NAME" 15 ;;
  status) load_ports; if svc_running "$NAME"; then echo "$NAME: running pid $(svc_pid $NAME) http://127.0.0.1:$MINIO_PORT"; else echo "$NAME: stopped"; exit 3; fi ;;
  bucket) make_bucket ;;
  logs) tail -n "${2:-100}" "$LOGF" ;;
  *) echo "usage: $0 start|stop|status|bucket|logs" >&2; exit 2 ;;
esac
