#!/usr/bin/env bash
# Start a private Podman service (its Docker-compatible API) for shipdeck's tests.
#
# `podman system service` runs in the background with everything under one
# directory (default /tmp/shipdeck-podman): its own socket, image and container
# storage (--root), run state (--runroot, --tmpdir), network config and pidfile,
# so it never touches the system's podman storage; its own containers.conf (cgroupfs
# as the cgroup manager and a file as the events log, since there is no systemd
# here; the open-files limit this shell has). Overlay storage
# when the kernel allows it here, else vfs (slower, works everywhere). Waits until
# the API answers, then prints the line to eval:
#
#   eval "$(scripts/podman-up.sh)"   # sets SHIPDECK_PODMAN_HOST
#
# Overrides: SHIPDECK_PODMAN_DIR (the directory), SHIPDECK_PODMAN_STORAGE (overlay
# or vfs; default: overlay if it works, else vfs). Running it twice is harmless:
# what already runs is kept. Stop it with scripts/podman-down.sh.
set -euo pipefail

DIR="${SHIPDECK_PODMAN_DIR:-/tmp/shipdeck-podman}"
SOCK="$DIR/podman.sock"
HOST="unix://$SOCK"

say() { echo "podman-up: $*" >&2; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

command -v podman >/dev/null || { say "podman not found (apt-get install podman)"; exit 1; }
[ "$(id -u)" = 0 ] || { say "the test service runs podman as root (rootful networking)"; exit 1; }
mkdir -p "$DIR/root" "$DIR/runroot" "$DIR/tmp" "$DIR/networks" "$DIR/volumes"

# Podman raises a container's open-files and process limits by default, which a
# process here may not do (runc: "error setting rlimit type 7"): containers get
# this shell's hard limits instead (processes: at most 32768, where podman lowers
# its own limit to). CONTAINERS_CONF makes this the only config file podman reads.
nofile=$(ulimit -Hn) nproc=$(ulimit -Hu)
[ "$nofile" = unlimited ] && nofile=1048576
{ [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
cat >"$DIR/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_CONF="$DIR/containers.conf"

flags() {  # the global flags every podman call on this storage needs
  echo --root "$DIR/root" --runroot "$DIR/runroot" --tmpdir "$DIR/tmp" \
    --network-config-dir "$DIR/networks" --volumepath "$DIR/volumes" \
    --storage-driver "$(cat "$DIR/storage-driver")" \
    --cgroup-manager cgroupfs --events-backend file
}

if [ ! -f "$DIR/storage-driver" ]; then
  driver="${SHIPDECK_PODMAN_STORAGE:-}"
  if [ -z "$driver" ]; then
    # overlay needs a kernel and a backing filesystem that allow it: try it once
    echo overlay >"$DIR/storage-driver"
    # shellcheck disable=SC2046  # the flags are meant to split
    if podman $(flags) info >"$DIR/probe.log" 2>&1; then driver=overlay; else driver=vfs; fi
    if [ "$driver" = vfs ]; then
      rm -rf "$DIR/root" "$DIR/runroot" && mkdir -p "$DIR/root" "$DIR/runroot"
    fi
  fi
  echo "$driver" >"$DIR/storage-driver"
  say "storage driver: $driver"
fi

if alive "$DIR/podman.pid"; then
  say "podman already runs (pid $(cat "$DIR/podman.pid"))"
else
  rm -f "$SOCK" "$DIR/podman.pid"
  # The shell writes its own pid, then becomes podman (exec keeps the pid).
  # shellcheck disable=SC2046  # the flags are meant to split
  setsid sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$DIR/podman.pid" \
    podman $(flags) system service --time=0 "$HOST" </dev/null >"$DIR/podman.log" 2>&1 &
  say "podman starting (log: $DIR/podman.log)"
fi

answers() {
  python3 - "$SOCK" <<'PY' >/dev/null 2>&1
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])
s.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
sys.exit(0 if b" 200 " in s.recv(200) else 1)
PY
}
for _ in $(seq 1 150); do  # up to 30 s
  if answers; then break; fi
  if [ -f "$DIR/podman.pid" ] && ! alive "$DIR/podman.pid"; then break; fi
  sleep 0.2
done
if ! answers; then
  say "podman did not come up; the end of $DIR/podman.log:"
  tail -20 "$DIR/podman.log" >&2 || true
  exit 1
fi

say "ready: podman's Docker API at $HOST"
echo "export SHIPDECK_PODMAN_HOST=$HOST"
