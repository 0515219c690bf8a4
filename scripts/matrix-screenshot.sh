#!/usr/bin/env bash
# A screenshot of a matrix page (`tcpconform matrix`) in headless chromium, as
# docs/images/matrix.png was taken (the matrix of the reference, linux and libslirp runs):
#
#   scripts/matrix-screenshot.sh reports/matrix/index.html '#differs&area=rst' docs/images/matrix.png
set -euo pipefail

page=$(realpath "${1:?usage: scripts/matrix-screenshot.sh INDEX.html [#FRAGMENT] OUT.png}")
fragment=${2-}
out=$(realpath -m "${3:?usage: scripts/matrix-screenshot.sh INDEX.html [#FRAGMENT] OUT.png}")
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run \
	--disable-sync --disable-component-update --user-data-dir="$profile" --hide-scrollbars \
	--window-size=1400,1250 --screenshot="$out" "file://$page$fragment" 2>/dev/null
echo "wrote $out"
