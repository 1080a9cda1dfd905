#!/usr/bin/env bash
# Stop the podman service that scripts/podman-up.sh started, by the pid in its
# pidfile (never by name: a system podman or another user's stays up). The
# containers it started keep their conmon processes; they are stopped first,
# through the same private storage, so nothing of the tests outlives the service.
set -uo pipefail

DIR="${SHIPDECK_PODMAN_DIR:-/tmp/shipdeck-podman}"
pidfile="$DIR/podman.pid"

say() { echo "podman-down: $*" >&2; }

if [ -f "$DIR/storage-driver" ] && command -v podman >/dev/null; then
  flags=(--root "$DIR/root" --runroot "$DIR/runroot" --tmpdir "$DIR/tmp"
    --network-config-dir "$DIR/networks" --volumepath "$DIR/volumes"
    --storage-driver "$(cat "$DIR/storage-driver")"
    --cgroup-manager cgroupfs --events-backend file)
  CONTAINERS_CONF="$DIR/containers.conf" podman "${flags[@]}" stop --all --time 2 >/dev/null 2>&1 || true
fi

if [ ! -f "$pidfile" ]; then
  say "no pidfile ($pidfile), nothing to stop"
  exit 0
fi
pid=$(cat "$pidfile")
if ! kill -0 "$pid" 2>/dev/null; then
  say "pid $pid is not running"
  rm -f "$pidfile"
  exit 0
fi
kill -TERM "$pid"
for _ in $(seq 1 50); do  # up to 10 s
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
if kill -0 "$pid" 2>/dev/null; then
  say "pid $pid ignored SIGTERM for 10s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
fi
rm -f "$pidfile"
say "podman stopped (pid $pid)"
