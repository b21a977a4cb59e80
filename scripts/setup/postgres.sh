#!/usr/bin/env bash
# A PostgreSQL for the tests of the PostgreSQL store: a cluster of its own (its own
# directory, port and socket directory, so it never touches a system PostgreSQL), a
# role and a database for the tests. Idempotent: with the cluster already up it only
# checks it answers (well under a second). Prints the URL the tests read:
#
#   OPSLAB_TEST_DATABASE_URL=postgres://opslab_test:opslab_test@127.0.0.1:15432/opslab_test
#
#   bash scripts/setup/postgres.sh          # set up (if needed) and start
#   bash scripts/setup/postgres.sh --stop   # stop it (the data stays)
#
# Knobs: OPSLAB_TEST_PG_DIR (/var/lib/opslab-test-pg), OPSLAB_TEST_PG_PORT (15432).
# The cluster is for tests only: fsync is off (a crash may lose it; rerunning this
# script after `rm -rf $OPSLAB_TEST_PG_DIR` makes a new one), and the test role's
# password is in this file.
set -euo pipefail
# shellcheck source=scripts/setup/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_DIR=${OPSLAB_TEST_PG_DIR:-/var/lib/opslab-test-pg}
PORT=${OPSLAB_TEST_PG_PORT:-15432}
DATA="$PG_DIR/data"
RUN="$PG_DIR/run"
LOGFILE="$PG_DIR/postgres.log"
ROLE=opslab_test
PASSWORD=opslab_test
DB=opslab_test
URL="postgres://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DB"

# The newest installed server's programs (Debian keeps them per major version).
pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] && printf '%s\n' "$dir"
}

# Runs a command as the postgres OS user: initdb and the server refuse to run as root.
as_pg() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

answers() {
  [ -S "$RUN/.s.PGSQL.$PORT" ] || return 1
  PGPASSWORD=$PASSWORD PGCONNECT_TIMEOUT=2 "$BIN/psql" -X -q -At -h 127.0.0.1 -p "$PORT" -U "$ROLE" -d "$DB" -c 'SELECT 1' >/dev/null 2>&1
}

BIN=$(pg_bin || true)

if [ "${1:-}" = "--stop" ]; then
  if [ -n "$BIN" ] && [ -f "$DATA/postmaster.pid" ]; then
    as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
    log "stopped the test PostgreSQL on port $PORT"
  else
    log "the test PostgreSQL is not running"
  fi
  exit 0
fi

# Fast path: already up and the test role gets in.
if [ -n "$BIN" ] && answers; then
  printf 'OPSLAB_TEST_DATABASE_URL=%s\n' "$URL"
  exit 0
fi

start=$(now_ms)
if [ -z "$BIN" ]; then
  apt_install postgresql
  BIN=$(pg_bin) || die "postgresql is installed but no /usr/lib/postgresql/*/bin/pg_ctl was found"
fi
is_root || [ "$(id -un)" = postgres ] || die "run this as root (it creates $PG_DIR and runs the server as the postgres user)"

mkdir -p "$PG_DIR" "$RUN"
chown postgres:postgres "$PG_DIR" "$RUN" 2>/dev/null || true
chmod 0700 "$PG_DIR"

if [ ! -f "$DATA/PG_VERSION" ]; then
  log "initdb $DATA"
  rm -rf "$DATA"
  as_pg "$BIN/initdb" -D "$DATA" --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --username=postgres >/dev/null ||
    die "initdb failed"
fi

if ! as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  log "starting PostgreSQL on 127.0.0.1:$PORT (log: $LOGFILE)"
  touch "$LOGFILE" && chown postgres:postgres "$LOGFILE" 2>/dev/null || true
  # setsid: the server outlives this script and the shell that ran it.
  as_pg setsid "$BIN/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 60 \
    -o "-p $PORT -k $RUN -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null || die "PostgreSQL did not start; see $LOGFILE"
fi

# The test role (may create databases: each test file can make its own) and its database.
as_pg "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$RUN" -p "$PORT" -d postgres >/dev/null <<SQL || die "creating the test role failed"
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
  END IF;
END \$\$;
SQL
if [ "$(as_pg "$BIN/psql" -X -At -h "$RUN" -p "$PORT" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
  as_pg "$BIN/createdb" -h "$RUN" -p "$PORT" -O "$ROLE" "$DB" || die "createdb $DB failed"
fi

answers || die "PostgreSQL on port $PORT does not let $ROLE in; see $LOGFILE"
log "test PostgreSQL ready in $(since "$start")"
printf 'OPSLAB_TEST_DATABASE_URL=%s\n' "$URL"
