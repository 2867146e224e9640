#!/usr/bin/env bash
# Builds every Bookinfo image from docker/Dockerfile.
#   docker/build.sh                      # tag 0.1.0, names bookinfo-rs/examples-bookinfo-<name>
#   TAG=dev PREFIX=registry.example.com/bookinfo docker/build.sh
# Arguments are passed to every `docker build`, e.g. --build-arg RUST_IMAGE=… or --platform.
set -euo pipefail
cd "$(dirname "$0")/.."
TAG=${TAG:-0.1.0}
PREFIX=${PREFIX:-bookinfo-rs/examples-bookinfo}
extra=("$@")

build() {
  local name=$1 target=$2
  shift 2
  echo "== $PREFIX-$name:$TAG"
  docker build -q -f docker/Dockerfile --target "$target" -t "$PREFIX-$name:$TAG" "$@" "${extra[@]}" . >/dev/null
}

build details-v1             details     --build-arg service_version=v1
build details-v2             details     --build-arg service_version=v2 --build-arg enable_external_book_service=true
build productpage-v1         productpage --build-arg service_version=v1
build productpage-v-flooding productpage --build-arg service_version=v-flooding --build-arg flood_factor=100
build ratings-v1             ratings     --build-arg service_version=v1
build ratings-v-faulty       ratings     --build-arg service_version=v-faulty
build ratings-v-delayed      ratings     --build-arg service_version=v-delayed
build ratings-v-unavailable  ratings     --build-arg service_version=v-unavailable
build ratings-v-unhealthy    ratings     --build-arg service_version=v-unhealthy
build reviews-v1             reviews     --build-arg service_version=v1
build reviews-v2             reviews     --build-arg service_version=v2 --build-arg enable_ratings=true
build reviews-v3             reviews     --build-arg service_version=v3 --build-arg enable_ratings=true --build-arg star_color=red

docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | grep "^$PREFIX-.*:$TAG" | sort
