#!/usr/bin/env bash
# A throwaway Postgres for the store's tests (TEST_DATABASE_URL): a fresh cluster in a
# temporary folder, listening on 127.0.0.1 only, on a free port, with a random password.
#
#   url=$(scripts/postgres.sh start)      # prints postgres://postgres:PASSWORD@127.0.0.1:PORT/team
#   TEST_DATABASE_URL=$url cargo test --lib store::
#   scripts/postgres.sh stop "$url"       # stops it and removes its folder
#
# Needs Postgres's server binaries (initdb, pg_ctl); installs Debian's `postgresql` with
# apt-get when they are missing (that needs root). initdb refuses to run as root, so as root
# the cluster runs as the `postgres` user (created by the package). Only the URL goes to
# stdout; progress goes to stderr.
# Exit codes: 0 done, 1 failed, 2 usage, 3 Postgres could not be installed.
set -euo pipefail

say() { echo "postgres.sh: $*" >&2; }

usage() {
  say "usage: $0 start | stop URL"
  exit 2
}

# The newest installed server's bin folder, or nothing.
find_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -n $dir && -x $dir/initdb ]]; then
    echo "$dir"
  elif command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    dirname "$(command -v initdb)"
  fi
}

install_postgres() {
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    say "initdb and pg_ctl are missing, and apt-get cannot install them here"
    exit 3
  fi
  say "installing postgresql with apt-get"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >&2; then
    say "apt-get could not install postgresql"
    exit 3
  fi
}

# Runs a command as the cluster's owner: this user, or `postgres` when this is root.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  local bindir port dir password url
  bindir=$(find_bindir)
  if [[ -z $bindir ]]; then
    install_postgres
    bindir=$(find_bindir)
    [[ -n $bindir ]] || { say "postgresql installed, but initdb was not found"; exit 3; }
  fi
  if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  fi
  port=$(free_port)
  # Under /tmp when root, so that the postgres user can reach it.
  if [[ $(id -u) -eq 0 ]]; then
    dir=$(mktemp -d "/tmp/mcm-postgres-$port-XXXXXX")
  else
    dir=$(mktemp -d "${TMPDIR:-/tmp}/mcm-postgres-$port-XXXXXX")
  fi
  password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
  printf '%s\n' "$password" >"$dir/pwfile"
  chmod 600 "$dir/pwfile"
  [[ $(id -u) -ne 0 ]] || chown -R postgres: "$dir"
  say "initdb in $dir"
  if ! as_owner "$bindir/initdb" -D "$dir/data" -U postgres -E UTF8 --auth=scram-sha-256 \
    --pwfile="$dir/pwfile" --no-instructions >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    rm -rf "$dir"
    exit 1
  fi
  rm -f "$dir/pwfile"
  if ! as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=off" \
    start >&2; then
    cat "$dir/server.log" >&2 || true
    rm -rf "$dir"
    exit 1
  fi
  if ! PGPASSWORD=$password "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres team >&2; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >&2 || true
    rm -rf "$dir"
    exit 1
  fi
  url="postgres://postgres:$password@127.0.0.1:$port/team"
  say "running on 127.0.0.1:$port (folder $dir); stop with: $0 stop URL"
  echo "$url"
}

stop() {
  local url=$1 port dir bindir
  port=$(sed -E 's|.*@127\.0\.0\.1:([0-9]+)/.*|\1|' <<<"$url")
  [[ $port =~ ^[0-9]+$ ]] || usage
  bindir=$(find_bindir)
  for dir in /tmp/mcm-postgres-"$port"-* "${TMPDIR:-/tmp}"/mcm-postgres-"$port"-*; do
    [[ -d $dir/data ]] || continue
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    rm -rf "$dir"
    say "stopped the Postgres on port $port"
    return 0
  done
  say "no throwaway Postgres on port $port"
  exit 1
}

case ${1:-} in
  start) start ;;
  stop) [[ $# -eq 2 ]] || usage; stop "$2" ;;
  *) usage ;;
esac
