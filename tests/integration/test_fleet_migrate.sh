#!/bin/bash
# SPDX-License-Identifier: MIT
# roostd migrate --from sqlite:PATH --to postgresql://... (issue 14): an
# installation used on SQLite (an agent, groups, a schedule, a user, jobs,
# events) is moved into a throwaway PostgreSQL cluster (tests/pg/with_pg.sh);
# every table's rows arrive, equal; the SQLite file is not changed; roostd on
# PostgreSQL then knows the agent (it reconnects with its credentials), the
# user (logs in), the jobs (ids go on), the snapshots (restored), and its
# event ids go on after the moved ones. A second move into the now full
# database is refused; bad arguments and a missing file are clear errors.
if [[ -z ${ROOST_TEST_PG:-} ]]; then
  exec "$(dirname "$0")/../pg/with_pg.sh" bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"
PGURL=$ROOST_TEST_PG
pgq() { psql "$PGURL" -qAtc "$1"; }
ROOSTD=$ROOST_BIN/roostd

# usage errors
expect_rc 0 "$ROOSTD" migrate --help
expect_contains "$OUT" "roostd migrate --from sqlite:PATH --to postgresql://" "migrate --help"
expect_rc 2 "$ROOSTD" migrate --from "sqlite:$TMP/x.db"
expect_rc 2 "$ROOSTD" migrate --from "$TMP/x.db" --to "$PGURL"
expect_contains "$ERR" "--from must be sqlite:PATH" "--from without sqlite: refused"
expect_rc 2 "$ROOSTD" migrate --from "sqlite:$TMP/x.db" --to "sqlite:$TMP/y.db"
expect_contains "$ERR" "--to must be postgresql://" "--to must be PostgreSQL"
expect_rc 1 "$ROOSTD" migrate --from "sqlite:$TMP/none.db" --to "$PGURL"
expect_contains "$ERR" "no such store file" "a missing source is named"
[[ ! -e $TMP/none.db ]] && ok "no file was made for it" || bad "$TMP/none.db made"

# an installation used on SQLite
start_server 2 --maintenance-cron off
S=$TMP/src
mkdir -p "$S/sub"
head -c 2000000 /dev/urandom > "$S/big"
seq 1 100000 > "$S/sub/text"
enroll alpha always-on
start_agent alpha
wait_until 10 host_online alpha && ok "agent online" || bad "agent offline"
expect_rc 0 "$ROOST" group add alpha data --path "$S"
expect_rc 0 "$ROOST" schedule add alpha nightly --cron '0 3 * * *' --group data --keep-last 3
printf 'pw-for-ann-1234\n' > "$TMP/ann.pw"
expect_rc 0 "$ROOST" user add ann --role operator --password-file "$TMP/ann.pw"
J1=$("$ROOST" backup alpha --group data)
expect_rc 0 "$ROOST" job wait "$J1" --timeout 120
S1=$("$ROOST" job show "$J1" --json | json_get 'd["snapshot_id"]')
J=$("$ROOST" backup alpha --group nope 2>/dev/null) || true   # a refused request: no job
stop_agent alpha
stop_server
DB=$SDATA/roostd.db
sum_before=$(sha256sum < "$DB")
declare -A WANT
for t in hosts source_groups schedules schedule_groups jobs events users host_sessions; do
  WANT[$t]=$($PY -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM "+sys.argv[2]).fetchone()[0])' "$DB" "$t")
done
MAXEV=$($PY -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT max(id) FROM events").fetchone()[0])' "$DB")

# the move
expect_rc 0 "$ROOSTD" migrate --from "sqlite:$DB" --to "$PGURL"
expect_contains "$OUT" "moved " "migrate says what it moved"
expect_contains "$OUT" "start roostd with --db" "... and what to do next"
[[ $OUT != *"$ROOST_TEST_PG_PASSWORD"* && $ERR != *"$ROOST_TEST_PG_PASSWORD"* ]] \
  && ok "the database password is not printed" || bad "password printed"
expect_contains "$ERR" "jobs " "a line per table"
for t in "${!WANT[@]}"; do
  expect_eq "$(pgq "SELECT count(*) FROM $t")" "${WANT[$t]}" "$t: ${WANT[$t]} rows moved"
done
(( WANT[jobs] >= 1 && WANT[events] >= 2 && WANT[users] == 1 && WANT[host_sessions] >= 1 )) && ok "there was something to move" \
  || bad "little to move: ${WANT[*]}"
expect_eq "$(pgq "SELECT secret_hash = decode('$($PY -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT hex(secret_hash) FROM hosts").fetchone()[0])' "$DB")', 'hex') FROM hosts")" t \
  "a host's secret hash arrives byte for byte"
expect_eq "$(sha256sum < "$DB")" "$sum_before" "the SQLite file is not changed"
expect_rc 2 "$ROOSTD" migrate --from "sqlite:$DB" --to "$PGURL"
expect_contains "$ERR" "is not empty" "a second move into the same database is refused"

# roostd on PostgreSQL: the same fleet
start_server 2 --db "$PGURL" --maintenance-cron off
start_agent alpha
wait_until 15 host_online alpha && ok "the agent reconnects with its credentials" || bad "agent offline"
expect_rc 0 "$ROOST" job show "$J1" --json
expect_eq "$(json_get 'd["status"]' <<< "$OUT")" succeeded "the moved job is known"
code=$(curl -sk -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -d '{"name":"ann","password":"pw-for-ann-1234"}' "$ROOST_SERVER/v1/login")
expect_eq "$code" 200 "the moved user logs in"
expect_rc 0 "$ROOST" schedule list alpha --json
expect_contains "$OUT" '"keep_last": 3' "the schedule and its retention moved"
J2=$("$ROOST" backup alpha --group data)
expect_rc 0 "$ROOST" job wait "$J2" --timeout 120
(( J2 > J1 )) && ok "job ids go on ($J1 -> $J2)" || bad "job ids $J1 then $J2"
J=$("$ROOST" restore alpha "$S1" --target "$TMP/out")
expect_rc 0 "$ROOST" job wait "$J" --timeout 120
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$S" "$TMP/out$S"
(( $(pgq "SELECT min(id) FROM events WHERE id > $MAXEV") > MAXEV )) 2>/dev/null \
  && ok "new events follow the moved ones (after id $MAXEV)" || bad "no new event after id $MAXEV"
expect_eq "$(pgq "SELECT count(*) FROM (SELECT id FROM events GROUP BY id HAVING count(*) > 1) d")" 0 \
  "no event id given twice"
if grep -q 'event=store.error' "$TMP/server.log"; then
  bad "store errors: $(grep 'event=store.error' "$TMP/server.log" | head -5)"
else
  ok "no store error in roostd's log"
fi
finish
