#!/usr/bin/env bash
# Bookinfo between two network namespaces joined by a veth pair, as between pods: productpage
# and ratings in one, details and reviews v3 in the other, so every call crosses the pair and
# each caller's ephemeral ports meet the kernel's TIME_WAIT rules for real (on loopback, port
# reuse hides them). `bookinfo traffic` loads the page at a fixed rate over keep-alive and
# fails on any error or degraded page, a p99 of a second or more, or a rate below 95 % of the
# one asked; the TIME_WAIT sockets on each side are reported.
#
#   scripts/netns-check.sh [--rate 1000] [--seconds 60] [--bin-dir target/release]
#
# Needs root (CAP_NET_ADMIN) and iproute2. Without them it prints SKIPPED and exits 0, or
# fails when BOOKINFO_REQUIRE_NETNS=1 (CI sets it). The service binaries come from --bin-dir
# (built there with `cargo build --release` when missing); `bookinfo traffic` from the same
# directory, else target/release or target/debug.
set -euo pipefail
cd "$(dirname "$0")/.."

rate=1000
seconds=60
bin_dir=target/release
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) rate=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --bin-dir) bin_dir=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "netns-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

skip() {
  if [ "${BOOKINFO_REQUIRE_NETNS:-}" = 1 ]; then
    echo "netns-check: FAILED: $1 (BOOKINFO_REQUIRE_NETNS=1)" >&2
    exit 1
  fi
  echo "netns-check: SKIPPED: $1"
  exit 0
}

command -v ip >/dev/null || skip "no ip command (iproute2)"
front=bookinfo-front-$$
back=bookinfo-back-$$
ip netns add "$front" 2>/dev/null || skip "cannot create network namespaces (needs root: CAP_NET_ADMIN)"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$front" 2>/dev/null || true
  ip netns del "$back" 2>/dev/null || true
}
trap cleanup EXIT

ip netns add "$back"
ip link add "vf$$" netns "$front" type veth peer name "vb$$" netns "$back"
ip -n "$front" addr add 10.77.0.1/24 dev "vf$$"
ip -n "$back" addr add 10.77.0.2/24 dev "vb$$"
for ns in "$front" "$back"; do
  ip -n "$ns" link set lo up
done
ip -n "$front" link set "vf$$" up
ip -n "$back" link set "vb$$" up

for service in productpage details reviews ratings; do
  if [ ! -x "$bin_dir/$service" ]; then
    echo "netns-check: building release binaries into target/release"
    cargo build --release --workspace --bins
    bin_dir=target/release
    break
  fi
done
traffic=""
for candidate in "$bin_dir/bookinfo" target/release/bookinfo target/debug/bookinfo; do
  if [ -x "$candidate" ]; then traffic=$candidate; break; fi
done
[ -n "$traffic" ] || { cargo build --release --bin bookinfo; traffic=target/release/bookinfo; }

logs=$(mktemp -d)
start() { # namespace name binary port env...
  local ns=$1 name=$2 binary=$3 port=$4
  shift 4
  ip netns exec "$ns" env -i RUST_LOG=warn "$@" "$bin_dir/$binary" "$port" >"$logs/$name.log" 2>&1 &
  pids+=($!)
}
start "$back" details details 9080
start "$back" reviews reviews 9081 HOSTNAME=reviews-v3 ENABLE_RATINGS=true STAR_COLOR=red \
  RATINGS_HOSTNAME=10.77.0.1:9082
start "$front" ratings ratings 9082
start "$front" productpage productpage 9080 \
  DETAILS_HOSTNAME=10.77.0.2:9080 REVIEWS_HOSTNAME=10.77.0.2:9081 \
  RATINGS_HOSTNAME=10.77.0.1:9082 SESSION_SECRET=netns-check

# Ready when a page shows every block (details, reviews, red stars) through the pair.
ready=""
for _ in $(seq 1 100); do
  if ip netns exec "$front" "$traffic" traffic http://127.0.0.1:9080/productpage --requests 1 \
      --timeout 1s --expect errors=0% --expect degraded=0% --expect 'stars=red:100%' \
      >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "netns-check: Bookinfo did not come up between the namespaces" >&2
  tail -n 5 "$logs"/*.log >&2
  exit 1
fi

echo "netns-check: ${rate} page views/s for ${seconds} s, productpage and ratings in $front," \
  "details and reviews in $back"
status=0
ip netns exec "$front" "$traffic" traffic http://127.0.0.1:9080/productpage \
  --rate "$rate" --duration "${seconds}s" --keep-alive \
  --expect errors=0% --expect degraded=0% --expect 'p99<1s' \
  --expect "rate>=$(awk -v rate="$rate" 'BEGIN { print rate * 0.95 }')" || status=$?
# TIME_WAIT on a server's own port is harmless; on ephemeral ports it is what runs a caller
# out of ports (the range holds about 28,000).
for ns in "$front" "$back"; do
  read -r low _ < <(ip netns exec "$ns" cat /proc/sys/net/ipv4/ip_local_port_range)
  ip netns exec "$ns" ss -Htan state time-wait | awk -v low="$low" -v ns="$ns" '
    { n = split($3, local_address, ":"); if (local_address[n] + 0 >= low) ephemeral++; else server++ }
    END { printf "netns-check: TIME_WAIT in %s: %d on ephemeral ports (callers), %d on server ports\n", ns, ephemeral, server }'
done
for name in productpage details reviews ratings; do
  if [ -s "$logs/$name.log" ]; then
    echo "netns-check: $name logged:" && tail -n 5 "$logs/$name.log"
  fi
done
rm -rf "$logs"
if [ "$status" -ne 0 ]; then
  echo "netns-check: FAILED" >&2
  exit "$status"
fi
echo "netns-check: passed"
