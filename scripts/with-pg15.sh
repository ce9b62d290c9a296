#!/usr/bin/env bash
# Run a command (default: make test) with DATABASE_URL pointing at a throw-away PostgreSQL 15 server
# built from Debian's binaries: the lab must pass on PostgreSQL 15 to 18.
#   bash scripts/with-pg15.sh make test
# BARE=1: a server as a team's managed one may be: nothing in shared_preload_libraries, and the lab connects
# as a role that may create databases but is not a superuser (so it cannot install untrusted extensions).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${PG15_BIN:-/usr/lib/postgresql/15/bin}
BARE=${BARE:-}
ROOT=$PWD/.pglab/pg15${BARE:+-bare}
DATA=$ROOT/data
SOCKET=$ROOT/socket
PORT=$([ -n "$BARE" ] && echo 5416 || echo 5415)
[ -x "$BIN/initdb" ] || { echo "PostgreSQL 15 binaries not found in $BIN (apt-get install postgresql-15, or set PG15_BIN)."; exit 1; }

as_server_user() {
  # initdb and postgres refuse to run as root: use Debian's postgres user then.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

mkdir -p "$ROOT" "$SOCKET"
exec 9>"$PWD/.pglab/pg15${BARE:+-bare}.lock"
flock 9  # one run at a time: the server is stopped when the run ends
[ "$(id -u)" = 0 ] && chown -R postgres "$ROOT" && chmod o+x "$PWD/.pglab" "$PWD"
if [ ! -f "$DATA/PG_VERSION" ]; then
  as_server_user "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 >/dev/null
  cat >> "$DATA/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$SOCKET'
port = $PORT
shared_preload_libraries = '$([ -n "$BARE" ] || echo pg_stat_statements)'
wal_level = minimal
max_wal_senders = 0
fsync = off
full_page_writes = off
synchronous_commit = off
shared_buffers = 256MB
maintenance_work_mem = 256MB
max_connections = 200
CONF
fi
if ! as_server_user "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  as_server_user "$BIN/pg_ctl" -D "$DATA" -l "$ROOT/log" -w start >/dev/null
fi
trap 'as_server_user "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null' EXIT
USER_NAME=postgres
if [ -n "$BARE" ]; then
  USER_NAME=learner
  as_server_user "$BIN/psql" -h "$SOCKET" -p "$PORT" -U postgres -d postgres -qAt -c \
    "SELECT 1 FROM pg_roles WHERE rolname = 'learner'" | grep -q 1 ||
    as_server_user "$BIN/psql" -h "$SOCKET" -p "$PORT" -U postgres -d postgres -q -c \
      "CREATE ROLE learner LOGIN CREATEDB"
fi
export DATABASE_URL="postgresql://$USER_NAME@/postgres?host=$SOCKET&port=$PORT"
echo "PostgreSQL 15${BARE:+ (bare: no preloaded libraries, no superuser)} at $DATABASE_URL"
[ "$#" -gt 0 ] || set -- make test
"$@"
