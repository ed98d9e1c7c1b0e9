#!/bin/bash
# SPDX-License-Identifier: MIT
# Prune is safe in a fleet (issue 11, docs/maintenance.md): a backup in
# flight that loaded its index before a pack was marked may still use that
# pack, so maintenance must not delete it while that job is live, whatever
# the grace. Then maintenance killed -9 midway, run again: the repository
# checks clean and every snapshot restores identical through the server.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"

start_server 2 --prune-grace 0 --maintenance-cron off
mkdir -p "$TMP/src" "$TMP/hold"
head -c 6000000 /dev/urandom > "$TMP/hold/x.bin"
enroll srv always-on
start_agent srv
wait_until 20 host_online srv && ok "agent online" || bad "agent not online"
expect_rc 0 "$ROOST" group add srv data --path "$TMP/src"
backup() { local j; j=$("$ROOST" backup srv --group data) && "$ROOST" job wait "$j" --timeout 120 >/dev/null && echo "$j"; }
snap_of() { "$ROOST" job show "$1" --json | json_get 'd["snapshot_id"]'; }
packs() { find "$SDATA/repo/packs" -type f -printf '%f\n' | sort; }

# s1 holds x.bin; s2 does not; s1 forgotten: x.bin's pack is garbage
cp "$TMP/hold/x.bin" "$TMP/src/x.bin"
J1=$(backup) && ok "s1 with x.bin" || bad "backup 1 failed"
PACKS1=$(packs)
rm "$TMP/src/x.bin"; echo small > "$TMP/src/small.txt"
J2=$(backup) && ok "s2 without it" || bad "backup 2 failed"
expect_rc 0 "$ROOST" snapshot forget srv "$(snap_of "$J1" | cut -c1-12)"

# a backup that deduplicates x.bin against that pack, held mid-upload (new
# data after it) while two maintenance runs mark and then would delete it
cp "$TMP/hold/x.bin" "$TMP/src/x.bin"
for i in $(seq 1 10); do head -c 4000000 /dev/urandom > "$TMP/src/new$i"; done
J3=$("$ROOST" backup srv --group data)
if wait_until 60 upload_in_flight && kill -STOP "${AGENT_PID[srv]}" && job_is "$J3" running; then
  ok "backup $J3 held mid-upload"
else
  kill -CONT "${AGENT_PID[srv]}" 2>/dev/null || :
  bad "no upload of $J3 seen: $(job_status "$J3")"
fi
expect_rc 0 "$ROOST" maintenance run --wait --json
expect_eq "$(echo "$OUT" | json_get 'd["packs_marked"] >= 1')" true "run 1 marked the unused pack(s)"
expect_rc 0 "$ROOST" maintenance run --wait --json
expect_eq "$(echo "$OUT" | json_get 'd["packs_removed"]')" 0 "run 2 deleted nothing while the backup is live"
expect_eq "$(echo "$OUT" | json_get 'd["packs_waiting"] >= 1')" true "run 2 says packs wait for a live job"
expect_contains "$(cat "$TMP/server.log")" "event=maintenance.waiting" "the log says why"
missing=$(comm -23 <(echo "$PACKS1") <(packs) | wc -l)
expect_eq "$missing" 0 "every pack of s1 is still there"
kill -CONT "${AGENT_PID[srv]}"
expect_rc 0 "$ROOST" job wait "$J3" --timeout 180
S3=$(snap_of "$J3")
# now used again: unmarked, nothing lost
expect_rc 0 "$ROOST" maintenance run --wait --json
expect_eq "$(echo "$OUT" | json_get 'd["check"]["status"]')" ok "the check after the backup passes"
expect_rc 0 "$ROOST" repo check -r "$SDATA/repo" --password-file "$SDATA/repo.password" --read-data
J=$("$ROOST" restore srv "${S3:0:12}" --target "$TMP/r3")
expect_rc 0 "$ROOST" job wait "$J" --timeout 120
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$TMP/src" "$TMP/r3$TMP/src" --no-owner

# maintenance killed -9 midway (after retention, before prune), then run again
expect_rc 0 "$ROOST" snapshot forget srv "$(snap_of "$J2" | cut -c1-12)"
rm "$TMP/src/"new*
J5=$(backup) && ok "s5 without the new files" || bad "backup 5 failed"
expect_rc 0 "$ROOST" snapshot forget srv "${S3:0:12}"
stop_server
ROOST_MAINT_TEST_PAUSE_MS=30000 start_server 2 --prune-grace 0 --maintenance-cron off
wait_until 20 host_online srv || bad "agent did not come back"
expect_rc 0 "$ROOST" maintenance run --json
RUN=$(echo "$OUT" | json_get 'd["id"]')
wait_until 10 grep -q "event=maintenance.test_pause" "$TMP/server.log" && ok "maintenance is midway" || bad "no pause seen"
stop_server KILL
start_server 2 --prune-grace 0 --maintenance-cron off
expect_rc 0 "$ROOST" maintenance list --json
expect_eq "$(echo "$OUT" | json_get "[m['status'] for m in d if m['id']==$RUN][0]")" interrupted "the killed run is recorded as interrupted"
wait_until 20 host_online srv || bad "agent did not come back"
expect_rc 0 "$ROOST" maintenance run --wait
expect_rc 0 "$ROOST" maintenance run --wait --json
FREED=$(echo "$OUT" | json_get 'd["bytes_freed"]')
(( FREED > 30000000 )) && ok "after the kill, the runs freed $FREED bytes" || bad "freed $FREED: $OUT"
expect_rc 0 "$ROOST" repo check -r "$SDATA/repo" --password-file "$SDATA/repo.password" --read-data
J=$("$ROOST" restore srv "$(snap_of "$J5" | cut -c1-12)" --target "$TMP/r5")
expect_rc 0 "$ROOST" job wait "$J" --timeout 120
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$TMP/src" "$TMP/r5$TMP/src" --no-owner
stop_agent srv
finish
