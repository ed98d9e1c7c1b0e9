#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# kill -9 at random moments during backups: after every kill `check` passes,
# a backup that ended before its kill ended well, and the next backup finishes
# without uploading again what was already uploaded. Scaled for CI by
# CRASH_TRIALS (default 12).
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
export ROOST_PASSWORD=crash ROOST_CACHE_DIR=$TMP/cache
R=$TMP/repo S=$TMP/src TRIALS=${CRASH_TRIALS:-12}
mkdir -p "$S"
# ~48 MB of incompressible data in files of varied sizes, small packs so that
# kills land between pack commits, index writes and the snapshot
for i in $(seq 1 20); do head -c $((i * 150000)) /dev/urandom > "$S/f$i"; done
mkdir -p "$S/z-fresh"
for i in 21 22 23 24; do head -c $((i * 150000)) /dev/urandom > "$S/z-fresh/f$i"; done
for i in $(seq 1 200); do head -c 3000 /dev/urandom > "$S/small$i"; done
expect_rc 0 "$ROOST" repo init -r "$R" --pack-size 1048576 --chunk-sizes 65536,262144,1048576

# how long an uninterrupted backup takes here, to spread the kills over it
t0=$(date +%s%N)
expect_rc 0 "$ROOST" repo init -r "$TMP/probe" --pack-size 1048576
expect_rc 0 "$ROOST" repo backup -r "$TMP/probe" "$S"
full_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
rm -rf "$TMP/probe" "$ROOST_CACHE_DIR"
echo "# uninterrupted backup: ${full_ms} ms"

# The fresh data of each trial is in z-fresh/, read after the files every trial
# shares, so later trials reach further into work earlier kills left undone.
killed=0
for t in $(seq 1 "$TRIALS"); do
  # fresh data every trial, so each backup has real work to be killed in
  for i in 21 22 23 24; do head -c $((i * 150000)) /dev/urandom > "$S/z-fresh/f$i"; done
  span=$(( full_ms * 6 / 10 )); [[ $span -gt 20 ]] || span=20
  delay_ms=$(( (RANDOM % span) + 5 ))
  "$ROOST" repo backup -r "$R" "$S" >"$TMP/backup-$t.out" 2>&1 &
  pid=$!
  sleep "$(printf '0.%03d' $((delay_ms % 1000)))"
  [[ $delay_ms -ge 1000 ]] && sleep $((delay_ms / 1000))
  if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
  set +e; wait "$pid"; brc=$?; set -e
  # 137: killed as meant; 0: it finished before the kill; anything else is a crash
  if [[ $brc -ne 137 && $brc -ne 0 ]]; then
    bad "trial $t: the backup itself failed (status $brc) before the kill: $(head -20 "$TMP/backup-$t.out")"
  fi
  if grep -Eq 'Sanitizer|runtime error:' "$TMP/backup-$t.out"; then
    bad "trial $t: sanitizer report from the backup: $(head -30 "$TMP/backup-$t.out")"
  fi
  set +e
  "$ROOST" repo check -r "$R" > "$TMP/check.out" 2>&1
  rc=$?
  set -e
  if [[ $rc -eq 0 ]]; then ok "trial $t (kill after ${delay_ms} ms): check passes"
  else bad "trial $t (kill after ${delay_ms} ms): check exit $rc: $(head -5 "$TMP/check.out")"; fi
done
[[ $killed -ge $((TRIALS / 2)) ]] && ok "$killed of $TRIALS backups were killed mid-run" \
  || bad "only $killed of $TRIALS backups were killed: the delays miss the backup"

packs_before=$(find "$R/packs" -type f | wc -l)
fresh=$(cat "$S"/z-fresh/* | wc -c)
expect_rc 0 "$ROOST" repo backup -r "$R" --json "$S"
new=$($PY -c 'import json,sys; d=json.load(sys.stdin); print(d["bytes_new"], d["bytes"])' <<< "$OUT")
read -r bytes_new bytes <<< "$new"
echo "# after the kills: $packs_before packs committed; final backup stored $bytes_new of $bytes bytes (last trial's fresh data: $fresh)"
# Killed backups must have committed packs, or there is nothing to reuse and
# this test proves nothing: a failure, not a skip.
(( packs_before > 2 )) && ok "the killed backups committed $packs_before packs" \
  || bad "the killed backups committed only $packs_before packs: nothing to reuse (kills too early?)"
# Reuse, exactly: the packs the killed backups committed hold blobs of the
# final tree (the shared files are read before z-fresh/), so the final backup
# stores less than the whole tree, and it uploads none of them again: after
# it, no blob is stored in two packs (checked below). How much the kills had
# committed depends on where they landed (this machine's load), so the amount
# is printed, not bounded: a bound on it would test the timing, not reuse.
(( bytes_new < bytes )) && ok "final backup reuses what killed backups uploaded ($bytes_new of $bytes bytes new)" \
  || bad "final backup uploaded all $bytes bytes again"
expect_rc 0 "$ROOST" repo check -r "$R"
expect_eq "$(grep -c 'more than one pack' <<< "$OUT$ERR")" 0 "no blob is stored twice after $TRIALS kills"
expect_rc 0 "$ROOST" repo check -r "$R" --read-data
expect_rc 0 "$ROOST" repo restore -r "$R" latest --target "$TMP/restored"
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$S" "$TMP/restored$S" --no-dir-mtime

# Temporaries of killed writers go once their process is gone. The test does
# not copy the implementation's grace period: it ages the dead writers'
# temporaries by two days (beyond any grace), and keeps one of a live writer.
true & dead=$!; wait "$dead"
echo partial > "$R/tmp/$dead-00112233aabbccdd"
echo partial > "$R/tmp/$$-8899aabbccddeeff"
dead_tmps=()
for f in "$R"/tmp/*; do
  [[ -e $f ]] || continue
  p=${f##*/}; p=${p%%-*}
  kill -0 "$p" 2>/dev/null && continue
  touch -d '2 days ago' "$f"
  dead_tmps+=("$f")
done
echo "# ${#dead_tmps[@]} temporaries of dead writers"
expect_rc 0 "$ROOST" repo snapshots -r "$R"
left=0
for f in "${dead_tmps[@]}"; do [[ -e $f ]] && left=$((left + 1)); done
expect_eq "$left" 0 "the dead writers' temporaries are removed on the next open"
[[ -e "$R/tmp/$$-8899aabbccddeeff" ]] && ok "a live writer's temporary is kept" || bad "a live writer's temporary was removed"
rm -f "$R/tmp/$$-8899aabbccddeeff"
finish
