#!/usr/bin/env bash
# The dashboard's browser test: installs what is missing (Debian chromium
# and nodejs/npm; playwright-core from npm into the build tree, never a
# downloaded browser), then runs tests/browser/dashboard.mjs.
#   scripts/browser-test.sh <dashboard-binary> <build-dir>
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$1
build=$(cd "$2" && pwd)

need=()
command -v chromium >/dev/null || need+=(chromium)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  "$root/scripts/install-deps.sh" "${need[@]}"
fi

dir="$build/browser"
mkdir -p "$dir"
cp "$root/tests/browser/package.json" "$root/tests/browser/dashboard.mjs" "$dir/"
if [ ! -d "$dir/node_modules/playwright-core" ]; then
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
fi
# The screenshot is a test artifact in the build tree.
cd "$dir"
exec node dashboard.mjs "$bin" "$dir/dashboard.png"
