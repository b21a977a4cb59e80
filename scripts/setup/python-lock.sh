#!/usr/bin/env bash
# Lock an image's Python requirements: resolve DIR/requirements.in into
# DIR/requirements.txt, every dependency pinned with the hashes of all its files on the
# index, for the interpreter the images run (Debian bookworm: CPython 3.11, glibc 2.36).
# lab-images.sh then downloads exactly those files and the build installs them with
# `pip install --require-hashes --no-deps --no-index`.
#
#   bash scripts/setup/python-lock.sh [DIR] [-- UV-ARGS...]
#       DIR defaults to labs/_images/python-ml. UV-ARGS go to `uv pip compile`, e.g.
#       `-- --upgrade-package fastapi`.
#
# An image on top of another one with a requirements.txt (a lab's image/ with
# `ARG BASE=opslab/python-ml`) gets a lock of only what it adds: the parents' locks
# (all the way up) are constraints, and the packages they pin are left out, since they
# are installed already. Install it with `pip install --no-deps` (labs/_images/README.md).
#
# Not part of setup (all.sh never runs it): run it after editing requirements.in, and
# commit both files. It installs uv (pinned) with pip into $OPSLAB_CACHE_DIR/tools.
#
# Settings (environment):
#   OPSLAB_CACHE_DIR        where the uv tool lives (default /var/cache/opslab)
#   OPSLAB_LOCK_PYTHON      Python version to resolve for (default 3.11)
#   OPSLAB_LOCK_PLATFORM    uv --python-platform (default <arch>-manylinux_2_36 of this host)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=./lib.sh
. "$HERE/lib.sh"

REPO=$(cd "$HERE/../.." && pwd)
UV_VERSION=0.13.9
CACHE_DIR=${OPSLAB_CACHE_DIR:-/var/cache/opslab}
PYVER=${OPSLAB_LOCK_PYTHON:-3.11}
case $(uname -m) in
  x86_64 | amd64) ARCH=x86_64 ;;
  aarch64 | arm64) ARCH=aarch64 ;;
  *) ARCH=$(uname -m) ;;
esac
PLATFORM=${OPSLAB_LOCK_PLATFORM:-$ARCH-manylinux_2_36}

DIR="$REPO/labs/_images/python-ml"
if [ $# -gt 0 ] && [ "$1" != -- ]; then
  DIR=$(cd "$1" && pwd)
  shift
fi
if [ "${1:-}" = -- ]; then shift; fi
[ -f "$DIR/requirements.in" ] || die "no requirements.in in $DIR"
REL=${DIR#"$REPO"/}

UV_DIR="$CACHE_DIR/tools/uv-$UV_VERSION"
UV="$UV_DIR/bin/uv"
if [ ! -x "$UV" ]; then
  have python3 || die "python3 is missing (needed once, to install uv with pip)"
  log "installing uv $UV_VERSION into $UV_DIR"
  mkdir -p "$CACHE_DIR/tools"
  rm -rf "$UV_DIR"
  python3 -m venv "$UV_DIR" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
  "$UV_DIR/bin/pip" install -q "uv==$UV_VERSION" || die "pip install uv==$UV_VERSION failed"
fi

# The parents' locks: constraints, and left out of this one.
parent_name() {
  local line re='^[[:space:]]*[Aa][Rr][Gg][[:space:]]+BASE=opslab/([a-z0-9][a-z0-9-]*)(:[^[:space:]]*)?[[:space:]]*$'
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    if [[ $line =~ $re ]]; then
      echo "${BASH_REMATCH[1]}"
      return 0
    fi
  done <"$1"
  return 1
}
LABS_ROOT=$(cd "$DIR/../.." && pwd)
PARENT_ARGS=()
d=$DIR
while [ -f "$d/Dockerfile" ] && p=$(parent_name "$d/Dockerfile") && [ "$p" != base ]; do
  case $p in
    lab-*) d="$LABS_ROOT/${p#lab-}/image" ;;
    *) d="$LABS_ROOT/_images/$p" ;;
  esac
  [ -d "$d" ] || die "parent image $p: no folder $d"
  if [ -f "$d/requirements.txt" ]; then
    log "constrained by ${d#"$REPO"/}/requirements.txt (its packages are left out)"
    PARENT_ARGS+=(-c "$d/requirements.txt")
    while read -r pkg; do PARENT_ARGS+=(--no-emit-package "$pkg"); done < <(sed -n 's/^\([A-Za-z0-9][A-Za-z0-9._-]*\)==.*/\1/p' "$d/requirements.txt")
  fi
done

T0=$(now_ms)
log "resolving $REL/requirements.in for CPython $PYVER on $PLATFORM"
cd "$REPO"
"$UV" pip compile --quiet \
  --python-version "$PYVER" --python-platform "$PLATFORM" \
  --generate-hashes \
  --custom-compile-command "bash scripts/setup/python-lock.sh $REL" \
  "${PARENT_ARGS[@]}" "$@" \
  -o "$REL/requirements.txt" "$REL/requirements.in" || die "uv pip compile failed"
n=$(grep -c '^[A-Za-z0-9].*==' "$REL/requirements.txt" || true)
log "wrote $REL/requirements.txt: $n packages pinned ($(since "$T0"))"
