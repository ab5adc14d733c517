#!/usr/bin/env bash
# Redis for several nginx-authz replicas (AUTHZ_REPLICAS=2): the Debian redis-server on 127.0.0.1:REDIS_PORT (a
# free port, kept in ports.env), a password generated once into $STACK_DIR/redis.password (DEVELOPMENT value),
# no persistence (--save '' --appendonly no): a restart empties it, as tests that stop Redis expect.
# Usage: scripts/stack/redis.sh start|stop|status|password
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
NAME=redis
LOGF="$STACK_DIR/logs/redis.log"
PASSF="$STACK_DIR/redis.password"

password() {
  mkdir -p "$STACK_DIR"
  [[ -s "$PASSF" ]] || { (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$PASSF"); }
  cat "$PASSF"
}

start() {
  if svc_running "$NAME"; then load_ports; log "$NAME already running (pid $(svc_pid $NAME), port $REDIS_PORT)"; return 0; fi
  command -v redis-server >/dev/null || die "redis-server not found (scripts/stack/install.sh debs)"
  ensure_port REDIS_PORT "$NAME"
  local pw; pw="$(password)"
  mkdir -p "$STACK_DIR/logs" "$STACK_DIR/redis"; : > "$LOGF"
  log "$NAME: starting on 127.0.0.1:$REDIS_PORT"
  # The password goes through a config file on stdin-less start: not visible in `ps` arguments.
  local conf="$STACK_DIR/redis/redis.conf"
  (umask 077; printf 'bind 127.0.0.1\nport %s\nrequirepass %s\nsave ""\nappendonly no\nprotected-mode yes\ndir %s\n' \
    "$REDIS_PORT" "$pw" "$STACK_DIR/redis" > "$conf")
  start_bg "$NAME" "$LOGF" redis-server "$conf"
  local i
  for ((i = 0; i < 100; i++)); do
    if REDISCLI_AUTH="$pw" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then log "$NAME ready"; return 0; fi
    svc_running "$NAME" || { tail -n 30 "$LOGF" >&2; die "$NAME exited during startup"; }
    sleep 0.1
  done
  die "$NAME did not answer PING within 10 s"
}

case "${1:-}" in
  start) start ;;
  stop) stop_svc "$NAME" 10 ;;
  password) password ;;
  status) load_ports; if svc_running "$NAME"; then echo "$NAME: running pid $(svc_pid $NAME) 127.0.0.1:$REDIS_PORT"; else echo "$NAME: stopped"; exit 3; fi ;;
  *) echo "usage: $0 start|stop|status|password" >&2; exit 2 ;;
esac
