#!/usr/bin/env bash
# End-to-end checks of a running stack (scripts/stack/up.sh): NGINX -> nginx-authz (or the stub) -> MLflow -> MinIO,
# the S3 front, and identity headers reaching MLflow (nginx-upstream.log). Exit non-zero on any failed check.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ -f "$STACK_ENV_FILE" ]] || die "no $STACK_ENV_FILE: run scripts/stack/up.sh first"
set -a; . "$STACK_ENV_FILE"; set +a
fail=0
check() { # name got want
  if [[ "$2" == "$3" ]]; then printf '  ok   %-58s %s\n' "$1" "$2"; else printf '  FAIL %-58s got %s want %s\n' "$1" "$2" "$3"; fail=1; fi
}
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
tok() { kc_token "$1" "$1-dev-password"; }
Q="api/2.0/mlflow/experiments/search?max_results=10"
declare -A T; for u in alice bob carol dave; do T[$u]="$(tok "$u")"; done

echo "== MLflow through NGINX (mode: $STACK_AUTHZ)"
check "anonymous GET experiments/search" "$(code "$MLFLOW_URL/$Q")" 401
check "anonymous 401 carries WWW-Authenticate" "$(curl -s -D - -o /dev/null "$MLFLOW_URL/$Q" | grep -ci '^www-authenticate:' || true)" 1
check "garbage bearer" "$(code -H 'Authorization: Bearer not-a-jwt' "$MLFLOW_URL/$Q")" "$([[ $STACK_AUTHZ == stub ]] && echo 200 || echo 401)"
if [[ "$STACK_AUTHZ" == service ]]; then
  check "carol (viewer) GET experiments/search" "$(code -H "Authorization: Bearer ${T[carol]}" "$MLFLOW_URL/$Q")" 200
  check "carol POST experiments/search (read via POST)" "$(code -H "Authorization: Bearer ${T[carol]}" -H 'Content-Type: application/json' -d '{"max_results":5}' "$MLFLOW_URL/api/2.0/mlflow/experiments/search")" 200
  check "carol POST experiments/create" "$(code -H "Authorization: Bearer ${T[carol]}" -H 'Content-Type: application/json' -d "{\"name\":\"smoke-carol-$RANDOM$RANDOM\"}" "$MLFLOW_URL/api/2.0/mlflow/experiments/create")" 403
  check "bob (editor) POST experiments/create" "$(code -H "Authorization: Bearer ${T[bob]}" -H 'Content-Type: application/json' -d "{\"name\":\"smoke-bob-$RANDOM$RANDOM\"}" "$MLFLOW_URL/api/2.0/mlflow/experiments/create")" 200
  check "bob POST runs/delete (ajax-api)" "$(code -H "Authorization: Bearer ${T[bob]}" -H 'Content-Type: application/json' -d '{"run_id":"nope"}' "$MLFLOW_URL/ajax-api/2.0/mlflow/runs/delete")" 403
  check "dave (no group) GET experiments/search" "$(code -H "Authorization: Bearer ${T[dave]}" "$MLFLOW_URL/$Q")" 403
  check "alice (admin) GET experiments/search" "$(code -H "Authorization: Bearer ${T[alice]}" "$MLFLOW_URL/$Q")" 200
fi
# Identity headers reach MLflow; a client-sent X-Auth-Request-User never does.
u=carol; [[ "$STACK_AUTHZ" == stub ]] && u=alice
marker="smoke$RANDOM$RANDOM"
curl -s -o /dev/null -H "Authorization: Bearer ${T[$u]}" -H 'X-Auth-Request-User: mallory' "$MLFLOW_URL/$Q&page_token=&smoke=$marker" || true
line="$(grep "$marker" "$NGINX_UPSTREAM_LOG" | tail -n1)"
want_user="$u"; [[ "$STACK_AUTHZ" == stub ]] && want_user=stub-user
check "upstream got X-Auth-Request-User" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["x_auth_request_user"])' "$line")" "$want_user"
check "client tried X-Auth-Request-User: mallory (logged)" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["client_sent_x_auth_request_user"])' "$line")" mallory

echo "== MLflow Python client through NGINX (Bearer token; artifacts via MLflow's proxy to MinIO)"
writer=bob; reader=carol; [[ "$STACK_AUTHZ" == stub ]] && reader=bob
out="$(MLFLOW_TRACKING_URI="$MLFLOW_URL" MLFLOW_HTTP_REQUEST_MAX_RETRIES=0 MLFLOW_HTTP_REQUEST_TIMEOUT=60 \
  WRITER="${T[$writer]}" READER="${T[$reader]}" "$STACK_PYTHON" - <<'PY' 2>&1
import os, tempfile, mlflow
from mlflow.exceptions import MlflowException
os.environ["MLFLOW_TRACKING_TOKEN"] = os.environ["WRITER"]
mlflow.set_experiment("smoke")
with mlflow.start_run() as r:
    mlflow.log_metric("m", 1.0); mlflow.log_text("hello", "hello.txt")
    p = os.path.join(tempfile.mkdtemp(), "big.bin"); open(p, "wb").write(os.urandom(3 * 1024 * 1024)); mlflow.log_artifact(p)
os.environ["MLFLOW_TRACKING_TOKEN"] = os.environ["READER"]
print("RESULT read", open(mlflow.artifacts.download_artifacts(run_id=r.info.run_id, artifact_path="hello.txt")).read())
print("RESULT size", os.path.getsize(mlflow.artifacts.download_artifacts(run_id=r.info.run_id, artifact_path="big.bin")))
try:
    mlflow.MlflowClient().log_metric(r.info.run_id, "x", 2.0); print("RESULT reader-write allowed")
except MlflowException as e:
    print("RESULT reader-write denied")
PY
)" || true
check "python: log run + artifacts, read back" "$(grep -c '^RESULT read hello' <<<"$out")" 1
check "python: 3 MiB artifact round trip" "$(sed -n 's/^RESULT size //p' <<<"$out")" 3145728
check "python: reader cannot log metric" "$(sed -n 's/^RESULT reader-write //p' <<<"$out")" "$([[ $STACK_AUTHZ == stub ]] && echo allowed || echo denied)"
[[ "$out" == *RESULT* ]] || { echo "$out" | tail -n 15; }

echo "== S3 front"
check "anonymous GET object" "$(code "$S3_URL/mlflow/")" 401
check "?X-Amz-Signature only (anonymous to MinIO)" "$(code "$S3_URL/mlflow/?X-Amz-Signature=x")" 401
check "forged presigned V4" "$(code "$S3_URL/mlflow/x?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00")" 403
out="$("$STACK_PYTHON" - "$S3_URL" <<'PY' 2>&1
import os, sys, urllib.request, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id=os.environ["MINIO_ROOT_USER"],
                  aws_secret_access_key=os.environ["MINIO_ROOT_PASSWORD"], config=Config(s3={"addressing_style": "path"}))
s3.put_object(Bucket="mlflow", Key="smoke/sigv4.txt", Body=b"sigv4 ok")
print("RESULT get", s3.get_object(Bucket="mlflow", Key="smoke/sigv4.txt")["Body"].read().decode())
u = s3.generate_presigned_url("get_object", Params={"Bucket": "mlflow", "Key": "smoke/sigv4.txt"}, ExpiresIn=60)
print("RESULT presigned", urllib.request.urlopen(u).read().decode())
PY
)" || true
check "SigV4 PUT/GET via NGINX (MinIO verifies)" "$(sed -n 's/^RESULT get //p' <<<"$out")" "sigv4 ok"
check "presigned GET via NGINX" "$(sed -n 's/^RESULT presigned //p' <<<"$out")" "sigv4 ok"
check "direct MinIO anonymous GET (bucket policy needs NGINX's secret)" "$(code "$MINIO_URL/mlflow/smoke/sigv4.txt")" 403
b="$(code -H "Authorization: Bearer ${T[alice]}" "$S3_URL/mlflow/smoke/sigv4.txt")"
# The service decides S3 requests on bucket:<name> (decision path /auth/minio); alice may read bucket mlflow.
if [[ "$STACK_AUTHZ" == stub ]]; then check "Bearer GET via nginx-authz stub" "$b" 200
else check "alice Bearer GET via nginx-authz (bucket:mlflow#read)" "$b" 200; fi

exit $fail
