#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Prune running WHILE a backup uploads, many rounds, random interleavings,
# both orders of mark and upload (lib/repo/maintenance.c):
#  - backup first: the backup loaded the index before prune marked the packs
#    it deduplicates against; its snapshot lands after prune read the
#    snapshots. The next prune must find those packs marked AND used and
#    un-mark them ("needed again"), so a later prune past the grace period
#    does not delete them.
#  - prune first: the backup sees the marks and must not lean on marked
#    packs; it stores the data anew.
# Every round ends with a prune past the grace period, `check --read-data`
# and a restore of the racing backup's snapshot compared to its source.
# The needed-again branch has no log line of its own: it is counted from the
# prune reports (a prune that deletes nothing writes one mark per marked or
# still-waiting pack, so marks that vanish without a deletion were un-marked),
# and the test fails if no round reached it. PRUNE_ROUNDS scales it (default 9).
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
export ROOST_PASSWORD=race
R=$TMP/repo D=$TMP/data ROUNDS=${PRUNE_ROUNDS:-9}
mkdir -p "$D"
for i in $(seq 1 40); do head -c 200000 /dev/urandom > "$D/f$i"; done
expect_rc 0 "$ROOST" repo init -r "$R" --pack-size 262144

prune_counts() { # OUTPUT -> "deleted marked waiting"
  $PY -c 'import re,sys; s=sys.stdin.read(); m=re.search(r"deleted (\d+) packs.*marked (\d+) packs for deletion.*?(\d+) marked packs still waiting", s, re.S); print(*(m.groups() if m else ("x","x","x")))' <<< "$1"
}
# hold_reading PID DIR: SIGSTOPs PID the moment it has a file under DIR open
# (polled every 0.5 ms); 1 if it exited first
hold_reading() {
  $PY - "$1" "$2" <<'PYEOF'
import os, signal, sys, time
pid, d = int(sys.argv[1]), sys.argv[2] + "/"
end = time.time() + 60
while time.time() < end:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        sys.exit(1)
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(d):
                os.kill(pid, signal.SIGSTOP)
                sys.exit(0)
        except OSError:
            pass
    time.sleep(0.0005)
sys.exit(1)
PYEOF
}
snap_ids() { "$ROOST" repo snapshots -r "$R" --json | $PY -c 'import json,sys; print(" ".join(s["id"] for s in json.load(sys.stdin)))'; }

# how long a deduplicating backup (fresh files cache) and a prune take here
expect_rc 0 "$ROOST" repo backup -r "$R" "$D"
t0=$(date +%s%N)
ROOST_CACHE_DIR=$TMP/probe-cache "$ROOST" repo backup -r "$R" "$D" >/dev/null
backup_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
t0=$(date +%s%N)
expect_rc 0 "$ROOST" repo prune -r "$R" --grace 3600
prune_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "# deduplicating backup ${backup_ms} ms, prune ${prune_ms} ms"

needed_again=0 rounds_backup_first=0 rounds_prune_first=0 reupload=0
for round in $(seq 1 "$ROUNDS"); do
  # some data changes every round
  for i in $(( round % 40 + 1 )) $(( (round * 7) % 40 + 1 )); do head -c 200000 /dev/urandom > "$D/f$i"; done
  # the data is stored by a snapshot that is then forgotten: its packs become unused
  expect_rc 0 "$ROOST" repo backup -r "$R" --host a "$D"
  ids=$(snap_ids)
  # shellcheck disable=SC2086
  expect_rc 0 "$ROOST" repo forget -r "$R" $ids
  # the race: a backup of the same data (deduplicating against those packs,
  # fresh files cache so it reads every file) and a prune that marks them
  # Three interleavings, in turn:
  #  backup-first/free: prune starts a random moment into the backup, both
  #    run freely (the needed-again case happens when the prune reads the
  #    snapshots after the backup loaded its marks and before it wrote its own);
  #  backup-first/held: the backup is held (SIGSTOP) the moment it reads its
  #    first file (it has loaded index and marks), a whole prune runs, then the
  #    backup resumes: its snapshot certainly lands after the marks;
  #  prune-first: the backup starts a random moment into the prune.
  case $(( round % 3 )) in
    1) order=backup-first/free ;; 2) order=backup-first/held ;; 0) order=prune-first ;;
  esac
  if [[ $order == backup-first* ]]; then
    rounds_backup_first=$((rounds_backup_first + 1))
    delay=$(( RANDOM % (backup_ms > 40 ? backup_ms / 2 : 20) ))
    ROOST_CACHE_DIR=$TMP/cache-$round "$ROOST" repo backup -r "$R" --host b --json "$D" >"$TMP/b.out" 2>"$TMP/b.err" & pb=$!
    if [[ $order == */held ]]; then
      # held the moment it opens its first data file: it has loaded index and marks
      delay=0
      set +e
      hold_reading "$pb" "$D" || echo "# round $round: the backup ended before it was seen reading"
      "$ROOST" repo prune -r "$R" --grace 3600 >"$TMP/p.out" 2>"$TMP/p.err"; echo $? >"$TMP/p.rc"
      kill -CONT "$pb" 2>/dev/null
      set -e
      ( exit "$(cat "$TMP/p.rc")" ) & pp=$!
    else
      sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
      "$ROOST" repo prune -r "$R" --grace 3600 >"$TMP/p.out" 2>"$TMP/p.err" & pp=$!
    fi
  else
    rounds_prune_first=$((rounds_prune_first + 1))
    delay=$(( RANDOM % (prune_ms > 20 ? prune_ms : 20) ))
    "$ROOST" repo prune -r "$R" --grace 3600 >"$TMP/p.out" 2>"$TMP/p.err" & pp=$!
    sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    ROOST_CACHE_DIR=$TMP/cache-$round "$ROOST" repo backup -r "$R" --host b --json "$D" >"$TMP/b.out" 2>"$TMP/b.err" & pb=$!
  fi
  set +e; wait "$pb"; rb=$?; wait "$pp"; rp=$?; set -e
  expect_eq "$rb/$rp" "0/0" "round $round ($order, ${delay} ms apart): backup and prune both succeed :: $(cat "$TMP/b.err" "$TMP/p.err" | head -5)"
  read -r pdel pmarked pwait <<< "$(prune_counts "$(cat "$TMP/p.out")")"
  bsnap=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot_id"])' "$TMP/b.out")
  bnew=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytes_new"])' "$TMP/b.out")
  (( bnew > 4000000 )) && reupload=$((reupload + 1))
  # the next prune, nothing running: marks that are neither still waiting nor deleted were un-marked
  expect_rc 0 "$ROOST" repo prune -r "$R" --grace 3600
  read -r del2 marked2 wait2 <<< "$(prune_counts "$OUT")"
  expect_eq "$del2" 0 "round $round: a prune inside the grace period deletes nothing"
  unmarked=$(( pmarked + pwait - wait2 ))
  echo "# round $round $order (${delay} ms): racing prune marked $pmarked (waiting $pwait), backup stored $bnew new bytes; next prune: $wait2 waiting, $marked2 newly marked => $unmarked un-marked as needed again"
  (( unmarked > 0 )) && needed_again=$((needed_again + 1))
  # past the grace period: whatever is still marked and unused goes
  expect_rc 0 "$ROOST" repo prune -r "$R" --grace 0
  expect_rc 0 "$ROOST" repo check -r "$R" --read-data
  rm -rf "$TMP/restore"
  expect_rc 0 "$ROOST" repo restore -r "$R" "$bsnap" --target "$TMP/restore"
  expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$D" "$TMP/restore$D" --no-dir-mtime
done
echo "# $rounds_backup_first rounds backup first, $rounds_prune_first prune first; needed-again reached in $needed_again, data stored anew in $reupload"
(( needed_again > 0 )) && ok "the needed-again branch (a marked pack used again is un-marked) was reached in $needed_again rounds" \
  || bad "no round reached the needed-again branch: the race never happened (timings: backup ${backup_ms} ms, prune ${prune_ms} ms)"
(( reupload > 0 )) && ok "a backup that saw the marks stored the data anew ($reupload rounds)" \
  || bad "no backup ever saw the marks first"
finish
