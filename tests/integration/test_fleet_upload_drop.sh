#!/bin/bash
# SPDX-License-Identifier: MIT
# Pipelined pack uploads survive dropped connections (issue 17): the agent
# sends two packs side by side, each PUT on a connection of its own, and a
# PUT whose connection is cut mid-pack is sent again. The agent talks to
# roostd through a proxy that cuts the first two connections that have sent
# 6 MB, inside 16 MiB packs: both packs in flight, or one pack twice (its
# first try and its second). Before, the second cut failed the backup (the
# client tries a request again only once, and only on a kept-alive
# connection). Now the backup succeeds, the agent logged its PUTs sent
# again, `roost repo check --read-data` on the server's repository finds no
# errors, and the tree comes back whole through roostd.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"

start_server 2
mkdir -p "$TMP/data/sub"
for i in 1 2 3; do head -c 15000000 /dev/urandom > "$TMP/data/big$i"; done
for i in $(seq 1 20); do echo "small $i" > "$TMP/data/sub/s$i"; done

$PY "$ROOST_SRC/tests/integration/dropproxy.py" --upstream 127.0.0.1:$SPORT --drop-after 6000000 \
  --drops 2 --log "$TMP/drop.log" > "$TMP/proxy.port" &
PXPID=$!
cleanup_hooks+=("kill $PXPID 2>/dev/null")
for _ in $(seq 1 300); do [[ -s $TMP/proxy.port ]] && break; sleep 0.1; done
PP=$(cat "$TMP/proxy.port")

ROOST_SERVER=https://127.0.0.1:$PP enroll alpha always-on
start_agent alpha
wait_until 20 host_online alpha && ok "agent online through the proxy" || bad "agent offline"
expect_rc 0 "$ROOST" group add alpha data --path "$TMP/data"
J=$("$ROOST" backup alpha --group data --no-wait)
J=${J##* }
expect_rc 0 "$ROOST" job wait "$J" --timeout 180
[[ $(job_status "$J") == succeeded ]] && ok "the backup succeeded" \
  || bad "backup: $(job_status "$J"): $("$ROOST" job show "$J" --json | json_get 'd["error"]')"
n=$(grep -c dropped "$TMP/drop.log" 2>/dev/null || true)
[[ $n == 2 ]] && ok "the proxy cut two connections mid-upload" || bad "the proxy cut $n connections"
r=$(grep -c 'event=repo.put_retry object=packs/' "$TMP/agent-alpha.log" || true)
(( r >= 1 )) && ok "the agent sent $r pack PUTs again" || bad "$r pack PUTs sent again"
puts=$(grep -c 'event=repo.put host=1 object="\?packs/' "$TMP/server.log" || true)
(( puts >= 3 )) && ok "$puts packs stored" || bad "only $puts packs stored"

expect_rc 0 "$ROOST" repo check -r "$SDATA/repo" --password-file "$SDATA/repo.password" --read-data
expect_contains "$OUT$ERR" "no errors were found" "check --read-data passes after the dropped uploads"

S=$("$ROOST" job show "$J" --json | json_get 'd["snapshot_id"]')
JR=$("$ROOST" restore alpha "${S:0:12}" --target "$TMP/r1" --no-wait)
JR=${JR##* }
expect_rc 0 "$ROOST" job wait "$JR" --timeout 180
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$TMP/data" "$TMP/r1$TMP/data" --no-owner
stop_agent alpha
finish
