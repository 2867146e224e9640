#!/bin/sh
# docker/stub-workspace.sh SRC OUT: the workspace at SRC reduced to what its dependencies depend
# on: Cargo.toml and Cargo.lock files, and every crate's targets as empty sources. The
# Dockerfile builds the dependencies from OUT in a layer of their own, which stays cached
# until a manifest or the lock file changes; a source edit then recompiles only the
# workspace's crates. (cargo-chef's idea, without a tool to install: the build image is
# offline on machines without a registry.)
set -eu
src=$1
out=$2
mkdir -p "$out"
cd "$src"
find . -path ./target -prune -o \( -name Cargo.toml -o -name Cargo.lock \) -print |
  while read -r manifest; do
    mkdir -p "$out/$(dirname "$manifest")"
    cp "$manifest" "$out/$manifest"
  done
# Cargo discovers targets from these files; empty ones compile in no time.
find . -path ./target -prune -o -type f \( -path '*/src/lib.rs' -o -path '*/src/main.rs' \
  -o -path '*/src/bin/*.rs' \) -print |
  while read -r target; do
    mkdir -p "$out/$(dirname "$target")"
    case $target in
      */lib.rs) : >"$out/$target" ;;
      *) echo 'fn main() {}' >"$out/$target" ;;
    esac
  done
