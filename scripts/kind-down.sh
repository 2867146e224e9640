#!/usr/bin/env bash
# Deletes the kind cluster scripts/kind-up.sh made (KIND_CLUSTER, default bookinfo), and with
# it everything deployed there. The images stay in the local docker.
set -euo pipefail
cluster=${KIND_CLUSTER:-bookinfo}
command -v kind >/dev/null || { echo "kind-down: kind is needed on PATH" >&2; exit 1; }
if kind get clusters | grep -qx "$cluster"; then
  kind delete cluster --name "$cluster"
else
  echo "kind-down: no kind cluster named $cluster"
fi
