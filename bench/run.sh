#!/usr/bin/env bash
# The benchmark: installs wrk if needed, builds the release binaries, runs every scenario.
#   bench/run.sh                 3 interleaved rounds of 4 s per scenario (about 5 minutes)
#   bench/run.sh --rounds 5 --seconds 10
#   bench/run.sh --smoke         one 1 s round at 32 connections on the debug build (about 25 s;
#                                CI runs it so the command keeps working; its numbers mean nothing)
# Results: a Markdown table on stdout, JSON in bench/results/latest.json.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "wrk is needed: sudo apt-get install wrk (or run this script as root)" >&2
    exit 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
# The smoke run only checks that the command works, so it takes the debug build the tests
# already made instead of a release build (minutes on 2 cores); its numbers mean nothing.
profile=release
for arg in "$@"; do [ "$arg" = "--smoke" ] && profile=debug; done
if [ "$profile" = release ]; then
  cargo build --release --workspace --bins
else
  cargo build --workspace --bins
fi
exec "${CARGO_TARGET_DIR:-target}/$profile/bench" "$@"
