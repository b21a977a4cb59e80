#!/usr/bin/env bash
# Builds the opslab server image (k8s/image/Dockerfile) with no registry:
#   bash k8s/image/build.sh [TAG]        (default opslab/server:dev; never pushed)
# Needs: the Docker engine, opslab/base:bookworm (scripts/setup/base-image.sh), Node 20
# on this machine with `npm ci` done and the web app built (`npm run build:web`).
# Then, for the single-node cluster of scripts/k8s:
#   bash scripts/k8s/load-image.sh opslab/server:dev
#   kubectl apply -k k8s/overlays/local
#
# Settings (environment):
#   OPSLAB_IMAGE_NODE   the Node 20 binary to put in the image (default: `command -v node`;
#                       it must be a Linux x86-64 glibc build, e.g. from nodejs.org)
#   OPSLAB_IMAGE_BASE   the image to build FROM (default opslab/base:bookworm)
#   OPSLAB_IMAGE_REF    a commit to take server/, labs/ and bin/ from (git archive) instead
#                       of the working tree (node_modules and web/dist are the tree's)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TAG=${1:-opslab/server:dev}
BASE=${OPSLAB_IMAGE_BASE:-opslab/base:bookworm}
NODE=${OPSLAB_IMAGE_NODE:-$(command -v node || true)}
T0=$(date +%s)

log() { printf '[image] %s\n' "$*" >&2; }
die() { printf '[image] error: %s\n' "$*" >&2; exit 1; }

[ -n "$NODE" ] && [ -x "$NODE" ] || die "no node binary (install Node 20, or set OPSLAB_IMAGE_NODE)"
NODE=$(readlink -f "$NODE")
# This machine's node fits the image only if this machine is Linux x86-64 too.
[ -n "${OPSLAB_IMAGE_NODE:-}" ] || [ "$(uname -sm)" = "Linux x86_64" ] ||
  die "this machine's node is not a Linux x86-64 binary; set OPSLAB_IMAGE_NODE to one (nodejs.org: node-v20.*-linux-x64)"
case $("$NODE" --version) in v20.*) ;; *) die "$NODE is $("$NODE" --version); the image needs Node 20" ;; esac
docker image inspect "$BASE" >/dev/null 2>&1 || die "$BASE is missing; run scripts/setup/base-image.sh"
[ -d "$REPO/node_modules/tsx" ] || die "node_modules is missing; run npm ci in $REPO"
[ -f "$REPO/web/dist/index.html" ] || die "web/dist is missing; run npm run build:web in $REPO"

CTX=$(mktemp -d "${TMPDIR:-/tmp}/opslab-server-image.XXXXXX")
trap 'rm -rf "$CTX"' EXIT
cp "$HERE/Dockerfile" "$CTX/Dockerfile"
cp "$NODE" "$CTX/node"
mkdir "$CTX/app"

# The sources as git sees them (tracked, and new files not ignored), not build leftovers;
# or, with OPSLAB_IMAGE_REF, exactly those of a commit.
cd "$REPO"
SOURCES=(server labs bin package.json package-lock.json tsconfig.json)
if [ -n "${OPSLAB_IMAGE_REF:-}" ]; then
  git archive --format=tar "$OPSLAB_IMAGE_REF" -- "${SOURCES[@]}" | tar -C "$CTX/app" -xf - ||
    die "git archive $OPSLAB_IMAGE_REF failed"
else
  git ls-files -z --cached --others --exclude-standard -- "${SOURCES[@]}" |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -C "$CTX/app" -xf -
fi
mkdir -p "$CTX/app/web"
cp -a web/dist "$CTX/app/web/dist"
# node_modules without the dev tools (typescript, eslint, vitest, playwright-core):
# npm prune only deletes, from the lockfile, so it needs no registry.
cp -a node_modules "$CTX/app/node_modules"
(cd "$CTX/app" && npm prune --omit=dev --offline --no-audit --no-fund --ignore-scripts >/dev/null) ||
  die "npm prune --omit=dev failed in the staged context"
log "context staged: $(du -sh "$CTX" | cut -f1) ($(($(date +%s) - T0)) s)"

DOCKER_BUILDKIT=0 docker build --pull=false --force-rm --build-arg "BASE=$BASE" -t "$TAG" "$CTX" 2>&1 | sed -u 's/^/[image]   /'
[ "${PIPESTATUS[0]}" -eq 0 ] || die "docker build of $TAG failed"

# Smoke test: the CLI starts as the image's user with a read-only root, as in the pod.
docker run --rm --network none --read-only --tmpfs /tmp "$TAG" --help >/dev/null ||
  die "$TAG does not start (docker run $TAG --help)"
log "built $TAG ($(docker image inspect --format '{{.Size}}' "$TAG" | awk '{ printf "%d MB", $1 / 1e6 }'), $(($(date +%s) - T0)) s)"
