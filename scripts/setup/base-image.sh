#!/usr/bin/env bash
# Build opslab/base:bookworm from labs/_images/base/ without needing a registry.
#
#   a. Hash the inputs (every file under labs/_images/base/, packages.txt included). If
#      the image exists with label opslab.inputs-hash=<hash>, stop: it is up to date.
#   b. Find a root filesystem, cheapest first:
#        - opslab/rootfs:bookworm-<key> already imported (<key> = hash of packages.txt
#          and the recipe below);
#        - the cached debootstrap tarball in $OPSLAB_CACHE_DIR, imported;
#        - `docker pull debian:bookworm-slim` (a laptop with a registry); the Dockerfile
#          then installs packages.txt with apt;
#        - debootstrap --variant=minbase --include=<packages.txt> from the Debian
#          mirror in this machine's apt configuration, tarred (cached), imported.
#   c. docker build labs/_images/base --build-arg ROOTFS=<that image>, labelled with
#      the hash, tagged opslab/base:bookworm.
#
# Settings (environment):
#   OPSLAB_CACHE_DIR        debootstrap cache (default /var/cache/opslab)
#   OPSLAB_ROOTFS_SOURCE    auto (default) | pull | debootstrap
#   OPSLAB_PULL_TIMEOUT     seconds for the debian:bookworm-slim pull (default 60)
#   OPSLAB_DEBIAN_MIRROR    Debian mirror URL for debootstrap (default: from apt config)
#   OPSLAB_BASE_IMAGE       tag to build (default opslab/base:bookworm)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=./lib.sh
. "$HERE/lib.sh"

REPO=$(cd "$HERE/../.." && pwd)
CONTEXT="$REPO/labs/_images/base"
IMAGE=${OPSLAB_BASE_IMAGE:-opslab/base:bookworm}
SUITE=bookworm
SLIM_IMAGE="debian:$SUITE-slim"
ROOTFS_REPO=opslab/rootfs
CACHE_DIR=${OPSLAB_CACHE_DIR:-/var/cache/opslab}
SOURCE=${OPSLAB_ROOTFS_SOURCE:-auto}
PULL_TIMEOUT=${OPSLAB_PULL_TIMEOUT:-60}
# Bump when the debootstrap recipe below changes (invalidates the rootfs cache).
ROOTFS_RECIPE=1
T0=$(now_ms)

case $SOURCE in auto | pull | debootstrap) ;; *) die "OPSLAB_ROOTFS_SOURCE must be auto, pull or debootstrap (got '$SOURCE')" ;; esac
[ -f "$CONTEXT/Dockerfile" ] || die "missing $CONTEXT/Dockerfile"
[ -f "$CONTEXT/packages.txt" ] || die "missing $CONTEXT/packages.txt"
have docker || die "the docker CLI is missing; run scripts/setup/engine.sh first"
timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
  die "no Docker engine answers; run scripts/setup/engine.sh first"

mapfile -t PACKAGES < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$CONTEXT/packages.txt" | grep -v '^$' | LC_ALL=C sort -u)
[ "${#PACKAGES[@]}" -gt 0 ] || die "$CONTEXT/packages.txt lists no packages"

# --- a. up to date? -------------------------------------------------------------------
# Hash of every file in the build context: path, executable bit (what git keeps; the
# rest of the mode depends on the clone's umask) and content.
INPUTS_HASH=$(
  cd "$CONTEXT"
  find . -type f -printf '%P\n' | LC_ALL=C sort | while IFS= read -r f; do
    x=-
    if [ -x "$f" ]; then x=x; fi
    printf '%s %s %s\n' "$f" "$x" "$(sha256sum <"$f" | cut -d' ' -f1)"
  done | sha256sum | cut -d' ' -f1
)
SHORT=${INPUTS_HASH:0:12}

image_label() { docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

OLD_ID=$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
if [ -n "$OLD_ID" ] && [ "$(image_label "$IMAGE" opslab.inputs-hash)" = "$INPUTS_HASH" ]; then
  log "$IMAGE is up to date (inputs $SHORT) ($(since "$T0"))"
  exit 0
fi
# One build at a time on this machine (they would share the rootfs cache and tags).
LOCK="${TMPDIR:-/tmp}/opslab-base-image.lock"
exec 9>>"$LOCK"
if have flock && ! flock -n 9; then
  log "another base-image build is running; waiting for it (lock $LOCK)"
  flock -w 1800 9 || die "timed out waiting for the other build (lock $LOCK)"
  OLD_ID=$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
  if [ -n "$OLD_ID" ] && [ "$(image_label "$IMAGE" opslab.inputs-hash)" = "$INPUTS_HASH" ]; then
    log "$IMAGE is up to date (inputs $SHORT) ($(since "$T0"))"
    exit 0
  fi
fi
if [ -n "$OLD_ID" ]; then
  log "$IMAGE is out of date (inputs now $SHORT); rebuilding"
else
  log "$IMAGE does not exist; building it (inputs $SHORT)"
fi

# --- b. root filesystem -----------------------------------------------------------------
ARCH=$(dpkg --print-architecture 2>/dev/null || uname -m)
ROOTFS_KEY=$(printf 'recipe=%s suite=%s arch=%s variant=minbase packages=%s\n' \
  "$ROOTFS_RECIPE" "$SUITE" "$ARCH" "${PACKAGES[*]}" | sha256sum | cut -c1-12)
ROOTFS_TAG="$ROOTFS_REPO:$SUITE-$ROOTFS_KEY"
ROOTFS_TAR="$CACHE_DIR/rootfs-$SUITE-$ROOTFS_KEY.tar"

# debian_mirror: the Debian archive URL this machine's apt uses (for $SUITE if listed).
debian_mirror() {
  if [ -n "${OPSLAB_DEBIAN_MIRROR:-}" ]; then
    echo "$OPSLAB_DEBIAN_MIRROR"
    return 0
  fi
  local candidates=() f
  # deb822 files: one "<suite> <uri>" line per suite of each enabled "Types: deb" stanza.
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    mapfile -t -O "${#candidates[@]}" candidates < <(awk '
      function flush(   n, s, i, u) {
        if (types ~ /(^| )deb( |$)/ && tolower(enabled) != "no" && uris != "") {
          n = split(suites, s, " "); split(uris, u, " ")
          for (i = 1; i <= n; i++) print s[i], u[1]
        }
        types = ""; suites = ""; uris = ""; enabled = ""; last = ""
      }
      /^[[:space:]]*#/ { next }
      /^[[:space:]]*$/ { flush(); next }
      /^[[:space:]]/ { if (last == "uris") uris = uris " " $0; next }
      {
        key = tolower($1); sub(/:$/, "", key); val = $0; sub(/^[^:]*:[[:space:]]*/, "", val)
        last = key
        if (key == "types") types = val
        else if (key == "suites") suites = val
        else if (key == "uris") uris = val
        else if (key == "enabled") enabled = val
      }
      END { flush() }' "$f")
  done
  # One-line format: deb [options] uri suite components...
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    mapfile -t -O "${#candidates[@]}" candidates < <(awk '
      $1 != "deb" { next }
      {
        i = 2
        if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        if (i + 1 <= NF) print $(i + 1), $i
      }' "$f")
  done
  local line suite uri fallback=
  for line in "${candidates[@]}"; do
    suite=${line%% *}
    uri=${line#* }
    case $uri in http://* | https://*) ;; *) continue ;; esac
    uri=${uri%/}
    if [ "$suite" = "$SUITE" ]; then
      echo "$uri"
      return 0
    fi
    # Another Debian release's main archive (e.g. a trixie host) also serves bookworm.
    case $suite in *-*) ;; *) if [ -z "$fallback" ] && [[ $uri != *security* ]]; then fallback=$uri; fi ;; esac
  done
  if [ -n "$fallback" ] && grep -qs '^ID=debian' /etc/os-release; then
    echo "$fallback"
    return 0
  fi
  return 1
}

WORK=
cleanup() {
  [ -n "$WORK" ] && [ -d "$WORK" ] || return 0
  # debootstrap mounts proc/sys (and maybe more) in the target; never delete through a mount.
  local m
  awk -v d="$WORK/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || warn "could not unmount $m"
  done
  rm -rf --one-file-system "$WORK" || warn "could not remove $WORK"
}
trap cleanup EXIT

import_rootfs() {
  local t
  t=$(now_ms)
  log "importing $ROOTFS_TAR as $ROOTFS_TAG"
  docker import \
    --change 'LABEL opslab.image=rootfs' \
    --change "LABEL opslab.rootfs-key=$ROOTFS_KEY" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --message "opslab debootstrap $SUITE minbase: ${PACKAGES[*]}" \
    "$ROOTFS_TAR" "$ROOTFS_TAG" >/dev/null || die "docker import of $ROOTFS_TAR failed"
  log "imported $ROOTFS_TAG ($(since "$t"))"
}

# Shorten debootstrap's output: one line per 25 packages retrieved instead of two per package.
debootstrap_progress() {
  local line n=0
  local re='^I: (Retrieving|Validating) [^ ]+ [^ ]+$' re2='^I: [A-Z][a-z]+ [^ ]+\.\.\.$'
  while IFS= read -r line; do
    # Per-package lines: "I: Retrieving bash 5.2-2", "I: Extracting bash...", ...
    if [[ $line =~ $re ]] || [[ $line =~ $re2 && $line != *" on "* ]]; then
      if [ "${BASH_REMATCH[1]:-}" = Retrieving ]; then
        n=$((n + 1))
        if [ $((n % 25)) -eq 0 ]; then printf '[setup]   I: %d packages retrieved\n' "$n"; fi
      fi
      continue
    fi
    printf '[setup]   %s\n' "$line"
  done
  if [ "$n" -gt 0 ]; then printf '[setup]   I: %d packages retrieved in all\n' "$n"; fi
}

run_debootstrap() {
  local mirror t rc dir blog
  is_root || die "no rootfs for $SUITE: '$SLIM_IMAGE' cannot be pulled and debootstrap needs root. Run this as root, or make a registry reachable."
  have debootstrap || apt_install debootstrap
  mirror=$(debian_mirror) ||
    die "no Debian mirror for '$SUITE' in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list; set OPSLAB_DEBIAN_MIRROR=<url of a Debian archive>"
  mkdir -p "$CACHE_DIR"
  WORK=$(mktemp -d "$CACHE_DIR/debootstrap.XXXXXX")
  dir="$WORK/rootfs"
  blog="$WORK/debootstrap.log"
  t=$(now_ms)
  log "debootstrap --variant=minbase --include=$(
    IFS=,
    echo "${PACKAGES[*]}"
  ) $SUITE <tmp> $mirror (about 35 s; per-package lines are in its log)"
  set +e
  debootstrap --variant=minbase --include="$(
    IFS=,
    echo "${PACKAGES[*]}"
  )" "$SUITE" "$dir" "$mirror" 2>&1 | tee "$blog" |
    debootstrap_progress
  rc=${PIPESTATUS[0]}
  set -e
  if [ "$rc" -ne 0 ]; then
    tail -n 30 "$blog" >&2 || true
    tail -n 30 "$dir/debootstrap/debootstrap.log" >&2 2>/dev/null || true
    die "debootstrap failed (exit $rc) with mirror $mirror"
  fi
  log "debootstrap done ($(since "$t")); trimming docs and apt caches"
  # Same trimming as Debian's slim images; the Dockerfile installs the dpkg excludes for later installs.
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin "$dir"/var/lib/apt/lists/* \
    "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/groff/* \
    "$dir"/usr/share/lintian/* "$dir"/usr/share/linda/* "$dir"/usr/share/locale/*
  find "$dir/usr/share/doc" -mindepth 1 -not -type d -not -name copyright -delete
  find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete
  # Nothing may stay mounted inside before we tar it.
  if awk -v d="$dir/" 'index($2, d) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
    die "something is still mounted under $dir after debootstrap"
  fi
  t=$(now_ms)
  tar --numeric-owner --xattrs -C "$dir" \
    --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' --exclude='./run/*' --exclude='./tmp/*' \
    -cf "$ROOTFS_TAR.tmp" . || die "tar of the rootfs failed"
  mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
  log "cached $ROOTFS_TAR ($(du -h "$ROOTFS_TAR" | cut -f1), $(since "$t"))"
  cleanup
  WORK=
  import_rootfs
}

ROOTFS=
if [ "$SOURCE" != pull ] && image_exists "$ROOTFS_TAG"; then
  ROOTFS=$ROOTFS_TAG
  log "rootfs: $ROOTFS_TAG (already imported)"
elif [ "$SOURCE" != pull ] && [ -s "$ROOTFS_TAR" ]; then
  log "rootfs: cached debootstrap output $ROOTFS_TAR"
  import_rootfs
  ROOTFS=$ROOTFS_TAG
fi
if [ -z "$ROOTFS" ] && [ "$SOURCE" != debootstrap ]; then
  log "rootfs: trying 'docker pull $SLIM_IMAGE' (timeout ${PULL_TIMEOUT}s)"
  if timeout "$PULL_TIMEOUT" docker pull "$SLIM_IMAGE"; then
    ROOTFS=$SLIM_IMAGE
  elif image_exists "$SLIM_IMAGE"; then
    warn "pull failed; using the local $SLIM_IMAGE"
    ROOTFS=$SLIM_IMAGE
  elif [ "$SOURCE" = pull ]; then
    die "docker pull $SLIM_IMAGE failed (OPSLAB_ROOTFS_SOURCE=pull)"
  else
    log "rootfs: no registry; building it with debootstrap"
  fi
fi
if [ -z "$ROOTFS" ]; then
  run_debootstrap
  ROOTFS=$ROOTFS_TAG
fi

# --- c. build ----------------------------------------------------------------------------
t=$(now_ms)
log "docker build $IMAGE FROM $ROOTFS"
# The legacy builder works with both CLIs here (Debian's 20.10 and 28 without buildx) and
# uses the local FROM image; CLI 28 prints a deprecation notice for it.
DOCKER_BUILDKIT=0 docker build --pull=false --force-rm \
  --build-arg "ROOTFS=$ROOTFS" \
  --label "opslab.inputs-hash=$INPUTS_HASH" \
  --label "opslab.rootfs=$ROOTFS" \
  -t "$IMAGE" "$CONTEXT" 2>&1 9>&- | sed -u 's/^/[setup]   /'
[ "${PIPESTATUS[0]}" -eq 0 ] || die "docker build of $IMAGE failed"
[ "$(image_label "$IMAGE" opslab.inputs-hash)" = "$INPUTS_HASH" ] || die "$IMAGE was not tagged with the new build"
log "built $IMAGE ($(since "$t"))"

# Smoke test: users, workspace and tools.
docker run --rm --network none --user 1000 "$IMAGE" \
  bash -c 'test "$(id -un):$(pwd)" = candidate:/workspace && test -w /workspace && git --version >/dev/null && command -v script setpriv jq curl vim vi nano less >/dev/null' ||
  die "smoke test of $IMAGE failed"

# --- tidy what this script made before --------------------------------------------------
NEW_ID=$(docker image inspect --format '{{.Id}}' "$IMAGE")
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ] &&
  [ "$(docker image inspect --format '{{len .RepoTags}}' "$OLD_ID" 2>/dev/null || echo 1)" = 0 ]; then
  if docker rmi "$OLD_ID" >/dev/null 2>&1; then log "removed the previous $IMAGE (${OLD_ID:7:12})"; fi
fi
# Older debootstrap rootfs images (labelled by this script) and tarballs.
docker image ls --filter "reference=$ROOTFS_REPO:$SUITE-*" --filter 'label=opslab.image=rootfs' \
  --format '{{.Repository}}:{{.Tag}}' | while read -r old; do
  if [ "$old" != "$ROOTFS_TAG" ] && docker rmi "$old" >/dev/null 2>&1; then log "removed old $old"; fi
done
for old in "$CACHE_DIR"/rootfs-"$SUITE"-*.tar; do
  if [ -e "$old" ] && [ "$old" != "$ROOTFS_TAR" ]; then
    rm -f "$old"
    log "removed old $old"
  fi
done

log "$IMAGE ready (inputs $SHORT, rootfs $ROOTFS, $(docker image inspect --format '{{.Size}}' "$IMAGE" | awk '{ printf "%d MB", $1 / 1e6 }')) ($(since "$T0"))"
