#!/bin/bash
# SPDX-License-Identifier: MIT
# Two roostd instances, A and B, over one PostgreSQL store (issue 14,
# docs/scale-out.md 2.4, 2.11): the same --repo, certificate, admin token
# and repository password. Agent bee is on B; a manual backup asked through
# A reaches it (A pokes B, B sends job.start) and succeeds; a group added
# through A reaches bee's config the same way. Then A is killed -9: agent
# ant (--server A --server B) fails over to B, which takes its host; agent
# cat (A only) stays away, so the sweeper on B marks A dead after its TTL
# and lets go of cat's host, closing its session at A's last heartbeat.
# Events made on either instance reach the other's stream once, and a
# webhook gets each job's end once (one delivery thread, under its lease),
# also after A's death. Maintenance runs on one instance at a time (its
# lease): asked on A and B at once, one starts and the other gets 409.
# Last, B is stopped (SIGSTOP) past its TTL: woken, it stops acting,
# registers a new id, and its agents come back to it. Then PostgreSQL drops
# every connection: B makes them again and goes on. Short times: heartbeat 1 s, instance TTL 4 s, sweep 1 s, lease 4 s.
if [[ -z ${ROOST_TEST_PG:-} ]]; then
  exec "$(dirname "$0")/../pg/with_pg.sh" bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"
PGURL=$ROOST_TEST_PG
pgq() { psql "$PGURL" -qAtc "$1"; }
export ROOSTD_HEARTBEAT_S=1 ROOSTD_INSTANCE_TTL_S=4 ROOSTD_SWEEP_S=1 ROOSTD_LEASE_TTL_S=4
export ROOST_MAINT_TEST_PAUSE_MS=3000 # a maintenance run lasts 3 s at least
PA=$(free_port) PB=$(free_port)
UA=https://127.0.0.1:$PA UB=https://127.0.0.1:$PB
REPO=$TMP/repo

start_instance() { # NAME PORT: roostd with data $TMP/NAME, log $TMP/server-NAME.log
  "$ROOST_BIN/roostd" --data "$TMP/$1" --listen "127.0.0.1:$2" --catchup-settle 2 \
    --log-level debug --db "$PGURL" --repo "$REPO" --maintenance-cron off \
    --instance-name "$1" >>"$TMP/server-$1.out" 2>>"$TMP/server-$1.log" &
  local pid=$!
  daemon_started "$pid" "roostd $1"
  eval "PID_$1=$pid"
  wait_until 20 curl -skf "https://127.0.0.1:$2/v1/health" || {
    echo "roostd $1 did not come up"; tail -20 "$TMP/server-$1.log"; return 1; }
}

# A makes the shared secrets; B gets copies (as an operator deploys them)
start_instance a "$PA"
mkdir -p "$TMP/b"
for f in admin.token metrics.token repo.password tls-cert.pem tls-key.pem; do
  cp -p "$TMP/a/$f" "$TMP/b/$f"
done
start_instance b "$PB"
export ROOST_TOKEN=$(cat "$TMP/a/admin.token") ROOST_FINGERPRINT=$(cat "$TMP/a/fingerprint")
IA=$(pgq "SELECT id FROM instances WHERE name='a' AND state='live'")
IB=$(pgq "SELECT id FROM instances WHERE name='b' AND state='live'")
[[ -n $IA && -n $IB && $IA != "$IB" ]] && ok "two live instances in the store ($IA, $IB)" \
  || bad "instances: $(pgq 'SELECT id, name, state FROM instances')"

mkdir -p "$TMP/src"; head -c 300000 /dev/urandom > "$TMP/src/a"; echo hi > "$TMP/src/b"
enroll_at() { # NAME MODE SERVER...
  local tok name=$1 mode=$2; shift 2
  local args=(); for u in "$@"; do args+=(--server "$u"); done
  tok=$(ROOST_SERVER=$UA "$ROOST" token create) || return 1
  "$ROOST_BIN/roost-agent" enroll "${args[@]}" --token "$tok" --fingerprint "$ROOST_FINGERPRINT" \
    --mode "$mode" --hostname "$name" --state "$TMP/agent-$name" >/dev/null
}
enroll_at bee always-on "$UB" "$UA"
enroll_at ant always-on "$UA" "$UB"
enroll_at cat always-on "$UA"
start_agent bee; start_agent ant; start_agent cat
owner() { pgq "SELECT COALESCE(instance_id, 0) FROM hosts WHERE name='$1'"; }
owned_by() { [[ $(owner "$1") == "$2" ]]; }
wait_until 15 owned_by bee "$IB" && ok "bee is B's" || bad "bee's owner: $(owner bee)"
wait_until 15 owned_by ant "$IA" && ok "ant is A's" || bad "ant's owner: $(owner ant)"
wait_until 15 owned_by cat "$IA" && ok "cat is A's" || bad "cat's owner: $(owner cat)"
ROOST_SERVER=$UA host_online bee && ok "A shows bee (on B) online" || bad "A shows bee offline"
ROOST_SERVER=$UB host_online cat && ok "B shows cat (on A) online" || bad "B shows cat offline"

# a webhook, added through A: one delivery per event whichever instance made it
RECV="$ROOST_SRC/tests/integration/webhook_receiver.py"
RPORT=$(free_port)
expect_rc 0 env ROOST_SERVER=$UA "$ROOST" webhook add "http://127.0.0.1:$RPORT/hook" \
  --event job.succeeded --json
json_get 'd["secret"]' <<<"$OUT" > "$TMP/secret"
$PY "$RECV" --port "$RPORT" --port-file "$TMP/rport" --log "$TMP/recv.log" \
  --secret-file "$TMP/secret" >>"$TMP/extra-recv.log" 2>&1 &
RPID=$!
cleanup_hooks+=("kill $RPID 2>/dev/null")
wait_until 20 test -s "$TMP/rport" || bad "the receiver did not start"
delivered() { [[ -f $TMP/recv.log ]] && $PY -c 'import json,sys,collections
c = collections.Counter(json.loads(l)["event"]["id"] for l in open(sys.argv[1]))
print(len(c), max(c.values()))' "$TMP/recv.log" || echo "0 0"; }

# a manual backup through A for bee on B: A pokes B, B sends job.start; the
# job's events (made on B) reach A's stream, which `job wait` through A reads
export ROOST_SERVER=$UA
curl -sk -N -H "Authorization: Bearer $ROOST_TOKEN" "$UA/v1/events/stream" >"$TMP/sse-a.txt" &
SSE=$!
cleanup_hooks+=("kill $SSE 2>/dev/null")
expect_rc 0 "$ROOST" group add bee data --path "$TMP/src"
J=$("$ROOST" backup bee --group data)
expect_rc 0 "$ROOST" job wait "$J" --timeout 30
expect_eq "$(job_status "$J")" succeeded "the job asked through A ran on bee (on B)"
grep -q "event=route.poke host=[0-9]* kind=job id=$J owner=$IB .*sent=yes" "$TMP/server-a.log" \
  && ok "A poked B with the job" || bad "no poke in A's log"
grep -q "event=route.poked host=[0-9]* kind=job id=$J .*acted=yes" "$TMP/server-b.log" \
  && ok "B acted on the poke" || bad "no poke acted on in B's log"
sleep 0.5
kill $SSE 2>/dev/null; wait $SSE 2>/dev/null || true
expect_eq "$(grep -c "^event: job.succeeded" "$TMP/sse-a.txt")" 1 \
  "A's stream got bee's job.succeeded (made on B) once"
grep -q "^event: job.running" "$TMP/sse-a.txt" && ok "... and its live job.running" \
  || bad "no job.running on A's stream: $(head -c 600 "$TMP/sse-a.txt")"
# the group added through A reached bee's config through B
grep -q "event=agent.config host=$(pgq "SELECT id FROM hosts WHERE name='bee'") why=changed" \
  "$TMP/server-b.log" && ok "bee's config pushed by B after a change through A" \
  || bad "no config push on B"
# ant on A gets its job through B's API (the other direction)
expect_rc 0 env ROOST_SERVER=$UB "$ROOST" group add ant data --path "$TMP/src"
J2=$(ROOST_SERVER=$UB "$ROOST" backup ant --group data)
expect_rc 0 env ROOST_SERVER=$UB "$ROOST" job wait "$J2" --timeout 30

# maintenance: one at a time across the instances (the lease), then B's turn
maint() { curl -sk -o "$TMP/maint-$1.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $ROOST_TOKEN" \
  -H 'Content-Type: application/json' -d '{}' "$2/v1/maintenance"; }
expect_eq "$(maint a1 "$UA") $(maint b1 "$UB")" "201 409" "maintenance on A, then on B at once: 201, 409"
expect_contains "$(cat "$TMP/maint-b1.json")" "another instance" "B says who runs it"
SNAP=$("$ROOST" job show "$J" --json | json_get 'd["snapshot_id"]')
expect_eq "$(curl -sk -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $ROOST_TOKEN" \
  "$UB/v1/snapshots/$SNAP")" 409 "forgetting a snapshot through B while A's run holds the lease: 409"
MID=$(json_get 'd["id"]' < "$TMP/maint-a1.json")
maint_done() { [[ $("$ROOST" maintenance show "$MID" --json 2>/dev/null | json_get 'd["status"]') != running ]]; }
wait_until 30 maint_done || bad "A's maintenance run did not end"
expect_eq "$("$ROOST" maintenance show "$MID" --json | json_get 'd["status"]')" succeeded "A's run succeeded"
expect_eq "$(maint b2 "$UB")" 201 "then B may run it (the lease was given back)"
MID=$(json_get 'd["id"]' < "$TMP/maint-b2.json")
wait_until 30 maint_done || bad "B's maintenance run did not end"

# A dies: ant fails over to B; cat stays away and the sweeper lets it go
stop_daemon "$PID_a" KILL
export ROOST_SERVER=$UB
wait_until 15 owned_by ant "$IB" && ok "ant failed over to B, which took its host" \
  || bad "ant's owner after A died: $(owner ant)"
wait_until 20 owned_by cat 0 && ok "the sweeper let go of cat (A's, not back)" \
  || bad "cat's owner: $(owner cat)"
host_offline cat && ok "B shows cat offline now" || bad "B still shows cat online"
expect_eq "$(pgq "SELECT state FROM instances WHERE id=$IA")" dead "A is marked dead"
expect_eq "$(pgq "SELECT COUNT(*) FROM host_sessions s JOIN hosts h ON h.id = s.host_id JOIN \
  instances i ON i.id = $IA WHERE h.name='cat' AND s.ended_at = i.heartbeat_at")" 1 \
  "cat's session closed at A's last heartbeat"
grep -q "event=sweeper.released host=[0-9]* instance=$IA" "$TMP/server-b.log" \
  && ok "B's sweeper logged the release" || bad "no sweeper.released in B's log"
J3=$("$ROOST" backup ant --group data)
expect_rc 0 "$ROOST" job wait "$J3" --timeout 30
# split brain (3.2): B stopped past its TTL stops acting when it wakes
# (drops its agents, answers 503), then registers a new id and serves again
kill -STOP "$PID_b"; sleep 6; kill -CONT "$PID_b"
split() { grep -q "event=instance.split instance=$IB" "$TMP/server-b.log"; }
wait_until 10 split && ok "B woke past its deadline and stopped acting" || bad "no split in B's log"
rejoined() { [[ -n $(pgq "SELECT id FROM instances WHERE name='b' AND state='live' AND id > $IB") ]]; }
wait_until 10 rejoined && ok "B registered a new id" || bad "no new id for B"
IB2=$(pgq "SELECT max(id) FROM instances WHERE name='b'")
wait_until 30 owned_by ant "$IB2" && ok "ant is B's again, under its new id" \
  || bad "ant's owner after the split: $(owner ant)"
J4=$("$ROOST" backup ant --group data)
expect_rc 0 "$ROOST" job wait "$J4" --timeout 30

# PostgreSQL drops every connection (a restart, a failover): B makes its
# own again (the loop's at its next beat, the LISTEN and delivery threads')
pgq "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname='roost' AND \
  pid <> pg_backend_pid() AND backend_type='client backend'" >/dev/null
relistened() { grep -q "event=notify.listen channel=roost_i$IB2 reconnected=yes" "$TMP/server-b.log"; }
wait_until 15 relistened && ok "B's LISTEN connection came back" || bad "no LISTEN again in B's log"
api_back() { "$ROOST" host show ant --json; }
wait_until 15 api_back && ok "B answers from the store again" || bad "B's store connection did not come back"
J5=$("$ROOST" backup ant --group data)
expect_rc 0 "$ROOST" job wait "$J5" --timeout 30

curl -sk -H "Authorization: Bearer $(cat "$TMP/b/metrics.token")" "$UB/metrics" > "$TMP/metrics-b.txt"
grep -Eq '^roost_clock_skew_seconds -?[01]$' "$TMP/metrics-b.txt" && ok "B exports its clock skew (0 here)" \
  || bad "no roost_clock_skew_seconds: $(grep -c . "$TMP/metrics-b.txt") lines"

# events from both instances: every job's end stored once, none lost
expect_eq "$(pgq "SELECT COUNT(*) FROM events WHERE type='job.succeeded'")" 5 \
  "five job.succeeded events, one per job"
all_delivered() { [[ $(delivered) == "5 "* ]]; }
wait_until 20 all_delivered || true
expect_eq "$(delivered)" "5 1" "the webhook got the five job ends, each once"
if grep -q 'event=event.lost' "$TMP"/server-*.log; then
  bad "events lost: $(grep -h 'event=event.lost' "$TMP"/server-*.log | head -3)"
else
  ok "no event lost"
fi
finish
