#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `roost repo copy` (issue 14): a repository moved between backends, verified.
# A local repository is copied to S3 (s3rver behind the SigV4 check, s3.sh)
# and restored identical from there; the S3 copy is copied back to another
# directory and checked with --read-data; an interrupted copy is resumed;
# a copy whose object was altered is refused naming the object (exit 3);
# another repository at the destination is refused (exit 2).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/s3.sh"
PY=/usr/bin/python3
export ROOST_PASSWORD=copytest ROOST_CACHE_DIR=$TMP/cache
s3_start roost-copy || { finish; exit; }
S=$TMP/src L=$TMP/local
mkdir -p "$S/sub"
head -c 4000000 /dev/urandom > "$S/big"
seq 1 200000 > "$S/sub/text"
for i in $(seq 1 50); do echo "file $i" > "$S/sub/f$i"; done
ln -s sub/f1 "$S/link"
expect_rc 0 "$ROOST" repo init -r "$L" --pack-size 65536
expect_rc 0 "$ROOST" repo backup -r "$L" "$S"
echo "changed" >> "$S/sub/f2"
expect_rc 0 "$ROOST" repo backup -r "$L" "$S"
count_objects() { (cd "$1" && find . -type f ! -path './tmp/*' | wc -l); }
nobj=$(count_objects "$L")

expect_rc 0 "$ROOST" repo copy --help
expect_contains "$OUT" "usage: roost repo copy" "copy --help"
expect_rc 2 "$ROOST" repo copy -r "$L"
expect_rc 2 "$ROOST" repo copy -r "$TMP/nothing" --to "$TMP/x"
expect_rc 2 "$ROOST" repo copy -r "$L" --to "$L"

R=s3:$EP/roost-copy/moved
expect_rc 0 "$ROOST" repo copy -r "$L" --to "$R"
expect_contains "$OUT" "copied $nobj objects, 0 were already there; all $nobj verified" "every object copied and verified"
expect_contains "$OUT" "checked the copy: 2 snapshots" "the copy opens and checks with the same password"
expect_contains "$OUT" ", 0 errors" "the copy has no errors"
expect_rc 0 "$ROOST" repo snapshots -r "$R" --json
expect_eq "$($PY -c 'import json,sys; print(len(json.load(sys.stdin)))' <<< "$OUT")" 2 "both snapshots on S3"
expect_rc 0 "$ROOST" repo restore -r "$R" latest --target "$TMP/out1"
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$S" "$TMP/out1$S"
[[ ! -s $TMP/sig.log ]] && ok "every request carried a valid signature" || bad "signatures refused: $(head -3 "$TMP/sig.log")"

# back from S3 to a directory, every pack read
L2=$TMP/local2
expect_rc 0 "$ROOST" repo copy -r "$R" --to "$L2" --read-data --jobs 8
expect_contains "$OUT" "(all data read), 0 errors" "the copy back passes check --read-data"
expect_rc 0 "$ROOST" repo check -r "$L2" --read-data

# an interrupted copy: a third of the objects gone, and no config yet
L3=$TMP/local3
cp -a "$L2" "$L3"
rm "$L3/config"
find "$L3/packs" "$L3/index" -type f | awk 'NR % 3 == 0' | xargs rm
gone=$(( nobj - $(count_objects "$L3") ))
expect_rc 2 "$ROOST" repo check -r "$L3"
expect_contains "$ERR" "not a roost repository" "an interrupted copy is not a repository yet"
expect_rc 0 "$ROOST" repo copy -r "$R" --to "$L3"
expect_contains "$OUT" "copied $gone objects, $(( nobj - gone )) were already there" "the copy resumed: only what was missing written"
expect_rc 0 "$ROOST" repo check -r "$L3" --read-data

# an altered object at the destination is found and named, never overwritten
victim=$(find "$L3/packs" -type f | head -1)
chmod u+w "$victim"; printf 'X' | dd of="$victim" bs=1 seek=10 conv=notrunc 2>/dev/null
expect_rc 3 "$ROOST" repo copy -r "$R" --to "$L3" --no-check
expect_contains "$ERR" "$(basename "$victim")" "the altered pack is named"
expect_contains "$ERR" "different bytes" "and why"

# the destination holds another repository
expect_rc 0 "$ROOST" repo init -r "$TMP/other"
expect_rc 2 "$ROOST" repo copy -r "$L" --to "$TMP/other"
expect_contains "$ERR" "holds another repository" "another repository is not overwritten"
finish
