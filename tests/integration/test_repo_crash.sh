#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# kill -9 at random moments during backups: after every kill `check` passes,
# and the next backup finishes without uploading again what was already
# uploaded. Scaled for CI by CRASH_TRIALS (default 12).
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
export ROOST_PASSWORD=crash ROOST_CACHE_DIR=$TMP/cache
R=$TMP/repo S=$TMP/src TRIALS=${CRASH_TRIALS:-12}
mkdir -p "$S"
# ~48 MB of incompressible data in files of varied sizes, small packs so that
# kills land between pack commits, index writes and the snapshot
for i in $(seq 1 24); do head -c $((i * 150000)) /dev/urandom > "$S/f$i"; done
for i in $(seq 1 200); do head -c 3000 /dev/urandom > "$S/small$i"; done
expect_rc 0 "$ROOST" repo init -r "$R" --pack-size 1048576 --chunk-sizes 65536,262144,1048576

# how long an uninterrupted backup takes here, to spread the kills over it
t0=$(date +%s%N)
"$ROOST" repo init -r "$TMP/probe" --pack-size 1048576 >/dev/null
"$ROOST" repo backup -r "$TMP/probe" "$S" >/dev/null
full_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
rm -rf "$TMP/probe" "$ROOST_CACHE_DIR"
echo "# uninterrupted backup: ${full_ms} ms"

killed=0
for t in $(seq 1 "$TRIALS"); do
  # fresh data every trial, so each backup has real work to be killed in
  for i in 21 22 23 24; do head -c $((i * 150000)) /dev/urandom > "$S/f$i"; done
  span=$(( full_ms * 6 / 10 )); [[ $span -gt 20 ]] || span=20
  delay_ms=$(( (RANDOM % span) + 5 ))
  "$ROOST" repo backup -r "$R" "$S" >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '0.%03d' $((delay_ms % 1000)))"
  [[ $delay_ms -ge 1000 ]] && sleep $((delay_ms / 1000))
  if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
  wait "$pid" 2>/dev/null || true
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
expect_rc 0 "$ROOST" repo backup -r "$R" --json "$S"
new=$($PY -c 'import json,sys; d=json.load(sys.stdin); print(d["bytes_new"], d["bytes"])' <<< "$OUT")
read -r bytes_new bytes <<< "$new"
echo "# after the kills: $packs_before packs committed; final backup stored $bytes_new of $bytes bytes"
if [[ $packs_before -gt 2 ]]; then
  [[ $bytes_new -lt $((bytes * 9 / 10)) ]] && ok "final backup reuses what killed backups uploaded" \
    || bad "final backup uploaded $bytes_new of $bytes bytes again"
fi
# nothing uploaded twice: no blob is stored in more than one pack
expect_rc 0 "$ROOST" repo check -r "$R"
expect_eq "$(grep -c 'more than one pack' <<< "$ERR")" 0 "no blob is stored twice after $TRIALS kills"
expect_rc 0 "$ROOST" repo check -r "$R" --read-data
expect_rc 0 "$ROOST" repo restore -r "$R" latest --target "$TMP/restored"
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$S" "$TMP/restored$S" --no-dir-mtime
# temporaries of killed writers are cleaned up once their process is gone
left=$(find "$R/tmp" -type f -mmin +1 | wc -l)
expect_eq "$left" 0 "no old temporaries left"
finish
