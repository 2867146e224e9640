#!/usr/bin/env bash
# Instructions per request, counted by callgrind: one service runs under valgrind (its
# backends run natively), wrk loads it at 4 connections, and only the loaded window is
# counted (`--instr-atstart=no`, then `callgrind_control -i on/off`). Deterministic enough to
# compare two builds where wall-clock figures on 2 shared cores are not.
#   scripts/instructions-per-request.sh details                 target/profiling
#   scripts/instructions-per-request.sh page-pooled --bin-dir ../before/target/profiling
#   scripts/instructions-per-request.sh page-fresh --top 25     also the 25 costliest functions
# Scenarios: details (/details/0), page-fresh and page-pooled (/productpage v1, productpage
# counted; BACKEND_CONNECTION_POOLING false or true).
# Needs valgrind and wrk (Debian's packages) and `cargo build --profile profiling --bins`.
set -euo pipefail
cd "$(dirname "$0")/.."
bin_dir=target/profiling
top=0
scenario=${1:-}
shift || true
while [ $# -gt 0 ]; do
  case $1 in
    --bin-dir) bin_dir=$2; shift 2 ;;
    --top) top=$2; shift 2 ;;
    *) scenario=bad; break ;;
  esac
done
case $scenario in
  details | page-fresh | page-pooled) ;;
  *) echo "usage: $0 details|page-fresh|page-pooled [--bin-dir DIR] [--top N]" >&2; exit 2 ;;
esac
for tool in valgrind callgrind_control callgrind_annotate wrk curl; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (apt-get install valgrind wrk curl)" >&2; exit 1; }
done
base=$((20000 + RANDOM % 10000))
out=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; [ -n "${KEEP_CALLGRIND:-}" ] || rm -rf "$out"' EXIT
# start NAME PORT UNDER_VALGRIND ENV...
start() {
  local name=$1 port=$2 counted=$3
  shift 3
  local run=("$bin_dir/$name")
  if [ "$counted" = yes ]; then
    run=(valgrind --tool=callgrind --instr-atstart=no "--callgrind-out-file=$out/callgrind.out"
      "$bin_dir/$name")
  fi
  env -i PATH=/usr/bin:/bin "$@" PORT="$port" RUST_LOG=warn "${run[@]}" >"$out/$name.log" 2>&1 &
  pids+=($!)
}
wait_ready() {
  for _ in $(seq 600); do
    curl -fs -o /dev/null "http://127.0.0.1:$1/health" && return 0
    sleep 0.1
  done
  echo "port $1 never became ready" >&2
  exit 1
}
if [ "$scenario" = details ]; then
  start details "$base" yes SERVICE_VERSION=v1
  path=/details/0
else
  pooling=false
  [ "$scenario" = page-pooled ] && pooling=true
  start details $((base + 1)) no SERVICE_VERSION=v1
  start reviews $((base + 2)) no SERVICE_VERSION=v1 ENABLE_RATINGS=false
  wait_ready $((base + 1))
  wait_ready $((base + 2))
  start productpage "$base" yes DETAILS_HOSTNAME=127.0.0.1:$((base + 1)) \
    REVIEWS_HOSTNAME=127.0.0.1:$((base + 2)) BACKEND_CONNECTION_POOLING=$pooling
  path=/productpage
fi
wait_ready "$base"
counted_pid=${pids[-1]}
url="http://127.0.0.1:$base$path"
wrk -t1 -c4 -d2s "$url" >/dev/null # warm-up: pools, caches, lazy statics
callgrind_control -i on "$counted_pid" >/dev/null 2>&1
requests=$(wrk -t1 -c4 -d10s "$url" | awk '/requests in/ {print $1}')
callgrind_control -i off "$counted_pid" >/dev/null 2>&1
callgrind_control -d "$counted_pid" >/dev/null 2>&1
kill "$counted_pid"
wait "$counted_pid" 2>/dev/null || true
# The dump taken while counting was off holds the window; merge every part to be safe.
total=$(cat "$out"/callgrind.out* | awk '/^totals:/ {sum += $2} END {print sum + 0}')
if [ "${requests:-0}" -eq 0 ] || [ "$total" = 0 ]; then
  echo "nothing counted ($requests requests, $total instructions); see $out" >&2
  exit 1
fi
awk -v s="$scenario" -v b="$bin_dir" -v n="$requests" -v t="$total" \
  'BEGIN { printf "%s %s: %d requests, %.0f instructions per request\n", s, b, n, t / n }'
if [ "$top" -gt 0 ]; then
  callgrind_annotate --inclusive=no "$out"/callgrind.out* 2>/dev/null | sed -n "1,$((top + 25))p"
fi
