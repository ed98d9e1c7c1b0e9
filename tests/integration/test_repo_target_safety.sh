#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Restore never writes outside --target: symlinks planted in the target (for
# a directory the snapshot holds, or for a file it will write) are never
# followed; the snapshot's own symlinks are restored as links, not used as
# paths; the rest of the restore still happens.
source "$(dirname "$0")/lib.sh"
export ROOST_PASSWORD=safety ROOST_CACHE_DIR=$TMP/cache
S=$TMP/src R=$TMP/repo OUTSIDE=$TMP/outside
mkdir -p "$S/dir" "$S/other" "$OUTSIDE"
echo secret-data > "$S/dir/file"
echo fine > "$S/other/file"
echo victim-file > "$S/victim"
ln -s "$OUTSIDE" "$S/link-to-outside"    # the snapshot's own symlink
expect_rc 0 "$ROOST" repo init -r "$R"
expect_rc 0 "$ROOST" repo backup -r "$R" "$S"

T=$TMP/target
mkdir -p "$T$S"
ln -s "$OUTSIDE" "$T$S/dir"             # a planted directory symlink
ln -s "$OUTSIDE/victim" "$T$S/victim"   # a planted file symlink
echo keep > "$OUTSIDE/victim"
set +e
"$ROOST" repo restore -r "$R" latest --target "$T" > "$TMP/out" 2> "$TMP/err"
rc=$?
set -e
expect_eq "$(ls -A "$OUTSIDE")" "victim" "nothing was written into the outside directory"
expect_eq "$(cat "$OUTSIDE/victim")" "keep" "the file a planted symlink points at is untouched"
expect_eq "$rc" 1 "the restore reports the refused directory (exit 1)"
expect_contains "$(cat "$TMP/err")" "not a directory" "the planted directory symlink is named"
expect_eq "$(cat "$T$S/other/file")" "fine" "the rest of the snapshot is restored"
expect_eq "$(cat "$T$S/victim")" "victim-file" "a planted file symlink is replaced, not followed"
[[ -L "$T$S/link-to-outside" ]] && ok "the snapshot's own symlink is restored as a link" \
  || bad "snapshot symlink not restored as a link"
finish
