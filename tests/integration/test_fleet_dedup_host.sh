#!/bin/bash
# SPDX-License-Identifier: MIT
# Group dedup host (issue 18, DESIGN.md "Write-only agents"): alpha backs up
# in a dedup fleet group, beta the same data in a dedup host group. Beta's
# config carries only its own id key (put_key_host, no fleet put_key); its
# first backup stores the data anew (no dedup against alpha), its second
# deduplicates against itself; both restore identical through roostd; the
# group API shows and validates dedup; check --read-data passes on the
# server's repository, which now holds blobs under both kinds of id key.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"

start_server 2
mkdir -p "$TMP/a/data/sub" "$TMP/b"
head -c 2500000 /dev/urandom > "$TMP/a/data/big"
head -c 700000 /dev/urandom > "$TMP/a/data/sub/mid"
for i in $(seq 1 20); do echo "line $i of a config" > "$TMP/a/data/sub/c$i"; done
cp -a "$TMP/a/data" "$TMP/b/data"

enroll alpha always-on
enroll beta always-on
start_agent alpha
start_agent beta
wait_until 10 host_online alpha && wait_until 10 host_online beta && ok "both agents online" || bad "agents offline"
expect_rc 0 "$ROOST" group add alpha data --path "$TMP/a/data"
expect_rc 2 "$ROOST" group add beta data --path "$TMP/b/data" --dedup sometimes
expect_rc 0 "$ROOST" group add beta data --path "$TMP/b/data" --dedup host
expect_rc 0 "$ROOST" group list beta --json
expect_eq "$(echo "$OUT" | json_get 'd[0]["dedup"]')" host "the group shows dedup host"
expect_rc 0 "$ROOST" group list alpha --json
expect_eq "$(echo "$OUT" | json_get 'd[0]["dedup"]')" fleet "dedup defaults to fleet"
# strict bodies
BHID=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["host_id"])' "$TMP/agent-beta/identity.json")
GID=$("$ROOST" group list beta --json | json_get 'd[0]["id"]')
acode() { curl -sk -o "$TMP/body" -w '%{http_code}' -H "Authorization: Bearer $ROOST_TOKEN" "$@"; }
expect_eq "$(acode -X PATCH -d '{"dedup":"hosts"}' "$ROOST_SERVER/v1/hosts/$BHID/groups/$GID")" 400 "dedup must be fleet or host"
expect_eq "$(acode -X PATCH -d '{"dedup":1}' "$ROOST_SERVER/v1/hosts/$BHID/groups/$GID")" 400 "dedup must be a string"
expect_eq "$(acode -X PATCH -d '{"dedup":"host"}' "$ROOST_SERVER/v1/hosts/$BHID/groups/$GID")" 200 "PATCH dedup"
expect_eq "$(acode "$ROOST_SERVER/v1/hosts/$BHID/groups/$GID")" 200 "GET the group"
expect_eq "$(json_get 'd["dedup"]' < "$TMP/body")" host "GET shows dedup host"

# beta's config: its own id key, not the fleet's
wait_until 10 $PY -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["repository"].get("put_key_host") else 1)' "$TMP/agent-beta/config.json" \
  && ok "beta holds a host id key" || bad "beta has no put_key_host"
$PY -c 'import json,sys; sys.exit(1 if json.load(open(sys.argv[1]))["repository"].get("put_key") else 0)' "$TMP/agent-beta/config.json" \
  && ok "beta does not hold the fleet's id key" || bad "beta holds the fleet put_key"

# --- backups: beta stores the same data anew, then deduplicates against itself
JA=$("$ROOST" backup alpha --group data)
expect_rc 0 "$ROOST" job wait "$JA" --timeout 90
JB=$("$ROOST" backup beta --group data)
expect_rc 0 "$ROOST" job wait "$JB" --timeout 90
SA=$("$ROOST" job show "$JA" --json | json_get 'd["snapshot_id"]')
SB=$("$ROOST" job show "$JB" --json | json_get 'd["snapshot_id"]')
bytesB=$("$ROOST" job show "$JB" --json | json_get 'd["stats"]["bytes"]')
newB=$("$ROOST" job show "$JB" --json | json_get 'd["stats"]["bytes_new"]')
(( bytesB > 3000000 && newB >= bytesB )) \
  && ok "beta's first backup stored all $newB of $bytesB bytes anew (no dedup against alpha)" \
  || bad "beta deduplicated against alpha: $newB new of $bytesB"
echo changed > "$TMP/b/data/sub/c1"
JB2=$("$ROOST" backup beta --group data)
expect_rc 0 "$ROOST" job wait "$JB2" --timeout 90
newB2=$("$ROOST" job show "$JB2" --json | json_get 'd["stats"]["bytes_new"]')
(( newB2 < 100000 )) && ok "beta's second backup deduplicated against its own ($newB2 new)" || bad "beta's second backup: $newB2 new"

# --- restores through roostd, identical
JR=$("$ROOST" restore beta "${SB:0:12}" --target "$TMP/rb")
expect_rc 0 "$ROOST" job wait "$JR" --timeout 90
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$TMP/a/data" "$TMP/rb$TMP/b/data" --no-owner
JR2=$("$ROOST" restore alpha "${SA:0:12}" --target "$TMP/ra")
expect_rc 0 "$ROOST" job wait "$JR2" --timeout 90
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$TMP/a/data" "$TMP/ra$TMP/a/data" --no-owner

# an admin's cross-host restore of beta's host-keyed backup onto alpha (a
# replacement machine): alpha does not hold beta's id key; roostd verifies
# those blobs before serving them
JX=$("$ROOST" restore alpha "${SB:0:12}" --target "$TMP/rx" --from-host beta)
expect_rc 0 "$ROOST" job wait "$JX" --timeout 90
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$TMP/a/data" "$TMP/rx$TMP/b/data" --no-owner

expect_rc 0 "$ROOST" repo check -r "$SDATA/repo" --password-file "$SDATA/repo.password" --read-data
stop_agent alpha
stop_agent beta
finish
