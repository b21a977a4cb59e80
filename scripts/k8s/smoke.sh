#!/usr/bin/env bash
# Prove the cluster from up.sh works the way a user of it would see it:
#   node Ready; a Pod from a locally imported image with runAsNonRoot, all
#   capabilities dropped, no privilege escalation, RuntimeDefault seccomp, no
#   ServiceAccount token, an emptyDir shared by two containers (one read-only)
#   and limits incl. ephemeral-storage; `kubectl exec -it` with a real TTY (and a
#   resize); a tar stream out of and into a Pod; the emptyDir size limit evicting
#   a Pod; and, with --network-policy (kube-router running), a deny-all
#   NetworkPolicy blocking pod-to-pod traffic and an allow rule opening it again.
# Prints one line per check and "N passed, N failed" at the end.
#
# Usage: scripts/k8s/smoke.sh [--network-policy] [--keep]
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
. "$HERE/env.sh"

NETPOL=0 KEEP=0
for a in "$@"; do
  case "$a" in
    --network-policy) NETPOL=1 ;;
    --keep) KEEP=1 ;;
    *) echo "smoke.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
IMAGE=${SMOKE_IMAGE:-opslab/base:bookworm}
NS=opslab-smoke
export KUBECONFIG=$KUBECONFIG_ADMIN
kc() { "$K8S_BIN/kubectl" "$@"; }
PASS=0 FAIL=0
check() { # name command...
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then PASS=$((PASS + 1)); printf 'ok    %s\n' "$name"
  else FAIL=$((FAIL + 1)); printf 'FAIL  %s\n%s\n' "$name" "$(tail -5 <<<"$out" | sed 's/^/      /')"; fi
}
check_eq() { # name want command...
  local name=$1 want=$2; shift 2
  local got; got=$("$@" 2>&1)
  if [[ $got == "$want" ]]; then PASS=$((PASS + 1)); printf 'ok    %s\n' "$name"
  else FAIL=$((FAIL + 1)); printf 'FAIL  %s: want %q, got %q\n' "$name" "$want" "$(tail -3 <<<"$got")"; fi
}
cleanup() { ((KEEP)) || kc delete ns "$NS" --wait=false >/dev/null 2>&1; }
trap cleanup EXIT

"$HERE/load-image.sh" "$IMAGE" >/dev/null 2>&1 || { echo "could not load $IMAGE from Docker" >&2; exit 1; }
kc delete ns "$NS" --wait=true --timeout=60s >/dev/null 2>&1 || true

pod_yaml() { # name labels-app extra-limits
  cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: $NS, labels: {app: $2}}
spec:
  automountServiceAccountToken: false
  enableServiceLinks: false
  dnsPolicy: Default
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  securityContext:
    runAsNonRoot: true
    runAsUser: 1000
    runAsGroup: 1000
    fsGroup: 1000
    seccompProfile: {type: RuntimeDefault}
  volumes:
  - name: work
    emptyDir: {sizeLimit: 64Mi}
  containers:
  - name: main
    image: $IMAGE
    imagePullPolicy: Never
    command: [sleep, infinity]
    workingDir: /workspace
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
    resources:
      requests: {cpu: 50m, memory: 64Mi, ephemeral-storage: 64Mi}
      limits: {cpu: 500m, memory: 256Mi, ephemeral-storage: 256Mi}
    volumeMounts: [{name: work, mountPath: /workspace}]
  - name: grader
    image: $IMAGE
    imagePullPolicy: Never
    command: [perl, -MIO::Socket::INET, -e, '\$s=IO::Socket::INET->new(LocalPort=>8080,Listen=>5,ReuseAddr=>1) or die "\$!"; while(\$c=\$s->accept){print \$c "pong\n"; close \$c}']
    securityContext:
      runAsUser: 1001
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
    resources:
      limits: {cpu: 200m, memory: 128Mi, ephemeral-storage: 64Mi}
    volumeMounts: [{name: work, mountPath: /workspace, readOnly: true}]
EOF
}

check "node $K8S_NODE_NAME Ready" kc wait --for=condition=Ready "node/$K8S_NODE_NAME" --timeout=30s
kc create ns "$NS" >/dev/null
# Pod Security admission (on by default): the pods below meet "restricted"
kc label ns "$NS" pod-security.kubernetes.io/enforce=restricted >/dev/null
rootpod_rejected() {
  local out; out=$(kc -n "$NS" run rootpod --image="$IMAGE" --image-pull-policy=Never --restart=Never -- sleep 1 2>&1)
  echo "$out"; grep -q 'forbidden: violates PodSecurity "restricted' <<<"$out"
}
check "Pod Security 'restricted' rejects a pod with no securityContext" rootpod_rejected
t=$(date +%s.%N)
{ pod_yaml sandbox app-a; echo ---; pod_yaml peer app-b; } | kc apply -f - >/dev/null
check "pods Running (2 pods, 4 containers)" kc -n "$NS" wait --for=condition=Ready pod/sandbox pod/peer --timeout=90s
echo "      (pods ready $(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s after apply)"

in_main() { kc -n "$NS" exec sandbox -c main -- sh -c "$1"; }
in_grader() { kc -n "$NS" exec sandbox -c grader -- sh -c "$1"; }
check_eq "runs as uid 1000, not root" 1000 in_main 'id -u'
check "no capabilities (CapEff 0)" in_main 'grep -q "^CapEff:[[:space:]]*0000000000000000$" /proc/self/status'
check "no_new_privs set" in_main 'grep -q "^NoNewPrivs:[[:space:]]*1$" /proc/self/status'
check "seccomp filter on (RuntimeDefault)" in_main 'grep -q "^Seccomp:[[:space:]]*2$" /proc/self/status'
check "no ServiceAccount token mounted" in_main '! ls /var/run/secrets/kubernetes.io 2>/dev/null'
check "memory limit 256Mi in the cgroup" in_main 'm=/sys/fs/cgroup/memory/memory.limit_in_bytes; [ -f $m ] || m=/sys/fs/cgroup/memory.max; [ "$(cat $m)" = 268435456 ]'
check "emptyDir shared: main writes" in_main 'echo shared-ok > /workspace/note.txt'
check_eq "emptyDir shared: grader reads" shared-ok in_grader 'cat /workspace/note.txt'
check "emptyDir read-only in grader" in_grader '! touch /workspace/x 2>/dev/null'

# a TTY through kubectl exec -it (script(1) gives kubectl a terminal)
tty_out=$( (sleep 2; printf 'tty; echo "sum=$((40+2))"\n'; sleep 1; printf 'exit\n') |
  timeout 30 script -qfec "$K8S_BIN/kubectl -n $NS exec -it sandbox -c main -- bash" /dev/null 2>&1)
check "kubectl exec -it: a TTY (/dev/pts)" grep -q '/dev/pts/[0-9]' <<<"$tty_out"
check "kubectl exec -it: input and output" grep -q 'sum=42' <<<"$tty_out"
if command -v tmux >/dev/null; then
  sock=k8s-smoke-$$
  tmux -L "$sock" new-session -d -s s -x 132 -y 41 "$K8S_BIN/kubectl -n $NS exec -it sandbox -c main -- bash"
  sleep 3; tmux -L "$sock" send-keys -t s 'stty size' Enter; sleep 1
  tmux -L "$sock" resize-window -t s -x 100 -y 30; sleep 1
  tmux -L "$sock" send-keys -t s 'stty size' Enter; sleep 1
  screen=$(tmux -L "$sock" capture-pane -p -t s)
  tmux -L "$sock" kill-server 2>/dev/null
  check "kubectl exec -it: window size 41x132" grep -q '^41 132$' <<<"$screen"
  check "kubectl exec -it: resize to 30x100" grep -q '^30 100$' <<<"$screen"
fi

# tar streams
tmp=$(mktemp -d)
in_main 'mkdir -p /workspace/repo/sub && head -c 20000000 /dev/urandom > /workspace/repo/big.bin && echo hi > /workspace/repo/sub/x.txt' >/dev/null
want=$(in_main 'sha256sum < /workspace/repo/big.bin')
check "tar stream out of a pod (20 MB, same sha256)" bash -c "'$K8S_BIN/kubectl' -n $NS exec sandbox -c grader -- tar -C /workspace -cf - repo | tar -C '$tmp' -xf - && [ \"\$(sha256sum < '$tmp/repo/big.bin')\" = '$want' ]"
check "tar stream into a pod" bash -c "tar -C '$tmp' -cf - repo/sub | '$K8S_BIN/kubectl' -n $NS exec -i sandbox -c main -- tar -C /tmp -xf - && '$K8S_BIN/kubectl' -n $NS exec sandbox -c main -- cat /tmp/repo/sub/x.txt | grep -qx hi"
rm -rf "$tmp"

# pod-to-pod traffic (bridge CNI) and, with kube-router, NetworkPolicy
PEER_IP=$(kc -n "$NS" get pod peer -o jsonpath='{.status.podIP}')
probe() { in_main "timeout 3 bash -c 'exec 3<>/dev/tcp/$PEER_IP/8080; cat <&3' 2>/dev/null | grep -q pong" 2>/dev/null; }
check "pod-to-pod TCP works with no policy" probe
NODE_IP=$(k8s_node_ip)
check "with no policy a pod reaches the node's kubelet port $NODE_IP:10250" in_main "timeout 3 bash -c 'exec 3<>/dev/tcp/$NODE_IP/10250' 2>/dev/null"
if ((NETPOL)); then
  kc apply -f - >/dev/null <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: $NS}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
EOF
  t=$(date +%s.%N) blocked=0
  for _ in $(seq 1 20); do if ! probe; then blocked=1; break; fi; sleep 0.5; done
  echo "      (deny-all in force $(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s after apply)"
  # and it stays shut: three more tries
  for _ in 1 2 3; do probe && blocked=0; done
  check "deny-all NetworkPolicy blocks pod-to-pod TCP (4 tries)" test $blocked = 1
  check "deny-all NetworkPolicy blocks egress to the node's kubelet port" in_main "! timeout 3 bash -c 'exec 3<>/dev/tcp/$NODE_IP/10250' 2>/dev/null"
  kc apply -f - >/dev/null <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-to-b, namespace: $NS}
spec:
  podSelector: {matchLabels: {app: app-b}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {app: app-a}}}], ports: [{port: 8080, protocol: TCP}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-egress-b, namespace: $NS}
spec:
  podSelector: {matchLabels: {app: app-a}}
  policyTypes: [Egress]
  egress: [{to: [{podSelector: {matchLabels: {app: app-b}}}], ports: [{port: 8080, protocol: TCP}]}]
EOF
  t=$(date +%s.%N) opened=0
  for _ in $(seq 1 20); do if probe; then opened=1; break; fi; sleep 0.5; done
  echo "      (allow rules in force $(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s after apply)"
  check "allow rules open a->b:8080 again" test $opened = 1
  check "allow rules keep a->node:10250 shut" in_main "! timeout 3 bash -c 'exec 3<>/dev/tcp/$NODE_IP/10250' 2>/dev/null"
  kc -n "$NS" delete networkpolicy --all >/dev/null
fi

# the emptyDir's sizeLimit: the kubelet evicts the pod that overfills it
in_main 'head -c 80000000 /dev/zero > /workspace/fill.bin' >/dev/null 2>&1
evicted=0
for _ in $(seq 1 45); do
  reason=$(kc -n "$NS" get pod sandbox -o jsonpath='{.status.reason}' 2>/dev/null)
  [[ $reason == Evicted ]] && { evicted=1; break; }; sleep 1
done
check "emptyDir sizeLimit 64Mi: an 80 MB file evicts the pod" test $evicted = 1

echo "k8s smoke: $PASS passed, $FAIL failed"
((FAIL == 0))
