# Shared settings for scripts/k8s/*.sh (sourced, not run).
# Every path, port and name of the single-node cluster lives here, so that up.sh,
# down.sh and a test harness agree. Override any of them through the environment.

K8S_VERSION=${K8S_VERSION:-v1.34.4}
OPSLAB_K8S_CACHE=${OPSLAB_K8S_CACHE:-/var/cache/opslab-k8s}
K8S_BIN=${K8S_BIN:-$OPSLAB_K8S_CACHE/$K8S_VERSION/bin}
KUBE_ROUTER_VERSION=${KUBE_ROUTER_VERSION:-v2.1.0}
KUBE_ROUTER_BIN=${KUBE_ROUTER_BIN:-$OPSLAB_K8S_CACHE/kube-router-$KUBE_ROUTER_VERSION/bin/kube-router}

# state that survives down.sh (certs, etcd data, images); --purge removes it
K8S_STATE=${K8S_STATE:-/var/lib/opslab-k8s}
# sockets, pid files, runc state: gone at reboot
K8S_RUN=${K8S_RUN:-/run/opslab-k8s}
K8S_LOGS=${K8S_LOGS:-$K8S_STATE/logs}
K8S_PKI=$K8S_STATE/pki
KUBECONFIG_ADMIN=${KUBECONFIG_ADMIN:-$K8S_STATE/admin.kubeconfig}

# the cluster's own containerd: never Docker's (/run/docker/containerd/containerd.sock)
K8S_CONTAINERD_SOCK=${K8S_CONTAINERD_SOCK:-$K8S_RUN/containerd/containerd.sock}

K8S_APISERVER_PORT=${K8S_APISERVER_PORT:-6443}
K8S_ETCD_CLIENT_PORT=${K8S_ETCD_CLIENT_PORT:-12379}
K8S_ETCD_PEER_PORT=${K8S_ETCD_PEER_PORT:-12380}
K8S_NODE_NAME=${K8S_NODE_NAME:-opslab-node}

# Pod and Service ranges: clear of Docker's pools (172.17/16.., 172.16/12, 192.168/16)
# and of the test engine's 10.231-10.232/16.
K8S_CLUSTER_CIDR=${K8S_CLUSTER_CIDR:-10.244.0.0/16}
K8S_POD_CIDR=${K8S_POD_CIDR:-10.244.0.0/24}
K8S_SERVICE_CIDR=${K8S_SERVICE_CIDR:-10.96.0.0/16}
K8S_SERVICE_IP=${K8S_SERVICE_IP:-10.96.0.1}
K8S_BRIDGE=${K8S_BRIDGE:-opslabk8s0}

# Processes per Pod (kubelet podPidsLimit): the only pids limit Kubernetes has, for the
# whole sandbox (workspace + grader). Without it a fork bomb in one Pod takes the node's.
K8S_POD_PIDS_LIMIT=${K8S_POD_PIDS_LIMIT:-1024}

k8s_log() { printf '[k8s %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

k8s_node_ip() {
  # the source address of the default route's interface (the kubelet refuses loopback)
  local dev ip
  dev=$(ip -4 route show default 2>/dev/null | awk '{for(i=1;i<NF;i++) if($i=="dev"){print $(i+1); exit}}')
  [[ -n $dev ]] && ip=$(ip -4 -o addr show dev "$dev" scope global | awk '{split($4,a,"/"); print a[1]; exit}')
  [[ -z ${ip:-} ]] && ip=$(ip -4 -o addr show scope global | awk '$2!~/^(docker|br-|veth|'"$K8S_BRIDGE"')/ {split($4,a,"/"); print a[1]; exit}')
  [[ -n ${ip:-} ]] || { echo "no global IPv4 address for the node" >&2; return 1; }
  echo "$ip"
}

k8s_pid_alive() { # name
  local f=$K8S_RUN/pids/$1.pid pid
  [[ -f $f ]] || return 1
  pid=$(cat "$f"); [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}

k8s_ctr() { ctr -a "$K8S_CONTAINERD_SOCK" -n k8s.io "$@"; }
k8s_kubectl() { "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
