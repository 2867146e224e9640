#!/usr/bin/env bash
# A local MariaDB for ratings v2, without Docker: Debian's mariadb-server on a data directory
# of its own, listening on 127.0.0.1 only, loaded with upstream's schema and rows
# (ratings/db-init/mysqldb-init.sql). The test suite starts it the same way.
#
#   scripts/mariadb-local.sh start     # then: BOOKINFO_RATINGS=v2-mysql cargo run
#   scripts/mariadb-local.sh sql "update ratings set rating=1 where reviewid=1"
#   scripts/mariadb-local.sh stop
#
# Settings: MYSQL_DB_PORT (3306), MYSQL_DB_USER (root) and MYSQL_DB_PASSWORD (none) — the
# ones ratings reads, so the launcher finds the server with no further flag — and
# BOOKINFO_MARIADB_DIR (${TMPDIR:-/tmp}/bookinfo-mariadb) for the data.
set -euo pipefail
# Debian keeps mariadbd in /usr/sbin, which is not on a normal user's PATH.
PATH="$PATH:/usr/sbin:/sbin"

command="${1:-start}"
dir="${BOOKINFO_MARIADB_DIR:-${TMPDIR:-/tmp}/bookinfo-mariadb}"
port="${MYSQL_DB_PORT:-3306}"
user="${MYSQL_DB_USER:-root}"
password="${MYSQL_DB_PASSWORD:-}"
schema="$(cd "$(dirname "$0")/.." && pwd)/ratings/db-init/mysqldb-init.sql"
socket="$dir/mysqld.sock"
pid_file="$dir/mysqld.pid"

# mariadbd refuses to run as root unless told to.
as_user=()
if [ "$(id -u)" = 0 ]; then as_user=(--user=root); fi

client() {
  mariadb --no-defaults --socket="$socket" --user=root "$@"
}

running() {
  [ -s "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

start() {
  if ! command -v mariadbd >/dev/null; then
    echo "mariadb-local: mariadbd not found; install Debian's mariadb-server (apt-get install mariadb-server)" >&2
    exit 1
  fi
  if running; then
    echo "mariadb-local: already running (pid $(cat "$pid_file")) on 127.0.0.1:$port" >&2
    return 0
  fi
  local fresh=false
  # A temporary directory of its own: servers sharing /tmp deleted each other's
  # #sql-temptable files (Errcode: 2) when tests ran several at once.
  mkdir -p "$dir/tmp"
  if [ ! -d "$dir/data/mysql" ]; then
    mkdir -p "$dir/data"
    # root on the socket only, without a password: the script's own door.
    TMPDIR="$dir/tmp" mariadb-install-db --no-defaults "${as_user[@]}" --datadir="$dir/data" \
      --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1 || {
      cat "$dir/install.log" >&2
      exit 1
    }
    fresh=true
  fi
  mariadbd --no-defaults "${as_user[@]}" --datadir="$dir/data" --socket="$socket" \
    --tmpdir="$dir/tmp" \
    --pid-file="$pid_file" --port="$port" --bind-address=127.0.0.1 --skip-name-resolve \
    --log-error="$dir/error.log" --innodb-buffer-pool-size=16M --skip-log-bin >>"$dir/error.log" 2>&1 &
  local server=$!
  for _ in $(seq 1 300); do
    if client -e 'select 1' >/dev/null 2>&1; then break; fi
    if ! kill -0 "$server" 2>/dev/null; then
      echo "mariadb-local: mariadbd stopped; its log:" >&2
      tail -20 "$dir/error.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  client -e 'select 1' >/dev/null
  if [ "$fresh" = true ]; then
    client <"$schema"
  fi
  # ratings connects over TCP: an account for it from 127.0.0.1, with the password of this
  # start (MYSQL_DB_PASSWORD may have changed since the data directory was made).
  client -e "CREATE USER IF NOT EXISTS '$user'@'127.0.0.1';
             ALTER USER '$user'@'127.0.0.1' IDENTIFIED BY '$password';
             GRANT ALL ON test.* TO '$user'@'127.0.0.1';"
  echo "MariaDB is running on 127.0.0.1:$port (user $user, data in $dir)."
  echo "Start Bookinfo on it: BOOKINFO_RATINGS=v2-mysql cargo run"
}

stop() {
  if running; then
    local pid
    pid="$(cat "$pid_file")"
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    echo "MariaDB stopped (data kept in $dir; remove it for a fresh start)."
  else
    echo "mariadb-local: not running" >&2
  fi
}

case "$command" in
  start) start ;;
  stop) stop ;;
  sql) shift; client test -e "$*" ;;
  *) echo "usage: $0 start|stop|sql STATEMENT" >&2; exit 2 ;;
esac
