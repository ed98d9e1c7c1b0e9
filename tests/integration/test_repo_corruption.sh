#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One flipped byte in a pack, an index or a snapshot: check --read-data exits
# 3 naming the damaged object; a restore fails for the affected file, names
# it, and restores the rest. A wrong password: a clear message, nothing written.
# ROOST_TEST_BACKEND=s3 runs it against S3 (test_repo_corruption_s3.sh).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/s3.sh"
repo_backend_setup
PY=/usr/bin/python3
export ROOST_PASSWORD=corrupt ROOST_CACHE_DIR=$TMP/cache
S=$TMP/src
mkdir -p "$S/dup"
for i in 1 2 3 4 5 6; do head -c 400000 /dev/urandom > "$S/file$i"; done
# the same contents again: one damaged blob then spoils two files, and the
# second one must not be restored from a copy kept after the first failed
for i in 1 2 3 4 5 6; do cp "$S/file$i" "$S/dup/file$i"; done

flip() { # FILE OFFSET: flips one bit
  $PY - "$1" "$2" <<'PY'
import sys
p, off = sys.argv[1], int(sys.argv[2])
with open(p, "r+b") as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0x10]))
PY
}
fresh() { # makes $R: one pack per file, so damage hits exactly one file
  N=repo-$1 R=$(repo_loc "repo-$1")
  "$ROOST" repo init -r "$R" --pack-size 4096 >/dev/null
  "$ROOST" repo backup -r "$R" "$S" >/dev/null
}

# a pack: the blob of one file
fresh pack
pack=$(grep -l . $(obj_files "$N" packs) | xargs ls -S | head -1)
flip "$pack" 1000
expect_rc 3 "$ROOST" repo check -r "$R" --read-data
expect_contains "$OUT" "$(obj_name "$pack")" "check --read-data names the damaged pack"
expect_rc 0 "$ROOST" repo check -r "$R"   # without --read-data the pack's bytes are not read
set +e; "$ROOST" repo restore -r "$R" latest --target "$TMP/r1" > "$TMP/r1.out" 2> "$TMP/r1.err"; rc=$?; set -e
expect_eq "$rc" 1 "restore with a damaged blob exits 1"
expect_contains "$(cat "$TMP/r1.err")" "damaged" "restore names the damage"
damaged=$(grep -o 'file[0-9]' "$TMP/r1.err" | head -1)
[[ -n $damaged && ! -e "$TMP/r1$S/$damaged" ]] && ok "the affected file ($damaged) is not left half-written" \
  || bad "affected file not named or left behind: $(cat "$TMP/r1.err")"
[[ -n $damaged && ! -e "$TMP/r1$S/dup/$damaged" ]] && grep -q "dup/$damaged" "$TMP/r1.err" \
  && ok "its copy with the same contents fails too, named" || bad "copy of $damaged: $(cat "$TMP/r1.err")"
good=0
for i in 1 2 3 4 5 6; do
  [[ "file$i" == "$damaged" ]] && continue
  cmp -s "$S/file$i" "$TMP/r1$S/file$i" && good=$((good + 1))
  cmp -s "$S/file$i" "$TMP/r1$S/dup/file$i" && good=$((good + 1))
done
expect_eq "$good" 10 "the other files restore intact"

# an index object
fresh index
idx=$(obj_files "$N" index | head -1)
flip "$idx" 60
expect_rc 3 "$ROOST" repo check -r "$R" --read-data
expect_contains "$OUT" "index/$(obj_name "$idx")" "check names the damaged index"
# the packs' trailers still describe everything: restore works
expect_rc 0 "$ROOST" repo restore -r "$R" latest --target "$TMP/r2"
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$S" "$TMP/r2$S" --no-dir-mtime

# a snapshot
fresh snap
snap=$(obj_files "$N" snapshots | head -1)
flip "$snap" 30
expect_rc 3 "$ROOST" repo check -r "$R" --read-data
expect_contains "$OUT" "snapshots/$(obj_name "$snap")" "check names the damaged snapshot"
expect_rc 0 "$ROOST" repo snapshots -r "$R"
expect_contains "$ERR" "damaged" "snapshots warns about the damaged one"

# a pack trailer and a truncated pack
fresh trailer
pack=$(obj_files "$N" packs | head -1)
size=$(stat -c %s "$pack")
flip "$pack" $((size - 10))
expect_rc 3 "$ROOST" repo check -r "$R"
expect_contains "$OUT" "$(obj_name "$pack")" "check names a pack with a damaged trailer"
fresh trunc
pack=$(obj_files "$N" packs | head -1)
truncate -s 100 "$pack"
expect_rc 3 "$ROOST" repo check -r "$R"
expect_contains "$OUT" "$(obj_name "$pack")" "check names a truncated pack"
rm "$pack"
expect_rc 3 "$ROOST" repo check -r "$R"
expect_contains "$OUT" "missing" "check reports a missing pack"

# a wrong password: a clear message and nothing written
fresh pw
all_objects() { for t in keys packs index snapshots marks; do obj_files "$N" $t; done | sort; }
before=$(all_objects | xargs sha256sum | sha256sum)
expect_rc 1 env ROOST_PASSWORD=wrong "$ROOST" repo backup -r "$R" "$S"
expect_contains "$ERR" "wrong password" "wrong password explained"
expect_rc 1 env ROOST_PASSWORD=wrong "$ROOST" repo snapshots -r "$R"
after=$(all_objects | xargs sha256sum | sha256sum)
expect_eq "$after" "$before" "a wrong password writes nothing"
echo wrong > "$TMP/pwfile"
expect_rc 1 env -u ROOST_PASSWORD "$ROOST" repo check -r "$R" --password-file "$TMP/pwfile"
echo corrupt > "$TMP/pwfile"
expect_rc 0 env -u ROOST_PASSWORD "$ROOST" repo check -r "$R" --password-file "$TMP/pwfile"
finish
