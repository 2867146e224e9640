#!/usr/bin/env bash
# Builds every Bookinfo image from docker/Dockerfile, named as images.env says:
# $IMAGE_REGISTRY/$IMAGE_NAME_PREFIX-<variant>:$IMAGE_VERSION, the references that k8s/ and
# docker/compose.yaml use.
#   docker/build.sh
#   IMAGE_REGISTRY=registry.example.com/me IMAGE_VERSION=dev docker/build.sh   # one-off names
# A value set in the environment wins over images.env. Arguments are passed to every
# `docker build`, e.g. --platform or --build-arg BINARIES=prebuilt (docker/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
while IFS='=' read -r key value || [ -n "$key" ]; do
  case $key in
    IMAGE_REGISTRY | IMAGE_NAME_PREFIX | IMAGE_VERSION)
      [ -n "${!key:-}" ] || printf -v "$key" '%s' "$value" ;;
  esac
done < images.env
: "${IMAGE_REGISTRY:?not in images.env}" "${IMAGE_NAME_PREFIX:?not in images.env}"
: "${IMAGE_VERSION:?not in images.env}"
name=$IMAGE_REGISTRY/$IMAGE_NAME_PREFIX
extra=("$@")

build() {
  local variant=$1 target=$2
  shift 2
  echo "== $name-$variant:$IMAGE_VERSION"
  docker build -q -f docker/Dockerfile --target "$target" -t "$name-$variant:$IMAGE_VERSION" \
    --build-arg VERSION="$IMAGE_VERSION" "$@" "${extra[@]}" . >/dev/null
}

build details-v1             details     --build-arg service_version=v1
build details-v2             details     --build-arg service_version=v2 --build-arg enable_external_book_service=true
build productpage-v1         productpage --build-arg service_version=v1
build productpage-v-flooding productpage --build-arg service_version=v-flooding --build-arg flood_factor=100
build ratings-v1             ratings     --build-arg service_version=v1
build ratings-v2             ratings     --build-arg service_version=v2
build ratings-v-faulty       ratings     --build-arg service_version=v-faulty
build ratings-v-delayed      ratings     --build-arg service_version=v-delayed
build ratings-v-unavailable  ratings     --build-arg service_version=v-unavailable
build ratings-v-unhealthy    ratings     --build-arg service_version=v-unhealthy
build reviews-v1             reviews     --build-arg service_version=v1
build reviews-v2             reviews     --build-arg service_version=v2 --build-arg enable_ratings=true
build reviews-v3             reviews     --build-arg service_version=v3 --build-arg enable_ratings=true --build-arg star_color=red
build traffic                traffic

docker image ls --filter "reference=$name-*:$IMAGE_VERSION" --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | sort
