#!/bin/bash
# SPDX-License-Identifier: MIT
# roostd with real processes on 127.0.0.1: first start, loopback-only listen,
# REST errors and auth, enrollment tokens, WebSocket auth and frame caps,
# config push, job lifecycle with an offline agent, restart recovery.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"

start_server 2 --agent-timeout 3
# first start
[[ -s $SDATA/admin.token ]] && ok "admin token written" || bad "no admin token"
expect_eq "$(stat -c %a "$SDATA/admin.token")" 600 "admin token is 0600"
expect_contains "$(cat "$TMP/server.out")" "$ROOST_FINGERPRINT" "fingerprint printed at start"
expect_contains "$(ss -ltnH "sport = :$SPORT")" "127.0.0.1:$SPORT" "listens on 127.0.0.1"
if ss -ltnH "sport = :$SPORT" | grep -qv "127.0.0.1:$SPORT"; then bad "listens beyond loopback"; else ok "loopback only"; fi
expect_rc 0 "$ROOST" repo check -r "$SDATA/repo" --password-file "$SDATA/repo.password"

U=$ROOST_SERVER
A="Authorization: Bearer $ROOST_TOKEN"
code() { curl -sk -o "$TMP/body" -w '%{http_code}' "$@"; }
expect_eq "$(code $U/v1/health)" 200 "health without auth"
expect_eq "$(code $U/v1/hosts)" 401 "no credentials: 401"
expect_eq "$(code -H 'Authorization: Bearer nope' $U/v1/hosts)" 401 "wrong admin token: 401"
expect_eq "$(code -H "Authorization: Bearer ${ROOST_TOKEN:0:42}x" $U/v1/hosts)" 401 "near-miss admin token: 401"
expect_eq "$(code -H "$A" -X POST -d '{not json' $U/v1/enroll-tokens)" 400 "malformed JSON: 400"
expect_contains "$(cat "$TMP/body")" '"code":"invalid_json"' "malformed JSON names its code"
expect_eq "$(code -H "$A" -X POST -d '{"ttl":"x"}' $U/v1/enroll-tokens)" 400 "bad ttl: 400"
expect_eq "$(code -H "$A" $U/v1/nope)" 404 "unknown route: 404"
expect_eq "$(code -H "$A" -X DELETE $U/v1/jobs)" 405 "wrong method: 405"
head -c 1200000 /dev/zero | tr '\0' 'a' > "$TMP/big"
expect_eq "$(code -H "$A" -X POST --data-binary @"$TMP/big" $U/v1/enroll-tokens)" 413 "oversized body: 413"

# enrollment tokens: use-limited, expiring
TOK=$("$ROOST" token create --uses 1)
expect_eq "$(code -X POST -d "{\"token\":\"$TOK\",\"hostname\":\"h1\",\"mode\":\"always-on\"}" $U/v1/enroll)" 201 "enroll with a token"
H1_ID=$(json_get 'd["host_id"]' < "$TMP/body"); H1_SECRET=$(json_get 'd["secret"]' < "$TMP/body")
expect_eq "$(code -X POST -d "{\"token\":\"$TOK\",\"hostname\":\"h2\"}" $U/v1/enroll)" 401 "a used-up token is refused"
TOK2=$("$ROOST" token create --ttl 1)
sleep 2.2
expect_eq "$(code -X POST -d "{\"token\":\"$TOK2\",\"hostname\":\"h2\"}" $U/v1/enroll)" 401 "an expired token is refused"
expect_eq "$(code -X POST -d '{"token":"garbage","hostname":"h2"}' $U/v1/enroll)" 401 "a made-up token is refused"
TOK3=$("$ROOST" token create)
expect_eq "$(code -X POST -d "{\"token\":\"$TOK3\",\"hostname\":\"bad name\"}" $U/v1/enroll)" 400 "a hostname with spaces is refused"
HA="Authorization: Bearer $H1_ID.$H1_SECRET"
# the same secret with its last character changed (A <-> Q differ in the bits that count)
[[ ${H1_SECRET: -1} == A ]] && BADSEC="${H1_SECRET:0:42}Q" || BADSEC="${H1_SECRET:0:42}A"
expect_eq "$(code -H "$HA" $U/v1/hosts)" 403 "host credential on an admin route: 403"
expect_eq "$(code -H "Authorization: Bearer $H1_ID.$BADSEC" $U/v1/repo/keys/)" 401 "wrong host secret: 401"
expect_eq "$(code -H "Authorization: Bearer 999.$H1_SECRET" $U/v1/repo/keys/)" 401 "unknown host id: 401"

# CLI: errors are exit 2 with the field named
expect_rc 0 "$ROOST" group add h1 etc --path /etc --exclude '*.bak'
expect_rc 2 "$ROOST" schedule add h1 bad --cron '0 0 30 2 *' --group etc
expect_contains "$ERR" "invalid_cron" "invalid cron: 400 invalid_cron"
expect_contains "$ERR" "day-of-month" "invalid cron names the field"
expect_rc 2 "$ROOST" schedule add h1 bad --cron '61 * * * *' --group etc
expect_rc 2 "$ROOST" group add h1 rel --path relative/path
expect_rc 2 "$ROOST" host show nosuchhost
expect_rc 0 "$ROOST" schedule add h1 nightly --cron '0 3 * * *' --group etc
expect_rc 0 "$ROOST" schedule next h1 nightly --count 3
expect_eq "$(echo "$OUT" | wc -l)" 3 "next prints 3 instants"
expect_contains "$OUT" "T03:00:00Z" "next at 03:00 UTC"
expect_rc 0 "$ROOST" host list --json
expect_eq "$(echo "$OUT" | json_get 'sorted(d[0].keys())')" \
  '["backups", "created_at", "current_job_id", "health", "health_reason", "hostname", "id", "last_backup_at", "last_seen_at", "metered", "mode", "name", "on_battery", "online", "os", "overdue", "skip_on_battery", "skip_on_metered", "tz", "upload_limit_kbps"]' \
  "host JSON fields"
expect_rc 0 "$ROOST" schedule list h1 --json
expect_eq "$(echo "$OUT" | json_get 'all(k in d[0] for k in ["id","name","cron","enabled","group_ids","next_at"])')" true "schedule JSON fields"
expect_rc 1 env ROOST_FINGERPRINT=$(printf '0%.0s' {1..64}) "$ROOST" host list
expect_contains "$ERR" "not the pinned" "a wrong fingerprint is refused"
expect_rc 1 env ROOST_TOKEN=wrong "$ROOST" host list

# WebSocket: auth at upgrade, bad messages, frame cap
WS="$PY $ROOST_SRC/tests/integration/wsclient.py"
expect_eq "$($WS probe 127.0.0.1 $SPORT -)" 401 "WebSocket without credentials refused"
expect_eq "$($WS probe 127.0.0.1 $SPORT "Bearer $ROOST_TOKEN")" 401 "WebSocket with the admin token refused"
expect_eq "$($WS probe 127.0.0.1 $SPORT "Bearer $H1_ID.$BADSEC")" 401 "WebSocket with a wrong secret refused"
expect_eq "$($WS probe 127.0.0.1 $SPORT "$HA" /v1/other)" 404 "WebSocket elsewhere than /v1/agent refused"
expect_eq "$($WS probe 127.0.0.1 $SPORT "Bearer $H1_ID.$H1_SECRET")" 101 "WebSocket with the host credential accepted"
expect_eq "$($WS garbage 127.0.0.1 $SPORT "Bearer $H1_ID.$H1_SECRET")" open "malformed agent messages are refused, the connection stays"
# a flood of malformed frames from one agent: a bounded number of log lines, and a count
expect_eq "$($WS garbage 127.0.0.1 $SPORT "Bearer $H1_ID.$H1_SECRET" 400)" open "2,400 malformed messages: still served"
NBAD=$(grep -c "event=agent.bad_message host=$H1_ID " "$TMP/server.log" || :)
(( NBAD >= 1 && NBAD <= 12 )) && ok "malformed frames logged a bounded number of times ($NBAD lines)" \
  || bad "malformed frames logged $NBAD times"
wait_until 15 grep -q "event=log.suppressed of=agent.bad_message source=\"\\?host=$H1_ID" "$TMP/server.log" \
  && ok "the suppressed lines are counted: $(grep -o "event=log.suppressed of=agent.bad_message.*" "$TMP/server.log" | head -1)" \
  || bad "no log.suppressed line for the flood"
expect_eq "$($WS bigframe 127.0.0.1 $SPORT "Bearer $H1_ID.$H1_SECRET" 2000000)" "closed 1009" "an oversized frame closes with 1009"
expect_contains "$(cat "$TMP/server.log")" "event=agent.frame_too_large" "oversized frame logged"
expect_eq "$($WS replace 127.0.0.1 $SPORT "Bearer $H1_ID.$H1_SECRET")" "first closed 1008, second got config" \
  "a new connection for a host replaces the old one"
expect_rc 0 curl -skf "$U/v1/health"

# a real agent: config push, manual backup queued while offline, lifecycle
mkdir -p "$TMP/src/sub"; echo one > "$TMP/src/a"; echo two > "$TMP/src/sub/b"
enroll web always-on
expect_eq "$(stat -c %a "$TMP/agent-web/identity.json")" 600 "agent identity is 0600"
expect_rc 0 "$ROOST" group add web data --path "$TMP/src"
JOB=$("$ROOST" backup web --group data)
expect_eq "$(job_status "$JOB")" queued "a job for an offline host waits queued"
start_agent web
wait_until 30 job_is "$JOB" succeeded && ok "queued job ran once the agent connected" || bad "job $JOB: $(job_status "$JOB")"
expect_rc 0 "$ROOST" job show "$JOB" --json
expect_eq "$(echo "$OUT" | json_get 'd["trigger"]+" "+str(d["stats"]["files"])+" "+str(bool(d["snapshot_id"]))')" "manual 2 True" "job record: trigger, files, snapshot"
expect_rc 0 "$ROOST" group add web more --path "$TMP/src/sub"
wait_until 10 grep -q '"more"' "$TMP/agent-web/config.json" && ok "config pushed on a group change" || bad "config not pushed"
expect_rc 0 "$ROOST" host show web --json
expect_eq "$(echo "$OUT" | json_get 'd["online"] and d["last_backup_at"] is not None and d["current_job_id"] is None')" true "host online, last backup set, idle"

# a frozen agent answers no pings: the server drops it (--agent-timeout 3)
kill -STOP "${AGENT_PID[web]}"
wait_until 10 host_offline web \
  && ok "a silent agent is dropped after the timeout" || bad "frozen agent still online"
expect_contains "$(cat "$TMP/server.log")" "event=agent.timeout host=" "the server logs the timeout"
kill -CONT "${AGENT_PID[web]}"
wait_until 15 host_online web && ok "it reconnects when it wakes" || bad "agent did not come back"
# a frozen server: the agent notices (the timeout comes with its config) and reconnects
kill -STOP "$SPID"
wait_until 10 grep -q "event=agent.server_timeout" "$TMP/agent-web.log" \
  && ok "the agent detects a dead server" || bad "agent did not notice the frozen server"
kill -CONT "$SPID"
wait_until 15 host_online web && ok "and reconnects when it is back" || bad "agent did not reconnect"

# cancel a running job
stop_agent web
start_agent web ROOST_AGENT_TEST_JOB_DELAY_MS=5000
wait_until 10 host_online web || bad "agent did not reconnect"
JOB=$("$ROOST" backup web --group data)
wait_until 10 job_is "$JOB" running && ok "job running" || bad "job not running: $(job_status "$JOB")"
expect_rc 0 "$ROOST" job cancel "$JOB"
wait_until 10 job_is "$JOB" canceled && ok "cancel reaches the agent" || bad "job after cancel: $(job_status "$JOB")"
expect_rc 1 "$ROOST" job wait "$JOB"

# restart recovery: a job survives a server restart and is resolved after it
JOB=$("$ROOST" backup web --group data)
wait_until 10 job_is "$JOB" running || bad "job not running before restart"
stop_server
start_server 2
expect_rc 0 "$ROOST" host list
expect_contains "$OUT" "web" "hosts survive a restart"
wait_until 30 job_is "$JOB" succeeded && ok "job running across a server restart is resolved (succeeded)" || bad "job after restart: $(job_status "$JOB")"
expect_rc 0 "$ROOST" host show web --json
expect_eq "$(echo "$OUT" | json_get 'd["current_job_id"]')" null "host not stuck busy"
expect_rc 0 "$ROOST" snapshot list --host web --json
expect_eq "$(echo "$OUT" | json_get 'len(d)')" 2 "two snapshots of web"
expect_contains "$(cat "$TMP/server.log")" "event=dispatch host=" "dispatches are logged"
stop_agent web
finish
