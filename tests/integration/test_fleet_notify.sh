#!/bin/bash
# SPDX-License-Identifier: MIT
# Events and notifications with real processes on 127.0.0.1: signed webhook
# deliveries checked by a receiver that verifies signatures and refuses stale
# timestamps; a failed backup is exactly one job.failed delivery; a delivery
# survives its receiver being down and roostd restarting, and is not repeated
# once acknowledged; mail to an SMTP sink (aiosmtpd); the event log, its live
# stream and the CLI; /metrics (401 without a token, promtool, counters move by
# exactly the jobs run); health in the host views.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"
RECV="$ROOST_SRC/tests/integration/webhook_receiver.py"
RPORT=$(free_port)
MPORT=$(free_port)

start_receiver() { # receiver on RPORT, log $TMP/recv.log
  rm -f "$TMP/rport"
  $PY "$RECV" --port "$RPORT" --port-file "$TMP/rport" --log "$TMP/recv.log" \
    --secret-file "$TMP/secret" >>"$TMP/extra-recv.log" 2>&1 &
  RPID=$!
  cleanup_hooks+=("kill $RPID 2>/dev/null")
  wait_until 20 test -s "$TMP/rport" || bad "the receiver did not start"
}
deliveries() { # TYPE [EVENT_ID]: how many accepted deliveries
  [[ -f $TMP/recv.log ]] || { echo 0; return; }
  $PY - "$TMP/recv.log" "$1" "${2:-}" <<'PYEOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d["event"]["type"] == sys.argv[2] and (not sys.argv[3] or d["id"] == sys.argv[3]):
        n += 1
print(n)
PYEOF
}
deliveries_at_least() { (( $(deliveries "$1" "${3:-}") >= $2 )); }

# an SMTP sink (Debian's python3-aiosmtpd), mail into a maildir
$PY -m aiosmtpd -n -l "127.0.0.1:$MPORT" -c aiosmtpd.handlers.Mailbox "$TMP/maildir" \
  >>"$TMP/extra-smtp.log" 2>&1 &
SMTP_PID=$!
cleanup_hooks+=("kill $SMTP_PID 2>/dev/null")
wait_until 20 $PY -c "import socket; socket.create_connection(('127.0.0.1', $MPORT))" || bad "smtp sink did not start"

SARGS=(--smtp "smtp://127.0.0.1:$MPORT" --smtp-from roost@example.com --mail-digest 1
       --webhook-timeout 3 --health-flap 0)
start_server 1 "${SARGS[@]}"
A="Authorization: Bearer $ROOST_TOKEN"
code() { curl -sk -o "$TMP/body" -w '%{http_code}' "$@"; }

# subscriptions
expect_rc 0 "$ROOST" webhook add "http://127.0.0.1:$RPORT/hook" --event job.failed --event job.succeeded --json
json_get 'd["secret"]' <<<"$OUT" > "$TMP/secret"
WID=$(json_get 'd["id"]' <<<"$OUT")
expect_contains "$(cat "$TMP/secret")" whsec_ "the secret is whsec_..."
expect_rc 0 "$ROOST" webhook list --json
expect_eq "$(json_get 'len(d) == 1 and "secret" not in d[0]' <<<"$OUT")" true "the list never shows the secret"
expect_rc 2 "$ROOST" webhook add "http://127.0.0.1:$RPORT/x" --event no.such.type
expect_rc 0 "$ROOST" webhook add "mailto:ops@example.com" --event job.failed
start_receiver

# the receiver refuses stale timestamps and bad signatures (what it checks every delivery with)
STALE=$($PY - "$TMP/secret" "$RPORT" <<'PYEOF'
import base64, hashlib, hmac, sys, time, urllib.request
k = base64.b64decode(open(sys.argv[1]).read().strip()[6:])
def post(ts, key):
    body = b'{"id":0,"type":"job.failed"}'
    sig = "v1," + base64.b64encode(hmac.new(key, f"0.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    r = urllib.request.Request(f"http://127.0.0.1:{sys.argv[2]}/hook", body, {"webhook-id": "0",
        "webhook-timestamp": str(ts), "webhook-signature": sig})
    try:
        return urllib.request.urlopen(r).status
    except urllib.error.HTTPError as e:
        return e.code
print(post(int(time.time()) - 600, k), post(int(time.time()), b"wrong key"))
PYEOF
)
expect_eq "$STALE" "401 401" "the receiver refuses a stale timestamp and a wrong signature"

enroll h1 always-on
start_agent h1
wait_until 30 host_online h1 || bad "agent did not connect"
mkdir -p "$TMP/src" && echo hello > "$TMP/src/f"
expect_rc 0 "$ROOST" group add h1 good --path "$TMP/src"
expect_rc 0 "$ROOST" group add h1 bad --path "$TMP/no/such/dir"
scrape() { curl -sk -H "Authorization: Bearer $(cat "$SDATA/metrics.token")" "$ROOST_SERVER/metrics"; }
jobs_total() { scrape | awk -v s="$1" '$1 ~ /^roost_jobs_total/ && $1 ~ "status=\""s"\"" {n += $2} END {print n + 0}'; }
OK0=$(jobs_total succeeded); FAIL0=$(jobs_total failed)

# a failed backup: exactly one job.failed delivery
J1=$("$ROOST" backup h1 --group bad)
"$ROOST" job wait "$J1" --timeout 60 >/dev/null 2>&1 || true
expect_eq "$(job_status "$J1")" failed "a backup of a path the agent cannot read fails"
wait_until 30 deliveries_at_least job.failed 1 || bad "no job.failed delivery"
wait_until 10 grep -q "event=webhook.delivered webhook=$WID" "$TMP/server.log"
sleep 2
expect_eq "$(deliveries job.failed)" 1 "exactly one job.failed delivery"
expect_eq "$(deliveries job.succeeded)" 0 "no delivery of what did not happen"
EV1=$($PY -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1])][0]["event"]["job"]["id"])' "$TMP/recv.log")
expect_eq "$EV1" "$J1" "the delivery carries the job"

# mail: the sink receives it, with the host and the event type in the subject
wait_until 30 bash -c "grep -rl 'Subject: \[roost\] h1: job.failed' '$TMP/maildir/new'" || bad "no mail for job.failed"
MAIL=$(cat "$TMP"/maildir/new/* 2>/dev/null || true)
expect_contains "$MAIL" "Subject: [roost] h1: job.failed" "mail subject names the host and the event"
expect_contains "$MAIL" "To: ops@example.com" "mail to the subscribed address"
expect_contains "$MAIL" "no/such/dir" "mail body carries the job's error"

# the event log: API, CLI, live stream
expect_eq "$(code -H "$A" "$ROOST_SERVER/v1/events?after=0&limit=50")" 200 "GET /v1/events"
expect_eq "$(json_get '[e["type"] for e in d if e["type"].startswith("job.")]' < "$TMP/body")" '["job.failed"]' "the log holds the job.failed event"
expect_eq "$(json_get 'all(d[i]["id"] < d[i+1]["id"] for i in range(len(d)-1))' < "$TMP/body")" true "event ids grow"
cp "$TMP/body" "$TMP/events-asc"
expect_eq "$(code -H "$A" "$ROOST_SERVER/v1/events?before=9007199254740991&limit=2")" 200 "GET /v1/events?before="
expect_eq "$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); print([e["id"] for e in b] == [e["id"] for e in a][::-1][:2])' "$TMP/events-asc" "$TMP/body")" True "before= gives the newest events, newest first"
LOWEST=$(json_get 'd[-1]["id"]' < "$TMP/body")
expect_eq "$(code -H "$A" "$ROOST_SERVER/v1/events?before=$LOWEST&limit=1000")" 200 "GET /v1/events?before=ID"
expect_eq "$(json_get 'all(e["id"] < '"$LOWEST"' for e in d) and all(d[i]["id"] > d[i+1]["id"] for i in range(len(d)-1))' < "$TMP/body")" true "and pages down from an id"
expect_eq "$(code -H "$A" "$ROOST_SERVER/v1/events?before=0")" 400 "before=0 is refused"
expect_eq "$(code -H "$A" "$ROOST_SERVER/v1/events?before=5&after=1")" 400 "before and after together are refused"
expect_eq "$(code "$ROOST_SERVER/v1/events")" 401 "events need the admin token"
expect_rc 0 "$ROOST" events
expect_contains "$OUT" "job.failed" "roost events lists it"
expect_contains "$OUT" "host.enrolled" "roost events lists the enrollment"
timeout 3 curl -skN -H "$A" "$ROOST_SERVER/v1/events/stream?after=0" > "$TMP/stream" || true
expect_contains "$(cat "$TMP/stream")" "event: job.failed" "the live stream replays and streams events"

# receiver down, roostd restarted meanwhile: the delivery arrives once both are back, once
kill "$RPID"; wait "$RPID" 2>/dev/null || true
J2=$("$ROOST" backup h1 --group bad)
"$ROOST" job wait "$J2" --timeout 60 >/dev/null 2>&1 || true
wait_until 20 grep -q "event=webhook.failed webhook=$WID" "$TMP/server.log" || bad "no failed attempt while the receiver is down"
EVID=$(curl -sk -H "$A" "$ROOST_SERVER/v1/events?after=0&limit=1000" | json_get "[e['id'] for e in d if e['job'] and e['job']['id'] == $J2 and e['type'] == 'job.failed'][0]")
stop_server
start_server 1 "${SARGS[@]}"
sleep 1
start_receiver
wait_until 60 deliveries_at_least job.failed 1 "$EVID" || bad "the delivery did not arrive after the restarts"
expect_eq "$(deliveries job.failed "$EVID")" 1 "delivered after receiver and roostd came back"
wait_until 10 bash -c "[[ \$(curl -sk -H '$A' '$ROOST_SERVER/v1/webhooks' | $PY -c 'import json,sys; print([w[\"cursor\"] for w in json.load(sys.stdin) if w[\"id\"] == $WID][0])') -ge $EVID ]]" || bad "the cursor was not saved"
stop_server
start_server 1 "${SARGS[@]}"
sleep 4
expect_eq "$(deliveries job.failed "$EVID")" 1 "no duplicate after the acknowledgement (another restart)"
wait_until 30 host_online h1

# /metrics: 401 without a token, the admin token and the metrics token work, promtool passes
expect_eq "$(code "$ROOST_SERVER/metrics")" 401 "/metrics without a token: 401"
expect_eq "$(code -H "Authorization: Bearer nope" "$ROOST_SERVER/metrics")" 401 "/metrics with a wrong token: 401"
expect_eq "$(code -H "$A" "$ROOST_SERVER/metrics")" 200 "/metrics with the admin token"
expect_eq "$(code -H "Authorization: Bearer $(cat "$SDATA/metrics.token")" "$ROOST_SERVER/v1/hosts")" 403 "the metrics token is for /metrics only"
scrape > "$TMP/metrics.txt"
if command -v promtool >/dev/null; then
  expect_rc 0 promtool check metrics < "$TMP/metrics.txt"
else
  skip "promtool check metrics" "promtool not installed"
fi
for m in roost_agents_connected 'roost_hosts{health=' 'roost_host_overdue{host="h1"}' roost_jobs_total \
         roost_job_duration_seconds_bucket roost_catchups_total roost_repository_size_bytes; do
  expect_contains "$(cat "$TMP/metrics.txt")" "$m" "metric $m"
done
OK1=$(jobs_total succeeded); FAIL1=$(jobs_total failed)
expect_eq "$((FAIL1 - FAIL0))" 2 "roost_jobs_total{status=failed} moved by the 2 failed jobs (across restarts)"
for _ in 1 2 3; do
  J=$("$ROOST" backup h1 --group good); "$ROOST" job wait "$J" --timeout 120 >/dev/null
done
expect_eq "$(( $(jobs_total succeeded) - OK1 ))" 3 "roost_jobs_total{status=succeeded} moved by exactly the 3 jobs run"
expect_eq "$(( $(jobs_total failed) - FAIL1 ))" 0 "failed unchanged"
scrape > "$TMP/metrics.txt"

# health in the host views
expect_rc 0 "$ROOST" host show h1 --json
expect_eq "$(json_get 'd["health"] in ("ok", "never", "overdue", "failing", "unseen")' <<<"$OUT")" true "host JSON has health"
expect_eq "$(json_get 'd["last_seen_at"] is not None' <<<"$OUT")" true "last_seen_at is set for a connected host"
expect_rc 0 "$ROOST" host list
expect_contains "$OUT" "HEALTH" "host list shows health"
expect_rc 0 "$ROOST" webhook test "$WID"
expect_rc 0 "$ROOST" webhook remove "$WID"

stop_agent h1
stop_server
kill "$RPID" "$SMTP_PID" 2>/dev/null || true
finish
