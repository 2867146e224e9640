#!/bin/sh
# docker/stub-workspace.sh SRC OUT: the workspace at SRC reduced to what its dependencies depend
# on: Cargo.toml and Cargo.lock files, and every crate's targets as empty sources. The
# Dockerfile builds the dependencies from OUT in a layer of their own, which stays cached
# until a manifest or the lock file changes; a source edit then recompiles only the
# workspace's crates. (cargo-chef's idea, without a tool to install: the build image is
# offline on machines without a registry.)
set -eu
src=$1
mkdir -p "$2"
out=$(cd "$2" && pwd)
cd "$src"
find . -path ./target -prune -o \( -name Cargo.toml -o -name Cargo.lock \) -print |
  while read -r manifest; do
    mkdir -p "$out/$(dirname "$manifest")"
    cp "$manifest" "$out/$manifest"
  done
# Cargo reads these files as targets (discovered, or named in a manifest at the usual
# places): build scripts, libraries, binaries, benches, tests, examples. Empty ones compile in
# no time; a module file added elsewhere leaves the dependency layer as it was.
find . -path ./target -prune -o -type f \( -path '*/src/lib.rs' -o -path '*/src/main.rs' \
  -o -path '*/src/bin/*.rs' -o -name build.rs \
  -o -regex '.*/\(benches\|examples\|tests\)/[^/]*\.rs' \
  -o -regex '.*/\(benches\|examples\|tests\)/[^/]*/main\.rs' \) -print |
  while read -r target; do
    mkdir -p "$out/$(dirname "$target")"
    # A file with a `main` stays a program; anything else (a library, a test module) empty.
    if grep -q 'fn main' "$target"; then
      echo 'fn main() {}' >"$out/$target"
    else
      : >"$out/$target"
    fi
  done
