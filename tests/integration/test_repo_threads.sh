#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The threaded engine under ThreadSanitizer: backups of a deep and wide tree
# (workers read files, walk handed-over directories, commit packs), an
# unchanged re-run (the parallel walk), a changed one, and a restore. Any
# data race report fails the test. `make check` builds the TSan binary.
source "$(dirname "$0")/lib.sh"
: "${ROOST_TSAN_BIN:?ROOST_TSAN_BIN must point at a ThreadSanitizer build (make check sets it)}"
T=$ROOST_TSAN_BIN/roost
[[ -x $T ]] || { bad "no TSan binary at $T"; finish; }
export ROOST_PASSWORD=threads ROOST_CACHE_DIR=$TMP/cache
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1"
S=$TMP/src
for d in $(seq 1 12); do
  for e in $(seq 1 6); do
    mkdir -p "$S/d$d/e$e/f"
    for f in $(seq 1 8); do head -c $((RANDOM * 4)) /dev/urandom > "$S/d$d/e$e/file$f"; done
    seq 1 $((RANDOM % 5000)) > "$S/d$d/e$e/f/text"
  done
done
head -c 3000000 /dev/urandom > "$S/big"
# one file of many chunks: the idle worker stores some of them (backup_share.c)
head -c 20000000 /dev/urandom > "$S/huge"
# a big flat directory: re-runs share its entries out among the threads
/usr/bin/python3 -c 'import os,sys; d=sys.argv[1]; os.makedirs(d); [open(os.path.join(d, "f%d" % i), "w").write(str(i) * (i % 50)) for i in range(3000)]' "$S/flat"
# copies: the restore's workers share the decoded blobs they write twice
cp -a "$S/d1" "$S/d1-copy"; cp "$S/big" "$S/big-copy"
expect_rc 0 "$T" repo init -r "$TMP/repo" --pack-size 262144
expect_rc 0 "$T" repo backup -r "$TMP/repo" "$S"
sleep 1.1
expect_rc 0 "$T" repo backup -r "$TMP/repo" "$S"
for d in 3 7 11; do echo changed >> "$S/d$d/e2/file3"; done
echo changed >> "$S/flat/f2999"; rm "$S/flat/f1500"; echo new > "$S/flat/g-new"
expect_rc 0 "$T" repo backup -r "$TMP/repo" --json "$S"
expect_contains "$OUT" '"files":' "changed backup reports"
expect_rc 0 "$T" repo restore -r "$TMP/repo" latest --target "$TMP/out"
expect_rc 0 "$T" repo check -r "$TMP/repo" --read-data
expect_rc 0 /usr/bin/python3 "$ROOST_SRC/tests/integration/treecmp.py" "$S" "$TMP/out$S" --no-dir-mtime
finish
