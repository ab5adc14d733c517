#!/usr/bin/env bash
# One line per stack service; exit 0 only if all of them run.
set -uo pipefail
D="$(dirname "${BASH_SOURCE[0]}")"; rc=0
. "$D/lib.sh"; mode="$(sed -n 's/^STACK_AUTHZ=//p' "$STACK_ENV_FILE" 2>/dev/null)"
svcs=(keycloak minio mlflow authz nginx); [[ "$mode" == stub ]] && svcs=(keycloak minio mlflow nginx)
# Two replicas (AUTHZ_REPLICAS=2): Redis too (authz.sh status lists both replicas).
[[ "$(cat "$STACK_DIR/replicas" 2>/dev/null || echo 1)" == 2 ]] && svcs=(redis "${svcs[@]}")
for s in "${svcs[@]}"; do "$D/$s.sh" status || rc=1; done
exit $rc
