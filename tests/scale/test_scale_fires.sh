#!/bin/bash
# SPDX-License-Identifier: MIT
# Schedules across two instances (issue 14, docs/scale-out.md 2.1-2.3 and
# test plan 1): four agents spread over A and B fire a schedule every 3 s;
# one of them loses its path to A mid-run and moves to B, resending the
# fires it keeps. Each (host, schedule, slot) is handled once across both
# instances: one `fires` row, at most one decision that runs or coalesces
# it, and never two queued or running jobs of one host at once.
if [[ -z ${ROOST_TEST_PG:-} ]]; then
  exec "$(dirname "$0")/../pg/with_pg.sh" bash "$0" "$@"
fi
source "$ROOST_SRC/tests/integration/lib.sh"
source "$ROOST_SRC/tests/integration/fleet.sh"
source "$ROOST_SRC/tests/scale/scale.sh"
scale_setup || { finish; exit 1; }
inst_start A --maintenance-cron off
inst_start B --maintenance-cron off
fwd_start A
URL[FA]=https://127.0.0.1:$FWD_PORT
mkdir -p "$TMP/src"; echo small >"$TMP/src/a"
enroll_on f1 always-on FA B
enroll_on f2 always-on A B
enroll_on f3 always-on B A
enroll_on f4 always-on B A
for h in f1 f2 f3 f4; do
  start_agent "$h"
  expect_rc 0 on A "$ROOST" group add "$h" data --path "$TMP/src"
  expect_rc 0 on B "$ROOST" schedule add "$h" often --cron '*/3 * * * * *' --group data
done
wait_until 20 agent_is_on f1 FA A && ok "f1 is on A (through the forwarder)" || bad "f1: $(agent_on f1)"
wait_until 20 agent_is_on f3 B && ok "f3 is on B" || bad "f3: $(agent_on f3)"
sleep 7
kill "$FWD_PID"   # f1 loses A and moves to B, resending its kept fires there
wait_until 20 agent_is_on f1 B && ok "f1 moved to B" || bad "f1: $(agent_on f1)"
sleep 8
for h in f1 f2 f3 f4; do on A "$ROOST" schedule disable "$h" often >/dev/null || bad "disable $h often"; done
sleep 4

n=$(pgq "SELECT count(*) FROM fires")
(( n >= 12 )) && ok "$n fires recorded over ~15 s for 4 hosts" || bad "only $n fires"
# each (host, schedule, slot) run or coalesced at most once across both logs
cat "$TMP/server-A.log" "$TMP/server-B.log" | $PY -c '
import re, sys, collections
c = collections.Counter()
for l in sys.stdin:
    m = re.search(r"event=fire host=(\d+) schedule=(\d+) slot=(\S+) via=\S+ action=(\S+)", l)
    if m and m.group(4) in ("dispatch", "pending"):
        c[m.group(1, 2, 3)] += 1
dup = [k for k, v in c.items() if v > 1]
print(len(c), dup)
sys.exit(1 if dup or not c else 0)
' >"$TMP/fires.txt" && ok "each slot decided once across A and B ($(cut -d' ' -f1 "$TMP/fires.txt") decisions)" \
  || bad "a slot decided twice: $(cat "$TMP/fires.txt")"
# never two live jobs of one host at once (a fire while busy coalesces)
overlap=$(pgq "SELECT count(*) FROM jobs a JOIN jobs b ON a.host_id=b.host_id AND a.id<b.id
  AND b.started_at < coalesce(a.finished_at, 9223372036854775807) AND a.started_at < coalesce(b.finished_at, 9223372036854775807)")
expect_eq "$overlap" 0 "no host ran two jobs at once"
bad_jobs=$(pgq "SELECT count(*) FROM jobs WHERE status NOT IN ('succeeded')")
expect_eq "$bad_jobs" 0 "every scheduled job succeeded"
finish
