#!/usr/bin/env bash
# Peak memory of each service under 1,000 ordinary connections: details, reviews v2, ratings
# and productpage as their release binaries, wired together on 127.0.0.1, then
# `wrk -t2 -c1000 -d8s /productpage`; prints each process's peak RSS (VmHWM) and thread count.
#   scripts/memory-load.sh                      the binaries in target/release
#   scripts/memory-load.sh --bin-dir DIR        another build (e.g. an older commit's)
#   TOKIO_WORKER_THREADS=64 scripts/memory-load.sh --bin-dir DIR
#                                               an older build as it runs on a 64-core node
# Needs wrk (Debian's package) and a built `cargo build --release --workspace --bins`.
set -euo pipefail
cd "$(dirname "$0")/.."
bin_dir=target/release
while [ $# -gt 0 ]; do
  case $1 in
    --bin-dir) bin_dir=$2; shift 2 ;;
    *) echo "usage: $0 [--bin-dir DIR]" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
# wrk's 1,000 connections need more than the usual 1,024 descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
base=$((20000 + RANDOM % 10000))
names=(ratings reviews details productpage)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
start() {
  local name=$1 port=$2
  shift 2
  env -i PATH=/usr/bin:/bin ${TOKIO_WORKER_THREADS:+TOKIO_WORKER_THREADS=$TOKIO_WORKER_THREADS} \
    "$@" PORT="$port" RUST_LOG=warn "$bin_dir/$name" >/dev/null 2>&1 &
  pids+=($!)
}
start ratings $((base + 3)) SERVICE_VERSION=v1
start reviews $((base + 2)) SERVICE_VERSION=v2 ENABLE_RATINGS=true RATINGS_HOSTNAME=127.0.0.1:$((base + 3))
start details $((base + 1)) SERVICE_VERSION=v1
start productpage "$base" DETAILS_HOSTNAME=127.0.0.1:$((base + 1)) \
  REVIEWS_HOSTNAME=127.0.0.1:$((base + 2)) RATINGS_HOSTNAME=127.0.0.1:$((base + 3))
for _ in $(seq 100); do
  curl -fs -o /dev/null "http://127.0.0.1:$base/productpage" && break
  sleep 0.1
done
wrk -t2 -c1000 -d8s "http://127.0.0.1:$base/productpage" | grep -E "requests in|Requests/sec|Non-2xx|Socket errors" || true
for n in 0 1 2 3; do
  peak=$(awk '/^VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/${pids[$n]}/status")
  printf '%-12s peak RSS %s, %s threads\n' "${names[$n]}" "$peak" "$(awk '/^Threads/ {print $2}' "/proc/${pids[$n]}/status")"
done
