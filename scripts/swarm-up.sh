#!/usr/bin/env bash
# Start the test swarm: three Docker engines on this machine, a registry, one swarm.
#
#   eval "$(scripts/swarm-up.sh)"   # as root; stop it with scripts/swarm-down.sh [--purge]
#
# Stdout carries only the lines to eval (everything else goes to stderr):
#   export SHIPDECK_SWARM_DIR=/tmp/shipdeck-swarm
#   export SHIPDECK_SWARM_HOST=unix:///tmp/shipdeck-swarm/nodes/n1/docker.sock   (the manager)
#   export SHIPDECK_SWARM_REGISTRY=10.77.0.2:5000
#   export SHIPDECK_SWARM_NODES=10.77.0.11,10.77.0.12,10.77.0.13
#
# What it builds (names and addresses from scripts/swarm-lib.sh, which lists the overrides):
#   root netns: one veth swmhost0 10.77.0.1/24, the only change outside the namespaces
#   netns swm-hub: bridge swmbr0 10.77.0.2/24 and docker-registry on 10.77.0.2:5000
#   netns swm-n1..n3: a containerd and a dockerd each (own data-root, exec-root, pidfile,
#     socket $SWARM_DIR/nodes/nI/docker.sock, own /etc/docker; insecure registry above),
#     addresses 10.77.0.11-13, no default route: nothing leaves 10.77.0.0/24
#   swarm: n1 manager (dispatcher heartbeat 2s), n2 n3 workers, node label swm.node=nI
# Every process it starts is recorded with its start time, so swarm-down.sh stops those
# and nothing else. Running it again while the lab is up only prints the lines again; a lab
# left by a killed run (none of its processes alive) is taken down first. If it fails
# half-way, it runs swarm-down.sh --purge on what it started and exits non-zero.
set -euo pipefail
# shellcheck source=scripts/swarm-lib.sh
. "$(dirname "$0")/swarm-lib.sh"
T0=$(date +%s%N)
el() { local d=$(( ($(date +%s%N) - T0) / 1000000 )); printf "%d.%03d" $((d / 1000)) $((d % 1000)); }

# ---------------------------------------------------------------- already up?
if [ -e "$STATE/pids" ]; then
  up=1
  for i in $(seq "$SWARM_N"); do
    # shellcheck disable=SC2046  # "PID STARTTIME"
    pid_is_ours $(recorded_pid "dockerd-n$i") || up=0
  done
  if [ $up = 1 ] && [ "$(ready_nodes)" -eq "$SWARM_N" ]; then
    log "the swarm in $SWARM_DIR is already up ($SWARM_N nodes Ready): kept"
    lab_env
    exit 0
  fi
  # A run killed with its lab (SIGKILL, a lost session) leaves the state, namespaces and
  # mounts behind but none of its processes: that lab is nobody's, so take it down here.
  # One with a process still running may be another run's, starting: leave it alone.
  alive=0
  while read -r _ pid st; do pid_is_ours "$pid" "$st" && alive=$((alive + 1)); done < "$STATE/pids"
  [ "$alive" = 0 ] || die "$STATE/pids records a lab that is not all up and $alive of its" \
    "processes still run: run scripts/swarm-down.sh first"
  log "$STATE/pids records a lab none of whose processes runs (a killed run's): taking it down"
  "$LAB_DIR/swarm-down.sh" --purge >&2 || die "scripts/swarm-down.sh could not take it down"
fi

# ---------------------------------------------------------------- preflight
[ "$(id -u)" = 0 ] || die "must run as root (network namespaces, mounts, dockerd)"
for c in ip dockerd containerd runc docker-registry unshare nsenter mountpoint python3 "$DOCKER_BIN"; do
  command -v "$c" >/dev/null || die "missing $c (apt-get install -y docker.io docker-registry iproute2)"
done
for ns in "$HUB_NS" $(for i in $(seq "$SWARM_N"); do node_ns "$i"; done); do
  [ -e "/run/netns/$ns" ] && die "netns $ns already exists (another lab? scripts/swarm-down.sh)"
done
ip link show "$HOST_VETH" >/dev/null 2>&1 && die "link $HOST_VETH already exists"
ip -4 route | grep -q "^$SWARM_NET\." && die "$SWARM_NET.0/24 is already routed in the root netns"
grep -q " $SWARM_DIR/" /proc/self/mountinfo && die "mounts under $SWARM_DIR are left: not starting"

# From here on, a failure stops what was started.
cleanup() {
  local rc=$?
  if [ "$rc" != 0 ]; then
    log "failed (exit $rc) after $(el)s: stopping what was started"
    "$LAB_DIR/swarm-down.sh" --purge >&2 || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A stopped lab's node data holds its old swarm; every lab starts from nothing.
rm -rf "$NODES" "$SWARM_DIR/registry"
mkdir -p "$STATE" "$NODES" "$SWARM_DIR/registry/data"
: > "$STATE/pids"
: > "$STATE/netns"
rm -f "$STATE/shim-sockets" "$SWARM_DIR/env"
printf 'SWARM_IPTABLES=%q\nSWARM_DOCKERD_ARGS=%q\n' "$SWARM_IPTABLES" "$SWARM_DOCKERD_ARGS" > "$STATE/opts"
# the host's cgroup mounts, put back by swarm-boot.sh inside each netns
awk '$2 ~ "^/sys/fs/cgroup/" && ($3 == "cgroup" || $3 == "cgroup2") {print $3, $2, $4}' \
  /proc/self/mounts > "$STATE/cgroup-mounts"

# ---------------------------------------------------------------- network
log "creating hub netns $HUB_NS with bridge $BRIDGE ($HUB_IP/24)"
ip netns add "$HUB_NS"; echo "$HUB_NS" >> "$STATE/netns"
ip -n "$HUB_NS" link set lo up
ip -n "$HUB_NS" link add "$BRIDGE" type bridge
ip -n "$HUB_NS" addr add "$HUB_IP/24" dev "$BRIDGE"
ip -n "$HUB_NS" link set "$BRIDGE" up
ip netns exec "$HUB_NS" sysctl -qw net.ipv4.ip_forward=0   # a new netns may inherit 1
# root netns <-> bridge, so this machine reaches $SWARM_NET.0/24 (no forwarding involved)
echo "$HOST_VETH" > "$STATE/host-veth"
ip link add "$HOST_VETH" type veth peer name h-host netns "$HUB_NS"
ip -n "$HUB_NS" link set h-host master "$BRIDGE" up
ip addr add "$HOST_IP/24" dev "$HOST_VETH"
ip link set "$HOST_VETH" up

for i in $(seq "$SWARM_N"); do
  ns=$(node_ns "$i")
  log "creating netns $ns ($(node_ip "$i")/24)"
  ip netns add "$ns"; echo "$ns" >> "$STATE/netns"
  ip -n "$ns" link set lo up
  ip -n "$HUB_NS" link add "h-n$i" type veth peer name eth0 netns "$ns"
  ip -n "$HUB_NS" link set "h-n$i" master "$BRIDGE" up
  ip -n "$ns" addr add "$(node_ip "$i")/24" dev eth0
  ip -n "$ns" link set eth0 up
  # deliberately NO default route: nothing can leave $SWARM_NET.0/24
done

# ---------------------------------------------------------------- registry
cat > "$SWARM_DIR/registry/config.yml" <<YAML
version: 0.1
log: {level: warn, fields: {service: registry}}
storage:
  filesystem: {rootdirectory: $SWARM_DIR/registry/data}
  delete: {enabled: true}
http:
  addr: $REGISTRY
YAML
log "starting the registry on $REGISTRY (in $HUB_NS)"
ip netns exec "$HUB_NS" docker-registry serve "$SWARM_DIR/registry/config.yml" \
  </dev/null >> "$SWARM_DIR/registry/registry.log" 2>&1 &
record_pid registry $!

# ---------------------------------------------------------------- engines
for i in $(seq "$SWARM_N"); do
  nd=$(node_dir "$i")
  mkdir -p "$nd/etc-docker" "$nd/containerd" "$nd/data" "$nd/exec"
  cat > "$nd/containerd.toml" <<TOML
version = 2
root = "$nd/containerd/root"
state = "$nd/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$nd/containerd/containerd.sock"
[ttrpc]
  address = "$nd/containerd/containerd.sock.ttrpc"
[debug]
  address = "$nd/containerd/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$nd/containerd/opt"
TOML
  cat > "$nd/daemon.json" <<JSON
{
  "insecure-registries": ["$REGISTRY"],
  "storage-driver": "overlay2",
  "cgroup-parent": "$(node_ns "$i")",
  "log-driver": "json-file",
  "log-opts": {"max-size": "10m"},
  "features": {"buildkit": false}
}
JSON
  log "starting containerd and dockerd of n$i in $(node_ns "$i")"
  # ip, unshare and swarm-boot.sh each exec the next: this pid ends up being dockerd's
  ip netns exec "$(node_ns "$i")" unshare --uts "$LAB_DIR/swarm-boot.sh" "$i" </dev/null &
  record_pid "dockerd-n$i" $!
done
for i in $(seq "$SWARM_N"); do
  nd=$(node_dir "$i")
  for _ in $(seq 50); do [ -s "$nd/containerd.pid" ] && break; sleep 0.1; done
  [ -s "$nd/containerd.pid" ] || die "containerd of n$i did not start, see $nd/containerd.log"
  record_pid "containerd-n$i" "$(cat "$nd/containerd.pid")"
done

registry_answers() {
  python3 -c 'import sys, urllib.request as u
u.build_opener(u.ProxyHandler({})).open(sys.argv[1], timeout=1)' "http://$REGISTRY/v2/" 2>/dev/null
}
for _ in $(seq 100); do registry_answers && break; sleep 0.1; done
registry_answers || die "the registry does not answer on $REGISTRY, see $SWARM_DIR/registry/registry.log"

for i in $(seq "$SWARM_N"); do
  for _ in $(seq 300); do
    dk "$i" version >/dev/null 2>&1 && break
    # shellcheck disable=SC2046  # "PID STARTTIME"
    pid_is_ours $(recorded_pid "dockerd-n$i") || break   # it died: no use waiting
    sleep 0.1
  done
  if ! dk "$i" version >/dev/null 2>&1; then
    tail -5 "$(node_dir "$i")/dockerd.log" >&2
    die "dockerd of n$i did not come up, see $(node_dir "$i")/dockerd.log"
  fi
  log "dockerd of n$i answers after $(el)s"
done

# ---------------------------------------------------------------- swarm
log "swarm init on n1 (dispatcher heartbeat $SWARM_HEARTBEAT)"
dk 1 swarm init --advertise-addr "$(node_ip 1)" --listen-addr "$(node_ip 1):2377" \
  --dispatcher-heartbeat "$SWARM_HEARTBEAT" \
  --default-addr-pool "$SWARM_POOL" --default-addr-pool-mask-length 24 >/dev/null
tok=$(dk 1 swarm join-token -q worker)
jpids=()
for i in $(seq 2 "$SWARM_N"); do
  log "n$i joins"
  dk "$i" swarm join --token "$tok" --advertise-addr "$(node_ip "$i")" \
    --listen-addr "$(node_ip "$i"):2377" "$(node_ip 1):2377" >/dev/null &
  jpids+=($!)
done
for p in "${jpids[@]}"; do wait "$p" || die "swarm join failed"; done
# labels, so tests place things on a given node
for i in $(seq "$SWARM_N"); do
  id=$(dk "$i" info --format '{{.Swarm.NodeID}}')
  dk 1 node update --label-add "swm.node=n$i" "$id" >/dev/null
done
ready=0
for _ in $(seq 600); do
  ready=$(ready_nodes)
  [ "$ready" -eq "$SWARM_N" ] && break
  sleep 0.1
done
[ "$ready" -eq "$SWARM_N" ] || die "only $ready of $SWARM_N nodes are Ready"
dk 1 node ls >&2
lab_env > "$SWARM_DIR/env"
echo "SWARM_UP_SECONDS=$(el)" > "$STATE/up-time"
log "swarm ready: $ready/$SWARM_N nodes Ready after $(el)s"
cat "$SWARM_DIR/env"
