#!/bin/bash
# SPDX-License-Identifier: MIT
# `roost repo` with a put-only key (issue 18): it backs up and deduplicates,
# and can not list, restore, browse or check; the full key restores what it
# wrote, and the repository checks clean.
source "$(dirname "$0")/lib.sh"
PY=${PY:-python3}
R="$TMP/repo"
mkdir -p "$TMP/src/d"
head -c 2000000 /dev/urandom > "$TMP/src/d/a"
for i in $(seq 1 30); do echo "file $i" > "$TMP/src/f$i"; done
export ROOST_PASSWORD=full-secret
expect_rc 0 "$ROOST" repo init -r "$R"
expect_rc 0 "$ROOST" repo backup -r "$R" "$TMP/src"
ROOST_NEW_PASSWORD=put-secret expect_rc 0 "$ROOST" repo key add -r "$R" --put-only
ROOST_PASSWORD=put-secret ROOST_NEW_PASSWORD=x expect_rc 1 "$ROOST" repo key add -r "$R"
echo "a new file" > "$TMP/src/new"
ROOST_PASSWORD=put-secret expect_rc 0 "$ROOST" repo backup -r "$R" --json "$TMP/src"
new=$(echo "$OUT" | $PY -c 'import json,sys; print(json.load(sys.stdin)["bytes_new"])')
(( new < 100000 )) && ok "the put-only key deduplicated against the full key's backup ($new new bytes)" || bad "no dedup: $new"
SNAP=$(echo "$OUT" | $PY -c 'import json,sys; print(json.load(sys.stdin)["snapshot_id"])')
for cmd in "snapshots" "ls $SNAP" "restore $SNAP --target $TMP/out" "check" "prune"; do
  ROOST_PASSWORD=put-secret expect_rc 1 "$ROOST" repo $cmd -r "$R"
  expect_contains "$ERR" "put-only" "put-only: repo ${cmd%% *} is refused, saying why"
done
[[ ! -e "$TMP/out" ]] && ok "nothing was restored" || bad "a put-only restore wrote files"
# stats needs only the index, which a put-only key reads (deduplication)
ROOST_PASSWORD=put-secret expect_rc 0 "$ROOST" repo stats -r "$R"
expect_rc 0 "$ROOST" repo restore -r "$R" "$SNAP" --target "$TMP/full"
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$TMP/src" "$TMP/full$TMP/src" --no-owner
expect_rc 0 "$ROOST" repo check -r "$R" --read-data
expect_rc 0 "$ROOST" repo upgrade -r "$R"
expect_contains "$OUT" "already format 2" "a new repository is format 2"
finish
