#!/usr/bin/env bash
# Runs every test of the project: the unit tests of each crate, and the integration suite that
# starts the real server and drives it with the real binary — once on SQLite, once on PostgreSQL
# (a throwaway cluster this script starts from Debian's postgresql package, on a free port).
#   scripts/test.sh [cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== unit tests and the integration suite on SQLite"
cargo test --workspace --locked "$@"

echo "== the integration suite on PostgreSQL"
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pgbin" ]; then
  echo "PostgreSQL is not installed: apt-get install postgresql (the CI script does)" >&2
  exit 1
fi
cluster=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# initdb refuses to run as root: the cluster then belongs to the postgres user.
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$cluster"
stop() { as_owner "$pgbin/pg_ctl" -D "$cluster/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$cluster"; }
trap stop EXIT
as_owner "$pgbin/initdb" -D "$cluster/data" -U postgres --auth=trust --no-sync >/dev/null
as_owner "$pgbin/pg_ctl" -D "$cluster/data" -l "$cluster/log" -w \
  -o "-p $port -k $cluster -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on" start >/dev/null
MSCOMMERCE_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port" cargo test --locked -p mscommerce --test it "$@"
