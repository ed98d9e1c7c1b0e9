#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The always-on end-to-end scenarios again, with roostd, roost-agent and roost
# built with ThreadSanitizer (the agent's main and job threads and the
# engine's workers share state). Any race report fails: the scenario's own
# checks must pass and no log may hold a ThreadSanitizer warning.
source "$(dirname "$0")/lib.sh"
: "${ROOST_TSAN_BIN:?ROOST_TSAN_BIN must point at a ThreadSanitizer build (make check sets it)}"
for b in roostd roost-agent roost; do
  [[ -x $ROOST_TSAN_BIN/$b ]] || { bad "no TSan $b in $ROOST_TSAN_BIN"; finish; exit 1; }
done
export TSAN_OPTIONS="second_deadlock_stack=1"
set +e
ROOST_KEEP_TMP=1 ROOST_BIN=$ROOST_TSAN_BIN bash "$(dirname "$0")/test_fleet_always_on.sh" >"$TMP/run.out" 2>&1
rc=$?
set -e
kept=$(sed -n 's/^kept //p' "$TMP/run.out")
cleanup_hooks+=("rm -rf '$kept'")
tail -1 "$TMP/run.out"
expect_eq "$rc" 0 "the always-on scenarios pass under ThreadSanitizer"
grep -v '^ok' "$TMP/run.out" | grep -v '^kept' | head -20 || true
races=$(cat "$kept"/*.log "$kept"/*.out 2>/dev/null | grep -c "WARNING: ThreadSanitizer" || true)
expect_eq "$races" 0 "no data race reported by roostd or the agent"
[[ $races -eq 0 ]] || grep -h -A20 "WARNING: ThreadSanitizer" "$kept"/*.log | head -60
finish
