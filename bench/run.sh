#!/usr/bin/env bash
# The benchmark: installs wrk if needed, builds the release binaries, runs every scenario.
#   bench/run.sh                 10 s per run (about 4 minutes)
#   bench/run.sh --seconds 5     shorter runs
#   bench/run.sh --smoke         a few seconds in all (CI: keeps the command working)
# Results: a Markdown table on stdout, JSON in bench/results/latest.json.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
cargo build --release --workspace --bins
exec target/release/bench "$@"
