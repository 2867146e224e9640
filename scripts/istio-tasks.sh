#!/usr/bin/env bash
# The istio.io tasks that use Bookinfo, run against a cluster and checked with
# `bookinfo traffic` instead of by eye: the page through the gateway, plaintext refused from
# outside the mesh, request routing for jason, fault injection (delay and abort), and
# traffic shifting (50/50, then all v3). The e2e workflow (.github/workflows/e2e.yml) runs it
# on kind; you can run it on your own cluster once `kubectl apply -k k8s/` has deployed
# Bookinfo and GATEWAY_URL reaches the ingress gateway (k8s/README.md § 4):
#   GATEWAY_URL=localhost:8080 scripts/istio-tasks.sh
#   TRAFFIC="cargo run --release -q -- traffic" GATEWAY_URL=… scripts/istio-tasks.sh
# The tool is $TRAFFIC, else an installed `bookinfo traffic`, else the image
# examples-bookinfo-traffic run with the host's network. It changes the routing and leaves
# the tutorial's end state (kubectl apply -k k8s/) behind; it deletes its namespace `legacy`.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${GATEWAY_URL:?set GATEWAY_URL to host:port of the ingress gateway, see k8s/README.md § 4}"
page="http://$GATEWAY_URL/productpage"
image=$(scripts/set-image-refs.sh --list | grep -- '-traffic:')
if [ -n "${TRAFFIC:-}" ]; then
  read -ra traffic <<<"$TRAFFIC"
elif command -v bookinfo >/dev/null; then
  traffic=(bookinfo traffic)
else
  traffic=(docker run --rm --network host "$image")
fi
# Envoy takes a few seconds to receive a new route: a check is retried for this long.
settle_seconds=${SETTLE_SECONDS:-60}

step() { printf '\n== %s\n' "$*"; }

output=$(mktemp)
trap 'rm -f "$output"' EXIT

# expect ARGS…: `bookinfo traffic $page ARGS…` until its --expect checks hold, or fail
# with its last report once settle_seconds have passed.
expect() {
  local deadline=$((SECONDS + settle_seconds))
  until "${traffic[@]}" "$page" "$@" >"$output" 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      cat "$output"
      echo "FAILED after ${settle_seconds}s: bookinfo traffic $page $*" >&2
      return 1
    fi
    sleep 5
  done
  cat "$output"
}

route() { kubectl apply -f "k8s/networking/$1"; }

step "the page through the gateway: every version in turn, nothing degraded"
kubectl -n istio-app delete virtualservice productpage reviews ratings details --ignore-not-found
kubectl apply -k k8s/
expect --requests 60 --expect errors=0% --expect degraded=0% \
  --expect 'served-by=reviews-v1:33%±15' --expect 'served-by=reviews-v2:33%±15' \
  --expect 'served-by=reviews-v3:33%±15'

step "mutual TLS: a plaintext request from a pod outside the mesh is refused"
kubectl create namespace legacy --dry-run=client -o yaml | kubectl apply -f -
# The tool in a pod without a sidecar: the connection opens (the sidecar accepts it), and
# every plaintext request on it is reset.
kubectl -n legacy run plaintext --image="$image" --restart=Never --rm -i --quiet -- \
  http://productpage.istio-app:9080/productpage --requests 5 --timeout 5s --expect errors=100%
kubectl delete namespace legacy --wait=false

step "request routing: everyone on v1, then jason on v2"
route virtual-service-all-v1.yaml
expect --requests 30 --expect 'served-by=reviews-v1:100%' --expect 'stars=none:100%'
route virtual-service-reviews-test-v2.yaml
expect --requests 40 --user jason:50% --expect 'user=jason:stars=black:100%' \
  --expect 'user=anonymous:stars=none:100%'

step "fault injection, delay: jason's reviews give up after 3 s and one retry"
route virtual-service-ratings-test-delay.yaml
expect --requests 4 --user jason:50% --timeout 20s --expect 'user=jason:reviews-error=100%' \
  --expect 'user=anonymous:degraded=0%' --expect 'user=anonymous:p99<2s'

step "fault injection, abort: ratings answers 500 to jason"
route virtual-service-reviews-test-v2.yaml
route virtual-service-ratings-test-abort.yaml
expect --requests 40 --user jason:50% --expect 'user=jason:ratings-unavailable=100%' \
  --expect 'user=anonymous:degraded=0%'

step "traffic shifting: 50 % to v3, then all of it"
kubectl -n istio-app delete virtualservice ratings --ignore-not-found
route virtual-service-all-v1.yaml
route virtual-service-reviews-50-v3.yaml
expect --requests 200 --expect 'stars=red:50%±10' --expect 'stars=none:50%±10'
route virtual-service-reviews-v3.yaml
expect --requests 50 --expect 'stars=red:100%'

step "back to the tutorial's end state"
kubectl -n istio-app delete virtualservice productpage reviews ratings details --ignore-not-found
kubectl apply -k k8s/
echo "every task checked"
