#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The browser tests' node packages (tests/browser/package-lock.json, only
# playwright-core, pinned): `npm ci` into tests/browser/node_modules when it
# is missing or older than the lock. No browser is downloaded: the tests
# drive Debian's chromium (/usr/bin/chromium, scripts/deps.sh installs it).
# Exit 0 when the packages are ready; 1 (with the reason) when they can not be.
set -euo pipefail
dir=$(cd "$(dirname "$0")/../tests/browser" && pwd)
stamp=$dir/node_modules/.roost-lock.sha256
want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" && -f $dir/node_modules/playwright-core/package.json ]]; then
  exit 0
fi
command -v npm >/dev/null || { echo "browser-deps: npm is missing (scripts/deps.sh installs it)" >&2; exit 1; }
echo "browser-deps: npm ci in $dir" >&2
cd "$dir"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >&2
echo "$want" > "$stamp"
