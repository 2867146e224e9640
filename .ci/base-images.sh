#!/usr/bin/env bash
# Local equivalents of docker/Dockerfile's public base images, for a machine that cannot pull
# from a registry (CI here). Made from Debian's archive with debootstrap, then `docker import`:
#   bookinfo-local/debian-curl:bookworm  stands in for CURL_BASE_IMAGE (alpine + curl + bash)
#   bookinfo-local/rust:bookworm         stands in for RUST_IMAGE (rust:slim-bookworm): this
#                                        machine's Rust toolchain and crate cache, offline
# Usage: .ci/base-images.sh   (root; needs debootstrap and a running Docker engine)
set -euo pipefail
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

slim() {
  rm -rf "$1"/usr/share/{doc,man,info,locale} "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*
}

debootstrap --variant=minbase --include=curl,ca-certificates bookworm "$work/curl" "$mirror" >/dev/null &
curl_job=$!
debootstrap --variant=minbase --include=gcc,libc6-dev,ca-certificates bookworm "$work/rust" "$mirror" >/dev/null &
rust_job=$!
# Separate waits: under set -e a failure on the left of && would not stop the script.
wait "$curl_job"
wait "$rust_job"

slim "$work/curl"
tar -C "$work/curl" -c . | docker import - bookinfo-local/debian-curl:bookworm >/dev/null

# The toolchain that built everything else on this machine, and the crates it downloaded, so
# the image builds offline. CARGO_HOME differs from the host's, so copy only what cargo reads.
sysroot=$(rustc --print sysroot)
mkdir -p "$work/rust/usr/local/rust/bin" "$work/rust/usr/local/cargo/registry"
cp "$sysroot"/bin/{cargo,rustc} "$work/rust/usr/local/rust/bin/"
cp -a "$sysroot/lib" "$work/rust/usr/local/rust/"
cp -a "${CARGO_HOME:-$HOME/.cargo}"/registry/{index,cache} "$work/rust/usr/local/cargo/registry/"
slim "$work/rust"
tar -C "$work/rust" -c . | docker import \
  -c 'ENV PATH=/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'ENV CARGO_HOME=/usr/local/cargo' \
  -c 'ENV CARGO_NET_OFFLINE=true' \
  - bookinfo-local/rust:bookworm >/dev/null

docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^bookinfo-local/'
