#!/usr/bin/env bash
# Boot one node of the test swarm: runs INSIDE `ip netns exec swm-nI unshare --uts`
# (the node's network namespace, a private mount and UTS namespace, a fresh /sys).
#
#   usage: swarm-boot.sh I   (started by swarm-up.sh and swarm-node.sh restart, not by hand)
#
# Puts back the cgroup mounts that `ip netns exec` hid, names the host swm-nI, gives the
# node its own /etc/docker (dockerd 20.10 always reads /etc/docker/key.json), starts the
# node's private containerd, then execs dockerd, so this script's pid is dockerd's.
set -euo pipefail
# shellcheck source=scripts/swarm-lib.sh
. "$(dirname "$0")/swarm-lib.sh"
i=$1
nd=$(node_dir "$i")

restore_cgroup_mounts

# optional: dockerd uses iptables-legacy instead of Debian's default iptables-nft
if [ "$SWARM_IPTABLES" = legacy ]; then
  mkdir -p "$SWARM_DIR/legacy-bin"
  for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -sf "/usr/sbin/${t/tables/tables-legacy}" "$SWARM_DIR/legacy-bin/$t"
  done
  export PATH=$SWARM_DIR/legacy-bin:$PATH
fi

hostname "$(node_ns "$i")"   # `docker node ls` shows swm-nI
mount --bind "$nd/etc-docker" /etc/docker

# A private containerd: dockerd would otherwise reuse /run/containerd/containerd.sock if
# some other containerd made it. Same mount namespace as dockerd, whose overlay2 rootfs
# mounts the shim and runc must see.
containerd --config "$nd/containerd.toml" >> "$nd/containerd.log" 2>&1 &
echo "$!" > "$nd/containerd.pid"
for _ in $(seq 100); do [ -S "$nd/containerd/containerd.sock" ] && break; sleep 0.1; done

# shellcheck disable=SC2046  # the command line is meant to split
exec $(dockerd_cmd "$i") >> "$nd/dockerd.log" 2>&1
