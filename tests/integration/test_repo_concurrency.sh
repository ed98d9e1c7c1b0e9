#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Many writers, no lock: two backups into one repository at the same time
# both succeed and check passes. Prune is two-phase: it marks first, deletes
# only after the grace period, and never deletes what a snapshot references,
# including one written by a backup that ran meanwhile. forget keeps what the
# policy says.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
export ROOST_PASSWORD=conc
R=$TMP/repo
mkdir -p "$TMP/a" "$TMP/b"
head -c 5000000 /dev/urandom > "$TMP/shared"
for i in $(seq 1 30); do head -c 100000 /dev/urandom > "$TMP/a/a$i"; head -c 100000 /dev/urandom > "$TMP/b/b$i"; done
cp "$TMP/shared" "$TMP/a/shared"; cp "$TMP/shared" "$TMP/b/shared"
expect_rc 0 "$ROOST" repo init -r "$R" --pack-size 262144

for round in 1 2 3; do
  echo "round $round $RANDOM" >> "$TMP/a/a1"; echo "round $round" >> "$TMP/b/b1"
  ROOST_CACHE_DIR=$TMP/ca "$ROOST" repo backup -r "$R" --host hosta "$TMP/a" > "$TMP/oa" 2>&1 & pa=$!
  ROOST_CACHE_DIR=$TMP/cb "$ROOST" repo backup -r "$R" --host hostb "$TMP/b" > "$TMP/ob" 2>&1 & pb=$!
  set +e; wait $pa; ra=$?; wait $pb; rb=$?; set -e
  expect_eq "$ra/$rb" "0/0" "round $round: two concurrent backups both succeed"
done
expect_rc 0 "$ROOST" repo check -r "$R" --read-data
expect_rc 0 "$ROOST" repo snapshots -r "$R" --json
expect_eq "$($PY -c 'import json,sys; print(len(json.load(sys.stdin)))' <<< "$OUT")" 6 "six snapshots"
# "latest" may be either host's: pick host b's newest
bsnap=$($PY -c 'import json,sys; print([s["id"] for s in json.load(sys.stdin) if s["hostname"]=="hostb"][-1])' <<< "$OUT")
expect_rc 0 "$ROOST" repo restore -r "$R" "$bsnap" --target "$TMP/rb"
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$TMP/b" "$TMP/rb$TMP/b" --no-dir-mtime

# forget: keep the last 1 per (host, paths)
expect_rc 0 "$ROOST" repo forget -r "$R" --keep-last 1
expect_rc 0 "$ROOST" repo snapshots -r "$R" --json
expect_eq "$($PY -c 'import json,sys; print(sorted(s["hostname"] for s in json.load(sys.stdin)))' <<< "$OUT")" \
  "['hosta', 'hostb']" "forget --keep-last 1 keeps one per host"
expect_rc 2 "$ROOST" repo forget -r "$R"
expect_contains "$ERR" "policy" "forget without a policy refuses"

# prune, phase one: unused packs are only marked
size0=$(du -sb "$R/packs" | cut -f1)
expect_rc 0 "$ROOST" repo prune -r "$R"
expect_contains "$OUT" "deleted 0 packs" "first prune deletes nothing"
marked=$(grep -o 'marked [0-9]* packs' <<< "$OUT" | grep -o '[0-9]*')
[[ ${marked:-0} -gt 0 ]] && ok "first prune marks $marked packs" || bad "nothing marked: $OUT"
# a grace period not yet over: still nothing deleted
expect_rc 0 "$ROOST" repo prune -r "$R" --grace 3600
expect_contains "$OUT" "deleted 0 packs" "marks younger than the grace period are kept"
# a backup running meanwhile must not lean on marked packs: forget everything
# of host a, prune marks its data, then host a backs up the same files again
expect_rc 0 "$ROOST" repo forget -r "$R" "$($ROOST repo snapshots -r "$R" --json | $PY -c 'import json,sys; print([s["id"] for s in json.load(sys.stdin) if s["hostname"]=="hosta"][0])')"
expect_rc 0 "$ROOST" repo prune -r "$R" --grace 3600
ROOST_CACHE_DIR=$TMP/ca2 "$ROOST" repo backup -r "$R" --host hosta --json "$TMP/a" > "$TMP/oa" 2>&1
again=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytes_new"])' "$TMP/oa")
# host a's own 3 MB were only in marked packs; the shared 5 MB is still used by b
[[ $again -gt 2000000 ]] && ok "a backup after the mark stores its data anew ($again bytes)" \
  || bad "backup leaned on marked packs (bytes_new $again)"
# phase two: grace over
expect_rc 0 "$ROOST" repo prune -r "$R" --grace 0
deleted=$(grep -o 'deleted [0-9]* packs' <<< "$OUT" | grep -o '[0-9]*')
[[ ${deleted:-0} -gt 0 ]] && ok "second prune deletes $deleted packs" || bad "nothing deleted: $OUT"
size1=$(du -sb "$R/packs" | cut -f1)
[[ $size1 -lt $size0 ]] && ok "repository shrank from $size0 to $size1 bytes" || bad "no space freed"
expect_rc 0 "$ROOST" repo check -r "$R" --read-data
for h in a b; do
  expect_rc 0 "$ROOST" repo restore -r "$R" latest --target "$TMP/final-$h"
done
expect_rc 0 "$ROOST" repo restore -r "$R" "$($ROOST repo snapshots -r "$R" --json | $PY -c 'import json,sys; print([s["id"] for s in json.load(sys.stdin) if s["hostname"]=="hosta"][0])')" --target "$TMP/final-a2"
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$TMP/a" "$TMP/final-a2$TMP/a" --no-dir-mtime
# forget --prune in one go
expect_rc 0 "$ROOST" repo forget -r "$R" --keep-last 1 --prune --grace 0
expect_rc 0 "$ROOST" repo check -r "$R"
finish
