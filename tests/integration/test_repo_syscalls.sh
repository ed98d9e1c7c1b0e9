#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The system calls of a backup per file, counted with strace: a first backup
# (no files cache) stats each regular file once, through the descriptor it
# reads it by, not also by name in the walk (d_type says it is a file); a
# re-run answers unchanged files from the cache without opening them. And
# what was backed up that way restores with its metadata.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
export ROOST_PASSWORD=sys ROOST_CACHE_DIR=$TMP/cache
R=$TMP/repo S=$TMP/src
command -v strace >/dev/null || { bad "strace is missing (scripts/deps.sh installs it)"; finish; }
for d in a b c; do
  mkdir -p "$S/$d/sub"
  for i in $(seq 1 100); do printf 'file %s %s\n' "$d" "$i" > "$S/$d/f$i"; done
  chmod 0640 "$S/$d/f7"; touch -d '2001-02-03 04:05:06' "$S/$d/f8"
  ln "$S/$d/f1" "$S/$d/sub/link1"
  ln -s f2 "$S/$d/sym"
done
files=303 # 300 files and 3 links to them
expect_rc 0 "$ROOST" repo init -r "$R"
sleep 2 # older than the backup's start: its files cache may vouch for them
# stats of anything (fstat, lstat, stat, fstatat, statx: whichever glibc uses)
stats() { grep -cE '^[0-9]+ +(newfstatat|fstat|lstat|stat|statx)\(' "$1" || true; }
# LeakSanitizer can not run under ptrace: the traced runs go without it
traced() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace "$@"; }
opens_in_src() { grep -cE "^[0-9]+ +open(at)?\(.*\"$S/[^\"]*/f[0-9]+\"" "$1" || true; }
traced -f -qq -e trace=openat,open,newfstatat,fstat,lstat,stat,statx -o "$TMP/st1" "$ROOST" repo backup -r "$R" "$S" > /dev/null 2>&1 \
  && ok "first backup under strace" || bad "first backup under strace failed"
n1=$(stats "$TMP/st1")
# one stat per file and per directory/symlink, plus the repository's own
# (about 75); the walk's lstat of every file besides made it twice the files
[[ $n1 -le $((files * 3 / 2)) ]] && ok "first backup: $n1 stats for $files files" \
  || bad "first backup: $n1 stats for $files files (a file is stat'ed twice)"
traced -f -qq -e trace=openat,open,newfstatat,fstat,lstat,stat,statx -o "$TMP/st2" "$ROOST" repo backup -r "$R" "$S" > /dev/null 2>&1 \
  && ok "re-run under strace" || bad "re-run under strace failed"
o2=$(opens_in_src "$TMP/st2")
expect_eq "$o2" 0 "a re-run opens no unchanged file"
expect_rc 0 "$ROOST" repo restore -r "$R" latest --target "$TMP/out"
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$S" "$TMP/out$S" --no-dir-mtime
[[ $(stat -c %a "$TMP/out$S/a/f7") == 640 ]] && ok "a mode read through the fd restores" || bad "mode lost"
[[ $(stat -c %i "$TMP/out$S/b/f1") == $(stat -c %i "$TMP/out$S/b/sub/link1") ]] \
  && ok "a hard link found through the fd restores as one" || bad "hard link lost"
finish
