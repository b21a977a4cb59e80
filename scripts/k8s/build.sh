#!/usr/bin/env bash
# Build what a single-node Kubernetes cluster needs on this machine, with no
# container registry and no prebuilt download:
#   - containerd, runc, the CNI plugins, etcd, iptables/ipset/conntrack: Debian packages
#   - kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kubectl:
#     built from k8s.io/kubernetes on the Go module proxy (staging replaces rewritten
#     to the published k8s.io/* v0.X.Y modules)
#   - the pod sandbox ("pause") image: build/pause/linux/pause.c from the same module,
#     compiled statically and wrapped as a one-layer image tar for `ctr images import`
#
# Outputs are cached by version under $OPSLAB_K8S_CACHE/<version>/ (default
# /var/cache/opslab-k8s), so a second run does nothing and prints "cached".
#
# Usage: scripts/k8s/build.sh [--kube-router] [--kube-proxy] [--force]
#   --kube-router  also build kube-router (network-policy controller) from the Go proxy
#   --kube-proxy   also build kube-proxy (not needed for Pods + exec)
#   --force        rebuild the binaries even if cached (Go build cache is kept: "warm")
# Env: K8S_VERSION (default v1.34.4), KUBE_ROUTER_VERSION, OPSLAB_K8S_CACHE
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.34.4}
KUBE_ROUTER_VERSION=${KUBE_ROUTER_VERSION:-v2.1.0}
CACHE=${OPSLAB_K8S_CACHE:-/var/cache/opslab-k8s}

WANT_ROUTER=0 WANT_PROXY=0 FORCE=0
for a in "$@"; do
  case "$a" in
    --kube-router) WANT_ROUTER=1 ;;
    --kube-proxy) WANT_PROXY=1 ;;
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done

VDIR=$CACHE/$K8S_VERSION
BIN=$VDIR/bin
TIMINGS=$VDIR/timings.txt
mkdir -p "$BIN"

log() { printf '[k8s-build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
record() { printf '%s\t%s\t%ss\t%s\n' "$(date -u +%FT%TZ)" "$1" "$2" "$3" >>"$TIMINGS"; log "$1: $2s ($3)"; }

# ---------------------------------------------------------------- Debian packages
apt_pkgs=(containerd runc containernetworking-plugins etcd-server etcd-client
  iptables ipset conntrack socat iproute2 openssl gcc libc6-dev jq)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  t=$(now)
  log "apt-get install ${missing[*]}"
  # etcd-server's postinst would start an etcd on :2379 through its init script;
  # forbid service starts during the install (no systemd here anyway).
  own_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; own_policy=1
  fi
  trap '[[ $own_policy == 1 ]] && rm -f /usr/sbin/policy-rc.d' EXIT
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >"$VDIR/apt.log" 2>&1; then
    apt-get update -q >>"$VDIR/apt.log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$VDIR/apt.log" 2>&1 \
      || { tail -20 "$VDIR/apt.log" >&2; exit 1; }
  fi
  [[ $own_policy == 1 ]] && rm -f /usr/sbin/policy-rc.d
  trap - EXIT
  record apt "$(elapsed "$t")" "${missing[*]}"
fi

# ---------------------------------------------------------------- Go environment
export GOCACHE=${OPSLAB_K8S_GOCACHE:-$CACHE/go-build} GOMODCACHE=${OPSLAB_K8S_GOMODCACHE:-$CACHE/go-mod} GOTOOLCHAIN=local
export GOWORK=off GOFLAGS="-mod=mod -buildvcs=false" GOMAXPROCS=${GOMAXPROCS:-2} CGO_ENABLED=0
GO="nice -n 10 go"
if [[ -n $(ls -A "$GOCACHE" 2>/dev/null) ]]; then CACHE_STATE=warm; else CACHE_STATE=cold; fi

# k8s.io/kubernetes module source with its ./staging replaces turned into
# requirements on the published modules (vX.Y.Z -> v0.Y.Z).
SRC=$VDIR/src
STAGING_VERSION=v0.${K8S_VERSION#v1.}
prepare_source() {
  [[ -f $SRC/.opslab-prepared ]] && return 0
  local t dir mods args=()
  t=$(now)
  log "downloading k8s.io/kubernetes@$K8S_VERSION from the Go module proxy"
  dir=$($GO mod download -json "k8s.io/kubernetes@$K8S_VERSION" | jq -r .Dir)
  [[ -d $dir ]] || { echo "go mod download k8s.io/kubernetes@$K8S_VERSION failed" >&2; exit 1; }
  rm -rf "$SRC"; cp -a "$dir" "$SRC"; chmod -R u+w "$SRC"
  # its go.work points at ./staging (not in the module zip) and vendor/ is stale
  # once the staging versions change: build in plain module mode.
  rm -rf "$SRC/go.work" "$SRC/go.work.sum" "$SRC/vendor"
  mods=$(awk '$2=="=>" && $3 ~ /^\.\/staging\// {print $1}' "$SRC/go.mod")
  for m in $mods; do args+=("-dropreplace=$m" "-require=$m@$STAGING_VERSION"); done
  (cd "$SRC" && go mod edit "${args[@]}")
  touch "$SRC/.opslab-prepared"
  record source "$(elapsed "$t")" "module download + go.mod rewrite ($(wc -w <<<"$mods") staging modules -> $STAGING_VERSION)"
}

build_date=$(date -u -d @0 +%Y-%m-%dT%H:%M:%SZ)
minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
ldx=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldx+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldx+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date -X $pkg.gitCommit=opslab-go-proxy-build"
done
LDFLAGS="-s -w$ldx"

build_k8s() {
  local name=$1 t
  if [[ $FORCE == 0 && -x $BIN/$name ]]; then return 0; fi
  prepare_source
  t=$(now)
  log "go build ./cmd/$name"
  (cd "$SRC" && $GO build -trimpath -ldflags="$LDFLAGS" -o "$BIN/$name.new" "./cmd/$name")
  mv "$BIN/$name.new" "$BIN/$name"
  record "$name" "$(elapsed "$t")" "go build, $CACHE_STATE Go cache at the start of this run"
}

t_all=$(now)
did=0
targets=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)
((WANT_PROXY)) && targets+=(kube-proxy)
for b in "${targets[@]}"; do
  if [[ $FORCE == 1 || ! -x $BIN/$b ]]; then did=1; build_k8s "$b"; fi
done

# ---------------------------------------------------------------- pause image
PAUSE_TAR=$VDIR/pause-image.tar
if [[ $FORCE == 1 || ! -s $PAUSE_TAR ]]; then
  prepare_source
  did=1; t=$(now)
  work=$(mktemp -d)
  pause_version=$(sed -n 's/^TAG ?= *//p' "$SRC/build/pause/Makefile" 2>/dev/null || true)
  pause_version=${pause_version:-3.10}
  PAUSE_TAG=${PAUSE_TAG:-localhost/opslab-k8s/pause:$pause_version}
  mkdir -p "$work/rootfs"
  nice -n 10 gcc -Os -static -Wall -Werror -DVERSION="v$pause_version-opslab" \
    -o "$work/rootfs/pause" "$SRC/build/pause/linux/pause.c"
  strip "$work/rootfs/pause"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work/rootfs" -cf "$work/layer.tar" pause
  diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
  cat >"$work/config.json" <<EOF
{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z",
 "config":{"User":"65535:65535","Entrypoint":["/pause"],"WorkingDir":"/"},
 "rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},
 "history":[{"created":"1970-01-01T00:00:00Z","created_by":"opslab scripts/k8s/build.sh: gcc -static build/pause/linux/pause.c from k8s.io/kubernetes@$K8S_VERSION"}]}
EOF
  cfg=$(sha256sum "$work/config.json" | cut -d' ' -f1)
  mv "$work/config.json" "$work/$cfg.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer.tar"]}]\n' "$cfg" "$PAUSE_TAG" >"$work/manifest.json"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work" -cf "$PAUSE_TAR.new" manifest.json "$cfg.json" layer.tar
  mv "$PAUSE_TAR.new" "$PAUSE_TAR"
  echo "$PAUSE_TAG" >"$VDIR/pause-image.name"
  rm -rf "$work"
  record pause-image "$(elapsed "$t")" "gcc -static pause.c ($pause_version) -> $PAUSE_TAG"
fi

# ---------------------------------------------------------------- kube-router (optional)
if ((WANT_ROUTER)); then
  RBIN=$CACHE/kube-router-$KUBE_ROUTER_VERSION/bin
  if [[ $FORCE == 1 || ! -x $RBIN/kube-router ]]; then
    did=1; t=$(now); mkdir -p "$RBIN"
    log "building github.com/cloudnativelabs/kube-router/v2@$KUBE_ROUTER_VERSION"
    rdir=$($GO mod download -json "github.com/cloudnativelabs/kube-router/v2@$KUBE_ROUTER_VERSION" | jq -r .Dir)
    rsrc=$CACHE/kube-router-$KUBE_ROUTER_VERSION/src
    rm -rf "$rsrc"; cp -a "$rdir" "$rsrc"; chmod -R u+w "$rsrc"
    (cd "$rsrc" && $GO build -trimpath \
      -ldflags="-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION" \
      -o "$RBIN/kube-router.new" ./cmd/kube-router)
    mv "$RBIN/kube-router.new" "$RBIN/kube-router"
    record kube-router "$(elapsed "$t")" "$KUBE_ROUTER_VERSION"
  fi
fi

if ((did)); then
  record total "$(elapsed "$t_all")" "build.sh $*"
else
  log "cached: $BIN ($(ls "$BIN" | tr '\n' ' '))"
fi
