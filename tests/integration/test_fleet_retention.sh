#!/bin/bash
# SPDX-License-Identifier: MIT
# Retention and maintenance by roostd, end to end (issue 11): a schedule
# firing every 2 seconds with keep_last 3 over a changing tree; a dry run
# lists what would go and why and removes nothing; maintenance leaves exactly
# 3 of the schedule's snapshots and the manual one, the next run frees the
# space (grace 0), the repository checks clean and the latest restores
# identical through the server; a snapshot forgotten by hand goes; keep_last
# 1 keeps the latest; one run at a time (409).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"

start_server 2 --prune-grace 0 --maintenance-cron off --check-sample 1000
mkdir -p "$TMP/src/fixed"
head -c 200000 /dev/urandom > "$TMP/src/fixed/keep.bin"
enroll srv always-on
start_agent srv
wait_until 20 host_online srv && ok "agent online" || bad "agent not online"
expect_rc 0 "$ROOST" group add srv data --path "$TMP/src"
J=$("$ROOST" backup srv --group data)
expect_rc 0 "$ROOST" job wait "$J" --timeout 60
MANUAL=$("$ROOST" job show "$J" --json | json_get 'd["snapshot_id"]')

# the tree changes while the schedule runs: every second a new 1 MB file
# replaces the last, so old snapshots hold data no new one does
( i=0; while [[ ! -e "$TMP/stop-changing" ]]; do
    i=$((i + 1)); rm -f "$TMP/src/"chg-*; head -c 1000000 /dev/urandom > "$TMP/src/chg-$i"; sleep 1
  done ) &
CHANGER=$!
expect_rc 2 "$ROOST" schedule add srv often --cron '*/2 * * * * *' --group data --keep-last -1
expect_rc 0 "$ROOST" schedule add srv often --cron '*/2 * * * * *' --group data --keep-last 3
expect_contains "$OUT" "created" "schedule with keep_last 3 created"
expect_rc 0 "$ROOST" schedule list srv
expect_contains "$OUT" "last 3" "schedule list shows the policy"
SID=$("$ROOST" schedule list srv --json | json_get '[s["id"] for s in d if s["name"]=="often"][0]')
expect_eq "$("$ROOST" schedule list srv --json | json_get '[s["retention"]["keep_last"] for s in d if s["name"]=="often"][0]')" 3 "the API carries retention.keep_last"
sched_ok() { count_jobs srv "j['schedule_id']==$SID and j['status']=='succeeded'"; }
wait_until 90 eval '(( $(sched_ok) >= 9 ))' && ok "9 scheduled backups" || bad "only $(sched_ok) scheduled backups"
touch "$TMP/stop-changing"; wait "$CHANGER"
n0=$(sched_ok)
wait_until 60 eval '(( $(sched_ok) >= n0 + 3 ))' && ok "3 more on the final tree" || bad "only $(sched_ok)"
expect_rc 0 "$ROOST" schedule disable srv often
wait_until 30 eval '[[ $("$ROOST" host show srv --json | json_get "d[\"current_job_id\"]") == null ]]' || bad "host still busy"
NSCHED=$(sched_ok)
(( NSCHED >= 12 )) && ok "$NSCHED scheduled snapshots" || bad "only $NSCHED scheduled snapshots"
sched_snaps() { "$ROOST" job list --host srv --status succeeded --limit 1000 --json | json_get "[j['snapshot_id'] for j in d if j['schedule_id']==$SID]"; }
live_snaps() { "$ROOST" snapshot list --host srv --json | json_get '[s["id"] for s in d]'; }
count_sched_live() { $PY -c "import json,sys; a=set(json.loads(sys.argv[1])); b=set(json.loads(sys.argv[2])); print(len(a & b))" "$(sched_snaps)" "$(live_snaps)"; }
expect_eq "$(count_sched_live)" "$NSCHED" "before maintenance every scheduled snapshot is there"
size_of() { "$ROOST" repository show --json | json_get 'd["size_bytes"]'; }
SIZE0=$(size_of)

# a dry run: the list, with reasons; nothing removed
expect_rc 0 "$ROOST" maintenance run --dry-run
expect_contains "$OUT" "no rule of schedule \"often\" keeps it (keep_last 3)" "the dry run says why a snapshot would go"
expect_contains "$OUT" "kept by schedule \"often\": last" "and which rule keeps the others"
expect_contains "$OUT" "a manual backup" "the manual snapshot stays"
expect_contains "$OUT" "$((NSCHED - 3)) snapshots would be removed" "it counts the removals"
expect_eq "$(count_sched_live)" "$NSCHED" "the dry run removed nothing"

# maintenance: exactly 3 of the schedule's snapshots remain, the manual one too
expect_rc 0 "$ROOST" maintenance run --wait
expect_contains "$OUT" "succeeded: $((NSCHED - 3)) snapshots removed" "maintenance removed the rest"
expect_contains "$OUT" "check ok" "its check passed"
expect_eq "$(count_sched_live)" 3 "exactly 3 of the schedule's snapshots remain"
expect_contains "$(live_snaps)" "$MANUAL" "the manual snapshot survived"
LATEST=$("$ROOST" job list --host srv --status succeeded --limit 1000 --json | json_get "[j['snapshot_id'] for j in d if j['schedule_id']==$SID][0]")
expect_contains "$(live_snaps)" "$LATEST" "the latest scheduled snapshot is among them"
# grace 0: the next run deletes what the first marked
expect_rc 0 "$ROOST" maintenance run --wait --json
FREED=$(echo "$OUT" | json_get 'd["bytes_freed"]')
(( FREED > 5000000 )) && ok "the second run freed $FREED bytes" || bad "freed only $FREED bytes: $OUT"
SIZE1=$(size_of)
(( SIZE1 < SIZE0 - 5000000 )) && ok "the repository shrank: $SIZE0 -> $SIZE1 bytes" || bad "repository did not shrink: $SIZE0 -> $SIZE1"
expect_rc 0 "$ROOST" repository show
expect_contains "$OUT" "last check        ok" "repository show: the last check"
expect_contains "$OUT" "deduplication" "repository show: the dedup ratio"
expect_rc 0 "$ROOST" repo check -r "$SDATA/repo" --password-file "$SDATA/repo.password" --read-data
# the latest restores identical through the server
J=$("$ROOST" restore srv "${LATEST:0:12}" --target "$TMP/restored")
expect_rc 0 "$ROOST" job wait "$J" --timeout 60
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$TMP/src" "$TMP/restored$TMP/src" --no-owner

# by hand: forget the manual snapshot; a wrong id is a usage error
expect_rc 2 "$ROOST" snapshot forget srv 0000
expect_rc 0 "$ROOST" snapshot forget srv "${MANUAL:0:12}"
[[ "$(live_snaps)" != *"$MANUAL"* ]] && ok "the manual snapshot was forgotten by hand" || bad "still listed"
# keep_last 1: the latest stays
expect_rc 0 "$ROOST" schedule set srv often --keep-last 1
expect_contains "$OUT" "retention last 1" "schedule set changed the policy"
expect_rc 0 "$ROOST" maintenance run --wait
expect_eq "$(count_sched_live)" 1 "keep_last 1 keeps one"
expect_contains "$(live_snaps)" "$LATEST" "and it is the latest"
# records: list, one with its decisions; one run at a time
expect_rc 0 "$ROOST" maintenance list --json
expect_eq "$(echo "$OUT" | json_get 'len(d)')" 4 "four runs recorded"
expect_eq "$(echo "$OUT" | json_get 'd[0]["check"]["status"]')" ok "the newest first, its check ok"
expect_rc 0 "$ROOST" maintenance show 2 --json
expect_eq "$(echo "$OUT" | json_get 'len([x for x in d["decisions"] if x["action"]=="remove"])')" "$((NSCHED - 3))" "run 2's decisions name each removal"
# a damaged pack: the check fails, and the user is told where they look.
# One more run first deletes what the last one marked: every pack left is in
# use, so the damaged one is not simply deleted by the next run
expect_rc 0 "$ROOST" maintenance run --wait
P=$(find "$SDATA/repo/packs" -type f | head -1)
printf 'garbage' | dd of="$P" bs=1 seek=100 conv=notrunc status=none
expect_rc 3 "$ROOST" maintenance run --wait
expect_contains "$ERR" "the repository check found errors" "maintenance run says the check failed"
expect_rc 3 "$ROOST" repository show
expect_contains "$OUT" "last check        failed" "repository show: the check failed"
expect_rc 0 "$ROOST" host list
expect_contains "$ERR" "warning: the repository check of" "host list warns about the failed check"
expect_rc 0 "$ROOST" maintenance list --json
expect_eq "$(echo "$OUT" | json_get 'd[0]["check"]["status"]')" failed "the run's record says so"
EV=$(curl -skf -H "Authorization: Bearer $ROOST_TOKEN" "$ROOST_SERVER/v1/events?limit=1000")
# the damaged run: finished if prune did not need the damaged bytes, failed
# ("refusing to prune") if it did (a tree in that pack); the check ran either way
expect_eq "$(echo "$EV" | json_get 'len([e for e in d if e["type"] in ("maintenance.finished", "maintenance.failed")])')" 5 "one maintenance event per run (the dry run is not one)"
expect_eq "$(echo "$EV" | json_get 'len([e for e in d if e["type"]=="maintenance.finished"]) >= 4')" true "the four runs before the damage finished"
expect_eq "$(echo "$EV" | json_get '[e["data"]["bytes_freed"] for e in d if e["type"]=="maintenance.finished"][1] > 5000000')" true "the event says what was freed"
expect_eq "$(echo "$EV" | json_get 'len([e for e in d if e["type"]=="check.failed"])')" 1 "and one check.failed"
# every pack damaged (trees too): prune refuses, the check still runs and says so
for P in $(find "$SDATA/repo/packs" -type f); do printf 'garbage' | dd of="$P" bs=1 seek=100 conv=notrunc status=none; done
expect_rc 3 "$ROOST" maintenance run --wait
expect_rc 0 "$ROOST" maintenance list --json
expect_eq "$(echo "$OUT" | json_get 'd[0]["check"]["status"]')" failed "with prune refused, the check still ran and failed"
stop_server
# held 3 s inside its run, the first keeps the second out
ROOST_MAINT_TEST_PAUSE_MS=3000 start_server 2 --prune-grace 0 --maintenance-cron off
busy=$(curl -sk -o /dev/null -w '%{http_code} ' -X POST -H "Authorization: Bearer $ROOST_TOKEN" "$ROOST_SERVER/v1/maintenance"; \
       curl -sk -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $ROOST_TOKEN" "$ROOST_SERVER/v1/maintenance")
[[ $busy == "201 409" ]] && ok "POST /v1/maintenance: $busy" || bad "POST /v1/maintenance twice: $busy"
expect_eq "$(curl -sk -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $ROOST_TOKEN" -d '{"dry_run":3}' "$ROOST_SERVER/v1/maintenance")" 400 "a bad body: 400"
stop_agent srv
finish
