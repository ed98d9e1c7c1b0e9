#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A store that can not write (issue 16, finding 3), simulated by
# ROOST_FAULT=store_write@FILE: while FILE exists every store write fails as a
# full disk would. An API write is answered 503 store_error and leaves
# nothing behind; a job whose job.finished arrives meanwhile ends in its true
# state once the store writes again, without the agent reconnecting.
source "$ROOST_SRC/tests/integration/lib.sh"
source "$ROOST_SRC/tests/integration/fleet.sh"

FULL=$TMP/store-full
export ROOST_FAULT="store_write@$FULL"
start_server 2
U=$ROOST_SERVER
AUTH="Authorization: Bearer $ROOST_TOKEN"
mkdir -p "$TMP/src"; seq 1 20000 >"$TMP/src/a.txt"
enroll web always-on
expect_rc 0 "$ROOST" group add web data --path "$TMP/src"
start_agent web ROOST_AGENT_TEST_JOB_DELAY_MS=4000
wait_until 20 host_online web && ok "agent online" || bad "agent not online"

touch "$FULL"
code=$(curl -sk -o "$TMP/resp" -w '%{http_code}' -H "$AUTH" -X POST \
  -d '{"name":"etc","paths":["/etc"]}' "$U/v1/hosts/web/groups")
expect_eq "$code" 503 "a group created while the store can not write: 503"
expect_contains "$(cat "$TMP/resp")" '"code":"store_error"' "with code store_error"
expect_contains "$(cat "$TMP/resp")" "disk is full" "and the store's reason"
code=$(curl -sk -o "$TMP/resp" -w '%{http_code}' -H "$AUTH" -X POST -d '{"ttl":60,"uses":1}' "$U/v1/enroll-tokens")
expect_eq "$code" 503 "an enrollment token while the store can not write: 503"
code=$(curl -sk -o "$TMP/resp" -w '%{http_code}' -H "$AUTH" -X POST \
  -d '{"name":"n","cron":"0 3 * * *","group_ids":[]}' "$U/v1/hosts/web/schedules")
expect_eq "$code" 503 "a schedule while the store can not write: 503"
rm -f "$FULL"
expect_eq "$("$ROOST" group list web --json | json_get '[g["name"] for g in d]')" '["data"]' \
  "the refused group does not exist"
expect_eq "$("$ROOST" schedule list web --json | json_get 'len(d)')" 0 "nor the refused schedule"

# a job finishes while the store can not record it
J=$("$ROOST" backup web --group data)
wait_until 20 job_is "$J" running && ok "job $J running" || bad "job $J not running"
touch "$FULL"
wait_until 30 grep -q "event=job.unrecorded host=[0-9]* job=$J " "$TMP/server.log" \
  && ok "the end the store could not record is kept" || bad "no job.unrecorded for job $J"
expect_eq "$(job_status "$J")" running "meanwhile the job still shows running"
connects=$(grep -c "event=agent.connected" "$TMP/server.log")
rm -f "$FULL"
wait_until 10 job_is "$J" succeeded && ok "recorded once the store writes again: succeeded" \
  || bad "job $J: $(job_status "$J")"
expect_eq "$(grep -c "event=agent.connected" "$TMP/server.log")" "$connects" "without the agent reconnecting"
expect_eq "$("$ROOST" host show web --json | json_get 'd["current_job_id"]')" null "the host is not left busy"
expect_eq "$("$ROOST" snapshot list --host web --json | json_get 'len(d)')" 1 "its snapshot is listed"
stop_agent web
stop_server
expect_rc 0 "$ROOST" repo check -r "$SDATA/repo" --password-file "$SDATA/repo.password"
finish
