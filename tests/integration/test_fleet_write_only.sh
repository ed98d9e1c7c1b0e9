#!/bin/bash
# SPDX-License-Identifier: MIT
# Write-only agents (issue 18, DESIGN.md "Write-only agents"): two hosts share
# the repository; the repository password and every secret key are absent
# from both agents' state directories and from every frame the server sends
# them; every secret an agent holds fails to open the repository; a host
# asking for another host's snapshot is refused; each host restores its own
# snapshot identical through the server; the second host's first backup of
# the same data stores < 5% new bytes; check --read-data passes.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"

KEYS="$ROOST_BIN/roost-test-keys"
start_server 2
mkdir -p "$TMP/a/data/sub" "$TMP/b"
head -c 3000000 /dev/urandom > "$TMP/a/data/big"
head -c 700000 /dev/urandom > "$TMP/a/data/sub/mid"
for i in $(seq 1 40); do echo "line $i of a config" > "$TMP/a/data/sub/c$i"; done
ln -s sub/c1 "$TMP/a/data/link"
cp -a "$TMP/a/data" "$TMP/b/data"
echo "only on beta" > "$TMP/b/data/beta-only"

enroll alpha always-on
enroll beta always-on
# alpha's jobs wait 3 s first, so a restore job stays running while we probe
start_agent alpha ROOST_AGENT_FRAME_LOG="$TMP/frames-alpha" ROOST_AGENT_TEST_JOB_DELAY_MS=3000
start_agent beta ROOST_AGENT_FRAME_LOG="$TMP/frames-beta"
wait_until 10 host_online alpha && wait_until 10 host_online beta && ok "both agents online" || bad "agents offline"
expect_rc 0 "$ROOST" group add alpha data --path "$TMP/a/data"
expect_rc 0 "$ROOST" group add beta data --path "$TMP/b/data"

# --- backups: the second host deduplicates against the first
JA=$("$ROOST" backup alpha --group data)
expect_rc 0 "$ROOST" job wait "$JA" --timeout 90
JB=$("$ROOST" backup beta --group data)
expect_rc 0 "$ROOST" job wait "$JB" --timeout 90
SA=$("$ROOST" job show "$JA" --json | json_get 'd["snapshot_id"]')
SB=$("$ROOST" job show "$JB" --json | json_get 'd["snapshot_id"]')
bytesB=$("$ROOST" job show "$JB" --json | json_get 'd["stats"]["bytes"]')
newB=$("$ROOST" job show "$JB" --json | json_get 'd["stats"]["bytes_new"]')
(( bytesB > 3500000 && newB * 20 < bytesB )) \
  && ok "beta's first backup of the same data stored $newB new of $bytesB bytes (< 5%)" \
  || bad "cross-host dedup lost: $newB new of $bytesB"

# --- no secret reaches an agent
PW=$(cat "$SDATA/repo.password")
ROOST_PASSWORD=$PW "$KEYS" secrets "$SDATA/repo" > "$TMP/secrets" && ok "the server's secrets read" || bad "secrets"
echo "password $PW" >> "$TMP/secrets"
(( $(wc -l < "$TMP/secrets") == 7 )) || bad "expected 7 secrets: $(wc -l < "$TMP/secrets")"
for f in "$TMP/frames-alpha" "$TMP/frames-beta"; do
  grep -q '"type":"config"' "$f" && grep -q '"put_key"' "$f" \
    && ok "$(basename "$f"): the config frames were logged, with a put key" || bad "$f: no config frame logged"
  grep -q '"job.start"' "$f" && ok "$(basename "$f"): job.start frames logged" || bad "$f: no job.start"
done
leaks=0
while read -r what value; do
  for where in "$TMP/agent-alpha" "$TMP/agent-beta" "$TMP/frames-alpha" "$TMP/frames-beta"; do
    if grep -rqF -- "$value" "$where"; then bad "$what found in $where"; leaks=1; fi
  done
done < "$TMP/secrets"
(( leaks == 0 )) && ok "the password and the master, v1 and data secret keys (hex and base64) are in neither agent's state nor any frame sent to them"
grep -rq "password" "$TMP/agent-alpha/config.json" && bad "config.json mentions a password" || ok "config.json holds no password"

# --- every secret an agent holds fails to open the repository
for name in alpha beta; do
  SEC=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' "$TMP/agent-$name/identity.json")
  PUT=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["repository"]["put_key"])' "$TMP/agent-$name/config.json")
  for s in "$SEC" "$PUT"; do
    ROOST_PASSWORD="$s" expect_rc 1 "$ROOST" repo snapshots -r "$SDATA/repo"
  done
  expect_rc 0 "$KEYS" try-put "$SDATA/repo" "$PUT"
  expect_contains "$OUT" "every read refused" "$name's put key reads the index but no snapshot and no pack's data"
done

# --- a host asking for another host's snapshot is refused
expect_rc 1 "$ROOST" restore alpha "${SB:0:12}" --target "$TMP/nope"
expect_contains "$ERR" "another host" "an admin restore of beta's snapshot onto alpha needs --from-host"
HID=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["host_id"])' "$TMP/agent-alpha/identity.json")
SEC=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' "$TMP/agent-alpha/identity.json")
BHID=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["host_id"])' "$TMP/agent-beta/identity.json")
BSEC=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' "$TMP/agent-beta/identity.json")
H="Authorization: Bearer $HID.$SEC"
code() { curl -sk -o "$TMP/body" -w '%{http_code}' "$@"; }
U=$ROOST_SERVER
expect_eq "$(code -H "$H" "$U/v1/repo/plain/snapshots/$SB")" 403 "no job: a host gets no plaintext"
expect_eq "$(code -H "$H" "$U/v1/repo/plain/snapshots/$SA?job=$JA")" 403 "a backup job gets no plaintext"
KEY=$(curl -skf -H "$H" "$U/v1/repo/keys/" | json_get 'd[0]["name"]')
expect_eq "$(code -H "$H" "$U/v1/repo/$KEY")" 403 "a host can not read a key file"
JR=$("$ROOST" restore alpha "${SA:0:12}" --target "$TMP/ra")
wait_until 10 job_is "$JR" running && ok "alpha's restore job is running" || bad "restore not running: $(job_status "$JR")"
expect_eq "$(code -H "$H" "$U/v1/repo/plain/snapshots/$SB?job=$JR")" 403 "alpha's restore job can not read beta's snapshot"
expect_eq "$(code -H "$H" "$U/v1/repo/plain/blobs/$(printf 'ab%.0s' {1..32})?job=$JR")" 403 "nor a blob outside its snapshot"
expect_eq "$(code -H "Authorization: Bearer $BHID.$BSEC" "$U/v1/repo/plain/snapshots/$SA?job=$JR")" 403 "beta can not use alpha's restore job"
expect_eq "$(code -H "$H" "$U/v1/repo/plain/snapshots/$SA?job=$JR")" 200 "alpha's job reads its own snapshot"

# --- each host restores its own snapshot identical through the server
expect_rc 0 "$ROOST" job wait "$JR" --timeout 90
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$TMP/a/data" "$TMP/ra$TMP/a/data" --no-owner
JR2=$("$ROOST" restore beta "${SB:0:12}" --target "$TMP/rb")
expect_rc 0 "$ROOST" job wait "$JR2" --timeout 90
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$TMP/b/data" "$TMP/rb$TMP/b/data" --no-owner
# an admin's explicit cross-host restore (a replacement laptop)
JX=$("$ROOST" restore alpha "${SB:0:12}" --from-host beta --target "$TMP/rx")
expect_rc 0 "$ROOST" job wait "$JX" --timeout 90
expect_rc 0 $PY "$ROOST_SRC/tests/integration/treecmp.py" "$TMP/b/data" "$TMP/rx$TMP/b/data" --no-owner

# the frames of these restores leaked nothing either
while read -r what value; do
  grep -qF -- "$value" "$TMP/frames-alpha" "$TMP/frames-beta" && bad "$what in a frame after restores"
done < "$TMP/secrets"
expect_rc 0 "$ROOST" repo check -r "$SDATA/repo" --password-file "$SDATA/repo.password" --read-data
stop_agent alpha
stop_agent beta
finish
