#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every libFuzzer target of a ROOST_FUZZ build for SECONDS each, starting
# from the committed corpus; new interesting inputs land in fuzz/corpus-new/
# (merge the few worth keeping into fuzz/corpus/ by hand, keep it small).
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS
set -euo pipefail
build=${1:?build dir}; secs=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
for bin in "$build"/fuzz/fuzz_*; do
  t=$(basename "$bin"); t=${t#fuzz_}
  mkdir -p "$root/fuzz/corpus-new/$t"
  echo "== fuzz $t for ${secs}s"
  "$bin" -max_total_time="$secs" -max_len=4096 \
    "$root/fuzz/corpus-new/$t" "$root/fuzz/corpus/$t"
done
