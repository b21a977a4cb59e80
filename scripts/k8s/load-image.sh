#!/usr/bin/env bash
# Copy images from the Docker engine into the cluster's containerd (namespace
# k8s.io), so that Pods can use them with no registry: `docker save | ctr import`.
# Only reads from Docker. An image already there with the same id is skipped.
#
# Usage: scripts/k8s/load-image.sh IMAGE...   (e.g. opslab/base:bookworm)
# Pods then name the image as Docker does (opslab/base:bookworm means
# docker.io/opslab/base:bookworm) with imagePullPolicy IfNotPresent or Never.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
. "$HERE/env.sh"

(($#)) || { sed -n '2,8p' "$0" >&2; exit 2; }
k8s_pid_alive containerd || { echo "load-image.sh: the cluster's containerd is not running (scripts/k8s/up.sh)" >&2; exit 1; }

for img in "$@"; do
  id=$(docker image inspect --format '{{.Id}}' "$img")
  ref=$img
  [[ $ref == */*/* || $ref == *.*/* || $ref == localhost/* ]] || { [[ $ref == */* ]] && ref=docker.io/$ref || ref=docker.io/library/$ref; }
  [[ $ref == *:* ]] || ref=$ref:latest
  have=$(k8s_ctr images ls "name==$ref" 2>/dev/null | awk 'NR>1{print $3}')
  # ctr lists the manifest digest; Docker's id is the config digest: compare that
  if [[ -n $have ]] && k8s_ctr content get "$have" 2>/dev/null | grep -qF "${id#sha256:}"; then
    k8s_log "$ref already loaded"
    continue
  fi
  t=$(date +%s.%N)
  docker save "$img" | k8s_ctr images import --digests=false - >/dev/null
  k8s_log "loaded $ref in $(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s"
done
