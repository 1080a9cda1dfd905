#!/usr/bin/env bash
# Stop the engine and registry that scripts/docker-up.sh started, by the pids in
# their pidfiles (never by name: a system dockerd or another user's stays up).
# Containers left running are stopped by dockerd itself on SIGTERM.
set -uo pipefail

DIR="${SHIPDECK_DOCKER_DIR:-/tmp/shipdeck-docker}"

say() { echo "docker-down: $*" >&2; }

stop() {  # stop NAME PIDFILE SECONDS
  local name=$1 pidfile=$2 wait=$3 pid
  if [ ! -f "$pidfile" ]; then
    say "$name: no pidfile ($pidfile), nothing to stop"
    return 0
  fi
  pid=$(cat "$pidfile")
  if ! kill -0 "$pid" 2>/dev/null; then
    say "$name: pid $pid is not running"
    rm -f "$pidfile"
    return 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 $((wait * 5))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name: pid $pid ignored SIGTERM for ${wait}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  say "$name stopped (pid $pid)"
}

stop registry "$DIR/registry.pid" 10
stop dockerd "$DIR/dockerd.pid" 30
