#!/bin/bash
# SPDX-License-Identifier: MIT
# End to end, always-on hosts (issue 5, scenarios 1, 2 and 6): a schedule
# fires on the agent's clock and a backup runs; restore through the server
# gives back identical files; fires while busy coalesce into one pending run
# that runs right after; kill -9 mid-backup leaves no host stuck busy.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"

start_server 2
mkdir -p "$TMP/src/d" "$TMP/src/e"
head -c 300000 /dev/urandom > "$TMP/src/d/random.bin"
for i in $(seq 1 30); do echo "file $i" > "$TMP/src/e/f$i.txt"; done
ln -s d/random.bin "$TMP/src/link"
printf 'x' > "$TMP/src/name with spaces"
echo junk > "$TMP/src/e/junk.skip"

# --- 1. a schedule fires, a backup runs, restore gives back the files
enroll srv always-on
start_agent srv
wait_until 10 host_online srv && ok "agent online" || bad "agent not online"
expect_rc 0 "$ROOST" group add srv data --path "$TMP/src" --exclude '*.skip'
expect_rc 0 "$ROOST" schedule add srv often --cron '*/3 * * * * *' --group data
wait_until 15 jobs_at_least srv 1 'j["trigger"]=="schedule" and j["status"]=="succeeded"' \
  && ok "the schedule fired and its backup succeeded" || bad "no scheduled backup: $(jobs_json srv)"
expect_rc 0 "$ROOST" schedule disable srv often
expect_contains "$(cat "$TMP/agent-srv.log")" "event=fire schedule=" "the agent fired from its own clock"
expect_contains "$(cat "$TMP/server.log")" "via=live action=dispatch" "the server dispatched on the fire"
expect_rc 0 "$ROOST" snapshot list --host srv --json
SNAP=$(echo "$OUT" | json_get 'd[-1]["id"]')
expect_eq "${#SNAP}" 64 "a snapshot exists"
J=$("$ROOST" restore srv "${SNAP:0:12}" --target "$TMP/restored")
expect_rc 0 "$ROOST" job wait "$J" --timeout 60
[[ -e "$TMP/restored$TMP/src/e/junk.skip" ]] && bad "an excluded file was backed up" || ok "the group's exclude pattern held"
emtime=$(stat -c %y "$TMP/src/e"); rm "$TMP/src/e/junk.skip"; touch -d "$emtime" "$TMP/src/e"
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$TMP/src" "$TMP/restored$TMP/src" --no-owner
J=$("$ROOST" restore srv latest --target "$TMP/partial" --include "$TMP/src/d")
expect_rc 0 "$ROOST" job wait "$J" --timeout 60
[[ -f "$TMP/partial$TMP/src/d/random.bin" && ! -e "$TMP/partial$TMP/src/e" ]] \
  && ok "restore --include brings back just that path" || bad "partial restore: $(find "$TMP/partial" | head)"
expect_rc 2 "$ROOST" restore srv latest --target relative

# --- 2. fires while busy: one pending run, dispatched right after
stop_agent srv
start_agent srv ROOST_AGENT_TEST_JOB_DELAY_MS=6000
wait_until 10 host_online srv || bad "agent not back"
# three instants 2 s apart, within one minute; the first 5 s ahead, so that
# the schedule has reached the agent before it (slow under TSan and load)
now=$(date +%s); while (( now % 60 > 40 )); do sleep 1; now=$(date +%s); done
T1=$((now + 5)); T2=$((now + 7)); T3=$((now + 9))
c1=($(cron_at $T1)); c2=($(cron_at $T2)); c3=($(cron_at $T3))
CRON="${c1[0]},${c2[0]},${c3[0]} ${c1[1]} ${c1[2]} ${c1[3]} ${c1[4]} *"
before=$(count_jobs srv 'True')
expect_rc 0 "$ROOST" schedule add srv burst --cron "$CRON" --group data
SID=$("$ROOST" schedule list srv --json | json_get '[s["id"] for s in d if s["name"]=="burst"][0]')
wait_until 30 jobs_at_least srv 1 "j['schedule_id']==$SID and j['trigger']=='pending' and j['status']=='succeeded'" \
  && ok "the pending run ran after the busy job" || bad "no pending run: $(jobs_json srv)"
# The cron has exactly three instants, all past now; once the server has
# handled three fires of it (one log line each) no further fire, and so no
# further job, can come: the exact counts below can not miss a late one.
sleep_until() { while (( $(date +%s) <= $1 )); do sleep 0.1; done; }
sleep_until "$T3"
live_fires() { grep -c "event=fire host=1 schedule=$SID slot=.* via=live" "$TMP/server.log" || true; }
wait_until 20 eval '(( $(live_fires) >= 3 ))' && ok "the server handled all three fires" || bad "fires handled: $(live_fires)"
wait_until 20 eval '[[ $(count_jobs srv "j[\"status\"] in (\"queued\",\"running\")") == 0 ]]' || bad "jobs still running"
expect_eq "$(live_fires)" 3 "exactly three fires reached the server"
expect_eq "$(count_jobs srv "j['schedule_id']==$SID")" 2 "three fires while busy became two jobs: the first and one coalesced run"
expect_eq "$(count_jobs srv "j['schedule_id']==$SID and j['trigger']=='schedule'")" 1 "one job from the first fire"
expect_eq "$(grep -c "schedule=$SID slot=.* action=pending" "$TMP/server.log")" 2 "two fires coalesced"
FIRST_END=$(jobs_json srv | json_get "[j['finished_at'] for j in d if j['schedule_id']==$SID and j['trigger']=='schedule'][0]")
PEND_CREATED=$(jobs_json srv | json_get "[j['created_at'] for j in d if j['schedule_id']==$SID and j['trigger']=='pending'][0]")
[[ ! "$PEND_CREATED" < "$FIRST_END" ]] && ok "pending run dispatched once the busy job ended" || \
  bad "pending run created at $PEND_CREATED before the job ended at $FIRST_END"

# --- 6. kill -9 mid-backup; restart; not stuck; next backup succeeds
J=$("$ROOST" backup srv --group data)
wait_until 10 job_is "$J" running && ok "backup running" || bad "not running: $(job_status "$J")"
stop_agent srv KILL
expect_eq "$(job_status "$J")" running "while the agent is gone the job stays running"
start_agent srv
wait_until 15 job_is "$J" interrupted && ok "the lost job ends interrupted" || bad "job after restart: $(job_status "$J")"
expect_rc 0 "$ROOST" host show srv --json
expect_eq "$(echo "$OUT" | json_get 'd["current_job_id"]')" null "host not stuck busy"
J2=$("$ROOST" backup srv --group data)
expect_rc 0 "$ROOST" job wait "$J2" --timeout 60
expect_rc 0 "$ROOST" repo check -r "$SDATA/repo" --password-file "$SDATA/repo.password"

# a fire while the server is down is persisted and sent after the next hello
expect_rc 0 "$ROOST" schedule disable srv burst
# the slot is far enough ahead for the schedule to reach the agent and the
# server to stop before it, even under TSan; both are waited for, not slept
configs=$(grep -c "event=agent.config" "$TMP/agent-srv.log" || true)
F=$(( $(date +%s) + 10 ))
expect_rc 0 "$ROOST" schedule add srv once --cron "$(cron_at $F)" --group data
ONCE=$("$ROOST" schedule list srv --json | json_get '[s["id"] for s in d if s["name"]=="once"][0]')
wait_until 8 eval '(( $(grep -c "event=agent.config" "$TMP/agent-srv.log") > configs ))' \
  || bad "the agent did not get the new schedule"
stop_server
(( $(date +%s) < F )) && ok "the server is down before the slot" || bad "too slow: the server stopped after the slot (timing)"
wait_until 20 grep -q "event=fire schedule=$ONCE .*sent=later(persisted)" "$TMP/agent-srv.log" \
  && ok "the agent persisted a fire while the server was down" || bad "no persisted fire"
start_server 2
wait_until 20 jobs_at_least srv 1 "j['schedule_id']==$ONCE and j['trigger']=='schedule' and j['status']=='succeeded'" \
  && ok "the persisted fire was dispatched after the hello" || bad "persisted fire lost: $(jobs_json srv)"
expect_contains "$(cat "$TMP/server.log")" "schedule=$ONCE slot=" "the fire came back"
expect_contains "$(grep "schedule=$ONCE slot=" "$TMP/server.log")" "via=persisted action=dispatch" "via the hello"

# the server's certificate changes: the agent refuses it, clearly
stop_server
rm -f "$SDATA/tls-cert.pem" "$SDATA/tls-key.pem"
start_server 2
# the agent's next attempt (it retries with a backoff) meets the new certificate
wait_until 30 grep -q "event=agent.pin_mismatch" "$TMP/agent-srv.log" || true
expect_contains "$(cat "$TMP/agent-srv.log")" "event=agent.pin_mismatch" "a changed certificate is refused"
expect_contains "$(cat "$TMP/agent-srv.log")" "refusing to connect" "with a clear message"
expect_eq "$("$ROOST" host show srv --json | json_get 'd["online"]')" false "the agent did not connect to it"
expect_rc 1 "$ROOST_BIN/roost-agent" enroll --server "$ROOST_SERVER" --token x --state "$TMP/agent-srv"
expect_contains "$ERR" "already enrolled" "enrolling twice is refused"
stop_agent srv
finish
