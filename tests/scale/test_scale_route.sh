#!/bin/bash
# SPDX-License-Identifier: MIT
# Two roostd instances on one PostgreSQL and one S3 repository (issue 14,
# docs/scale-out.md 2.4 and test plan 3): agents spread over both; a host is
# online on both instances whichever holds its connection; a manual backup
# asked through A for an agent connected to B runs (and the reverse); a
# restore asked through B for A's agent returns the tree; after both
# instances' LISTEN connections are killed (pg_terminate_backend) they
# listen again and the routing still works.
if [[ -z ${ROOST_TEST_PG:-} ]]; then
  exec "$(dirname "$0")/../pg/with_pg.sh" bash "$0" "$@"
fi
source "$ROOST_SRC/tests/integration/lib.sh"
source "$ROOST_SRC/tests/integration/fleet.sh"
source "$ROOST_SRC/tests/scale/scale.sh"
scale_setup || { finish; exit 1; }
inst_start A --maintenance-cron off
inst_start B --maintenance-cron off
n=$(pgq "SELECT count(*) FROM instances WHERE state='live'")
expect_eq "$n" 2 "two live instances in the store"

make_tree "$TMP/src-ab" 1
make_tree "$TMP/src-ba" 2
enroll_on ab always-on A B
enroll_on ba always-on B A
start_agent ab
start_agent ba
wait_until 20 agent_is_on ab A && ok "agent ab is on A" || bad "ab: $(agent_on ab)"
wait_until 20 agent_is_on ba B && ok "agent ba is on B" || bad "ba: $(agent_on ba)"
for x in A B; do
  for h in ab ba; do
    wait_until 10 eval "[[ \$(on $x \"\$ROOST\" host show $h --json | json_get 'd[\"online\"]') == true ]]" \
      && ok "instance $x says $h is online" || bad "instance $x says $h is offline"
  done
done
expect_rc 0 on A "$ROOST" group add ab data --path "$TMP/src-ab"
expect_rc 0 on B "$ROOST" group add ba data --path "$TMP/src-ba"

# through A for the agent on B, and through B for the agent on A
routed_backup() { # VIA HOST -> job id in $J, snapshot in $SNAP
  local t0 t1
  t0=$(date +%s%N)
  J=$(on "$1" "$ROOST" backup "$2" --group data --no-wait)
  expect_rc 0 on "$1" "$ROOST" job wait "$J" --timeout 60
  t1=$(date +%s%N)
  expect_eq "$(on "$1" "$ROOST" job show "$J" --json | json_get 'd["status"]')" succeeded \
    "a backup of $2 asked through $1 ran ($(( (t1 - t0) / 1000000 )) ms)"
  SNAP=$(on "$1" "$ROOST" job show "$J" --json | json_get 'd["snapshot_id"]')
}
routed_backup A ba
S_BA=$SNAP
routed_backup B ab
S_AB=$SNAP
grep -q "event=route.*host=" "$TMP/server-A.log" "$TMP/server-B.log" \
  && ok "the routing is logged" || bad "no route event in either log"

# a restore through B of the snapshot of A's agent, and the reverse
routed_restore() { # VIA HOST SNAPSHOT SRC
  local J
  J=$(on "$1" "$ROOST" restore "$2" "$3" --target "$TMP/out-$2-$1" --no-wait)
  expect_rc 0 on "$1" "$ROOST" job wait "$J" --timeout 60
  expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$4" "$TMP/out-$2-$1$4"
}
routed_restore B ab "$S_AB" "$TMP/src-ab"
routed_restore A ba "$S_BA" "$TMP/src-ba"

# the LISTEN connections dropped: each instance listens again
killed=$(pgq "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query ILIKE '%LISTEN roost_%' AND pid <> pg_backend_pid()")
(( killed >= 2 )) && ok "killed $killed LISTEN connections" || bad "LISTEN connections killed: $killed"
wait_until 15 eval "(( \$(pgq \"SELECT count(*) FROM pg_stat_activity WHERE query ILIKE '%LISTEN roost_%' AND pid <> pg_backend_pid()\") >= 2 ))" \
  && ok "both instances listen again" || bad "not listening again"
echo change >>"$TMP/src-ba/sub/f1"
routed_backup A ba
echo change >>"$TMP/src-ab/sub/f1"
routed_backup B ab
# nothing ran twice: each backup asked once is one job
expect_eq "$(pgq "SELECT count(*) FROM jobs WHERE kind='backup'")" 4 "four backups asked, four jobs"
expect_eq "$(pgq "SELECT count(*) FROM jobs WHERE status<>'succeeded'")" 0 "every job succeeded"
finish
