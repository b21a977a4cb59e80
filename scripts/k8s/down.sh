#!/usr/bin/env bash
# Stop the single-node cluster started by up.sh and remove its Pods.
# Keeps the certificates, the etcd data and containerd's image store (imported
# images stay) unless --purge is given, which removes $K8S_STATE entirely.
# Never touches Docker's daemon or Docker's containerd.
#
# Usage: scripts/k8s/down.sh [--purge]
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
. "$HERE/env.sh"

PURGE=0
for a in "$@"; do
  case "$a" in
    --purge) PURGE=1 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "down.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done

stop() { # name [signal-wait-seconds]
  local name=$1 wait=${2:-20} f=$K8S_RUN/pids/$1.pid pid i
  [[ -f $f ]] || return 0
  pid=$(cat "$f")
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    k8s_log "stopping $name ($pid)"
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < wait * 5; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && { k8s_log "$name did not stop: SIGKILL"; kill -KILL "$pid" 2>/dev/null; sleep 0.2; }
  fi
  rm -f "$f"
}

# 1. Pods away through the API while the kubelet still runs (it tears down the
#    containers, the CNI network and the volumes properly).
if k8s_pid_alive kube-apiserver && k8s_pid_alive kubelet &&
  k8s_kubectl get --raw=/readyz >/dev/null 2>&1; then
  k8s_log "deleting all pods"
  k8s_kubectl delete pods --all --all-namespaces --grace-period=2 --timeout=60s --wait=true >/dev/null 2>&1 ||
    k8s_log "some pods did not go in time; removing their containers directly"
fi

# 2. the control plane and node agents
stop kube-router 10 & stop kubelet 20 & stop kube-scheduler 10 & stop kube-controller-manager 10 & wait
stop kube-apiserver 20
stop etcd 20

# 3. anything the kubelet left in the cluster's containerd (pods that were not
#    deleted in time), then containerd itself
if k8s_pid_alive containerd; then
  for c in $(k8s_ctr tasks ls -q 2>/dev/null); do
    k8s_ctr tasks kill -s SIGKILL "$c" >/dev/null 2>&1 || true
  done
  sleep 0.5
  for c in $(k8s_ctr tasks ls -q 2>/dev/null); do k8s_ctr tasks delete -f "$c" >/dev/null 2>&1 || true; done
  for c in $(k8s_ctr containers ls -q 2>/dev/null); do k8s_ctr containers delete "$c" >/dev/null 2>&1 || true; done
fi
stop containerd 20
# shims of the cluster's containerd only (their -address names our socket)
for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $K8S_CONTAINERD_SOCK" 2>/dev/null); do
  kill -KILL "$pid" 2>/dev/null || true
done

# 4. network leftovers: the bridge (the pods' veths go with it), the
#    Service-range guard route, and the iptables rules and chains that the CNI
#    plugins, the kubelet and kube-router made. (kube-router's own
#    --cleanup-config leaves its filter rules in place and then panics on a
#    kernel without IPVS, so this is done by hand.) Docker's chains are not touched.
ip link show "$K8S_BRIDGE" >/dev/null 2>&1 && ip link delete "$K8S_BRIDGE" 2>/dev/null
ip route del unreachable "$K8S_SERVICE_CIDR" 2>/dev/null
for ipt in iptables ip6tables; do
  command -v $ipt >/dev/null || continue
  for table in filter nat mangle; do
    rules=$($ipt -t $table -S 2>/dev/null) || continue
    # rules of ours in built-in or foreign chains: jumps to KUBE-*/CNI-* chains,
    # the firewall plugin's per-pod rules and the bridge plugin's masquerade jumps
    grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j (KUBE-|CNI-)' <<<"$rules" |
      grep -vE 'docker|DOCKER' | sed 's/^-A/-D/' |
      while read -r rule; do eval $ipt -t $table "$rule" 2>/dev/null; done
    # then the chains themselves: flush all, delete all (they may refer to each other)
    chains=$(awk '$1=="-N" && $2 ~ /^(KUBE-|CNI-)/ {print $2}' <<<"$rules")
    for c in $chains; do $ipt -t $table -F "$c" 2>/dev/null; done
    for c in $chains; do $ipt -t $table -X "$c" 2>/dev/null; done
  done
done
if command -v ipset >/dev/null; then
  for set in $(ipset list -n 2>/dev/null | grep -E '^(KUBE-|kube-router-)'); do ipset destroy "$set" 2>/dev/null; done
fi
rm -rf "$K8S_STATE/cni/ipam"/* 2>/dev/null

# 5. mounts the kubelet and containerd left (emptyDirs on tmpfs, projected
#    volumes, overlay rootfs, netns), deepest first
grep -E " ($K8S_STATE|$K8S_RUN)/" /proc/self/mounts | awk '{print $2}' | sort -r |
  while read -r m; do umount -l "$m" 2>/dev/null || true; done
rm -rf "$K8S_RUN"

if ((PURGE)); then
  k8s_log "purging $K8S_STATE"
  rm -rf "$K8S_STATE"
  rm -rf /var/log/pods/*_opslab* 2>/dev/null
fi
k8s_log "cluster stopped"
