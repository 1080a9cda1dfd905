#!/usr/bin/env bash
# Show that the test swarm left nothing behind (run after scripts/swarm-down.sh --purge).
#
#   scripts/swarm-verify-clean.sh    prints one line per kind of leftover with its count;
#                                    exits 1 if anything of the lab's is left, else 0
#
# Looks for the lab's network namespaces, its root-netns veth and route, processes whose
# command line names $SWARM_DIR or that live in its namespaces, its container cgroups, mounts
# under $SWARM_DIR and its data. Dead shim sockets in /run/containerd/s are counted for
# information only: other containerds on the machine share that directory.
# shellcheck source=scripts/swarm-lib.sh
. "$(dirname "$0")/swarm-lib.sh"
left=0
show() {  # show LABEL COUNT
  printf '%-44s %s\n' "$1" "$2"
  [ "$2" = 0 ] || left=1
}
procs=$(for p in /proc/[0-9]*; do
  c=$( (tr '\0' ' ' < "$p/cmdline") 2>/dev/null)
  case $c in *swarm-verify-clean*) ;; *"$SWARM_DIR/"*) echo "${p#/proc/} $c" ;; esac
done)
ns_procs=$(for ns in "$HUB_NS" $(for i in $(seq "$SWARM_N"); do node_ns "$i"; done); do pids_in_netns "$ns"; done)
show "netns named $SWARM_PFX-*" "$(ip netns list | grep -c "^$SWARM_PFX-")"
show "root-netns link $HOST_VETH" "$(ip link show "$HOST_VETH" >/dev/null 2>&1 && echo 1 || echo 0)"
show "root-netns routes to $SWARM_NET.0/24" "$(ip -4 route | grep -c "^$SWARM_NET\.")"
show "processes naming $SWARM_DIR" "$(printf '%s' "$procs" | grep -c .)"
show "processes in the lab's namespaces" "$(printf '%s' "$ns_procs" | grep -c .)"
show "cgroups named $SWARM_PFX-n*" "$(find /sys/fs/cgroup -maxdepth 6 -type d -name "$SWARM_PFX-n*" 2>/dev/null | wc -l)"
show "mounts under $SWARM_DIR" "$(grep -c " $SWARM_DIR/" /proc/self/mountinfo)"
show "$SWARM_DIR/{nodes,registry,state}" "$(n=0; for d in "$NODES" "$SWARM_DIR/registry" "$STATE"; do [ -e "$d" ] && n=$((n + 1)); done; echo $n)"
printf '%-44s %s\n' "dead sockets in /run/containerd/s (any's)" \
  "$(n=0; for f in /run/containerd/s/*; do [ -S "$f" ] && ! sock_alive "$f" && n=$((n + 1)); done; echo $n)"
[ -n "$procs" ] && printf '%s\n' "$procs" | cut -c1-160
exit "$left"
