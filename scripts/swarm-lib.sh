# shellcheck shell=bash disable=SC2034  # the settings are used by the scripts that source this
# Settings and helpers shared by the swarm-*.sh scripts (sourced, never run).
#
# The test swarm is three Docker engines on this machine, each in its own network
# namespace, joined by a bridge that lives in a "hub" namespace, with a registry in the
# hub (see scripts/swarm-up.sh). Everything it keeps lives under $SWARM_DIR; every process
# the scripts start is recorded as "<name> <pid> <starttime>" in $STATE/pids, and the
# scripts only ever signal a recorded pid whose /proc start time still matches.
#
# Overrides (environment): SWARM_DIR or SHIPDECK_SWARM_DIR (default /tmp/shipdeck-swarm),
# SWARM_N (engines, 3; node 1 is the manager), SWARM_PFX (netns/link names, swm),
# SWARM_NET (the /24 of the nodes, 10.77.0), SWARM_POOL (overlay pool, 10.210.0.0/16),
# SWARM_HEARTBEAT (dispatcher heartbeat, 2s), SWARM_IPTABLES (nft|legacy),
# SWARM_DOCKERD_ARGS (extra dockerd flags), DOCKER_BIN (a docker CLI matching the engine).

SWARM_DIR=${SWARM_DIR:-${SHIPDECK_SWARM_DIR:-/tmp/shipdeck-swarm}}
case $SWARM_DIR in /*) ;; *) SWARM_DIR=$PWD/$SWARM_DIR ;; esac
LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)   # where these scripts live
SWARM_N=${SWARM_N:-3}
SWARM_PFX=${SWARM_PFX:-swm}
SWARM_NET=${SWARM_NET:-10.77.0}
SWARM_POOL=${SWARM_POOL:-10.210.0.0/16}    # kept away from $SWARM_NET
SWARM_HEARTBEAT=${SWARM_HEARTBEAT:-2s}     # a dead worker is Down after a few heartbeats
# Debian's docker.io CLI matches its 20.10 engine; another docker on PATH may be newer.
if [ -z "${DOCKER_BIN:-}" ]; then
  if [ -x /usr/bin/docker ]; then DOCKER_BIN=/usr/bin/docker; else DOCKER_BIN=$(command -v docker || echo docker); fi
fi

# The lab's traffic stays on this machine: no proxy for the scripts or the daemons they start.
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY
export SWARM_DIR SWARM_N SWARM_PFX SWARM_NET SWARM_POOL SWARM_HEARTBEAT DOCKER_BIN  # for swarm-boot.sh

STATE=$SWARM_DIR/state
# Options chosen at swarm-up time are kept, so swarm-node.sh restart uses the same ones.
# shellcheck disable=SC1091
[ -f "$STATE/opts" ] && . "$STATE/opts"
SWARM_IPTABLES=${SWARM_IPTABLES:-nft}
SWARM_DOCKERD_ARGS=${SWARM_DOCKERD_ARGS:-}
NODES=$SWARM_DIR/nodes
HUB_NS=$SWARM_PFX-hub
BRIDGE=${SWARM_PFX}br0          # inside $HUB_NS, never in the root netns
HOST_VETH=${SWARM_PFX}host0     # root-netns end of the veth to the bridge
HOST_IP=$SWARM_NET.1            # the root netns's address on the bridge's segment
HUB_IP=$SWARM_NET.2             # the bridge's address in the hub (the registry listens there)
REGISTRY=$HUB_IP:5000

node_ns()   { echo "$SWARM_PFX-n$1"; }
node_ip()   { echo "$SWARM_NET.$((10 + $1))"; }
node_dir()  { echo "$NODES/n$1"; }
node_sock() { echo "$NODES/n$1/docker.sock"; }
# the docker CLI on node i:   dk 1 node ls
dk() { local i=$1; shift; "$DOCKER_BIN" -H "unix://$(node_sock "$i")" "$@"; }

log() { printf '%s [%s] %s\n' "$(basename "$0")" "$(date +%H:%M:%S.%3N)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

proc_start() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }

# record_pid NAME PID
record_pid() {
  mkdir -p "$STATE"
  echo "$1 $2 $(proc_start "$2")" >> "$STATE/pids"
}

# pid_is_ours PID STARTTIME: the pid is alive (not a zombie) and started when recorded
pid_is_ours() {
  [ -n "$1" ] && [ -d "/proc/$1" ] && [ "$(proc_start "$1")" = "$2" ] \
    && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# recorded_pid NAME: "PID STARTTIME" of the last process recorded under NAME
recorded_pid() { awk -v n="$1" '$1 == n {p = $2; s = $3} END {print p, s}' "$STATE/pids" 2>/dev/null; }

# stop_group PATTERN TIMEOUT: SIGTERM every recorded process whose name matches the glob
# and is still ours, wait for them together, SIGKILL what is left.
stop_group() {
  local pat=$1 t=${2:-20} name pid st k alive n
  local -a todo=()
  while read -r name pid st; do
    # shellcheck disable=SC2254
    case $name in $pat) pid_is_ours "$pid" "$st" && todo+=("$name:$pid:$st") ;; esac
  done < "$STATE/pids"
  [ ${#todo[@]} -eq 0 ] && return 0
  for k in "${todo[@]}"; do
    IFS=: read -r name pid st <<< "$k"
    log "stopping $name (pid $pid) with SIGTERM"
    kill -TERM "$pid" 2>/dev/null
  done
  for ((n = 0; n < t * 10; n++)); do
    alive=0
    for k in "${todo[@]}"; do IFS=: read -r name pid st <<< "$k"; pid_is_ours "$pid" "$st" && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
  for k in "${todo[@]}"; do
    IFS=: read -r name pid st <<< "$k"
    pid_is_ours "$pid" "$st" && { log "$name (pid $pid) still alive after ${t}s: SIGKILL"; kill -KILL "$pid"; }
  done
  return 0
}

# pids_in_netns NAME: the pids whose network namespace is the one bound at /run/netns/NAME
pids_in_netns() {
  local ino
  ino=$(stat -L -c %i "/run/netns/$1" 2>/dev/null) || return 0
  stat -L -c '%i %n' /proc/[0-9]*/ns/net 2>/dev/null \
    | awk -v ino="$ino" '$1 == ino {split($2, a, "/"); print a[3]}'
  return 0
}

# node_cgroup_dirs I: node i's container cgroups (dockerd runs with --cgroup-parent=swm-nI,
# which cgroupfs/runc resolve relative to dockerd's own cgroup in every hierarchy)
node_cgroup_dirs() {
  find /sys/fs/cgroup -maxdepth 6 -type d -name "$SWARM_PFX-n$1" 2>/dev/null
}

# dockerd_cmd I: node i's dockerd command line (swarm-boot.sh and swarm-node.sh restart)
dockerd_cmd() {
  local nd; nd=$(node_dir "$1")
  echo dockerd --config-file "$nd/daemon.json" --containerd "$nd/containerd/containerd.sock" \
    --data-root "$nd/data" --exec-root "$nd/exec" --pidfile "$nd/dockerd.pid" \
    --host "unix://$nd/docker.sock" "$SWARM_DOCKERD_ARGS"
}

# `ip netns exec` unmounts /sys and mounts the netns's own sysfs, which hides
# /sys/fs/cgroup/*: replay the host's cgroup mounts (saved by swarm-up.sh).
restore_cgroup_mounts() {
  [ -s "$STATE/cgroup-mounts" ] || awk '$2 ~ "^/sys/fs/cgroup/" && ($3 == "cgroup" || $3 == "cgroup2") {print $3, $2, $4}' \
      /proc/1/mounts > "$STATE/cgroup-mounts"
  mountpoint -q /sys/fs/cgroup || mount -t tmpfs -o mode=755 swm-cgroup /sys/fs/cgroup
  local fstype mnt opts
  while read -r fstype mnt opts; do
    mkdir -p "$mnt"
    mountpoint -q "$mnt" || mount -t "$fstype" -o "$opts" "$fstype" "$mnt"
  done < "$STATE/cgroup-mounts"
}

# containerd 1.6 puts each shim's ttrpc socket at /run/containerd/s/sha256(<grpc addr>/<ns>/<id>),
# shared with every other containerd on the machine; a SIGKILLed shim leaves it behind.
# connect() to a pathname socket works across network namespaces.
sock_alive() {
  python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.settimeout(1); s.connect(sys.argv[1])' "$1" 2>/dev/null
}
shim_sockets_of() {   # the shim socket paths node i's known containers would use
  local nd id; nd=$(node_dir "$1")
  for id in $(find "$nd/data/containers" "$nd/containerd/state/io.containerd.runtime.v2.task/moby" \
      -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | grep -E '^[0-9a-f]{64}$' | sort -u); do
    echo "/run/containerd/s/$(printf '%s' "$nd/containerd/containerd.sock/moby/$id" | sha256sum | cut -d' ' -f1)"
  done
}
# swarm-node.sh kill records node i's socket paths in $STATE/shim-sockets first, since a
# restarted dockerd forgets the dead containers' ids.
stale_shim_sockets() {   # stale_shim_sockets I | stale_shim_sockets recorded
  local f
  { if [ "$1" = recorded ]; then cat "$STATE/shim-sockets" 2>/dev/null; else shim_sockets_of "$1"; fi; } \
    | sort -u | while read -r f; do
      [ -S "$f" ] && ! sock_alive "$f" && echo "$f"
    done
  return 0
}

# lab_env: the lines swarm-up.sh prints for eval (also kept in $SWARM_DIR/env)
lab_env() {
  local i ips=()
  for i in $(seq "$SWARM_N"); do ips+=("$(node_ip "$i")"); done
  echo "export SHIPDECK_SWARM_DIR=$SWARM_DIR"
  echo "export SHIPDECK_SWARM_HOST=unix://$(node_sock 1)"
  echo "export SHIPDECK_SWARM_REGISTRY=$REGISTRY"
  echo "export SHIPDECK_SWARM_NODES=$(IFS=,; echo "${ips[*]}")"
}

# ready_nodes: how many nodes the manager reports Ready (0 when it does not answer)
ready_nodes() {
  { dk 1 node ls --format '{{.Status}}' 2>/dev/null || true; } | grep -c '^Ready$' || true
}
