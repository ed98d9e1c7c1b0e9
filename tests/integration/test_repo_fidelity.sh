#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Restore equals the source: every kind of file system entry and attribute,
# hostile names, sparse files (an 8 GiB one restores fast and sparse),
# --include, ls/diff/snapshots output, and errors a user can make.
# ROOST_TEST_BACKEND=s3 runs it against S3 (test_repo_fidelity_s3.sh).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/s3.sh"
PY=/usr/bin/python3
export ROOST_PASSWORD=fidelity ROOST_CACHE_DIR=$TMP/cache
repo_backend_setup
R=$(repo_loc repo) S=$TMP/src

mkdir -p "$S/dir/sub" "$S/empty-dir"
printf 'hello\n' > "$S/dir/small"
: > "$S/dir/empty"
head -c 3000000 /dev/urandom > "$S/dir/random-3M"
seq 1 400000 > "$S/dir/text"
cp "$S/dir/text" "$S/dir/sub/text-copy"            # dedup within a snapshot
head -c 200000 /dev/urandom > "$S/dir/sub/tail-hole"  # data, then a 1 MiB hole at the end
truncate -s 1248576 "$S/dir/sub/tail-hole"
ln "$S/dir/small" "$S/dir/sub/hardlink"             # hard link
ln -s small "$S/dir/symlink"                        # symlink
ln -s /nonexistent/target "$S/dangling"             # dangling symlink
mkfifo "$S/fifo"
chmod 0750 "$S/dir/sub"; chmod 0604 "$S/dir/small"; chmod 4755 "$S/dir/text"
chmod 1777 "$S/empty-dir"
# names: newline, invalid UTF-8, 255 bytes, leading dash, spaces
touch "$S/$(printf 'new\nline')" "$S/$(printf 'bad\xff\xfeutf8')" "$S/-dash" "$S/with space"
touch "$S/$(head -c 255 /dev/zero | tr '\0' 'n')"
# mtimes to the nanosecond, on files and directories
touch -d '2021-03-04 05:06:07.123456789' "$S/dir/small"
touch -h -d '2020-01-01 00:00:00.5' "$S/dir/symlink"
# extended attributes
# (a file system without user xattrs skips those checks, visibly; CI must have them)
if setfattr -n user.roost -v "xattr value" "$S/dir/text" 2>"$TMP/setfattr.err"; then
  HAVE_XATTR=1
  setfattr -n user.bin -v 0x00ff00 "$S/dir/random-3M"
else
  HAVE_XATTR=0
fi
# ownership: only root can give files other owners (CI runs as root)
if [[ $(id -u) -eq 0 ]]; then
  chown 1234:5678 "$S/dir/small"; chown -h 42:43 "$S/dir/symlink"
  ok "running as root: ownership is compared"
else
  skip "ownership restored" "not root: files can not be given other owners"
fi
# sparse: 8 GiB with data at the start, the middle and the end
truncate -s 8G "$S/sparse-8G"
printf 'begin' | dd of="$S/sparse-8G" conv=notrunc status=none
printf 'middle' | dd of="$S/sparse-8G" bs=1 seek=$((4 << 30)) conv=notrunc status=none
printf 'end' | dd of="$S/sparse-8G" bs=1 seek=$(((8 << 30) - 3)) conv=notrunc status=none
touch -d '2019-01-01' "$S/dir/sub" "$S/dir" "$S/empty-dir"

expect_rc 0 "$ROOST" repo init -r "$R"
start=$(date +%s%N)
expect_rc 0 "$ROOST" repo backup -r "$R" --tag t1 --json "$S"
secs=$(( ($(date +%s%N) - start) / 1000000 ))
expect_contains "$OUT" '"snapshot_id"' "backup --json has snapshot_id"
SNAP1=$($PY -c 'import json,sys; print(json.load(sys.stdin)["snapshot_id"])' <<< "$OUT")
FILES=$($PY -c 'import json,sys; d=json.load(sys.stdin); print(d["files"], d["bytes"] > 8*2**30, d["bytes_new"] > 0)' <<< "$OUT")
expect_eq "$FILES" "13 True True" "backup counts files and bytes (the sparse file counts 8 GiB)"
[[ $secs -lt 60000 ]] && ok "an 8 GiB sparse file backs up fast (${secs} ms)" || bad "sparse backup took ${secs} ms"

start=$(date +%s%N)
expect_rc 0 "$ROOST" repo restore -r "$R" latest --target "$TMP/out"
secs=$(( ($(date +%s%N) - start) / 1000000 ))
[[ $secs -lt 60000 ]] && ok "restore with the sparse file is fast (${secs} ms)" || bad "restore took ${secs} ms"
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$S" "$TMP/out$S"
# on a terminal restore shows its progress against the snapshot's file count
script -qec "'$ROOST' repo restore -r '$R' latest --target '$TMP/out-tty'" /dev/null > "$TMP/tty.out" 2>&1
expect_contains "$(tr '\r' '\n' < "$TMP/tty.out")" "/13 files (" "restore progress line shows the total"
echo "$OUT" | tail -3
blocks=$(stat -c %b "$TMP/out$S/sparse-8G")
[[ $blocks -lt 1000 ]] && ok "restored 8 GiB file is sparse ($blocks blocks)" || bad "restored sparse file uses $blocks blocks"
if [[ $HAVE_XATTR -eq 1 ]]; then
  expect_eq "$(getfattr --only-values -n user.roost "$TMP/out$S/dir/text")" "xattr value" "xattr restored"
  expect_eq "$(getfattr --absolute-names -e hex -n user.bin "$TMP/out$S/dir/random-3M" | sed -n "s/^user.bin=//p")" "0x00ff00" "binary xattr restored"
else
  skip "xattrs restored" "setfattr failed here: $(head -1 "$TMP/setfattr.err")"
fi
blocks=$(stat -c %b "$TMP/out$S/dir/sub/tail-hole")
[[ $blocks -lt 1000 ]] && ok "a trailing hole stays a hole ($blocks blocks)" || bad "trailing hole filled: $blocks blocks"

# copies of a whole tree in one snapshot: every blob is decoded once and
# written to all its places; also through --include of some of the copies
T=$TMP/trees
mkdir -p "$T/a/b"
for i in 1 2 3 4 5; do head -c $((i * 70000)) /dev/urandom > "$T/a/f$i"; seq $i 90000 > "$T/a/b/s$i"; done
for c in c1 c2 c3; do cp -a "$T/a" "$T/$c"; done
TR=$(repo_loc trepo)
expect_rc 0 "$ROOST" repo init -r "$TR"
expect_rc 0 "$ROOST" repo backup -r "$TR" "$T"
expect_rc 0 "$ROOST" repo restore -r "$TR" latest --target "$TMP/tout"
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$T" "$TMP/tout$T"
expect_rc 0 "$ROOST" repo restore -r "$TR" latest --target "$TMP/tpart" --include "$T/c2" --include "$T/a/b"
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$T/c2" "$TMP/tpart$T/c2"
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$T/a/b" "$TMP/tpart$T/a/b"
[[ ! -e "$TMP/tpart$T/c1" && ! -e "$TMP/tpart$T/a/f1" ]] && ok "--include of copies restores only those" \
  || bad "--include of copies restored too much"

# snapshots --json fields, ls, ls --json, prefixes and latest
expect_rc 0 "$ROOST" repo snapshots -r "$R" --json
expect_eq "$($PY -c 'import json,sys; s=json.load(sys.stdin)[0]; print(sorted(k for k in ("id","time","paths","hostname","tags") if k in s), s["tags"], s["paths"])' <<< "$OUT")" \
  "['hostname', 'id', 'paths', 'tags', 'time'] ['t1'] ['$S']" "snapshots --json has id, time, paths, hostname, tags"
expect_rc 0 "$ROOST" repo ls -r "$R" "${SNAP1:0:6}" "$S/dir"
expect_contains "$OUT" "$S/dir/sub/hardlink" "ls by id prefix lists a path"
expect_eq "$(echo "$OUT" | grep -c "$S/dangling")" 0 "ls PATH limits to that path"
expect_rc 0 "$ROOST" repo ls -r "$R" latest --json
expect_eq "$($PY -c 'import json,sys; print(len([e for e in json.load(sys.stdin) if e["type"]=="symlink"]))' <<< "$OUT")" 2 "ls --json types"
expect_contains "$OUT" 'new\nline' "ls --json escapes a newline in a name"

# --include restores only that part
expect_rc 0 "$ROOST" repo restore -r "$R" latest --target "$TMP/part" --include "$S/dir/sub"
[[ -f "$TMP/part$S/dir/sub/text-copy" && ! -e "$TMP/part$S/dir/small" && ! -e "$TMP/part$S/fifo" ]] \
  && ok "--include restores only that subtree" || bad "--include restored the wrong set"

# a second backup after changes; diff shows them
echo changed >> "$S/dir/small"; rm "$S/-dash"; echo new > "$S/dir/added"
expect_rc 0 "$ROOST" repo backup -r "$R" --json "$S"
expect_rc 0 "$ROOST" repo diff -r "$R" "$SNAP1" latest
expect_contains "$OUT" "M $S/dir/small" "diff: modified"
expect_contains "$OUT" "- $S/-dash" "diff: removed"
expect_contains "$OUT" "+ $S/dir/added" "diff: added"
expect_eq "$(echo "$OUT" | grep -c random-3M)" 0 "diff: unchanged not listed"

# excludes
expect_rc 0 "$ROOST" repo backup -r "$R" --exclude 'random-*' --exclude "$S/dir/sub" --json "$S"
expect_rc 0 "$ROOST" repo ls -r "$R" latest
expect_eq "$(echo "$OUT" | grep -c -e random-3M -e text-copy)" 0 "--exclude by name and by path"

expect_rc 0 "$ROOST" repo check -r "$R" --read-data
expect_contains "$OUT" "no errors were found" "check --read-data passes"
expect_rc 0 "$ROOST" repo stats -r "$R" --json
expect_contains "$OUT" '"snapshots":3' "stats --json counts snapshots"

# errors a user can make
expect_rc 2 "$ROOST" repo backup -r "$R" "$TMP/does-not-exist"
expect_rc 2 "$ROOST" repo restore -r "$R" latest
expect_contains "$ERR" "--target" "restore without --target explained"
expect_rc 2 "$ROOST" repo restore -r "$R" zzzz --target "$TMP/x"
expect_rc 2 "$ROOST" repo ls -r "$R" ffffffffffff
expect_contains "$ERR" "no snapshot" "unknown snapshot explained"
expect_rc 2 "$ROOST" repo init -r "$R"
expect_contains "$ERR" "already" "init twice refused"
expect_rc 2 "$ROOST" repo snapshots -r "$TMP/not-a-repo"
expect_contains "$ERR" "not a roost repository" "not a repository explained"
expect_rc 2 env -u ROOST_PASSWORD "$ROOST" repo snapshots -r "$R"
expect_contains "$ERR" "ROOST_PASSWORD" "missing password explained"
expect_rc 0 "$ROOST" repo --help
expect_rc 0 "$ROOST" repo backup --help
finish
