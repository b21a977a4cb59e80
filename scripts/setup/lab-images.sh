#!/usr/bin/env bash
# Build the lab images: every shared image labs/_images/<name>/ except base (which
# base-image.sh builds), then every lab's own labs/<id>/image/. Each is tagged with a
# hash of its inputs and rebuilt only when that hash changes; with nothing changed a
# run takes a second or two.
#
#   bash scripts/setup/lab-images.sh [NAME...]    build these (and their parents) only
#   bash scripts/setup/lab-images.sh --tags       print "NAME TAG up-to-date|missing" (or
#                                                 "NAME - invalid"), build nothing
#
# ---- THE TAG RULE (server/labs/images.ts computes the same: change both together) ----
#
#   Names:   labs/_images/<name>/  ->  <name>          (shared image, e.g. python-ml)
#            labs/<id>/image/      ->  lab-<id>        (a lab's own image; folders under
#                                                       labs/ starting with _ or . are not labs)
#            base                  ->  opslab/base:bookworm, built by base-image.sh
#
#   inputs(D) = lowercase hex sha256 of the concatenation, over every regular file under
#               folder D (recursively, hidden files included; symlinks and empty folders
#               do not count) sorted by relative path in byte order (LC_ALL=C), of the line
#                   "<relative path> <x or -> <hex sha256 of the file's content>\n"
#               where the relative path uses "/" and has no leading "./", and "x" means
#               the file has any execute bit. (Paths holding a tab or a newline are not
#               supported.) (For base this is exactly the
#               opslab.inputs-hash label base-image.sh puts on opslab/base:bookworm.)
#
#   parent(N) = <parent> from the first line of N's Dockerfile that starts with
#               "ARG BASE=" (leading blanks allowed, "ARG" in any case); that line must
#               read "ARG BASE=opslab/<parent>" or "ARG BASE=opslab/<parent>:<anything>"
#               (no quotes, <parent> matching ^[a-z0-9][a-z0-9-]*$). No such line, or
#               another form: the image is invalid (see labs/_images/README.md).
#
#   hash(base) = inputs(labs/_images/base)
#   hash(N)    = lowercase hex sha256 of the string
#                   "opslab-image-v1\nparent <hash(parent(N))>\ninputs <inputs(folder of N)>\n"
#   tag(N)     = "opslab/<N>:" + the first 12 characters of hash(N)
#
#   opslab/<N>:latest is also set, to the tag this checkout last built or found up to
#   date: a handle for people and tests. The server uses tag(N), never :latest (two
#   checkouts on one engine move :latest back and forth).
#
#   So a change to any file in an image's folder, or in any parent's folder, gives new
#   tags down the line. Wheels downloaded for a requirements.txt are not inputs: the
#   hash-locked requirements.txt fixes them.
# ----------------------------------------------------------------------------------------
#
# How an image is built (DOCKER_BUILDKIT=0, --pull=false: no registry is needed):
#   - the parent's exact tag goes in as --build-arg BASE=<tag>;
#   - if the folder has requirements.txt, the wheels it pins are downloaded on the host
#     with pip (PyPI answers from the host; from inside a container it may not: on the
#     build machines its TLS certificate does not verify there) into
#     $OPSLAB_CACHE_DIR/wheels/<key> (key: the file's sha256, Python version and CPU) and
#     appear as wheels/ in the build context, for `pip install --no-index`;
#   - labels: opslab.image=<name>, opslab.inputs-hash=<hash>, opslab.parent=<parent tag>;
#   - if the folder has smoke-test.sh, it runs in the new image as uid 1000 with no
#     network (`bash -s` on stdin); when it fails the new tag is removed again;
#   - untagged build stages labelled opslab.build-stage (multi-stage Dockerfiles) are
#     removed afterwards, and tags of the same image older than the newest
#     $OPSLAB_KEEP_IMAGES (default 3) are removed unless a container still uses them.
# The full build output goes to $OPSLAB_CACHE_DIR/logs/<name>-<12 hex>.log; the terminal
# shows the Dockerfile steps with the time since the build began, and what is not
# routine (apt and pip per-package lines and docker's layer ids are counted, not shown).
#
# Settings (environment):
#   OPSLAB_LABS_DIR         the labs folder (default labs/ of this checkout; tests use
#                           a copy)
#   OPSLAB_CACHE_DIR        wheels, build contexts and logs (default /var/cache/opslab)
#   OPSLAB_WHEEL_PYTHON     Python version of the images' interpreter (default 3.11)
#   OPSLAB_KEEP_IMAGES      hash tags to keep per image, current included (default 3)
#   OPSLAB_BUILD_NO_CACHE   1: build with --no-cache (what is out of date still decides
#                           what is built; to rebuild a current image, remove its tag)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=./lib.sh
. "$HERE/lib.sh"

REPO=$(cd "$HERE/../.." && pwd)
LABS=$(cd "${OPSLAB_LABS_DIR:-$REPO/labs}" && pwd)
SHARED="$LABS/_images"
BASE_TAG=opslab/base:bookworm
RULE_VERSION=opslab-image-v1
CACHE_DIR=${OPSLAB_CACHE_DIR:-/var/cache/opslab}
WHEEL_PYTHON=${OPSLAB_WHEEL_PYTHON:-3.11}
KEEP=${OPSLAB_KEEP_IMAGES:-3}
NO_CACHE=()
if [ "${OPSLAB_BUILD_NO_CACHE:-0}" = 1 ]; then NO_CACHE=(--no-cache); fi
T0=$(now_ms)

MODE=build
WANT=()
for a in "$@"; do
  case $a in
    --tags) MODE=tags ;;
    -h | --help)
      sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    -*) die "unknown option $a (see --help)" ;;
    *) WANT+=("$a") ;;
  esac
done
[[ $KEEP =~ ^[1-9][0-9]*$ ]] || die "OPSLAB_KEEP_IMAGES must be a positive integer (got '$KEEP')"

have docker || die "the docker CLI is missing; run scripts/setup/engine.sh first"
timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
  die "no Docker engine answers; run scripts/setup/engine.sh first"

# --- the rule ---------------------------------------------------------------------------
sha256_of_string() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# inputs DIR: see the rule above.
inputs() {
  (
    cd "$1"
    find . -type f -printf '%P\t%m\n' | LC_ALL=C sort -t "$(printf '\t')" -k1,1 |
      while IFS="$(printf '\t')" read -r f mode; do
        x=-
        if (((8#$mode & 8#111) != 0)); then x=x; fi
        printf '%s %s %s\n' "$f" "$x" "$(sha256sum <"$f" | cut -d' ' -f1)"
      done | sha256sum | cut -d' ' -f1
  )
}

NAME_RE='^[a-z0-9][a-z0-9-]*$'
declare -A DIR_OF=() PARENT_OF=() HASH_OF=() TAG_OF=() STATE_OF=()
ORDER=()

dir_of_name() {
  case $1 in
    base) echo "$SHARED/base" ;;
    lab-*) echo "$LABS/${1#lab-}/image" ;;
    *) echo "$SHARED/$1" ;;
  esac
}

# parent_name DOCKERFILE: the <parent> of the first "ARG BASE=opslab/<parent>[:...]" line.
parent_name() {
  local line re='^[[:space:]]*[Aa][Rr][Gg][[:space:]]+BASE=opslab/([a-z0-9][a-z0-9-]*)(:[^[:space:]]*)?[[:space:]]*$'
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    if [[ $line =~ ^[[:space:]]*[Aa][Rr][Gg][[:space:]]+BASE= ]]; then
      [[ $line =~ $re ]] || return 1
      echo "${BASH_REMATCH[1]}"
      return 0
    fi
  done <"$1"
  return 1
}

# resolve NAME [CHAIN]: fill DIR_OF, PARENT_OF, HASH_OF, TAG_OF for NAME and its parents;
# ORDER gets parents before children. A broken image (or parent) is reported, marked in
# BAD_OF and returns 1; the others go on.
declare -A BAD_OF=()
# bad MESSAGE: (inside resolve) report, and mark $name broken.
bad() {
  warn "$1"
  BAD_OF[$name]=1
}
resolve() {
  local name=$1 chain=${2:-} dir rel parent h
  [ -n "${HASH_OF[$name]:-}" ] && return 0
  if [ -n "${BAD_OF[$name]:-}" ]; then return 1; fi
  case " $chain " in *" $name "*) bad "image parents form a loop:$chain $name"; return 1 ;; esac
  [[ $name =~ $NAME_RE ]] || { bad "'$name' is not a valid image name (lowercase letters, digits, '-')"; return 1; }
  dir=$(dir_of_name "$name")
  rel=${dir#"$REPO"/}
  if [ "$name" = base ]; then
    [ -d "$dir" ] || { bad "missing $rel"; return 1; }
    DIR_OF[base]=$dir
    HASH_OF[base]=$(inputs "$dir")
    TAG_OF[base]=$BASE_TAG
    return 0
  fi
  [ -f "$dir/Dockerfile" ] || { bad "image '$name': no Dockerfile in $rel"; return 1; }
  parent=$(parent_name "$dir/Dockerfile") || {
    bad "$rel/Dockerfile needs a line 'ARG BASE=opslab/<parent image>' before its FROM, e.g. 'ARG BASE=opslab/python-ml', then 'FROM \${BASE}' (see labs/_images/README.md)"
    return 1
  }
  [ "$parent" != "$name" ] || { bad "$rel/Dockerfile names itself as its parent"; return 1; }
  resolve "$parent" "$chain $name" || { bad "image '$name': its parent '$parent' is broken"; return 1; }
  if ! h=$(inputs "$dir") || [ -z "$h" ]; then
    bad "could not hash $rel"
    return 1
  fi
  DIR_OF[$name]=$dir
  PARENT_OF[$name]=$parent
  HASH_OF[$name]=$(printf '%s\nparent %s\ninputs %s\n' "$RULE_VERSION" "${HASH_OF[$parent]}" "$h" | sha256sum | cut -d' ' -f1)
  TAG_OF[$name]="opslab/$name:${HASH_OF[$name]:0:12}"
  ORDER+=("$name")
}

# Every image: shared ones (not base), then the labs' own.
ALL=()
for d in "$SHARED"/*/; do
  n=$(basename "$d")
  [ "$n" = base ] && continue
  [ -f "$d/Dockerfile" ] || continue
  if ! [[ $n =~ $NAME_RE ]] || [[ $n == lab-* ]]; then
    warn "skipping labs/_images/$n: a shared image's folder name must match $NAME_RE and not start with 'lab-'"
    continue
  fi
  ALL+=("$n")
done
for d in "$LABS"/*/image/; do
  id=$(basename "$(dirname "$d")")
  case $id in _* | .*) continue ;; esac
  [ -f "$d/Dockerfile" ] || continue
  if ! [[ $id =~ $NAME_RE ]]; then
    warn "skipping labs/$id/image: a lab id with an image must match $NAME_RE"
    continue
  fi
  ALL+=("lab-$id")
done

if [ "${#WANT[@]}" -eq 0 ]; then WANT=("${ALL[@]}"); fi
FAILED=()
for n in "${WANT[@]}"; do resolve "$n" || FAILED+=("$n"); done

image_label() { docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }
up_to_date() { [ "$(image_label "${TAG_OF[$1]}" opslab.inputs-hash)" = "${HASH_OF[$1]}" ]; }

if [ "$MODE" = tags ]; then
  for n in "${ORDER[@]}"; do
    if up_to_date "$n"; then s=up-to-date; else s=missing; fi
    printf '%s %s %s\n' "$n" "${TAG_OF[$n]}" "$s"
  done
  for n in "${FAILED[@]}"; do printf '%s - invalid\n' "$n"; done
  [ "${#FAILED[@]}" -eq 0 ]
  exit
fi

if [ "${#ORDER[@]}" -eq 0 ]; then
  [ "${#FAILED[@]}" -eq 0 ] || die "lab images failed: ${FAILED[*]} ($(since "$T0"))"
  log "lab images: none to build ($(since "$T0"))"
  exit 0
fi

# The base must be the one this checkout describes, or every hash below would lie.
if [ "$(image_label "$BASE_TAG" opslab.inputs-hash)" != "${HASH_OF[base]}" ]; then
  die "$BASE_TAG is missing or was built from other inputs than labs/_images/base; run scripts/setup/base-image.sh first"
fi

# Nothing to do? (the common case; no lock needed)
todo=()
for n in "${ORDER[@]}"; do up_to_date "$n" || todo+=("$n"); done
# latest NAME: point opslab/NAME:latest at this checkout's tag.
latest() { docker tag "${TAG_OF[$1]}" "opslab/$1:latest" 2>/dev/null || warn "could not tag opslab/$1:latest"; }

if [ "${#todo[@]}" -eq 0 ]; then
  for n in "${ORDER[@]}"; do
    latest "$n"
    log "${TAG_OF[$n]} is up to date (also :latest)"
  done
  [ "${#FAILED[@]}" -eq 0 ] || die "lab images failed: ${FAILED[*]} ($(since "$T0"))"
  log "lab images ready ($(since "$T0"))"
  exit 0
fi

# One build at a time on this machine (shared wheel cache, build-stage cleanup).
LOCK="${TMPDIR:-/tmp}/opslab-lab-images.lock"
exec 9>>"$LOCK"
if have flock && ! flock -n 9; then
  log "another lab-images build is running; waiting for it (lock $LOCK)"
  flock -w 3600 9 || die "timed out waiting for the other build (lock $LOCK)"
fi

CTX=
cleanup() {
  if [ -n "$CTX" ] && [ -d "$CTX" ]; then rm -rf "$CTX"; fi
  return 0
}
trap cleanup EXIT

# --- wheels -----------------------------------------------------------------------------
engine_arch() {
  case $(docker version --format '{{.Server.Arch}}' 2>/dev/null) in
    amd64 | x86_64) echo x86_64 ;;
    arm64 | aarch64) echo aarch64 ;;
    *) die "no wheel platform for the engine's CPU ($(docker version --format '{{.Server.Arch}}' 2>/dev/null))" ;;
  esac
}

host_pip() {
  if have python3 && python3 -m pip --version >/dev/null 2>&1; then return 0; fi
  if is_root && is_debian; then
    apt_install python3-pip
    python3 -m pip --version >/dev/null 2>&1 && return 0
  fi
  die "pip is needed on this machine to download Python wheels for the images (Debian: apt-get install python3-pip)"
}

# wheels NAME: print the folder holding the wheels for NAME's requirements.txt,
# downloading them first unless cached.
wheels() {
  local name=$1 req key dir tmp arch t rc n plat=() m wlog
  req="${DIR_OF[$name]}/requirements.txt"
  arch=$(engine_arch)
  key=$(sha256_of_string "$(sha256sum <"$req" | cut -d' ' -f1) cp$WHEEL_PYTHON $arch")
  key=${key:0:16}
  dir="$CACHE_DIR/wheels/$key"
  if [ -f "$dir/.complete" ]; then
    touch "$dir/.complete"
    log "$name: wheels for requirements.txt are cached ($dir, $(find "$dir" -maxdepth 1 -type f ! -name '.*' | wc -l) files)" >&2
    echo "$dir"
    return 0
  fi
  host_pip
  mkdir -p "$CACHE_DIR/wheels" "$CACHE_DIR/logs"
  tmp=$(mktemp -d "$dir.tmp.XXXXXX")
  wlog="$CACHE_DIR/logs/wheels-$key.log"
  n=$(grep -c '^[A-Za-z0-9]' "$req" || true)
  # pip expands no manylinux_2_x tag to the older ones: name them all (bookworm: glibc 2.36).
  for m in $(seq 36 -1 17); do plat+=(--platform "manylinux_2_${m}_$arch"); done
  plat+=(--platform "manylinux2014_$arch")
  if [ "$arch" = x86_64 ]; then plat+=(--platform manylinux2010_x86_64 --platform manylinux1_x86_64); fi
  t=$(now_ms)
  log "$name: downloading the $n packages of requirements.txt on the host (CPython $WHEEL_PYTHON, $arch) into $dir" >&2
  set +e
  python3 -m pip download --no-deps --require-hashes --progress-bar off \
    --python-version "$WHEEL_PYTHON" --implementation cp --abi "cp${WHEEL_PYTHON/./}" "${plat[@]}" \
    -d "$tmp" -r "$req" 2>&1 9>&- | tee "$wlog" | awk -v n="$n" '
      /^Collecting / { c++; if (c % 25 == 0) { printf "[setup]   %d/%d\n", c, n; fflush() } }
      END { }' >&2
  rc=${PIPESTATUS[0]}
  set -e
  if [ "$rc" -ne 0 ]; then
    tail -n 25 "$wlog" | sed 's/^/[setup]   pip: /' >&2
    rm -rf "$tmp"
    die "$name: pip download failed (exit $rc); full output in $wlog"
  fi
  touch "$tmp/.complete"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  log "$name: $(find "$dir" -maxdepth 1 -type f ! -name '.*' | wc -l) files, $(du -sh "$dir" | cut -f1) ($(since "$t"))" >&2
  # Keep the three most recently used wheel sets.
  find "$CACHE_DIR/wheels" -mindepth 2 -maxdepth 2 -name .complete -printf '%T@ %h\n' | sort -rn | tail -n +4 |
    while read -r _ old; do rm -rf "$old" && log "removed old wheels $old" >&2; done
  echo "$dir"
}

# --- build output, condensed -----------------------------------------------------------
# Shows each Dockerfile step with the time since the build began, and every line that is
# not routine; routine lines are counted. The full output is in the log.
condense() {
  local start=$1 line n=0 ms
  local noise='^( ---> |Removing intermediate container|Sending build context|(Get|Hit|Ign):[0-9]|Fetched |Reading (package lists|database|state information)|Building dependency tree|\(Reading database|Selecting previously unselected|Preparing to unpack|Unpacking |Setting up |Processing triggers|debconf: |Processing /|Looking in links|  (Installing build dependencies|Getting requirements|Installing backend dependencies|Preparing metadata|Building wheel for|Created wheel for|Stored in directory)|Building wheels? for collected|Installing collected packages| +(Attempting uninstall|Found existing installation|Uninstalling |Successfully uninstalled)|Successfully built|DEPRECATED: The legacy builder|  *(Install the buildx|BuildKit is currently|Docker Engine release|environment-variable|https://docs\.docker\.com/go/buildx)|Need to get|After this operation|The following (additional|NEW) packages|Suggested packages|Recommended packages|  [a-z0-9].*[a-z0-9]$|[0-9]+ upgraded, |$)'
  while IFS= read -r line; do
    line=${line%$'\r'}
    if [[ $line == Step\ * ]]; then
      if [ "$n" -gt 0 ]; then printf '[setup]       (%d routine lines)\n' "$n"; fi
      n=0
      ms=$(($(now_ms) - start))
      printf '[setup]   [%3d.%d s] %s\n' $((ms / 1000)) $((ms % 1000 / 100)) "${line:0:110}"
    elif [[ $line =~ ^Successfully\ installed\ (.*)$ ]]; then
      printf '[setup]       Successfully installed %d packages\n' "$(wc -w <<<"${BASH_REMATCH[1]}")"
    elif [[ $line =~ $noise ]]; then
      n=$((n + 1))
    else
      printf '[setup]       %s\n' "${line:0:160}"
    fi
  done
  if [ "$n" -gt 0 ]; then printf '[setup]       (%d routine lines)\n' "$n"; fi
}

# --- build ------------------------------------------------------------------------------
build() {
  local name=$1 dir=${DIR_OF[$1]} tag=${TAG_OF[$1]} hash=${HASH_OF[$1]} parent=${PARENT_OF[$1]}
  local ptag=${TAG_OF[${PARENT_OF[$1]}]} t wdir blog rc
  t=$(now_ms)
  if [ "${STATE_OF[$parent]:-ok}" = failed ]; then
    warn "$name: not built, its parent $parent failed"
    STATE_OF[$name]=failed
    return 1
  fi
  log "building $tag (${dir#"$REPO"/}, FROM $ptag)"
  mkdir -p "$CACHE_DIR/logs"
  CTX=$(mktemp -d "$CACHE_DIR/ctx.XXXXXX")
  cp -a "$dir/." "$CTX/" || die "could not copy ${dir#"$REPO"/} into $CTX"
  if [ -f "$dir/requirements.txt" ]; then
    [ ! -e "$dir/wheels" ] || die "${dir#"$REPO"/}/wheels: that name is reserved for the downloaded wheels"
    wdir=$(wheels "$name") || exit 1
    # Hard links when the cache is on the same file system; a copy otherwise.
    cp -al "$wdir" "$CTX/wheels" 2>/dev/null || {
      rm -rf "$CTX/wheels"
      cp -a "$wdir" "$CTX/wheels"
    }
    rm -f "$CTX/wheels/.complete"
  fi
  blog="$CACHE_DIR/logs/$name-${hash:0:12}.log"
  log "docker build (full output: $blog)"
  set +e
  DOCKER_BUILDKIT=0 docker build --pull=false --force-rm \
    --build-arg "BASE=$ptag" \
    --label "opslab.image=$name" \
    --label "opslab.inputs-hash=$hash" \
    --label "opslab.parent=$ptag" \
    "${NO_CACHE[@]}" -t "$tag" "$CTX" 2>&1 9>&- | tee "$blog" | sed -u 's/\x1b\[[0-9;]*m//g' | condense "$t"
  rc=${PIPESTATUS[0]}
  set -e
  rm -rf "$CTX"
  CTX=
  # Untagged build stages (ours carry the label) and what a failed build left.
  docker image prune -f --filter label=opslab.build-stage >/dev/null 2>&1 || true
  if [ "$rc" -ne 0 ]; then
    tail -n 30 "$blog" | sed 's/^/[setup]   | /' >&2
    warn "docker build of $tag failed (exit $rc); full output in $blog"
    STATE_OF[$name]=failed
    return 1
  fi
  if [ "$(image_label "$tag" opslab.inputs-hash)" != "$hash" ]; then
    warn "$tag was not tagged by the build"
    STATE_OF[$name]=failed
    return 1
  fi
  if [ -f "$dir/smoke-test.sh" ]; then
    log "$name: smoke-test.sh as uid 1000, no network"
    if ! docker run --rm -i --network none --user 1000 "$tag" bash -s <"$dir/smoke-test.sh" 2>&1 9>&- | sed 's/^/[setup]   | /'; then
      docker rmi "$tag" >/dev/null 2>&1 || true
      warn "$name: smoke-test.sh failed in the new image; removed $tag"
      STATE_OF[$name]=failed
      return 1
    fi
  fi
  STATE_OF[$name]=ok
  log "built $tag ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%d MB", $1 / 1e6 }'), $(since "$t"))"
  prune_old "$name"
}

# prune_old NAME: remove all but the newest $KEEP hash tags of opslab/NAME (never the
# current one, never one a container uses: docker rmi without -f refuses those).
prune_old() {
  local name=$1 ref
  docker image ls "opslab/$name" --filter "label=opslab.image=$name" \
    --format '{{.CreatedAt}}|{{.Repository}}:{{.Tag}}' | sort -r | cut -d'|' -f2 |
    { grep -E ":[0-9a-f]{12}$" || true; } | { grep -vxF "${TAG_OF[$name]}" || true; } | tail -n +"$KEEP" |
    while read -r ref; do
      if docker rmi "$ref" >/dev/null 2>&1; then log "removed old $ref"; fi
    done
  return 0
}

for n in "${ORDER[@]}"; do
  if up_to_date "$n"; then
    STATE_OF[$n]=ok
    latest "$n"
    log "${TAG_OF[$n]} is up to date (also :latest)"
    continue
  fi
  if build "$n"; then latest "$n"; else FAILED+=("$n"); fi
done

if [ "${#FAILED[@]}" -gt 0 ]; then
  die "lab images failed: ${FAILED[*]} ($(since "$T0"))"
fi
log "lab images ready ($(since "$T0"))"
