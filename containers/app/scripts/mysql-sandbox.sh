#!/usr/bin/env bash
# A throwaway MySQL server for running the test suite against MySQL as well
# as MariaDB, on a Debian machine without Docker:
#   scripts/mysql-sandbox.sh start   # on 127.0.0.1:${MYSQL_SANDBOX_PORT:-3307}, root without password
#   scripts/mysql-sandbox.sh stop
#
# Debian stable ships MariaDB only, so the server comes from Debian unstable's
# mysql-server-core package: fetched with apt into a directory of its own (the
# machine's packages are left alone), unpacked, and run with the C library
# unpacked beside it, with the deployment's own settings
# (containers/mysql/conf.d/mymonit.cnf, as the Compose file mounts them).
# Everything lives under ${MYSQL_SANDBOX_DIR:-/tmp/mymonit-mysql}.
# Exit status 3: MySQL could not be fetched or started (no apt, no mirror).
set -euo pipefail

dir=${MYSQL_SANDBOX_DIR:-/tmp/mymonit-mysql}
port=${MYSQL_SANDBOX_PORT:-3307}
root=$dir/root
lib=$root/usr/lib/x86_64-linux-gnu
socket=$dir/run/mysqld.sock
settings=$(cd "$(dirname "$0")/../../mysql/conf.d" && pwd)/mymonit.cnf

# Runs a program of the unpacked tree with the unpacked C library and libraries.
loader=("$lib/ld-linux-x86-64.so.2" --library-path "$lib:$lib/private")
run() { "${loader[@]}" "$@"; }
client() { run "$root/usr/bin/mysql" --no-defaults -uroot -S "$socket" "$@"; }
unavailable() { echo "mysql-sandbox: $*" >&2; exit 3; }

fetch() {
  [ -x "$root/usr/sbin/mysqld" ] && return 0
  command -v apt-get >/dev/null || unavailable "apt-get is not here"
  mkdir -p "$dir/apt/sources" "$dir/apt/lists/partial" "$dir/apt/archives/partial" "$root"
  : >"$dir/apt/status"
  cat >"$dir/apt/sources/unstable.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  local apt=(-o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$dir/apt/sources"
    -o "Dir::State::lists=$dir/apt/lists" -o "Dir::Cache::archives=$dir/apt/archives" -o "Dir::State::status=$dir/apt/status"
    -o Debug::NoLocking=1)
  apt-get "${apt[@]}" -qq update || unavailable "apt-get update of Debian unstable failed"
  apt-get "${apt[@]}" -qq -y --download-only --no-install-recommends install mysql-server-core mysql-client-core >/dev/null ||
    unavailable "could not download mysql-server-core"
  for deb in "$dir"/apt/archives/*.deb; do dpkg-deb -x "$deb" "$root"; done
}

start() {
  if [ -S "$socket" ] && client -e 'SELECT 1' >/dev/null 2>&1; then
    echo "MySQL $(client -N -e 'SELECT VERSION()') already answers on 127.0.0.1:$port"
    return 0
  fi
  fetch
  mkdir -p "$dir/run" "$dir/files"
  local server=(--defaults-file="$settings" --user=root --datadir="$dir/data" --basedir="$root/usr"
    --lc-messages-dir="$root/usr/share/mysql" --secure-file-priv="$dir/files")
  if [ ! -d "$dir/data/mysql" ]; then
    rm -rf "$dir/data"
    run "$root/usr/sbin/mysqld" "${server[@]}" --initialize-insecure --log-error="$dir/initialize.log" ||
      unavailable "mysqld --initialize failed: $(tail -3 "$dir/initialize.log")"
  fi
  setsid "${loader[@]}" "$root/usr/sbin/mysqld" "${server[@]}" \
    --port="$port" --bind-address=127.0.0.1 --socket="$socket" --mysqlx=OFF --pid-file="$dir/run/mysqld.pid" \
    --log-error="$dir/error.log" </dev/null >/dev/null 2>&1 &
  for _ in $(seq 60); do
    client -e 'SELECT 1' >/dev/null 2>&1 && break
    sleep 1
  done
  client -e 'SELECT 1' >/dev/null 2>&1 || unavailable "mysqld did not answer within 60 s: $(tail -3 "$dir/error.log")"
  # Over TCP the tests connect as root from 127.0.0.1, which --initialize does not create.
  client -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
             GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION"
  echo "MySQL $(client -N -e 'SELECT VERSION()') answers on 127.0.0.1:$port"
}

stop() {
  [ -f "$dir/run/mysqld.pid" ] || return 0
  local pid
  pid=$(cat "$dir/run/mysqld.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || return 0; sleep 1; done
  kill -9 "$pid" 2>/dev/null || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
