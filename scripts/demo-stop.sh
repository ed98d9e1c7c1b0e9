#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Stops the server and agent that `make demo` started (DEMO, default demo-data/).
set -uo pipefail
cd "$(dirname "$0")/.."
DEMO=${1:-${DEMO:-demo-data}}
# exit 1 if one of them does not stop within 20 s of SIGTERM
rc=0
for p in agent roostd; do
  f="$DEMO/$p.pid"
  [[ -f $f ]] || continue
  pid=$(cat "$f")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "demo-stop: $p (pid $pid) did not stop within 20 s of SIGTERM" >&2
      rc=1
      continue
    fi
    echo "stopped $p (pid $pid)"
  fi
  rm -f "$f"
done
exit $rc
