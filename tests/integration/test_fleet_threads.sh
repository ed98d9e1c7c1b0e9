#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The fleet scenarios where threads share state, again with roostd,
# roost-agent and roost built with ThreadSanitizer:
#  - always-on: the agent's main and job threads, fires, pending runs, kill -9;
#  - shared: two agents uploading into roostd's commit thread at once;
#  - maint_race: maintenance on its own thread beside uploads and the commit
#    thread, and a run killed midway;
#  - cancel: a cancel (a flag set on the main thread) during a real upload,
#    read by the agent's job thread and the engine's workers.
#  - instances: two roostd over one PostgreSQL (the LISTEN thread handing
#    pokes and events to the loop, the delivery thread's lease).
# TSAN_OPTIONS has halt_on_error=1: the first race ends the process. Each
# scenario's harness (fleet.sh) fails on a sanitizer report in any daemon log
# and on a daemon that does not exit 0 after TERM; this wrapper also scans
# every file each scenario left (daemon logs, the CLI's output) itself.
source "$(dirname "$0")/lib.sh"
: "${ROOST_TSAN_BIN:?ROOST_TSAN_BIN must point at a ThreadSanitizer build (make check sets it)}"
for b in roostd roost-agent roost; do
  [[ -x $ROOST_TSAN_BIN/$b ]] || { bad "no TSan $b in $ROOST_TSAN_BIN"; finish; exit 1; }
done
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:exitcode=66"
# TSan is slower: give daemons longer to stop
export DAEMON_STOP_S=60
for scenario in ${TSAN_SCENARIOS:-always_on shared cancel maint_race instances}; do
  set +e
  ROOST_KEEP_TMP=1 ROOST_BIN=$ROOST_TSAN_BIN bash "$(dirname "$0")/test_fleet_$scenario.sh" >"$TMP/$scenario.out" 2>&1
  rc=$?
  set -e
  kept=$(sed -n 's/^kept //p' "$TMP/$scenario.out")
  [[ -n $kept ]] && cleanup_hooks+=("rm -rf '$kept'")
  echo "# $scenario: $(tail -2 "$TMP/$scenario.out" | head -1)"
  expect_eq "$rc" 0 "the $scenario scenario passes under ThreadSanitizer"
  [[ $rc -eq 0 ]] || grep -a '^not ok' "$TMP/$scenario.out" | head -20
  files=("$TMP/$scenario.out")
  [[ -n $kept && -d $kept ]] && mapfile -t -O 1 files < <(find "$kept" -maxdepth 1 -type f \( -name '*.log' -o -name '*.out' -o -name '.stderr' -o -name '.stdout' \))
  races=$(cat "${files[@]}" | grep -ac "ThreadSanitizer" || true)
  expect_eq "$races" 0 "$scenario: no ThreadSanitizer report in any of ${#files[@]} logs"
  [[ $races -eq 0 ]] || grep -ah -m3 -A30 "WARNING: ThreadSanitizer" "${files[@]}" | head -100
done
finish
