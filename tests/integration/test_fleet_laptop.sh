#!/bin/bash
# SPDX-License-Identifier: MIT
# End to end, intermittent hosts (issue 5, scenarios 3 and 4): catch-up after
# the settle window, no dispatch when the laptop leaves before it ends, one
# catch-up for a flapping laptop, and per-(schedule, group) success so a
# frequent schedule never hides a missed one. Settle window: 2 s.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"

start_server 2
mkdir -p "$TMP/src1" "$TMP/src2"
echo one > "$TMP/src1/a"; echo two > "$TMP/src2/b"
U=$ROOST_SERVER
sleep_until() { local t=$1; while (( $(date +%s) < t )); do sleep 0.1; done; }
catchups() { count_jobs "$1" "j['trigger']=='catchup'${2:+ and $2}"; }
# Waits until a catch-up armed by HOST_ID's last hello can no longer come:
# the settle window (2 s) after that hello, plus 3 s. "Exactly N" counts are
# taken after this, so a late duplicate would be seen.
settled_after_last_hello() { # HOST_ID
  local t
  t=$($PY - "$TMP/server.log" "$1" <<'PYEOF'
import datetime, re, sys
last = 0
for line in open(sys.argv[1], errors="replace"):
    if f"event=agent.hello host={sys.argv[2]} " in line:
        ts = re.match(r"ts=(\S+)", line).group(1).replace("Z", "+00:00")
        last = datetime.datetime.fromisoformat(ts).timestamp()
print(int(last) + 1)
PYEOF
)
  sleep_until $((t + 2 + 3))
}
set_cron() { # HOST SCHEDULE_ID EXPR
  curl -skf -H "Authorization: Bearer $ROOST_TOKEN" -X PATCH -d "{\"cron\":\"$3\"}" \
    "$U/v1/hosts/$1/schedules/$2" >/dev/null || bad "PATCH schedule $2 of $1 to \"$3\" failed"
}

# --- 3. laptop: catch-up after the settle window
enroll lap intermittent
expect_rc 0 "$ROOST" group add lap docs --path "$TMP/src1"
F1=$(( $(date +%s) + 9 ))
expect_rc 0 "$ROOST" schedule add lap daily --cron "$(cron_at $F1)" --group docs
SID=$("$ROOST" schedule list lap --json | json_get 'd[0]["id"]')
start_agent lap
wait_until 15 jobs_at_least lap 1 "j['trigger']=='catchup' and j['status']=='succeeded'" \
  && ok "a never-backed-up group is caught up after the first hello" || bad "no first catch-up: $(jobs_json lap)"
stop_agent lap
sleep_until $((F1 + 1))
start_agent lap
wait_until 10 host_online lap || bad "laptop not back"
wait_until 10 jobs_at_least lap 2 "j['trigger']=='catchup' and j['status']=='succeeded'" \
  && ok "after the settle window a catchup job runs and succeeds" || bad "no catch-up: $(jobs_json lap)"
# from the server's log: the dispatch came one settle window after the hello
gap=$($PY - "$TMP/server.log" <<'PYEOF'
import re, sys, datetime
hello = disp = None
for line in open(sys.argv[1]):
    ts = re.match(r"ts=(\S+)", line)
    if not ts:
        continue
    t = datetime.datetime.fromisoformat(ts.group(1).replace("Z", "+00:00")).timestamp()
    if "event=agent.hello host=1 " in line:
        hello = t
    if "event=dispatch host=1 " in line and "trigger=catchup" in line:
        disp = t
print(f"{disp - hello:.2f}")
PYEOF
)
$PY -c "import sys; g=float(sys.argv[1]); sys.exit(0 if 2.0 <= g < 3.5 else 1)" "$gap" \
  && ok "dispatched ${gap}s after the hello (settle 2 s)" || bad "dispatch ${gap}s after the hello"
expect_eq "$(count_jobs lap "j['trigger']=='schedule'")" 0 "the sleeping laptop never fired the missed slot itself"

# leaves before the settle window ends: no dispatch
stop_agent lap
F2=$(( $(date +%s) + 2 ))
set_cron lap "$SID" "$(cron_at $F2)"
sleep_until $((F2 + 1))
skips_before=$(grep -c "event=catchup.skip host=1 why=host_offline" "$TMP/server.log" || true)
start_agent lap
wait_until 10 host_online lap || bad "laptop not back"
stop_agent lap
# the timer fired and found the host gone: the event that proves no dispatch can follow
wait_until 10 eval '(( $(grep -c "event=catchup.skip host=1 why=host_offline" "$TMP/server.log") > skips_before ))' \
  && ok "the settle timer fired after the laptop left" || bad "the settle timer never fired"
expect_eq "$(catchups lap)" 2 "no catch-up for a laptop gone before the settle window ended"
expect_contains "$(cat "$TMP/server.log")" "event=catchup.skip host=1 why=host_offline" "the skip is logged with its reason"

# flapping: several quick reconnects, one catch-up
armed_before=$(grep -c "event=catchup.armed host=1 " "$TMP/server.log")
for i in 1 2; do
  start_agent lap; wait_until 10 host_online lap; stop_agent lap
done
start_agent lap
wait_until 10 jobs_at_least lap 3 "j['trigger']=='catchup'" && ok "the flapping laptop is caught up" || bad "no catch-up after flapping"
settled_after_last_hello 1
expect_eq "$(catchups lap)" 3 "one catch-up, not several"
armed_after=$(grep -c "event=catchup.armed host=1 " "$TMP/server.log")
expect_eq "$((armed_after - armed_before))" 3 "each hello re-armed the one timer"
stop_agent lap

# --- 4. multi-cadence: a frequent schedule's successes do not hide a missed one
enroll lap2 intermittent
expect_rc 0 "$ROOST" group add lap2 g1 --path "$TMP/src1"
expect_rc 0 "$ROOST" group add lap2 g2 --path "$TMP/src2"
# both start far in the future, so no live fire races the first catch-up
expect_rc 0 "$ROOST" schedule add lap2 fast --cron "$(cron_at $(( $(date +%s) + 86400 )))" --group g1
expect_rc 0 "$ROOST" schedule add lap2 slow --cron "$(cron_at $(( $(date +%s) + 86400 )))" --group g2
FAST=$("$ROOST" schedule list lap2 --json | json_get '[s["id"] for s in d if s["name"]=="fast"][0]')
SLOW=$("$ROOST" schedule list lap2 --json | json_get '[s["id"] for s in d if s["name"]=="slow"][0]')
G2=$("$ROOST" group list lap2 --json | json_get '[g["id"] for g in d if g["name"]=="g2"][0]')
start_agent lap2
wait_until 15 jobs_at_least lap2 2 "j['trigger']=='catchup' and j['status']=='succeeded'" \
  && ok "both groups caught up at first" || bad "first catch-ups: $(jobs_json lap2)"
set_cron lap2 "$FAST" '*/10 * * * * *'
# wait for a live success of the fast schedule; S is its slot
n0=$(count_jobs lap2 "j['trigger'] in ('schedule','pending') and j['status']=='succeeded'")
wait_until 25 jobs_at_least lap2 $((n0 + 1)) "j['trigger']=='schedule' and j['status']=='succeeded'" \
  || bad "the fast schedule never ran live"
S=$(jobs_json lap2 | json_get "[j['created_at'] for j in d if j['trigger']=='schedule'][0]")
S=$(date -d "$S" +%s)
if (( $(date +%s) > S + 4 )); then
  bad "too slow to catch the fast schedule's window (timing)"
fi
stop_agent lap2
set_cron lap2 "$SLOW" "$(cron_at $((S + 4)))"
before=$(catchups lap2)
sleep_until $((S + 5))
start_agent lap2
wait_until 6 jobs_at_least lap2 $((before + 1)) "j['trigger']=='catchup'" \
  && ok "the missed slow window is caught up" || bad "slow schedule's window hidden: $(jobs_json lap2)"
LAP2_ID=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["host_id"])' "$TMP/agent-lap2/identity.json")
settled_after_last_hello "$LAP2_ID"
expect_eq "$(catchups lap2)" $((before + 1)) "only the overdue (schedule, group) is dispatched"
expect_eq "$(jobs_json lap2 | json_get "[j['schedule_id'] for j in d if j['trigger']=='catchup'][0]")" "$SLOW" "the catch-up is the slow schedule's"
expect_eq "$(jobs_json lap2 | json_get "[j['group_id'] for j in d if j['trigger']=='catchup'][0]")" "$G2" "for its group"
stop_agent lap2
finish
