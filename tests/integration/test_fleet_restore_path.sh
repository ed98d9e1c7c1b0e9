#!/bin/bash
# SPDX-License-Identifier: MIT
# The fleet path's data (issue 17): a backup and a restore through roostd of
# files of many blobs with the agent's restore workers (more than one per
# CPU) give the tree back identical; whole objects read back through the
# object API (answers sent a slice per send()) equal the files on the
# server; a restore through roostd from a damaged pack fails and the job's
# error names the pack, not only a count of files.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"

start_server 2
mkdir -p "$TMP/data/sub"
head -c 9000000 /dev/urandom > "$TMP/data/big"
for i in $(seq 1 12); do head -c $((i * 150000)) /dev/urandom > "$TMP/data/sub/f$i"; done
for i in $(seq 1 30); do echo "small $i" > "$TMP/data/sub/s$i"; done
enroll alpha always-on
start_agent alpha
wait_until 10 host_online alpha && ok "agent online" || bad "agent offline"
expect_rc 0 "$ROOST" group add alpha data --path "$TMP/data"
J=$("$ROOST" backup alpha --group data)
expect_rc 0 "$ROOST" job wait "$J" --timeout 120
S=$("$ROOST" job show "$J" --json | json_get 'd["snapshot_id"]')

# --- the restore through roostd gives the tree back
JR=$("$ROOST" restore alpha "${S:0:12}" --target "$TMP/r1")
expect_rc 0 "$ROOST" job wait "$JR" --timeout 120
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$TMP/data" "$TMP/r1$TMP/data" --no-owner

# --- whole packs read back through the object API equal the stored files
TOKEN=$(cat "$SDATA/admin.token")
n=0
for f in $(find "$SDATA/repo/packs" -type f | head -3); do
  name=$(basename "$f")
  curl -skf -H "Authorization: Bearer $TOKEN" "$ROOST_SERVER/v1/repo/packs/$name" -o "$TMP/pack.got" \
    && cmp -s "$f" "$TMP/pack.got" && n=$((n + 1)) || bad "packs/$name read back differs"
done
(( n > 0 )) && ok "$n packs read back whole through the object API, byte for byte"

# --- a damaged pack: the restore fails and names it
big=$(find "$SDATA/repo/packs" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
pack=$(basename "$big")
size=$(stat -c %s "$big")
chmod u+w "$big"
printf '\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8' | dd of="$big" bs=1 seek=$((size / 2)) conv=notrunc status=none
JD=$("$ROOST" restore alpha "${S:0:12}" --target "$TMP/r2")
expect_rc 1 "$ROOST" job wait "$JD" --timeout 120
err=$("$ROOST" job show "$JD" --json | json_get 'd["error"]')
expect_contains "$err" "could not be restored" "the job's error counts the files not restored"
expect_contains "$err" "$pack" "the job's error names the damaged pack ($pack)"
stop_agent alpha
finish
