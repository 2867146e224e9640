#!/usr/bin/env bash
# How much each cargo entry point a newcomer types rebuilds after `cargo run` has built the
# application: counts the `Compiling` lines (and the seconds) of `cargo build -p details`,
# `cargo test --no-run`, `cargo test -p ratings --no-run` and bench/run.sh --smoke's build,
# each after the previous, starting from an empty target directory.
#   scripts/rebuilds.sh              this checkout
#   scripts/rebuilds.sh DIR          another checkout (e.g. `git worktree add DIR <commit>`)
# Takes a full debug build and its rebuilds: about 6 minutes per checkout on 2 cores.
set -euo pipefail
case ${1:-} in
  -h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
checkout=${1:-$(cd "$(dirname "$0")/.." && pwd)}
[ -d "$checkout" ] || { echo "rebuilds.sh: no checkout at $checkout" >&2; exit 2; }
cd "$checkout"
target=$(mktemp -d "${TMPDIR:-/tmp}/rebuilds.XXXXXX")
trap 'rm -rf "$target"' EXIT
export CARGO_TARGET_DIR=$target CARGO_TERM_COLOR=never
step() {
  local name=$1
  shift
  local started=$SECONDS log
  log=$("$@" 2>&1) || { printf '%s\n' "$log" >&2; exit 1; }
  printf '%-34s %4d crates compiled  %4d s\n' "$name" \
    "$(grep -c '^ *Compiling ' <<<"$log" || true)" "$((SECONDS - started))"
}
step "cargo run (its build)" cargo build
step "cargo build -p details" cargo build -p details
step "cargo test --no-run" cargo test --no-run
step "cargo test -p ratings --no-run" cargo test -p ratings --no-run
step "bench/run.sh --smoke (its build)" cargo build --workspace --bins
