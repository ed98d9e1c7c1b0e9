#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# No source file of the programs or the library over LIMIT lines (default
# 800): a file has one role, and one role fits in that (docs/architecture.md).
# Prints the largest files; exit 1 naming any over the limit.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${1:-800}
over=0
while read -r n f; do
  [[ $f == total ]] && continue
  if (( n > limit )); then echo "over $limit lines: $f ($n)"; over=1; fi
done < <(wc -l lib/*/*.c lib/*/*.h server/*.c server/*.h agent/*.c agent/*.h cli/*.c cli/*.h \
         include/roost/*.h | sort -rn)
wc -l lib/*/*.c server/*.c agent/*.c cli/*.c | sort -rn | sed -n 2,6p | sed 's/^/largest: /'
exit $over
