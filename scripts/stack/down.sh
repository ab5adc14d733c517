#!/usr/bin/env bash
# Stop every process the stack scripts started (by the pids recorded under $STACK_DIR/run), newest first.
# STACK_PURGE=1 also deletes $STACK_DIR (data, logs, ports). Safe to run when nothing is running.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
for s in nginx authz2 authz redis mlflow minio keycloak; do stop_svc "$s" 30; done
# Anything else that left a pid file (e.g. a renamed service from an older script version).
if [[ -d "$STACK_DIR/run" ]]; then for f in "$STACK_DIR"/run/*.pid; do [[ -e "$f" ]] && stop_svc "$(basename "$f" .pid)" 10; done; fi
if [[ "${STACK_PURGE:-0}" == 1 ]]; then rm -rf "$STACK_DIR"; log "removed $STACK_DIR"; fi
log "stack down"
