#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Many small backups leave many small packs; prune merges them into full
# ones (two-phase like every removal), and everything still restores.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
export ROOST_PASSWORD=small ROOST_CACHE_DIR=$TMP/cache
R=$TMP/repo S=$TMP/src
mkdir -p "$S"
expect_rc 0 "$ROOST" repo init -r "$R" --pack-size 65536
for i in $(seq 1 14); do
  head -c 6000 /dev/urandom > "$S/f$i"
  "$ROOST" repo backup -r "$R" "$S" > /dev/null
done
before=$(find "$R/packs" -type f | wc -l)
[[ $before -ge 14 ]] && ok "$before small packs after 14 small backups" || bad "only $before packs"
expect_rc 0 "$ROOST" repo prune -r "$R" --grace 0
expect_contains "$OUT" "repacked" "prune reports repacking"
expect_rc 0 "$ROOST" repo prune -r "$R" --grace 0
after=$(find "$R/packs" -type f | wc -l)
[[ $after -lt $((before / 3)) ]] && ok "merged: $before packs -> $after" || bad "not merged: $before -> $after"
expect_rc 0 "$ROOST" repo check -r "$R" --read-data
expect_contains "$ERR$OUT" "no errors were found" "check passes after merging"
expect_rc 0 "$ROOST" repo snapshots -r "$R" --json
first=$($PY -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])' <<< "$OUT")
expect_rc 0 "$ROOST" repo restore -r "$R" "$first" --target "$TMP/old"
[[ -f "$TMP/old$S/f1" && ! -e "$TMP/old$S/f2" ]] && ok "the oldest snapshot restores as it was" || bad "oldest snapshot wrong"
expect_rc 0 "$ROOST" repo restore -r "$R" latest --target "$TMP/new"
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$S" "$TMP/new$S" --no-dir-mtime
# a third prune has nothing left to merge: no churn
expect_rc 0 "$ROOST" repo prune -r "$R" --grace 0
expect_contains "$OUT" "repacked 0 packs" "no rewriting once merged"
finish
