#!/usr/bin/env bash
# Runs every test of the project: unit tests of each crate, and the integration tests that start
# the real server (SQLite in a temp folder, a free port) and drive it with the real binary.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked "$@"
