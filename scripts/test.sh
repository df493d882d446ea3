#!/usr/bin/env bash
# Runs every test of the project: the unit tests of each crate, and the integration suite that
# starts the real server and drives it with the real binary — once on SQLite, once on PostgreSQL
# (a throwaway cluster this script starts from Debian's postgresql package, on a free port).
#   scripts/test.sh [cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/postgres.sh

echo "== unit tests and the integration suite on SQLite"
cargo test --workspace --locked "$@"

echo "== the integration suite on PostgreSQL"
trap pg_stop EXIT
pg_start
MSCOMMERCE_TEST_POSTGRES="$PG_URL" cargo test --locked -p mscommerce --test it "$@"
