#!/usr/bin/env bash
# Start a single-node Kubernetes cluster "the hard way", as host processes:
#   containerd (its own config, root, state and socket: never Docker's), etcd on
#   127.0.0.1, kube-apiserver, kube-controller-manager, kube-scheduler and kubelet,
#   with certificates made by openssl and a CNI bridge network for the Pods.
# Writes the admin kubeconfig to $KUBECONFIG_ADMIN (/var/lib/opslab-k8s/admin.kubeconfig).
# Idempotent: with the cluster already up it only checks it and exits.
#
# Usage: scripts/k8s/up.sh [--network-policy]
#   --network-policy  also run kube-router on the host as the NetworkPolicy controller
#                     (needs `build.sh --kube-router`); bridge CNI alone enforces none
# Needs the binaries from scripts/k8s/build.sh (run it first; it is cached).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
. "$HERE/env.sh"

WANT_NETPOL=${K8S_NETWORK_POLICY:-0}
for a in "$@"; do
  case "$a" in
    --network-policy) WANT_NETPOL=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "up.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done

T0=$(date +%s.%N)
for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
  [[ -x $K8S_BIN/$b ]] || { echo "up.sh: $K8S_BIN/$b missing: run scripts/k8s/build.sh first" >&2; exit 1; }
done
for b in containerd runc etcd ctr openssl iptables; do
  command -v "$b" >/dev/null || { echo "up.sh: $b missing: run scripts/k8s/build.sh first" >&2; exit 1; }
done
if ((WANT_NETPOL)) && [[ ! -x $KUBE_ROUTER_BIN ]]; then
  echo "up.sh: $KUBE_ROUTER_BIN missing: run scripts/k8s/build.sh --kube-router" >&2; exit 1
fi
PAUSE_TAR=$OPSLAB_K8S_CACHE/$K8S_VERSION/pause-image.tar
PAUSE_IMAGE=$(cat "$OPSLAB_K8S_CACHE/$K8S_VERSION/pause-image.name")

NODE_IP=$(k8s_node_ip)
mkdir -p "$K8S_STATE" "$K8S_RUN/pids" "$K8S_LOGS" "$K8S_PKI" "$K8S_STATE/cni/net.d" "$K8S_STATE/cni/ipam"
chmod 700 "$K8S_STATE" "$K8S_PKI"

# ------------------------------------------------------------------ helpers
start_daemon() { # name command...
  local name=$1; shift
  if k8s_pid_alive "$name"; then return 0; fi
  k8s_log "starting $name"
  # own session, so that the caller's shell ending does not end it
  setsid "$@" >>"$K8S_LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$K8S_RUN/pids/$name.pid"
  STARTED+=("$name")
}
STARTED=()

wait_for() { # description timeout-seconds command...
  local what=$1 limit=$2 i; shift 2
  for ((i = 0; i < limit * 5; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "up.sh: timed out after ${limit}s waiting for $what" >&2
  for n in "${STARTED[@]}"; do echo "--- last lines of $K8S_LOGS/$n.log" >&2; tail -15 "$K8S_LOGS/$n.log" >&2 || true; done
  return 1
}

# ------------------------------------------------------------------ already up?
all_up() {
  local n
  for n in containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet; do
    k8s_pid_alive "$n" || return 1
  done
  if ((WANT_NETPOL)); then k8s_pid_alive kube-router || return 1; fi
  k8s_kubectl get --raw=/readyz >/dev/null 2>&1
}
if all_up; then
  k8s_log "already running (node $K8S_NODE_NAME, kubeconfig $KUBECONFIG_ADMIN)"
  exit 0
fi

# ------------------------------------------------------------------ certificates
# A CA, then one key+cert per identity. EC P-256 keys: quick to make.
CA=$K8S_PKI/ca
mkcert() { # file CN O san(comma list, may be empty) usage(server|client|both)
  local f=$K8S_PKI/$1 cn=$2 o=$3 san=$4 use=$5 ext
  [[ -s $f.crt && -s $f.key ]] && return 0
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$f.key" 2>/dev/null
  ext=$(mktemp)
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    case $use in
      server) echo "extendedKeyUsage=serverAuth" ;;
      client) echo "extendedKeyUsage=clientAuth" ;;
      both) echo "extendedKeyUsage=serverAuth,clientAuth" ;;
    esac
    [[ -n $san ]] && echo "subjectAltName=$san"
  } >"$ext"
  openssl req -new -key "$f.key" -subj "/CN=$cn${o:+/O=$o}" -out "$f.csr" 2>/dev/null
  openssl x509 -req -in "$f.csr" -CA "$CA.crt" -CAkey "$CA.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$ext" -out "$f.crt" 2>/dev/null
  rm -f "$ext" "$f.csr"
}
if [[ ! -s $CA.crt ]]; then
  k8s_log "making certificates in $K8S_PKI"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$CA.key" 2>/dev/null
  openssl req -x509 -new -key "$CA.key" -subj "/CN=opslab-k8s-ca" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$CA.crt" 2>/dev/null
fi
mkcert apiserver kube-apiserver "" \
  "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:$K8S_SERVICE_IP,IP:$NODE_IP" server
mkcert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters "" client
mkcert admin opslab-admin system:masters "" client
mkcert controller-manager system:kube-controller-manager "" "" client
mkcert scheduler system:kube-scheduler "" "" client
mkcert kubelet-client "system:node:$K8S_NODE_NAME" system:nodes "" client
mkcert kube-router opslab-kube-router system:masters "" client
# the kubelet's serving cert names the node's address; remake it if the address changed
if [[ -s $K8S_PKI/kubelet.crt ]] && ! openssl x509 -in "$K8S_PKI/kubelet.crt" -noout -ext subjectAltName 2>/dev/null | grep -q "IP Address:$NODE_IP\b"; then
  rm -f "$K8S_PKI/kubelet.crt" "$K8S_PKI/kubelet.key"
fi
mkcert kubelet "$K8S_NODE_NAME" "" "DNS:$K8S_NODE_NAME,DNS:localhost,IP:$NODE_IP,IP:127.0.0.1" server
if [[ -s $K8S_PKI/apiserver.crt ]] && ! openssl x509 -in "$K8S_PKI/apiserver.crt" -noout -ext subjectAltName 2>/dev/null | grep -q "IP Address:$NODE_IP\b"; then
  rm -f "$K8S_PKI/apiserver.crt" "$K8S_PKI/apiserver.key"
  mkcert apiserver kube-apiserver "" \
    "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:$K8S_SERVICE_IP,IP:$NODE_IP" server
fi
if [[ ! -s $K8S_PKI/sa.key ]]; then
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K8S_PKI/sa.key" 2>/dev/null
  openssl pkey -in "$K8S_PKI/sa.key" -pubout -out "$K8S_PKI/sa.pub" 2>/dev/null
fi
chmod 600 "$K8S_PKI"/*.key

kubeconfig() { # file cert-name user
  local f=$1 c=$K8S_PKI/$2 user=$3
  cat >"$f.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: opslab-k8s
  cluster:
    server: https://127.0.0.1:$K8S_APISERVER_PORT
    certificate-authority-data: $(base64 -w0 <"$CA.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 <"$c.crt")
    client-key-data: $(base64 -w0 <"$c.key")
contexts:
- name: opslab-k8s
  context: {cluster: opslab-k8s, user: $user}
current-context: opslab-k8s
EOF
  chmod 600 "$f.tmp"; mv "$f.tmp" "$f"
}
kubeconfig "$KUBECONFIG_ADMIN" admin opslab-admin
kubeconfig "$K8S_STATE/controller-manager.kubeconfig" controller-manager system:kube-controller-manager
kubeconfig "$K8S_STATE/scheduler.kubeconfig" scheduler system:kube-scheduler
kubeconfig "$K8S_STATE/kubelet.kubeconfig" kubelet-client "system:node:$K8S_NODE_NAME"
kubeconfig "$K8S_STATE/kube-router.kubeconfig" kube-router opslab-kube-router

# ------------------------------------------------------------------ containerd
CNI_BIN=/usr/lib/cni
mkdir -p "$K8S_RUN/containerd" "$K8S_STATE/containerd"
cat >"$K8S_STATE/containerd.toml" <<EOF
# the cluster's own containerd: its own root, state and socket, beside Docker's
version = 2
root = "$K8S_STATE/containerd"
state = "$K8S_RUN/containerd-state"
[grpc]
  address = "$K8S_CONTAINERD_SOCK"
[ttrpc]
  address = "$K8S_CONTAINERD_SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$K8S_STATE/containerd-opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # this machine's root lacks CAP_SYS_RESOURCE, so no process may lower its
  # oom_score_adj: the sandbox's fixed -998 (and a Guaranteed pod's -997) made
  # runc fail ("can't get final child's PID from pipe: EOF"). Cap the scores at
  # containerd's own instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$K8S_RUN/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$K8S_STATE/cni/net.d"
    max_conf_num = 1
EOF
# bridge network for the node's pod range; the firewall plugin lets pod traffic
# through FORWARD (Docker sets its policy to DROP, and br_netfilter is on here)
cat >"$K8S_STATE/cni/net.d/10-opslab-k8s.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "opslab-k8s",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$K8S_BRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$K8S_POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$K8S_STATE/cni/ipam"
      }
    },
    {"type": "firewall", "backend": "iptables"},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
start_daemon containerd containerd --config "$K8S_STATE/containerd.toml" --log-level warn
wait_for "containerd on $K8S_CONTAINERD_SOCK" 30 k8s_ctr version
if ! k8s_ctr images ls -q | grep -qxF "$PAUSE_IMAGE"; then
  k8s_log "importing the pause image $PAUSE_IMAGE"
  k8s_ctr images import "$PAUSE_TAR" >/dev/null
fi

# Traffic to a Service IP has no kube-proxy to answer it: make it fail here at once
# rather than leave the machine through the default route.
ip route replace unreachable "$K8S_SERVICE_CIDR" 2>/dev/null || true

# ------------------------------------------------------------------ etcd
mkdir -p "$K8S_STATE/etcd"; chmod 700 "$K8S_STATE/etcd"
start_daemon etcd etcd --name opslab-k8s --data-dir "$K8S_STATE/etcd" \
  --listen-client-urls "http://127.0.0.1:$K8S_ETCD_CLIENT_PORT" \
  --advertise-client-urls "http://127.0.0.1:$K8S_ETCD_CLIENT_PORT" \
  --listen-peer-urls "http://127.0.0.1:$K8S_ETCD_PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$K8S_ETCD_PEER_PORT" \
  --initial-cluster "opslab-k8s=http://127.0.0.1:$K8S_ETCD_PEER_PORT" \
  --listen-metrics-urls "" --log-level warn
wait_for etcd 30 curl -fsS "http://127.0.0.1:$K8S_ETCD_CLIENT_PORT/health"

# ------------------------------------------------------------------ control plane
start_daemon kube-apiserver "$K8S_BIN/kube-apiserver" \
  --bind-address=127.0.0.1 --secure-port="$K8S_APISERVER_PORT" --advertise-address="$NODE_IP" \
  --etcd-servers="http://127.0.0.1:$K8S_ETCD_CLIENT_PORT" \
  --allow-privileged=true \
  --authorization-mode=Node,RBAC \
  --enable-admission-plugins=NodeRestriction \
  --client-ca-file="$CA.crt" \
  --tls-cert-file="$K8S_PKI/apiserver.crt" --tls-private-key-file="$K8S_PKI/apiserver.key" \
  --kubelet-client-certificate="$K8S_PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key="$K8S_PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$CA.crt" \
  --kubelet-preferred-address-types=InternalIP,Hostname \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$K8S_PKI/sa.pub" \
  --service-account-signing-key-file="$K8S_PKI/sa.key" \
  --service-cluster-ip-range="$K8S_SERVICE_CIDR" \
  --profiling=false --v=1
wait_for "kube-apiserver /readyz" 90 k8s_kubectl get --raw=/readyz

start_daemon kube-controller-manager "$K8S_BIN/kube-controller-manager" \
  --kubeconfig="$K8S_STATE/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$K8S_STATE/controller-manager.kubeconfig" \
  --authorization-kubeconfig="$K8S_STATE/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false \
  --cluster-signing-cert-file="$CA.crt" --cluster-signing-key-file="$CA.key" \
  --root-ca-file="$CA.crt" --service-account-private-key-file="$K8S_PKI/sa.key" \
  --use-service-account-credentials=true \
  --allocate-node-cidrs=true --cluster-cidr="$K8S_CLUSTER_CIDR" --node-cidr-mask-size=24 \
  --service-cluster-ip-range="$K8S_SERVICE_CIDR" \
  --profiling=false --v=1
start_daemon kube-scheduler "$K8S_BIN/kube-scheduler" \
  --kubeconfig="$K8S_STATE/scheduler.kubeconfig" \
  --authentication-kubeconfig="$K8S_STATE/scheduler.kubeconfig" \
  --authorization-kubeconfig="$K8S_STATE/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --leader-elect=false --profiling=false --v=1

# ------------------------------------------------------------------ kubelet
mkdir -p "$K8S_STATE/kubelet"
cat >"$K8S_STATE/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
healthzBindAddress: 127.0.0.1
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$CA.crt"}
authorization: {mode: Webhook}
tlsCertFile: "$K8S_PKI/kubelet.crt"
tlsPrivateKeyFile: "$K8S_PKI/kubelet.key"
containerRuntimeEndpoint: "unix://$K8S_CONTAINERD_SOCK"
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
podCIDR: "$K8S_POD_CIDR"
resolvConf: /etc/resolv.conf
# only locally imported images exist here and nothing can be pulled again: never GC them
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
rotateCertificates: false
serverTLSBootstrap: false
enableDebuggingHandlers: true
maxPods: 110
# a fork bomb in one Pod must not take every pid of the node (sandboxes: issue 8)
podPidsLimit: $K8S_POD_PIDS_LIMIT
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "2%"
  imagefs.available: "2%"
EOF
start_daemon kubelet "$K8S_BIN/kubelet" \
  --config="$K8S_STATE/kubelet-config.yaml" \
  --kubeconfig="$K8S_STATE/kubelet.kubeconfig" \
  --root-dir="$K8S_STATE/kubelet" \
  --hostname-override="$K8S_NODE_NAME" --node-ip="$NODE_IP" \
  --pod-infra-container-image="$PAUSE_IMAGE" \
  --v=1

wait_for "the kubelet's /healthz" 90 curl -fsS http://127.0.0.1:10248/healthz
wait_for "node $K8S_NODE_NAME to register" 90 k8s_kubectl get node "$K8S_NODE_NAME"

# ------------------------------------------------------------------ kube-router (NetworkPolicy only)
# Started once the Node object exists: kube-router v2.1.0 reads it at start, and on
# any start error it closes its health channel and dies of a nil-pointer panic
# (health_controller.go:91) that hides the real error.
if ((WANT_NETPOL)); then
  start_daemon kube-router "$KUBE_ROUTER_BIN" \
    --kubeconfig="$K8S_STATE/kube-router.kubeconfig" \
    --run-firewall=true --run-router=false --run-service-proxy=false \
    --hostname-override="$K8S_NODE_NAME" \
    --service-cluster-ip-range="$K8S_SERVICE_CIDR" \
    --health-port=20244 --metrics-port=0 --v=1
  wait_for "kube-router health" 60 curl -fsS http://127.0.0.1:20244/healthz
fi
wait_for "node $K8S_NODE_NAME Ready" 120 k8s_kubectl wait --for=condition=Ready "node/$K8S_NODE_NAME" --timeout=2s
wait_for "the default ServiceAccount" 60 k8s_kubectl -n default get serviceaccount default

T1=$(date +%s.%N)
k8s_log "cluster up in $(awk -v a="$T0" -v b="$T1" 'BEGIN{printf "%.1f", b-a}')s: node $K8S_NODE_NAME ($NODE_IP) Ready; export KUBECONFIG=$KUBECONFIG_ADMIN"
