#!/bin/bash
# SPDX-License-Identifier: MIT
# One catch-up per wake across two instances (issue 14, docs/scale-out.md
# 2.2 and test plan 2): a laptop whose schedule's window passed while it was
# away wakes on A, loses A a third into its settle window and lands on B:
# exactly one catch-up job, dispatched a settle window after B's hello; A's
# timer does not dispatch. Then SIGSTOP of A past the instance lifetime
# (3.2): when it wakes it closes its agents (they move to B), and rejoins
# under a new id; no host is left under the old one.
if [[ -z ${ROOST_TEST_PG:-} ]]; then
  exec "$(dirname "$0")/../pg/with_pg.sh" bash "$0" "$@"
fi
source "$ROOST_SRC/tests/integration/lib.sh"
source "$ROOST_SRC/tests/integration/fleet.sh"
SCALE_SETTLE=6
source "$ROOST_SRC/tests/scale/scale.sh"
scale_setup || { finish; exit 1; }
inst_start A --maintenance-cron off
inst_start B --maintenance-cron off
fwd_start A
URL[FA]=https://127.0.0.1:$FWD_PORT
mkdir -p "$TMP/src"; echo laptop >"$TMP/src/a"
enroll_on lap intermittent FA B
expect_rc 0 on A "$ROOST" group add lap docs --path "$TMP/src"
T=$(( $(date +%s) + 3 ))
expect_rc 0 on B "$ROOST" schedule add lap daily --cron "$(cron_at "$T")" --group docs
while (( $(date +%s) <= T + 1 )); do sleep 0.2; done   # the window passed while away

start_agent lap
wait_until 20 agent_is_on lap FA A && ok "the laptop woke on A" || bad "lap: $(agent_on lap)"
sleep 2   # a third into A's 6 s settle window
kill "$FWD_PID"
wait_until 20 agent_is_on lap B && ok "the laptop landed on B" || bad "lap: $(agent_on lap)"
hello_b=$(date +%s)
catchups() { on B "$ROOST" job list --host lap --json | json_get "len([j for j in d if j['trigger']=='catchup'])"; }
wait_until 20 eval '(( $(catchups) >= 1 ))' && ok "a catch-up ran" || bad "no catch-up"
first=$(pgq "SELECT min(created_at) FROM jobs WHERE trigger='catchup'")
sleep $(( SCALE_SETTLE + 3 ))   # a late duplicate from A's timer would be here by now
expect_eq "$(catchups)" 1 "exactly one catch-up for the wake"
(( first >= hello_b + SCALE_SETTLE - 1 )) && ok "dispatched a settle window after B's hello ($(( first - hello_b )) s)" \
  || bad "catch-up created $(( first - hello_b )) s after B's hello (settle $SCALE_SETTLE s)"
grep -q "event=catchup.skip host=" "$TMP/server-A.log" && ok "A's timer skipped (logged)" \
  || bad "A did not log catchup.skip"
! grep -q "event=dispatch .*trigger=catchup" "$TMP/server-A.log" && ok "A dispatched no catch-up" \
  || bad "A dispatched a catch-up: $(grep 'trigger=catchup' "$TMP/server-A.log")"

# --- split brain: A stopped past the instance lifetime, then woken
enroll_on sb always-on A B
start_agent sb
wait_until 20 agent_is_on sb A && ok "sb is on A" || bad "sb: $(agent_on sb)"
old=$(pgq "SELECT max(id) FROM instances WHERE url = '127.0.0.1:${IPORT[A]}'")
kill -STOP "${IPID[A]}"
wait_until 30 eval "[[ \$(pgq \"SELECT state FROM instances WHERE id=$old\") == dead ]]" \
  && ok "the stopped A is marked dead" || bad "A's row: $(pgq "SELECT * FROM instances WHERE id=$old")"
kill -CONT "${IPID[A]}"
wait_until 30 eval "(( \$(pgq \"SELECT count(*) FROM instances WHERE url = '127.0.0.1:${IPORT[A]}' AND state='live' AND id > $old\") == 1 ))" \
  && ok "A woke and registered a new instance id" || bad "instances: $(pgq 'SELECT id, state, url FROM instances')"
expect_eq "$(pgq "SELECT count(*) FROM hosts WHERE instance_id=$old")" 0 "no host is owned under A's old id"
# A, awake, knows it lost its place: it closed its agents (1012), and sb is on B
wait_until 30 agent_is_on sb B && ok "A let its agent go: sb is on B" || bad "sb: $(agent_on sb)"
grep -q "event=instance.split" "$TMP/server-A.log" && ok "A logged its split" || bad "no instance.split in A's log"
finish
