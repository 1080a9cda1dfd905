#!/usr/bin/env bash
# Stop the test swarm that scripts/swarm-up.sh started and remove what it made.
#
#   scripts/swarm-down.sh [--purge]
#
# Stops the recorded processes only (pid and start time must both match: dockerds first,
# each stopping its containers, then the containerds, then the registry), then what is
# left inside the lab's own network namespaces and container cgroups (shims, containers
# of a crashed node), the stale shim sockets of its containers, its cgroups, its network
# namespaces (their veths and bridge go with them) and the root-netns veth.
# --purge also deletes the node data and the registry's blobs under $SWARM_DIR.
# Works after a half-done swarm-up.sh and is harmless when nothing runs.
# scripts/swarm-verify-clean.sh shows that nothing is left.
set -uo pipefail
# shellcheck source=scripts/swarm-lib.sh
. "$(dirname "$0")/swarm-lib.sh"
T0=$(date +%s%N)
PURGE=0
case ${1:-} in
  --purge) PURGE=1 ;;
  "") ;;
  *) die "usage: $0 [--purge]" ;;
esac

# 1. all dockerds together (each stops its containers), then the containerds, then the rest
if [ -f "$STATE/pids" ]; then
  stop_group 'dockerd-n*' 30
  stop_group 'containerd-n*' 10
  stop_group '*' 5
fi

# 2. leftovers: processes still in OUR node namespaces (containerd-shims, docker-proxy...)
#    and container processes in OUR cgroups (after a simulated crash, say)
for i in $(seq "$SWARM_N"); do
  ns=$(node_ns "$i")
  for pid in $(pids_in_netns "$ns"); do
    log "leftover pid $pid in netns $ns: $(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | cut -c1-100): SIGKILL"
    kill -KILL "$pid" 2>/dev/null
  done
  for d in $(node_cgroup_dirs "$i"); do
    for pid in $(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u); do
      log "leftover container pid $pid in cgroup $d: SIGKILL"
      kill -KILL "$pid" 2>/dev/null
    done
  done
done
for pid in $(pids_in_netns "$HUB_NS"); do
  log "leftover pid $pid in netns $HUB_NS: SIGKILL"
  kill -KILL "$pid" 2>/dev/null
done
sleep 0.3

# 3. shim sockets that SIGKILLed shims of OUR containers left in the shared /run/containerd/s
for i in $(seq "$SWARM_N") recorded; do
  for f in $(stale_shim_sockets "$i"); do rm -f "$f" && log "removed stale shim socket $f"; done
done

# 4. the cgroups of our containers (deepest first)
for i in $(seq "$SWARM_N"); do
  for d in $(node_cgroup_dirs "$i"); do
    find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null && log "removed cgroup $d"
  done
done

# 5. namespaces (their veths and the bridge go with them), then the root-netns veth
if [ -f "$STATE/netns" ]; then
  tac "$STATE/netns" | while read -r ns; do
    [ -e "/run/netns/$ns" ] && ip netns del "$ns" && log "deleted netns $ns"
  done
fi
if [ -f "$STATE/host-veth" ]; then
  v=$(cat "$STATE/host-veth")
  ip link show "$v" >/dev/null 2>&1 && ip link del "$v" && log "deleted link $v"
fi

# 6. state; with --purge the data too
rm -f "$STATE/pids" "$STATE/netns" "$STATE/host-veth" "$STATE/opts" "$STATE/up-time" \
  "$STATE/shim-sockets" "$SWARM_DIR/env"
if [ "$PURGE" = 1 ]; then
  if grep -q " $SWARM_DIR/" /proc/self/mountinfo; then
    log "mounts under $SWARM_DIR are still there: not purging"
  else
    if [ -d "$SWARM_DIR" ]; then
      rm -rf "$NODES" "$SWARM_DIR/registry" "$SWARM_DIR/legacy-bin"
      rm -f "$STATE/cgroup-mounts"
      rmdir "$STATE" "$SWARM_DIR" 2>/dev/null
      log "purged the lab's data in $SWARM_DIR"
    fi
  fi
fi
d=$(( ($(date +%s%N) - T0) / 1000000 ))
log "down in $((d / 1000)).$(printf %03d $((d % 1000)))s"
exit 0
