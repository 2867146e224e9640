#!/usr/bin/env bash
# Makes docs/mesh-panel.png: the product page with MESH_PANEL on, as served behind the mesh
# suite's real Envoy sidecars (mutual TLS, so each hop shows its caller's SPIFFE identity),
# rendered by headless Chromium.
#   scripts/mesh-panel-screenshot.sh      (needs Envoy, see docs/mesh-tests.md, and chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
BOOKINFO_REQUIRE_ENVOY=1 BOOKINFO_MESH_PANEL_PAGE="$work/page.html" \
  cargo test --quiet --test app -- mesh::panel::every_hop_shows_its_callers_verified_identity >/dev/null
# The page names its assets under /static/: serve them from beside it.
cp -r productpage/static "$work/static"
sed -i 's|"/static/|"static/|g' "$work/page.html"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,1500 \
  --screenshot="$work/page.png" "file://$work/page.html" 2>/dev/null
cp "$work/page.png" docs/mesh-panel.png
echo "docs/mesh-panel.png"
