#!/bin/bash
# SPDX-License-Identifier: MIT
# `roost backup` and `roost restore` wait for their job when stdout is a
# terminal (cli/jobwait.c): the job id, a progress line on stderr from
# roostd's event stream, one line that says how the job ended, an exit code
# that says it too. Captured by a script they print the job id and return at
# once, as the contract says, even for a host that is offline; --wait and
# --no-wait override; Ctrl-C stops the waiting, never the job. A real
# terminal comes from pty_run.py.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"

PTY="$PY $ROOST_SRC/tests/integration/pty_run.py"
MIB=1048576
# 2 MiB packs and an upload limit: a backup of 6 MiB of random bytes runs for
# some seconds and reports progress meanwhile (as test_fleet_upload_limit)
start_server 2
stop_server
rm -rf "$SDATA/repo"
ROOST_PASSWORD=$(cat "$SDATA/repo.password") "$ROOST" repo init -r "$SDATA/repo" --pack-size $((2 * MIB)) >/dev/null \
  && ok "repository with 2 MiB packs" || bad "repo init"
# ROOST_FAULT: while $TMP/no-streams exists roostd refuses new event streams
# with 503, as when its 64 are taken (part 10)
ROOST_FAULT=sse_open@$TMP/no-streams start_server 2
enroll srv always-on
enroll off intermittent
start_agent srv
wait_until 20 host_online srv && ok "agent online" || bad "agent not online"
mkdir -p "$TMP/data/sub"
head -c $((6 * MIB)) /dev/urandom >"$TMP/data/big"
for i in $(seq 1 20); do echo "file $i" >"$TMP/data/sub/f$i"; done
expect_rc 0 "$ROOST" group add srv data --path "$TMP/data"
expect_rc 0 "$ROOST" group add srv gone --path "$TMP/not-there"
expect_rc 0 "$ROOST" group add off data --path "$TMP/data"
expect_rc 0 "$ROOST" host set srv --upload-limit 1024

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# what a terminal showed, one line per \r or \n, without the erase-line codes
screen() { tr '\r' '\n' <"$1" | sed 's/\x1b\[K//g'; }
# job GETs roostd answered (its debug log): the waiting reads the event stream, not these
job_gets() { grep -c "event=http method=GET path=\"\\?/v1/jobs/$1\"\\? status=200" "$TMP/server.log" || true; }
last_job() { jobs_json "$1" | json_get 'd[0]["id"]'; }

# 1. at a terminal a backup waits: id, progress line (files, bytes), outcome, exit 0
set +e
$PTY -- "$ROOST" backup srv --group data >"$TMP/t1.out"; rc=$?
set -e
T1=$(screen "$TMP/t1.out")
echo "$T1" | sed 's/^/#   /' | tail -8
expect_eq "$rc" 0 "backup at a terminal exits 0 when the job succeeds"
J1=$(last_job srv)
expect_eq "$(echo "$T1" | head -1 | tr -d '\n')" "$J1" "the job id comes first"
grep -Eq "^job $J1: running, [0-9,]+ files, [0-9.]+ [kMG]?B" <<<"$T1" \
  && ok "a progress line with files and bytes" || bad "no progress line in: $T1"
grep -Eq "^job $J1: running, [0-9,]+ files, [0-9.]+ [kMG]?B, [0-9.]+ [kMG]?B/s" <<<"$T1" \
  && ok "the progress line shows the rate" || bad "no rate in: $T1"
grep -Eq "^job $J1 succeeded: snapshot [0-9a-f]{8}, 21 files, 6.3 MB \([0-9.]+ [kM]?B new\) in [0-9.]+ s" <<<"$T1" \
  && ok "the outcome line: snapshot, files, bytes, time" || bad "no outcome line in: $T1"
expect_eq "$(job_status "$J1")" succeeded "the job succeeded when the command returned"
G=$(job_gets "$J1")
(( G <= 3 )) && ok "followed on the event stream ($G GETs of the job)" || bad "$G GETs of job $J1: polled, not the stream"
grep -q "event=events.stream" "$TMP/server.log" && ok "roostd served an event stream" || bad "no event stream opened"
# the waiting command hung up: roostd closes the stream at once and does not
# spin on the hung-up socket (libwebsockets 4.1 polled it busily until the
# next heartbeat: 60% of a CPU for up to 15 s after every wait)
wait_until 5 grep -q "event=events.stream_closed by=client" "$TMP/server.log" \
  && ok "roostd closed the stream the command hung up" || bad "the hung-up stream was not closed"
t0=$(awk '{print $14+$15}' "/proc/$SPID/stat"); sleep 3; t1=$(awk '{print $14+$15}' "/proc/$SPID/stat")
(( t1 - t0 < 60 )) && ok "roostd idle after the wait returned ($((t1 - t0)) ticks in 3 s)" \
  || bad "roostd busy after the wait returned: $((t1 - t0)) of 300 ticks in 3 s"

# 2. a restore at a terminal waits: when it returns, the target holds the files
SNAP=$("$ROOST" job show "$J1" --json | json_get 'd["snapshot_id"]')
set +e
$PTY -- "$ROOST" restore srv "${SNAP:0:12}" --target "$TMP/restored" >"$TMP/t2.out"; rc=$?
set -e
T2=$(screen "$TMP/t2.out")
expect_eq "$rc" 0 "restore at a terminal exits 0"
cmp -s "$TMP/data/big" "$TMP/restored$TMP/data/big" && [[ -f "$TMP/restored$TMP/data/sub/f20" ]] \
  && ok "the target holds the files when restore returns" || bad "restore returned before the files were there: $(find "$TMP/restored" | head -5)"
grep -Eq "^job [0-9]+ succeeded: restored snapshot ${SNAP:0:8} to $TMP/restored, 21 files" <<<"$T2" \
  && ok "the restore's outcome line" || bad "no restore outcome in: $T2"

# 3. a job that fails: exit 1 and its error, on a terminal and with --wait in a script
set +e
$PTY -- "$ROOST" backup srv --group gone >"$TMP/t3.out"; rc=$?
set -e
T3=$(screen "$TMP/t3.out")
expect_eq "$rc" 1 "a failing backup at a terminal exits 1"
grep -Eq "^job [0-9]+ failed: .*not-there" <<<"$T3" && ok "the outcome names the error" || bad "no failure line in: $T3"
expect_rc 1 "$ROOST" backup srv --group gone --wait
expect_contains "$OUT" "failed:" "--wait in a script says it failed"
set +e
$PTY -- "$ROOST" restore srv "${SNAP:0:12}" --target "$TMP/data/big/x" >"$TMP/t3b.out"; rc=$?
set -e
expect_eq "$rc" 1 "a failing restore at a terminal exits 1"
grep -Eq "^job [0-9]+ failed: " <<<"$(screen "$TMP/t3b.out")" && ok "the restore's failure is shown" \
  || bad "no restore failure in: $(cat "$TMP/t3b.out")"

# 4. captured stdout: only the id, at once, even for a host that is offline
W0=$(now_ms)
set +e
OUT=$("$ROOST" backup off --group data 2>"$TMP/t4.err"); rc=$?
set -e
W1=$(now_ms)
expect_eq "$rc" 0 "backup for an offline host, captured: exit 0"
[[ $OUT =~ ^[0-9]+$ ]] && ok "captured stdout is the job id alone ($OUT)" || bad "captured stdout: '$OUT'"
(( W1 - W0 < 10000 )) && ok "it returned at once ($((W1 - W0)) ms)" || bad "it took $((W1 - W0)) ms"
[[ ! -s $TMP/t4.err ]] && ok "nothing on stderr" || bad "stderr: $(cat "$TMP/t4.err")"
JOFF=$OUT
expect_eq "$(job_status "$JOFF")" queued "the offline host's job stays queued"
OUT=$("$ROOST" restore off "${SNAP:0:12}" --target "$TMP/r-off" --from-host srv)
[[ $OUT =~ ^[0-9]+$ ]] && ok "restore, captured: the job id alone" || bad "restore captured stdout: '$OUT'"
expect_rc 0 "$ROOST" job cancel "$OUT"

# 5. --timeout with --wait in a script: exit 1, the job goes on, how to follow it
expect_rc 1 "$ROOST" backup off --group data --wait --timeout 1
expect_contains "$ERR" "still not finished after 1 s" "the timeout says so"
expect_contains "$ERR" "roost job wait" "and how to wait for it"
expect_rc 2 "$ROOST" backup srv --group data --wait --no-wait
expect_rc 2 "$ROOST" backup srv --group data --no-wait --timeout 5

# 6. --wait in a script waits; --json gives the final job
OUT=$("$ROOST" backup srv --group data --wait)
J6=$(head -1 <<<"$OUT")
[[ $(sed -n 2p <<<"$OUT") == "job $J6 succeeded: "* ]] && ok "--wait in a script: the id, then the outcome" || bad "--wait printed: $OUT"
expect_eq "$(job_status "$J6")" succeeded "--wait in a script returns when the job succeeded"
"$ROOST" backup srv --group data --wait --json >"$TMP/t6.json"
expect_eq "$(json_get 'd["status"]' <"$TMP/t6.json")" succeeded "--wait --json prints the final job"
expect_eq "$(json_get 'd["stats"]["files"]' <"$TMP/t6.json")" 21 "with its stats"

# 7. --no-wait at a terminal: the id, at once
W0=$(now_ms)
set +e
$PTY -- "$ROOST" backup off --group data --no-wait >"$TMP/t7.out"; rc=$?
set -e
W1=$(now_ms)
expect_eq "$rc" 0 "--no-wait at a terminal exits 0"
[[ $(tr -d '\r\n' <"$TMP/t7.out") =~ ^[0-9]+$ ]] && ok "--no-wait prints the id alone" || bad "--no-wait printed: $(cat "$TMP/t7.out")"
(( W1 - W0 < 10000 )) && ok "--no-wait returned at once ($((W1 - W0)) ms)" || bad "--no-wait took $((W1 - W0)) ms"

# 8. Ctrl-C: the waiting stops (130), the job does not
# a job for an offline host: the line says so, ^C leaves it queued
set +e
$PTY "come online" $'\x03' -- "$ROOST" restore off "${SNAP:0:12}" --target "$TMP/r-off2" --from-host srv >"$TMP/t8.out"; rc=$?
set -e
T8=$(screen "$TMP/t8.out")
expect_eq "$rc" 130 "Ctrl-C while waiting exits 130"
grep -Eq "^job ([0-9]+): waiting for host off to come online" <<<"$T8" && ok "the line says the host is offline" \
  || bad "no offline line in: $T8"
J8=$(last_job off)
grep -q "job $J8 is still queued; roost job wait $J8 to follow it, roost job cancel $J8 to stop it" <<<"$T8" \
  && ok "Ctrl-C says how to follow or stop the job" || bad "no hint after ^C: $T8"
expect_eq "$(job_status "$J8")" queued "the job is still queued after Ctrl-C"
# a running backup: ^C leaves it running, and it still succeeds (new bytes,
# so that it runs for seconds)
head -c $((8 * MIB)) /dev/urandom >"$TMP/data/big2"
set +e
$PTY "running," $'\x03' -- "$ROOST" backup srv --group data >"$TMP/t9.out"; rc=$?
set -e
T9=$(screen "$TMP/t9.out")
J9=$(last_job srv)
expect_eq "$rc" 130 "Ctrl-C on a running backup exits 130"
grep -q "job $J9 is still running; roost job wait $J9 to follow it, roost job cancel $J9 to stop it" <<<"$T9" \
  && ok "Ctrl-C on a running job: the hint" || bad "no hint: $T9"
expect_eq "$(job_status "$J9")" running "the job is still running after Ctrl-C"

# 9. roost job wait at a terminal: the same progress line
set +e
$PTY -- "$ROOST" job wait "$J9" >"$TMP/t10.out"; rc=$?
set -e
T10=$(screen "$TMP/t10.out")
expect_eq "$rc" 0 "job wait follows the job to its success"
grep -Eq "^job $J9: running, [0-9,]+ files" <<<"$T10" && ok "job wait shows the progress line" || bad "no progress in job wait: $T10"
grep -Eq "^job $J9 succeeded: snapshot" <<<"$T10" && ok "job wait's outcome line" || bad "no outcome in: $T10"
# without a terminal: no progress line, the outcome only
OUT=$("$ROOST" job wait "$J9" 2>&1)
[[ $OUT == "job $J9 succeeded: snapshot "* && $OUT != *running* ]] && ok "job wait in a script: the outcome alone" \
  || bad "job wait in a script printed: $OUT"

# a job that does not exist: said at once, exit 2 (as before)
expect_rc 2 "$ROOST" job wait 999999
expect_contains "$ERR" "job not found" "job wait of a job that does not exist says so"

# --help of each says it
for c in backup restore; do
  H=$("$ROOST" $c --help)
  [[ $H == *--no-wait* && $H == *"130 Ctrl-C"* && $H == *"not a terminal"* ]] && ok "$c --help documents waiting" || bad "$c --help: $H"
done
H=$("$ROOST" job --help)
[[ $H == *"job wait"* && $H == *"130"* ]] && ok "job --help documents job wait" || bad "job --help: $H"

# 10. the event stream refused (roostd holds at most 64; the fault site
# sse_open answers 503 just as a full table does): the waiting polls
# GET /v1/jobs/{id} instead, and still ends right
touch "$TMP/no-streams"
expect_eq "$(curl -sk -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ROOST_TOKEN" "$ROOST_SERVER/v1/events/stream")" 503 \
  "a new stream is refused"
head -c $((3 * MIB)) /dev/urandom >"$TMP/data/big3"
set +e
OUT=$("$ROOST" backup srv --group data --wait)
rc=$?
set -e
J11=$(head -1 <<<"$OUT")
expect_eq "$rc" 0 "with the stream refused, --wait still ends with the job's success"
[[ $(sed -n 2p <<<"$OUT") == "job $J11 succeeded: snapshot "* ]] && ok "and its outcome line" || bad "printed: $OUT"
G=$(job_gets "$J11")
(( G >= 4 )) && ok "it polled the job instead ($G GETs)" || bad "only $G GETs of job $J11 with the stream refused"
rm -f "$TMP/no-streams"

expect_rc 0 "$ROOST" job cancel "$JOFF"
expect_rc 0 "$ROOST" job cancel "$J8"
finish
