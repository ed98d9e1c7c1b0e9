#!/bin/bash
# SPDX-License-Identifier: MIT
# End to end, agent policies (issue 15, docs/policies.md) with a real roostd
# and agents: a catch-up outside its schedule's window is deferred with its
# reason and starts at the opening; a fire on a host with skip_on_battery
# while a fake power supply says Discharging is deferred and starts within a
# second of the mains coming online; a manual backup runs anyway; a metered
# host with skip_on_metered defers; window validation, the deferred filter,
# cancel and /metrics. Settle window: 2 s.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"

start_server 2
mkdir -p "$TMP/src1"
echo one > "$TMP/src1/a"
U=$ROOST_SERVER
sleep_until() { local t=$1; while (( $(date +%s) < t )); do sleep 0.05; done; }
now_f() { date +%s.%N; }
# the time (epoch seconds, float) of the first server log line matching a pattern
log_time() { # PATTERN
  $PY - "$TMP/server.log" "$1" <<'PYEOF'
import datetime, re, sys
for line in open(sys.argv[1], errors="replace"):
    if sys.argv[2] in line:
        ts = re.match(r"ts=(\S+)", line).group(1).replace("Z", "+00:00")
        print(f"{datetime.datetime.fromisoformat(ts).timestamp():.3f}")
        break
PYEOF
}
within() { $PY -c "import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) <= float(sys.argv[3]) else 1)" "$@"; }

# --- the window field: 400 invalid_field naming window; set through the CLI
enroll lap intermittent
expect_rc 0 "$ROOST" group add lap docs --path "$TMP/src1"
expect_rc 2 "$ROOST" schedule add lap bad --cron '0 2 * * *' --group docs --window 25:00-06:00
expect_contains "$ERR" "window" "a bad window is refused naming the field"
code=$(curl -sk -o "$TMP/body" -w '%{http_code}' -H "Authorization: Bearer $ROOST_TOKEN" \
  -X POST -d '{"name":"x","cron":"0 2 * * *","window":"22:00"}' "$U/v1/hosts/lap/schedules")
expect_eq "$code" 400 "POST with a bad window: 400"
expect_eq "$(json_get 'd["error"]["field"] if isinstance(d.get("error"), dict) else d.get("field")' <"$TMP/body")" window \
  "its field is window"
expect_contains "$(cat "$TMP/body")" invalid_field "its code is invalid_field"

# --- 1. catch-up outside the window: deferred, started at the opening
# the window opens at the next minute M, at least 8 s away; the laptop says hello at
# M - 6 so its catch-up (settle 2 s) comes at M - 4, outside the window
M=$(( ($(date +%s) / 60 + 1) * 60 ))
(( M - $(date +%s) < 8 )) && M=$((M + 60))
W=$($PY -c "import time,sys; a=time.gmtime(int(sys.argv[1])); b=time.gmtime(int(sys.argv[1])+120); print(f'{a.tm_hour:02d}:{a.tm_min:02d}-{b.tm_hour:02d}:{b.tm_min:02d}')" "$M")
# a daily cron with a seconds field, far from now: the never-backed-up group is overdue
expect_rc 0 "$ROOST" schedule add lap daily --cron "$(cron_at $((M + 43200)))" --group docs --window "$W"
expect_eq "$("$ROOST" schedule list lap --json | json_get 'd[0]["window"]')" "$W" "the schedule shows its window"
sleep_until $((M - 6))
start_agent lap
wait_until 6 jobs_at_least lap 1 "j['status']=='deferred'" \
  && ok "the catch-up outside the window is deferred" || bad "no deferred catch-up: $(jobs_json lap)"
(( $(date +%s) < M )) || bad "too slow: the window opened before the check (timing)"
expect_eq "$(jobs_json lap | json_get "[j['error'] for j in d if j['trigger']=='catchup'][0]")" \
  "outside window $W" "its reason names the window"
expect_eq "$(count_jobs lap "j['status'] in ('queued','running','succeeded')")" 0 "nothing started before the opening"
expect_contains "$("$ROOST" job list --status deferred)" "outside window $W" "roost job list --status deferred shows it with its reason"
expect_eq "$(curl -skf -H "Authorization: Bearer $ROOST_TOKEN" "$U/v1/jobs?status=deferred" | json_get 'len(d)')" 1 \
  "GET /v1/jobs?status=deferred"
expect_contains "$(curl -sk -H "Authorization: Bearer $ROOST_TOKEN" "$U/metrics")" \
  'roost_jobs_deferred{reason="window"} 1' "/metrics counts it"
expect_eq "$(curl -skf -H "Authorization: Bearer $ROOST_TOKEN" "$U/v1/fleet" | json_get "[(h['current_job'] or {}).get('status') + ': ' + (h['current_job'] or {}).get('error', '') for h in d if h['name']=='lap'][0]")" \
  "deferred: outside window $W" "the dashboard's fleet shows it as the host's job, with its reason"
wait_until 8 jobs_at_least lap 1 "j['trigger']=='catchup' and j['status']=='succeeded'" \
  && ok "at the opening it starts and succeeds" || bad "not started at the opening: $(jobs_json lap)"
ts=$(log_time "event=defer.start host=1 ")
[[ -n $ts ]] && within "$M" "$ts" "$((M + 1))" && ok "started $($PY -c "print(f'{$ts - $M:.2f}')") s after the opening" \
  || bad "started at $ts, the window opened at $M"
expect_eq "$(count_jobs lap "j['trigger']=='catchup'")" 1 "one catch-up job, not a second one"
stop_agent lap

# --- 2. battery: deferred 'host on battery'; a manual backup runs anyway; mains online starts it
PS=$TMP/power_supply
mkdir -p "$PS/BAT0" "$PS/AC"
echo Battery >"$PS/BAT0/type"; echo Discharging >"$PS/BAT0/status"
echo Mains >"$PS/AC/type"; echo 0 >"$PS/AC/online"
enroll srv always-on
expect_rc 0 "$ROOST" group add srv data --path "$TMP/src1"
expect_rc 0 "$ROOST" host set srv --skip-on-battery yes
start_agent srv ROOST_AGENT_POWER_SUPPLY_DIR="$PS" ROOST_AGENT_POWER_POLL_MS=100
wait_until 10 host_online srv || bad "srv not online"
wait_until 5 eval '[[ $("$ROOST" host show srv --json | json_get "d[\"on_battery\"]") == true ]]' \
  && ok "the host view shows on_battery from the agent's hello" || bad "on_battery not shown: $("$ROOST" host show srv --json)"
expect_contains "$("$ROOST" host show srv)" "skip_on_battery: yes" "roost host show shows skip_on_battery"
J=$("$ROOST" backup srv --group data)
wait_until 15 job_is "$J" succeeded && ok "a manual backup runs while on battery" || bad "manual job: $(job_status "$J")"
F=$(( $(date +%s) + 3 ))
expect_rc 0 "$ROOST" schedule add srv soon --cron "$(cron_at $F)" --group data
wait_until 10 jobs_at_least srv 1 "j['trigger']=='schedule' and j['status']=='deferred'" \
  && ok "the fire on battery is deferred" || bad "fire not deferred: $(jobs_json srv)"
JD=$(jobs_json srv | json_get "[j['id'] for j in d if j['trigger']=='schedule'][0]")
expect_eq "$("$ROOST" job show "$JD" --json | json_get 'd["error"]')" "host on battery" "its reason is 'host on battery'"
sleep 1
expect_eq "$(job_status "$JD")" deferred "it stays deferred while on battery"
t0=$(now_f)
echo 1 >"$PS/AC/online"
wait_until 3 eval '[[ $(job_status '"$JD"') != deferred ]]'
t1=$(now_f)
dt=$($PY -c "print(f'{$t1 - $t0:.2f}')")
within 0 "$dt" 1.0 && ok "mains online: the job started ${dt} s later" || bad "started ${dt} s after mains came online ($(job_status "$JD"))"
wait_until 15 job_is "$JD" succeeded && ok "and succeeded" || bad "deferred job: $(job_status "$JD")"
expect_eq "$("$ROOST" host show srv --json | json_get 'd["on_battery"]')" false "the status report reached the host view"
stop_agent srv

# --- 3. metered: ROOST_AGENT_METERED=1 with skip_on_metered defers; cancel ends it
enroll met always-on
expect_rc 0 "$ROOST" group add met data --path "$TMP/src1"
expect_rc 0 "$ROOST" host set met --skip-on-metered yes
start_agent met ROOST_AGENT_METERED=1
wait_until 10 host_online met || bad "met not online"
F=$(( $(date +%s) + 3 ))
expect_rc 0 "$ROOST" schedule add met soon --cron "$(cron_at $F)" --group data
wait_until 10 jobs_at_least met 1 "j['status']=='deferred' and j['error']=='host on a metered network'" \
  && ok "a metered host with skip_on_metered defers its scheduled job" || bad "not deferred: $(jobs_json met)"
expect_eq "$("$ROOST" host show met --json | json_get 'd["metered"]')" true "the host view shows metered"
JM=$(jobs_json met | json_get "[j['id'] for j in d if j['status']=='deferred'][0]")
expect_rc 0 "$ROOST" job cancel "$JM"
expect_eq "$(job_status "$JM")" canceled "roost job cancel ends a deferred job"
stop_agent met
finish
