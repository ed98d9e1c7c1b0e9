#!/bin/bash
# SPDX-License-Identifier: MIT
# The dashboard's read routes with a real roostd and agent (docs/dashboard.md):
# GET /v1/fleet, GET /v1/cron/next, a snapshot's trees and files (compared
# with the source tree by browse_check.py), the live-only job events on the
# stream (and not in the stored log), and a damaged blob ending a download.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"

start_server 2
U=$ROOST_SERVER
A="Authorization: Bearer $ROOST_TOKEN"
code() { curl -sk -o "$TMP/body" -w '%{http_code}' -H "$A" "$@"; }
body() { cat "$TMP/body"; }

# --- the source tree: nested dirs, a symlink, a fifo, an empty file, 5 MB of
# random bytes, names with spaces, unicode, a newline and a byte that is not
# UTF-8, odd modes, and a directory of 20,000 entries
SRC=$TMP/src
mkdir -p "$SRC/a/b/c" "$SRC/many" "$SRC/private"
echo deep > "$SRC/a/b/c/deep.txt"
: > "$SRC/empty"
head -c 5242880 /dev/urandom > "$SRC/big.bin"
echo spaced > "$SRC/with space.txt"
echo unicode > "$SRC/ünïcødé ✓.txt"
echo newline > "$SRC/new"$'\n'"line"
echo latin1 > "$SRC/caf"$'\xe9'".txt"
echo escaped > "$SRC/q\"b\\s"$'\t\x01'"end"
ln -s a/b "$SRC/link"
ln -s /nonexistent/target "$SRC/dangling"
mkfifo "$SRC/fifo"
chmod 0600 "$SRC/private"; chmod 0751 "$SRC/a/b"; chmod 0640 "$SRC/with space.txt"
touch -d '2001-02-03 04:05:06 UTC' "$SRC/a/b/c/deep.txt"
$PY - "$SRC/many" <<'PY'
import os, sys
d = sys.argv[1]
for i in range(20000):
    with open(os.path.join(d, f"f{i:05d}"), "w") as f:
        f.write(str(i))
PY

enroll alpha always-on
# each job waits 1.5 s before it starts: the fleet's current_job is seen whatever the machine's speed
start_agent alpha ROOST_AGENT_TEST_JOB_DELAY_MS=1500
wait_until 10 host_online alpha && ok "agent online" || bad "agent offline"
expect_rc 0 "$ROOST" group add alpha data --path "$SRC"
expect_rc 0 "$ROOST" schedule add alpha nightly --cron '0 3 * * *' --group data

# --- the live stream, listened to while the backups run
curl -skN -H "$A" "$U/v1/events/stream" > "$TMP/sse.txt" 2>/dev/null &
SSE_PID=$!
cleanup_hooks+=("kill $SSE_PID 2>/dev/null")
sleep 0.5

# --- /v1/fleet before any backup
expect_eq "$(code "$U/v1/fleet")" 200 "GET /v1/fleet"
expect_eq "$(body | json_get 'all(k in d[0] for k in ["id","name","hostname","os","mode","online","last_seen_at","last_backup_at","current_job_id","overdue","health","groups","schedules","current_job"])')" true "a fleet host carries the host's fields, groups, schedules and current_job"
expect_eq "$(body | json_get '[sorted(g.keys()) for g in d[0]["groups"]]')" '[["id", "name", "paths"]]' "groups: {id, name, paths}"
expect_eq "$(body | json_get '[sorted(s.keys()) for s in d[0]["schedules"]]')" '[["cron", "enabled", "group_ids", "id", "last_success_at", "name", "next_at"]]' "schedules: {id, name, cron, enabled, group_ids, next_at, last_success_at}"
expect_eq "$(body | json_get 'd[0]["schedules"][0]["last_success_at"]')" null "no success yet: last_success_at null"
expect_eq "$(body | json_get 'd[0]["schedules"][0]["group_ids"] == [d[0]["groups"][0]["id"]]')" true "a schedule names its group"
expect_eq "$(body | json_get 'd[0]["current_job"]')" null "no current job"
H1=$(body | json_get 'd[0]["id"]')
code "$U/v1/hosts/$H1" >/dev/null
HOSTVIEW=$(body | json_get '{k: v for k, v in d.items() if k not in ("last_seen_at",)}')
code "$U/v1/fleet" >/dev/null
expect_eq "$(body | json_get '{k: v for k, v in d[0].items() if k not in ("last_seen_at","groups","schedules","current_job")}')" "$HOSTVIEW" "a fleet host is GET /v1/hosts/{id}'s host"

# --- a backup; its job is the host's current_job while it runs
J=$("$ROOST" backup alpha --group data)
CUR=
for _ in $(seq 100); do
  CUR=$(curl -sk -H "$A" "$U/v1/fleet" | json_get '(d[0]["current_job"] or {}).get("id")')
  [[ $CUR == "$J" ]] && break
  sleep 0.05
done
expect_eq "$CUR" "$J" "the running backup is the fleet's current_job"
expect_rc 0 "$ROOST" job wait "$J" --timeout 300
SNAP=$("$ROOST" job show "$J" --json | json_get 'd["snapshot_id"]')
STARTED=$("$ROOST" job show "$J" --json | json_get 'd["started_at"]')
code "$U/v1/fleet" >/dev/null
expect_eq "$(body | json_get 'd[0]["schedules"][0]["last_success_at"]')" "$STARTED" "last_success_at: the successful backup's start"
expect_eq "$(body | json_get 'd[0]["current_job"]')" null "no current job once it ended"

# --- the stream saw the job go through, with the live-only events unnumbered
sleep 1.5
expect_contains "$(cat "$TMP/sse.txt")" "event: job.queued" "stream: job.queued"
expect_contains "$(cat "$TMP/sse.txt")" "event: job.running" "stream: job.running"
expect_contains "$(cat "$TMP/sse.txt")" "event: job.progress" "stream: job.progress (a backup of over a second)"
expect_contains "$(cat "$TMP/sse.txt")" "event: job.succeeded" "stream: job.succeeded"
expect_eq "$($PY - "$TMP/sse.txt" "$J" <<'PY'
import json, sys
blocks = open(sys.argv[1]).read().split("\n\n")
ok = 0
for b in blocks:
    lines = dict(l.split(": ", 1) for l in b.splitlines() if ": " in l and not l.startswith(":"))
    t = lines.get("event", "")
    if t in ("job.queued", "job.running", "job.progress"):
        d = json.loads(lines["data"])
        if "id" in lines or d["job"]["id"] != int(sys.argv[2]) or d["type"] != t:
            print("bad block", repr(b)); sys.exit(0)
        ok += 1
    elif t.startswith("job.") and "id" not in lines:
        print("stored event without id", repr(b)); sys.exit(0)
print("fine" if ok >= 3 else f"only {ok} live events")
PY
)" fine "live events: {job}, no id: line; stored ones keep theirs"
expect_eq "$(code "$U/v1/events?limit=1000")" 200 "GET /v1/events"
expect_eq "$(body | json_get 'sorted({e["type"] for e in d} & {"job.queued","job.running","job.progress"})')" "[]" "the stored log has no live-only event"
expect_eq "$(body | json_get '"job.succeeded" in {e["type"] for e in d}')" true "the stored log has job.succeeded"

# --- trees and files, compared with the source
if $PY "$ROOST_SRC/tests/integration/browse_check.py" "$U" "$ROOST_TOKEN" "$SNAP" "$SRC" \
     --skip-files "$SRC/many" > "$TMP/check.out"; then
  ok "trees and files: $(tail -1 "$TMP/check.out")"
else
  bad "browsing differs from the source"; sed 's/^/# /' "$TMP/check.out" | head -30
fi
# the 20,000-entry directory: complete, sorted, timed
T=$(curl -sk -o "$TMP/many.json" -w '%{time_total}' -H "$A" "$U/v1/snapshots/$SNAP/tree?path=$SRC/many")
expect_eq "$(json_get 'len(d) == 20000 and [e["name"] for e in d] == sorted(e["name"] for e in d) and d[0]["name"] == "f00000"' < "$TMP/many.json")" true "a directory of 20,000 entries comes whole and sorted"
echo "# tree of 20,000 entries: ${T}s (this build)"
# a name that is not UTF-8 comes losslessly as name_raw
code "$U/v1/snapshots/$SNAP/tree?path=$SRC" >/dev/null
expect_eq "$(body | json_get '[(e["name"], e.get("name_raw")) for e in d if e["name"].startswith("caf")]')" '[["caf\ufffd.txt", "caf%E9.txt"]]' "a name that is not UTF-8: U+FFFD in name, the bytes in name_raw"
expect_eq "$(code "$U/v1/snapshots/$SNAP/file?path=$SRC/caf%E9.txt")" 200 "name_raw reads the file back"
expect_eq "$(body)" latin1 "... its bytes"

# prefixes, errors
P=${SNAP:0:10}
expect_eq "$(code "$U/v1/snapshots/$P/tree?path=$SRC/a/b")" 200 "a unique id prefix"
expect_eq "$(body | json_get '[e["name"] for e in d]')" '["c"]' "... lists /a/b"
expect_eq "$(code "$U/v1/snapshots/$SNAP/tree?path=$SRC//a/./b/")" 200 "a path is normalised"
expect_eq "$(code "$U/v1/snapshots/$SNAP/tree?path=/")" 200 "the root lists"
expect_eq "$(code "$U/v1/snapshots/$SNAP/tree?path=$SRC/nope")" 404 "a missing path: 404"
expect_contains "$(body)" '"code":"not_found"' "... not_found"
expect_eq "$(code "$U/v1/snapshots/$SNAP/tree?path=$SRC/a/b/c/deep.txt")" 400 "a file's tree: 400"
expect_contains "$(body)" '"code":"not_a_directory"' "... not_a_directory"
expect_eq "$(code "$U/v1/snapshots/$SNAP/file?path=$SRC/a")" 400 "a directory's file: 400"
expect_contains "$(body)" '"code":"not_a_file"' "... not_a_file"
expect_eq "$(code "$U/v1/snapshots/$SNAP/file?path=$SRC/nope")" 404 "a missing file: 404"
NL_HEX=$($PY -c 'import sys; print((sys.argv[1] + "/new\nline").encode().hex())' "$SRC")
expect_eq "$(code "$U/v1/snapshots/$SNAP/file?path_hex=$NL_HEX")" 200 "path_hex: a name with a line break"
expect_eq "$(body)" newline "... its bytes"
expect_eq "$(code "$U/v1/snapshots/$SNAP/file?path_hex=zz")" 400 "path_hex that is not hex: 400"
expect_eq "$(code "$U/v1/snapshots/$SNAP/tree?path=$SRC/a/../a")" 400 "'..' is refused"
expect_eq "$(code "$U/v1/snapshots/$SNAP/tree?path=a/b")" 400 "a relative path is refused"
expect_eq "$(code "$U/v1/snapshots/$SNAP/tree")" 400 "no path: 400"
expect_eq "$(code "$U/v1/snapshots/0000000000/tree?path=/")" 404 "an unknown snapshot: 404"
expect_eq "$(code "$U/v1/snapshots/xyz/tree?path=/")" 404 "not an id: 404"
expect_eq "$(code -X POST "$U/v1/snapshots/$SNAP/tree?path=/")" 405 "POST: 405"
expect_eq "$(curl -sk -o /dev/null -w '%{http_code}' "$U/v1/snapshots/$SNAP/tree?path=/")" 401 "no credentials: 401"
expect_eq "$(code "$U/v1/snapshots/$SNAP/file?path=$SRC/empty")" 200 "an empty file"
expect_eq "$(stat -c %s "$TMP/body")" 0 "... has no bytes"

# --- cron preview
expect_eq "$(code "$U/v1/cron/next?expr=0%203%20*%20*%20*&count=3")" 200 "cron/next"
expect_eq "$(body | json_get 'len(d["next"]) == 3 and all(t.endswith("T03:00:00Z") for t in d["next"]) and d["next"] == sorted(d["next"])')" true "... three 03:00 UTC fires in order"
expect_eq "$(code "$U/v1/cron/next?expr=%40hourly")" 200 "cron/next default count"
expect_eq "$(body | json_get 'len(d["next"])')" 5 "... five"
expect_eq "$(code "$U/v1/cron/next?expr=0%203%20*%20*%20*&count=2&tz=Asia/Tokyo")" 200 "cron/next with a zone"
expect_eq "$(body | json_get '[t[11:] for t in d["next"]]')" '["18:00:00Z", "18:00:00Z"]' "... 03:00 in Tokyo is 18:00 UTC"
expect_eq "$(code "$U/v1/cron/next?expr=61%20*%20*%20*%20*")" 400 "an invalid minute: 400"
expect_contains "$(body)" '"code":"invalid_cron"' "... invalid_cron"
expect_contains "$(body)" 'minute' "... naming the field"
expect_eq "$(code "$U/v1/cron/next?expr=0%200%2030%202%20*")" 400 "never fires: 400"
expect_contains "$(body)" 'day-of-month' "... naming the field"
expect_eq "$(code "$U/v1/cron/next?expr=%40daily&count=0")" 400 "count 0: 400"
expect_eq "$(code "$U/v1/cron/next?expr=%40daily&count=101")" 400 "count 101: 400"
expect_eq "$(code "$U/v1/cron/next?expr=%40daily&count=100")" 200 "count 100"

# --- a damaged blob ends a download early, with an error logged
mkdir -p "$TMP/src2"
head -c 3145728 /dev/urandom > "$TMP/src2/victim.bin"
expect_rc 0 "$ROOST" group add alpha victim --path "$TMP/src2"
ls "$SDATA/repo/packs" -R | sort > "$TMP/packs.before"
GV=$("$ROOST" group list alpha --json | json_get '[g["id"] for g in d if g["name"] == "victim"][0]')
J2=$(curl -sk -H "$A" -X POST -d "{\"group_id\":$GV}" "$U/v1/hosts/$H1/backup" | json_get 'd["id"]')
expect_rc 0 "$ROOST" job wait "$J2" --timeout 300
S2=$("$ROOST" job show "$J2" --json | json_get 'd["snapshot_id"]')
expect_eq "$(curl -sk -H "$A" "$U/v1/snapshots/$S2/file?path=$TMP/src2/victim.bin" | sha256sum | cut -c1-64)" "$(sha256sum < "$TMP/src2/victim.bin" | cut -c1-64)" "the victim reads back whole"
BIGGEST=$(find "$SDATA/repo/packs" -type f -newer "$TMP/packs.before" -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
if [[ -n $BIGGEST ]]; then
  chmod u+w "$BIGGEST" "$(dirname "$BIGGEST")" 2>/dev/null || true
  printf 'XXXXXXXXXXXXXXXX' | dd of="$BIGGEST" bs=1 seek=1000 conv=notrunc status=none
  set +e
  curl -sk -H "$A" -o "$TMP/victim.out" "$U/v1/snapshots/$S2/file?path=$TMP/src2/victim.bin"
  rc=$?
  set -e
  [[ $rc -ne 0 ]] && ok "a damaged blob fails the download (curl exit $rc)" || bad "a damaged download looked complete"
  (( $(stat -c %s "$TMP/victim.out" 2>/dev/null || echo 0) < 3145728 )) && ok "... before its Content-Length" || bad "all bytes were sent"
  wait_until 5 grep -q browse.download_failed "$TMP/server.log" && ok "... and roostd logs it" || bad "no browse.download_failed in the log"
  expect_eq "$(code "$U/v1/health")" 200 "roostd still answers"
else
  bad "no new pack for the victim"
fi

kill "$SSE_PID" 2>/dev/null || true
finish
