#!/usr/bin/env bash
# Fail or bring back one node of the test swarm (started by scripts/swarm-up.sh).
#
#   scripts/swarm-node.sh kill I           SIGKILL node I's dockerd only: its containerd,
#                                          shims and containers keep running (a dockerd crash)
#   scripts/swarm-node.sh kill I --crash   SIGKILL every process of node I: dockerd,
#                                          containerd, shims, docker-proxy, containers (power loss)
#   scripts/swarm-node.sh restart I        start node I's dockerd again, in the namespaces of
#                                          its containerd if that still runs, else boot the node
#
# Signals only the node's recorded dockerd, or (--crash) the processes in the node's own
# network namespace and container cgroups. restart waits until the dockerd answers.
set -euo pipefail
# shellcheck source=scripts/swarm-lib.sh
. "$(dirname "$0")/swarm-lib.sh"
usage() { die "usage: $0 kill I [--crash] | restart I"; }
[ $# -ge 2 ] || usage
cmd=$1 i=$2 mode=${3:-}
case $i in ''|*[!0-9]*) usage ;; esac
{ [ "$i" -ge 1 ] && [ "$i" -le "$SWARM_N" ]; } || die "no node $i (1..$SWARM_N)"
[ -f "$STATE/pids" ] || die "no lab is recorded in $STATE (scripts/swarm-up.sh)"
nd=$(node_dir "$i")
case $cmd in
kill)
  case $mode in ''|--crash) ;; *) usage ;; esac
  read -r dp ds < <(recorded_pid "dockerd-n$i")
  pid_is_ours "$dp" "$ds" || die "dockerd of n$i is not running"
  shim_sockets_of "$i" >> "$STATE/shim-sockets"     # for swarm-down's stale-socket cleanup
  if [ "$mode" = --crash ]; then
    # shellcheck disable=SC2207
    victims=($(pids_in_netns "$(node_ns "$i")") $(for d in $(node_cgroup_dirs "$i"); do
      find "$d" -name cgroup.procs -exec cat {} +; done | sort -u))
    log "SIGKILL every process of n$i: ${#victims[@]} pids"
    kill -KILL "${victims[@]}" 2>/dev/null || true
  else
    log "SIGKILL dockerd of n$i (pid $dp)"
    kill -KILL "$dp"
  fi
  # wait until it is reaped: with a zombie left, the next dockerd refuses to start
  # ("pid file found, ensure docker is not running")
  for _ in $(seq 100); do [ -d "/proc/$dp" ] || break; sleep 0.1; done
  ;;
restart)
  [ -z "$mode" ] || usage
  read -r dp ds < <(recorded_pid "dockerd-n$i")
  pid_is_ours "$dp" "$ds" && die "dockerd of n$i still runs (pid $dp)"
  if [ -s "$nd/dockerd.pid" ] && ! [ -d "/proc/$(cat "$nd/dockerd.pid")" ]; then rm -f "$nd/dockerd.pid"; fi
  read -r cp cs < <(recorded_pid "containerd-n$i")
  if pid_is_ours "$cp" "$cs"; then
    log "restarting dockerd of n$i in the namespaces of its containerd (pid $cp)"
    # shellcheck disable=SC2046  # the command line is meant to split
    nsenter -t "$cp" -m -n -u -- $(dockerd_cmd "$i") </dev/null >> "$nd/dockerd.log" 2>&1 &
    record_pid "dockerd-n$i" $!
  else
    log "the containerd of n$i is gone too: booting the node"
    rm -f "$nd/containerd.pid"
    ip netns exec "$(node_ns "$i")" unshare --uts "$LAB_DIR/swarm-boot.sh" "$i" </dev/null &
    record_pid "dockerd-n$i" $!
    for _ in $(seq 50); do [ -s "$nd/containerd.pid" ] && break; sleep 0.1; done
    [ -s "$nd/containerd.pid" ] || die "containerd of n$i did not start, see $nd/containerd.log"
    record_pid "containerd-n$i" "$(cat "$nd/containerd.pid")"
  fi
  for _ in $(seq 300); do dk "$i" version >/dev/null 2>&1 && break; sleep 0.1; done
  dk "$i" version --format "dockerd of n$i answers: {{.Server.Version}}" >&2 \
    || die "dockerd of n$i did not come up, see $nd/dockerd.log"
  ;;
*) usage ;;
esac
