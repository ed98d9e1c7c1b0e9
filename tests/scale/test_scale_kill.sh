#!/bin/bash
# SPDX-License-Identifier: MIT
# kill -9 of an instance mid-backup (issue 14, docs/scale-out.md 3.1 and
# test plan 4): the agent moves to the other instance, the job it was
# running ends succeeded (its uploads follow the agent to B), nothing runs
# twice, the snapshot restored through B is identical; the dead instance is
# marked dead and its hosts are released by the sweeper. Variant: the agent
# is killed with the instance and restarted: its job ends interrupted, no
# duplicate runs.
if [[ -z ${ROOST_TEST_PG:-} ]]; then
  exec "$(dirname "$0")/../pg/with_pg.sh" bash "$0" "$@"
fi
source "$ROOST_SRC/tests/integration/lib.sh"
source "$ROOST_SRC/tests/integration/fleet.sh"
source "$ROOST_SRC/tests/scale/scale.sh"
scale_setup || { finish; exit 1; }
inst_start A --maintenance-cron off
inst_start B --maintenance-cron off

make_tree "$TMP/src" 1
head -c 3000000 /dev/urandom >"$TMP/src/more"
make_tree "$TMP/src2" 2
enroll_on k always-on A B
enroll_on k2 always-on A B
start_agent k
start_agent k2
wait_until 20 agent_is_on k A && ok "agent k is on A" || bad "k: $(agent_on k)"
wait_until 20 agent_is_on k2 A && ok "agent k2 is on A" || bad "k2: $(agent_on k2)"
expect_rc 0 on B "$ROOST" group add k data --path "$TMP/src"
expect_rc 0 on B "$ROOST" host set k --upload-limit 600
expect_rc 0 on B "$ROOST" group add k2 data --path "$TMP/src2"
expect_rc 0 on B "$ROOST" host set k2 --upload-limit 300
# the config reached the agent (on A) before the job
wait_until 10 grep -q "agent.upload_limit kib_per_s=600" "$TMP/agent-k.log" \
  && ok "the upload limit reached k through A" || bad "no upload limit at k"

J=$(on B "$ROOST" backup k --group data --no-wait)
wait_until 20 eval "[[ \$(on B \"\$ROOST\" job show $J --json | json_get 'd[\"status\"]') == running ]]" \
  && ok "the job runs on k (asked through B, k on A)" || bad "job $J not running"
sleep 1.5   # mid-upload: ~4.5 MB at 600 KiB/s takes ~7 s
A_ID=$(pgq "SELECT max(id) FROM instances WHERE state='live' AND url = '127.0.0.1:${IPORT[A]}'")
inst_stop A KILL
wait_until 20 agent_is_on k B && ok "k failed over to B" || bad "k: $(agent_on k)"
expect_rc 0 on B "$ROOST" job wait "$J" --timeout 90
expect_eq "$(on B "$ROOST" job show "$J" --json | json_get 'd["status"]')" succeeded \
  "the job that ran through A's death succeeded"
expect_eq "$(pgq "SELECT count(*) FROM jobs WHERE host_id=(SELECT id FROM hosts WHERE name='k')")" 1 \
  "one job for k: nothing ran twice"
SNAP=$(on B "$ROOST" job show "$J" --json | json_get 'd["snapshot_id"]')
R=$(on B "$ROOST" restore k "$SNAP" --target "$TMP/out" --no-wait)
expect_rc 0 on B "$ROOST" job wait "$R" --timeout 60
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$TMP/src" "$TMP/out$TMP/src"

# the sweeper: A is dead, and no host is still owned by it
wait_until 30 eval "[[ \$(pgq \"SELECT state FROM instances WHERE id=$A_ID\") == dead ]]" \
  && ok "instance A ($A_ID) is marked dead" || bad "A: $(pgq "SELECT * FROM instances")"
wait_until 10 eval "(( \$(pgq \"SELECT count(*) FROM hosts WHERE instance_id=$A_ID\") == 0 ))" \
  && ok "no host is left owned by the dead instance" || bad "hosts still on A: $(pgq "SELECT name FROM hosts WHERE instance_id=$A_ID")"

# variant: the agent dies with the instance; its job ends interrupted once it is back
wait_until 20 agent_is_on k2 B && ok "k2 failed over to B" || bad "k2: $(agent_on k2)"
inst_start A --maintenance-cron off
J2=$(on A "$ROOST" backup k2 --group data --no-wait)
wait_until 20 eval "[[ \$(on A \"\$ROOST\" job show $J2 --json | json_get 'd[\"status\"]') == running ]]" \
  && ok "k2's job runs (asked through A, k2 on B)" || bad "job $J2 not running"
sleep 1
inst_stop B KILL
stop_agent k2 KILL
stop_agent k
start_agent k2
wait_until 20 agent_is_on k2 A && ok "k2 restarted and is on A" || bad "k2: $(agent_on k2)"
wait_until 20 eval "[[ \$(on A \"\$ROOST\" job show $J2 --json | json_get 'd[\"status\"]') == interrupted ]]" \
  && ok "the lost job ends interrupted" || bad "job $J2: $(on A "$ROOST" job show "$J2" --json)"
expect_eq "$(pgq "SELECT count(*) FROM jobs WHERE host_id=(SELECT id FROM hosts WHERE name='k2')")" 1 \
  "one job for k2: nothing ran twice"
finish
