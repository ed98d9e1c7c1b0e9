#!/bin/bash
# SPDX-License-Identifier: MIT
# An agent enrolled with several --server URLs (issue 14: the instances of one
# fleet): enrollment skips one that does not answer; the agent connects to
# the servers in turn, moving to the next at once when one fails or drops
# (no backoff until a whole round has failed); a job's uploads go to the
# server in use. roostd moves from one address to another (same data) and
# the agent follows without a restart; a backup running while it moves
# goes on: its uploads follow to the next server and it succeeds.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"
DEAD=$(free_port) P1=$(free_port) P2=$(free_port)
SPORT=$P1 start_server 2
U0=https://127.0.0.1:$DEAD U1=https://127.0.0.1:$P1 U2=https://127.0.0.1:$P2
mkdir -p "$TMP/src"; head -c 2000000 /dev/urandom > "$TMP/src/a"; echo hi > "$TMP/src/b"

tok=$("$ROOST" token create)
expect_rc 2 "$ROOST_BIN/roost-agent" enroll --server "$U1" --server http://x --token "$tok" --state "$TMP/agent-x"
expect_contains "$ERR" "expected https://HOST:PORT" "a bad --server is named"
expect_rc 0 "$ROOST_BIN/roost-agent" enroll --server "$U0" --server "$U1" --server "$U2" --token "$tok" \
  --fingerprint "$ROOST_FINGERPRINT" --hostname fo --state "$TMP/agent-fo"
expect_contains "$ERR" "trying the next --server" "enrollment moved past the server that did not answer"
expect_eq "$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["servers"])' "$TMP/agent-fo/identity.json")" \
  "['$U0', '$U1', '$U2']" "identity.json keeps every server in order"

start_agent fo
wait_until 10 host_online fo && ok "agent online" || bad "agent offline"
# from the agent's log: start -> the dead server refused -> the next one at once
ms=$($PY - "$TMP/agent-fo.log" "$U1" <<'PY'
import re, sys, datetime
t = lambda l: datetime.datetime.strptime(re.search(r"ts=(\S+)Z", l).group(1), "%Y-%m-%dT%H:%M:%S.%f")
lines = open(sys.argv[1]).read().splitlines()
start = next(l for l in lines if "event=agent.start" in l)
conn = next(l for l in lines if "event=agent.connected" in l)
print(int((t(conn) - t(start)).total_seconds() * 1000) if sys.argv[2] in conn else -1)
PY
)
(( ms >= 0 && ms < 1500 )) && ok "past the dead server to the next at once (${ms} ms from start to connected)" \
  || bad "first connection: $ms ms, or not to $U1"
grep -q "event=agent.connected server=\"\?$U1" "$TMP/agent-fo.log" && ok "connected to the second server" \
  || bad "not connected to $U1: $(grep agent.connect "$TMP/agent-fo.log" | tail -3)"
expect_rc 0 "$ROOST" group add fo data --path "$TMP/src"
J=$("$ROOST" backup fo --group data)
expect_rc 0 "$ROOST" job wait "$J" --timeout 60

# roostd moves to the third address: the agent follows, at once
stop_server
SPORT=$P2 start_server 2
wait_until 30 host_online fo && ok "agent online again" || bad "agent did not follow to $U2"
grep -q "event=agent.connected server=\"\?$U2" "$TMP/agent-fo.log" && ok "connected to the third server" \
  || bad "not connected to $U2: $(grep agent.connect "$TMP/agent-fo.log" | tail -3)"
# while no server answered: the next one in turn at once, the backoff only
# after a whole round (3 servers: at most one long wait per 3 attempts)
$PY - "$TMP/agent-fo.log" <<'PY' && ok "failover in turn, backoff only between rounds" || bad "reconnect order wrong"
import re, sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if "event=agent.reconnect" in l]
after = lines[1:]  # after the first drop
assert after, "no reconnects"
quick = [l for l in after if " server=" in l]
slow = [l for l in after if " server=" not in l]
assert all(int(re.search(r"in_ms=(\d+)", l).group(1)) <= 250 for l in quick), quick
assert len(slow) <= len(after) // 3 + 1, (len(slow), len(after))
PY
echo changed >> "$TMP/src/b"
J=$("$ROOST" backup fo --group data)
expect_rc 0 "$ROOST" job wait "$J" --timeout 60
S=$("$ROOST" job show "$J" --json | json_get 'd["snapshot_id"]')
J=$("$ROOST" restore fo "$S" --target "$TMP/out")
expect_rc 0 "$ROOST" job wait "$J" --timeout 60
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$TMP/src" "$TMP/out$TMP/src"

# roostd moves mid-backup (an upload limit keeps the job running): the
# job's uploads move to the next server with the agent, and it succeeds
head -c 3000000 /dev/urandom > "$TMP/src/c"
expect_rc 0 "$ROOST" host set fo --upload-limit 500
wait_until 10 grep -q "agent.upload_limit kib_per_s=500" "$TMP/agent-fo.log" \
  && ok "the upload limit reached the agent" || bad "no upload limit at the agent"
J=$("$ROOST" backup fo --group data --no-wait)
wait_until 20 job_is "$J" running && ok "backup $J runs" || bad "backup $J: $(job_status "$J")"
sleep 2
stop_server
SPORT=$P1 start_server 2
expect_rc 0 "$ROOST" job wait "$J" --timeout 90
expect_eq "$(job_status "$J")" succeeded "the backup running while roostd moved succeeded"
grep -q "event=agent.connected server=\"\?$U1" "$TMP/agent-fo.log" && ok "the agent followed to the second server" \
  || bad "not connected to $U1 again"
S=$("$ROOST" job show "$J" --json | json_get 'd["snapshot_id"]')
J=$("$ROOST" restore fo "$S" --target "$TMP/out2")
expect_rc 0 "$ROOST" job wait "$J" --timeout 60
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$TMP/src" "$TMP/out2$TMP/src"
finish
