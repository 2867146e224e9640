#!/usr/bin/env bash
# Builds the release programs for one Rust target, as the release workflow does on each of its
# runners, and as docker/Dockerfile's build stage does for the images built from source:
#   scripts/release-binaries.sh x86_64-unknown-linux-gnu
#   scripts/release-binaries.sh aarch64-apple-darwin        # on a Mac
# Leaves in dist/:
#   bookinfo-<version>-<target>.tar.gz   `bookinfo` (the whole application, and `bookinfo
#                                        traffic`), with README.md, LICENSE and CHANGELOG.md
#   bookinfo-<version>-<target>.tar.gz.sha256
#   linux-<amd64|arm64>/                 Linux only: the five programs, which docker/Dockerfile
#                                        assembles into the images with --build-arg BINARIES=prebuilt
# Linux programs are static (glibc with +crt-static, as in the images), so they run on any
# Linux of their architecture. Every program carries its dependency tree (cargo auditable;
# read it back with `rust-audit-info <program>`). Needs cargo-auditable on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:-}
case $target in
  x86_64-unknown-linux-gnu) image_arch=amd64 ;;
  aarch64-unknown-linux-gnu) image_arch=arm64 ;;
  x86_64-apple-darwin | aarch64-apple-darwin) image_arch='' ;;
  *)
    echo "usage: $0 x86_64-unknown-linux-gnu | aarch64-unknown-linux-gnu | x86_64-apple-darwin | aarch64-apple-darwin" >&2
    exit 2
    ;;
esac
cargo auditable --version >/dev/null 2>&1 || {
  echo "cargo auditable does not run: cargo install cargo-auditable --locked" >&2
  exit 1
}
# It would replace RUSTFLAGS, and with them +crt-static.
if [ -n "${CARGO_ENCODED_RUSTFLAGS:-}" ]; then
  echo "unset CARGO_ENCODED_RUSTFLAGS: this script sets RUSTFLAGS" >&2
  exit 1
fi

# images.env's IMAGE_VERSION is the workspace version (`cargo test` checks that they agree).
version=$(sed -n 's/^IMAGE_VERSION=//p' images.env)
programs=(details reviews ratings productpage bookinfo)
packages=()
for program in "${programs[@]}"; do packages+=(-p "$program"); done

rustflags=${RUSTFLAGS:-}
[ -z "$image_arch" ] || rustflags="${rustflags:+$rustflags }-C target-feature=+crt-static"
# docker/Dockerfile's dependency layer runs this same command on the stub workspace: keep
# them alike, or the image build compiles every crate twice.
RUSTFLAGS="$rustflags" cargo auditable build --release --locked --target "$target" "${packages[@]}"

built=target/$target/release
# Static means no program interpreter: ldd says "statically linked" (static-pie) or "not a
# dynamic executable". Checked where ldd can read the target (a Linux host).
if [ -n "$image_arch" ] && command -v ldd >/dev/null; then
  for program in "${programs[@]}"; do
    linkage=$(ldd "$built/$program" 2>&1 || true)
    case $linkage in
      *"statically linked"* | *"not a dynamic executable"*) ;;
      *) echo "$built/$program is dynamically linked: $linkage" >&2; exit 1 ;;
    esac
  done
fi
mkdir -p dist
if [ -n "$image_arch" ]; then
  rm -rf "dist/linux-$image_arch"
  mkdir -p "dist/linux-$image_arch"
  for program in "${programs[@]}"; do cp "$built/$program" "dist/linux-$image_arch/"; done
fi

name=bookinfo-$version-$target
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
mkdir "$staging/$name"
cp "$built/bookinfo" README.md LICENSE CHANGELOG.md "$staging/$name/"
# COPYFILE_DISABLE: macOS's tar would add ._ files for extended attributes.
COPYFILE_DISABLE=1 tar -C "$staging" -czf "dist/$name.tar.gz" "$name"
# sha256sum on Linux, shasum on macOS: the same "<digest>  <file>" line, for `sha256sum -c`.
if command -v sha256sum >/dev/null; then
  (cd dist && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
else
  (cd dist && shasum -a 256 "$name.tar.gz" >"$name.tar.gz.sha256")
fi
cat "dist/$name.tar.gz.sha256"
