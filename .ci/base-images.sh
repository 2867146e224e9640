#!/usr/bin/env bash
# Local equivalents of docker/Dockerfile's public base images, for a machine that cannot pull
# from a registry (CI here). Made from Debian's archive with debootstrap, then `docker import`,
# and tagged with the names of the Dockerfile's FROM lines, so `docker/build.sh` needs no
# argument (the legacy builder does not pull an image it already has):
#   debian:bookworm-slim      with what docker/curl-rootfs.sh would install (a C toolchain,
#                             OpenSSL and zlib headers, dpkg-dev) and Debian's curl source
#                             package unpacked in /usr/src
#   rust:1.95-slim-bookworm   this machine's Rust toolchain and crate cache, offline
# (the names are read from docker/Dockerfile; these are today's). Such a tag shadows the
# public image on this engine: `docker rmi` it before building against the real one.
# Usage: .ci/base-images.sh   (root; needs debootstrap and a running Docker engine)
set -euo pipefail
cd "$(dirname "$0")/.."
base_image() { sed -n "s/^FROM \($1:[^ ]*\) AS .*/\1/p" docker/Dockerfile | sort -u; }
debian_image=$(base_image debian)
rust_image=$(base_image rust)
for image in "$debian_image" "$rust_image"; do
  case $image in
    *$'\n'* | '') echo "docker/Dockerfile must name one debian and one rust base: $image" >&2; exit 1 ;;
  esac
done
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

slim() {
  rm -rf "$1"/usr/share/{man,info,locale} "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*
  # Licence texts stay (docker/curl-rootfs.sh ships them), as in Debian's slim images.
  find "$1/usr/share/doc" -type f ! -name copyright -delete
}

debootstrap --variant=minbase \
  --include=gcc,make,libc6-dev,libssl-dev,zlib1g-dev,dpkg-dev,binutils,ca-certificates \
  bookworm "$work/debian" "$mirror" >/dev/null &
debian_job=$!
debootstrap --variant=minbase --include=gcc,libc6-dev,ca-certificates bookworm "$work/rust" "$mirror" >/dev/null &
rust_job=$!
# Separate waits: under set -e a failure on the left of && would not stop the script.
wait "$debian_job"
wait "$rust_job"

# Debian's curl source package, fetched by the host's apt with a source list of its own (the
# host's apt configuration is left alone), unpacked in the image with its own dpkg-source.
apt_dir="$work/apt"
mkdir -p "$apt_dir/lists/partial" "$work/debian/usr/src"
security_mirror=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
for source in "$mirror bookworm" "$mirror bookworm-updates" "$security_mirror bookworm-security"; do
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $source main"
done >"$apt_dir/sources.list"
apt_options=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=-
  -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -qq)
apt-get "${apt_options[@]}" update 2>/dev/null
(cd "$work/debian/usr/src" && apt-get "${apt_options[@]}" source --download-only curl 2>/dev/null)
chroot "$work/debian" sh -c 'cd /usr/src && dpkg-source --no-check -x curl_*.dsc >/dev/null && rm -f curl_*'

slim "$work/debian"
tar -C "$work/debian" -c . | docker import - "$debian_image" >/dev/null

# The toolchain that built everything else on this machine, and the crates it downloaded, so
# the image builds offline. CARGO_HOME differs from the host's, so copy only what cargo reads.
sysroot=$(rustc --print sysroot)
mkdir -p "$work/rust/usr/local/rust/bin" "$work/rust/usr/local/cargo/registry"
cp "$sysroot"/bin/{cargo,rustc} "$work/rust/usr/local/rust/bin/"
cp -a "$sysroot/lib" "$work/rust/usr/local/rust/"
cp -a "${CARGO_HOME:-$HOME/.cargo}"/registry/{index,cache} "$work/rust/usr/local/cargo/registry/"
slim "$work/rust"
tar -C "$work/rust" -c . | docker import \
  -c 'ENV PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'ENV CARGO_HOME=/usr/local/cargo' \
  -c 'ENV CARGO_NET_OFFLINE=true' \
  - "$rust_image" >/dev/null

docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -F -e "$debian_image " -e "$rust_image "
