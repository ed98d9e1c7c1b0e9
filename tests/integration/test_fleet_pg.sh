#!/bin/bash
# SPDX-License-Identifier: MIT
# roostd with its store on PostgreSQL (issue 14): `roostd --db postgresql://`
# against a throwaway cluster (tests/pg/with_pg.sh, started here when the
# caller did not). A store that can not be used stops roostd with status 1
# and names why (authentication, missing database, unreachable server); the
# first start migrates the database and writes no SQLite file; an agent's
# backup and its restore go through roostd; a restart finds the hosts, jobs
# and token in PostgreSQL, the agent reconnects and a second backup and
# restore work.
if [[ -z ${ROOST_TEST_PG:-} ]]; then
  exec "$(dirname "$0")/../pg/with_pg.sh" bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"
PGURL=$ROOST_TEST_PG
PORT=$ROOST_TEST_PG_PORT
pgq() { psql "$PGURL" -qAtc "$1"; }

# refused at start, each for what it is
expect_rc 1 "$ROOST_BIN/roostd" --data "$TMP/badpw" --listen 127.0.0.1:1 \
  --db "postgresql://roost:wrong@127.0.0.1:$PORT/roost"
expect_contains "$ERR" "authentication failed" "a wrong password is named"
[[ $ERR != *wrong@* ]] && ok "the URL's password is not printed" || bad "password in: $ERR"
expect_rc 1 "$ROOST_BIN/roostd" --data "$TMP/nodb" --listen 127.0.0.1:1 \
  --db "postgresql://roost:$ROOST_TEST_PG_PASSWORD@127.0.0.1:$PORT/nosuchdb"
expect_contains "$ERR" "database missing" "a missing database is named"
expect_rc 1 "$ROOST_BIN/roostd" --data "$TMP/down" --listen 127.0.0.1:1 \
  --db "postgresql://roost:x@127.0.0.1:1/roost?connect_timeout=5"
expect_contains "$ERR" "server unreachable" "an unreachable server is named"

start_server 2 --db "$PGURL" --maintenance-cron off
[[ ! -e $SDATA/roostd.db ]] && ok "no SQLite store was made" || bad "$SDATA/roostd.db exists"
v=$(pgq 'SELECT max(version) FROM roost_schema')
(( v >= 8 )) && ok "PostgreSQL was migrated (schema version $v)" || bad "schema version: $v"

S=$TMP/src
mkdir -p "$S/sub"
head -c 3000000 /dev/urandom > "$S/big"
seq 1 200000 > "$S/sub/text"
for i in $(seq 1 30); do echo "file $i" > "$S/sub/f$i"; done
ln -s sub/f1 "$S/link"
enroll alpha always-on
start_agent alpha
wait_until 10 host_online alpha && ok "agent online" || bad "agent offline"
expect_eq "$(pgq "SELECT count(*) FROM hosts WHERE name='alpha'")" 1 "the host is a row in PostgreSQL"
expect_rc 0 "$ROOST" group add alpha data --path "$S"
expect_rc 0 "$ROOST" schedule add alpha nightly --cron '0 3 * * *' --group data
J1=$("$ROOST" backup alpha --group data)
expect_rc 0 "$ROOST" job wait "$J1" --timeout 120
S1=$("$ROOST" job show "$J1" --json | json_get 'd["snapshot_id"]')
[[ ${#S1} == 64 ]] && ok "the backup made a snapshot" || bad "no snapshot: $S1"
J=$("$ROOST" restore alpha "$S1" --target "$TMP/out1")
expect_rc 0 "$ROOST" job wait "$J" --timeout 120
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$S" "$TMP/out1$S"
fleet=$(curl -skf -H "Authorization: Bearer $ROOST_TOKEN" "$ROOST_SERVER/v1/fleet")
expect_eq "$(json_get 'd[0]["name"]' <<< "$fleet")" alpha "the fleet view reads PostgreSQL"

# a restart: the same hosts, jobs and admin token from PostgreSQL
stop_server
start_server 2 --db "$PGURL" --maintenance-cron off
wait_until 15 host_online alpha && ok "agent back online after the restart" || bad "agent offline after the restart"
expect_rc 0 "$ROOST" job show "$J1" --json
expect_eq "$(json_get 'd["status"]' <<< "$OUT")" succeeded "the first job is still known"
head -c 2000000 /dev/urandom > "$S/big"
J2=$("$ROOST" backup alpha --group data)
expect_rc 0 "$ROOST" job wait "$J2" --timeout 120
S2=$("$ROOST" job show "$J2" --json | json_get 'd["snapshot_id"]')
(( J2 > J1 )) && ok "job ids go on after the restart ($J1 -> $J2)" || bad "job ids $J1 then $J2"
J=$("$ROOST" restore alpha "$S2" --target "$TMP/out2")
expect_rc 0 "$ROOST" job wait "$J" --timeout 120
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$S" "$TMP/out2$S"
expect_eq "$(pgq "SELECT count(*) FROM jobs WHERE status='succeeded'")" 4 \
  "PostgreSQL holds the four succeeded jobs"
# the job list's filters (numbered parameters, one of them maybe null)
expect_rc 0 "$ROOST" job list --host alpha --status succeeded --json
expect_eq "$(json_get 'len(d)' <<< "$OUT")" 4 "job list --host --status: the four"
expect_rc 0 "$ROOST" job list --status failed --json
expect_eq "$(json_get 'len(d)' <<< "$OUT")" 0 "job list --status failed: none"
expect_rc 0 "$ROOST" job list --limit 2 --json
expect_eq "$(json_get '[j["id"] for j in d]' <<< "$OUT")" "[$J, $((J - 1))]" "job list --limit 2: the newest two"
[[ $(pgq "SELECT count(*) FROM events") -gt 0 ]] && ok "events are written to PostgreSQL" \
  || bad "no events in PostgreSQL"
if grep -q 'event=store.error' "$TMP/server.log"; then
  bad "store errors: $(grep 'event=store.error' "$TMP/server.log" | head -5)"
else
  ok "no store error in roostd's log"
fi
finish
