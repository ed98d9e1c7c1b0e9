#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The S3 tests' server (tests/s3/package-lock.json: s3rver, pinned): `npm ci`
# into tests/s3/node_modules when it is missing or older than the lock.
# Exit 0 when s3rver is ready; 1 (with the reason) when it can not be.
set -euo pipefail
dir=$(cd "$(dirname "$0")/../tests/s3" && pwd)
stamp=$dir/node_modules/.roost-lock.sha256
want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" && -x $dir/node_modules/.bin/s3rver ]]; then
  exit 0
fi
command -v npm >/dev/null || { echo "s3-deps: npm is missing (scripts/deps.sh installs it)" >&2; exit 1; }
echo "s3-deps: npm ci in $dir" >&2
cd "$dir"
npm ci --no-audit --no-fund --loglevel=error >&2
echo "$want" > "$stamp"
