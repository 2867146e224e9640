#!/usr/bin/env bash
# One command from a clone to Bookinfo in a local kind cluster with Istio:
#   scripts/kind-up.sh              create (or reuse) the cluster, build and load the images,
#                                   install Istio, deploy k8s/, wait, print the gateway URL
#   scripts/kind-up.sh --no-build   use the images docker/build.sh already made
#   scripts/kind-down.sh            delete the cluster
# Needs docker, kind and kubectl; istioctl $ISTIO_VERSION is downloaded into target/ unless
# that version is on PATH. KIND_CLUSTER names the cluster (bookinfo). The gateway answers on
# http://localhost:8080 (scripts/kind/cluster.yaml publishes its NodePort 30080 there).
set -euo pipefail
cd "$(dirname "$0")/.."

# The one place the Istio version is pinned (the e2e workflow runs this script).
ISTIO_VERSION=1.27.1
cluster=${KIND_CLUSTER:-bookinfo}
gateway_url=localhost:8080
build=true
for arg in "$@"; do
  case $arg in
    --no-build) build=false ;;
    *) echo "usage: $0 [--no-build]" >&2; exit 2 ;;
  esac
done
for tool in docker kind kubectl curl; do
  command -v "$tool" >/dev/null || { echo "kind-up: $tool is needed on PATH" >&2; exit 1; }
done
step() { printf '\n== kind-up: %s\n' "$*"; }

step "images"
if [ "$build" = true ]; then
  echo "Building all fourteen images with docker/build.sh: about 20 minutes on 2 cores (--no-build skips this)."
  docker/build.sh
fi
mapfile -t images < <(scripts/set-image-refs.sh --list)

step "cluster $cluster"
if kind get clusters | grep -qx "$cluster"; then
  echo "reusing the kind cluster $cluster"
else
  kind create cluster --name "$cluster" --config scripts/kind/cluster.yaml --wait 120s
fi
kubectl config use-context "kind-$cluster" >/dev/null

step "loading ${#images[@]} images into $cluster"
kind load docker-image --name "$cluster" "${images[@]}"

step "Istio $ISTIO_VERSION (demo profile)"
istioctl=istioctl
# `istioctl version --remote=false` prints the bare version, or "client version: X" on older ones.
if ! istioctl version --remote=false 2>/dev/null | grep -qE "(^|[: ])$ISTIO_VERSION\$"; then
  istioctl=target/istio-$ISTIO_VERSION/bin/istioctl
  if [ ! -x "$istioctl" ]; then
    mkdir -p target
    (cd target && curl -sSL https://istio.io/downloadIstio | ISTIO_VERSION="$ISTIO_VERSION" sh -)
  fi
fi
"$istioctl" install -y -f scripts/kind/istio.yaml
kubectl -n istio-system rollout status deployment --timeout=300s

step "Bookinfo (kubectl apply -k k8s/)"
kubectl apply -k k8s/
kubectl -n istio-app rollout status deployment --timeout=300s

step "waiting for http://$gateway_url/productpage"
for _ in $(seq 1 60); do
  if curl -fs -o /dev/null "http://$gateway_url/productpage"; then
    cat <<DONE

Bookinfo is up: http://$gateway_url/productpage
  export GATEWAY_URL=$gateway_url
  cargo run -- traffic http://\$GATEWAY_URL/productpage --duration 30s --concurrency 4
  scripts/istio-tasks.sh        # the istio.io tasks, checked
  scripts/kind-down.sh          # delete the cluster
DONE
    exit 0
  fi
  sleep 2
done
echo "kind-up: the gateway did not answer; kubectl -n istio-app get pods says:" >&2
kubectl -n istio-app get pods >&2 || true
exit 1
