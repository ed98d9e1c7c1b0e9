#!/bin/bash
# SPDX-License-Identifier: MIT
# roostd's request framing and object uploads (issue 16): chunked bodies are
# refused (never read as empty), ambiguous or malformed lengths refused, an
# object whose content does not match its name is refused and not stored,
# and a commit that fails (ROOST_FAULT=commit:1) is a 5xx with nothing left
# behind. Real agent uploads still pass, and `roost repo check` stays clean.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"
H="$PY $ROOST_SRC/tests/integration/hostile.py"

start_server 2
U=$ROOST_SERVER
# the store holds credential hashes: private, and so are its WAL and index
for f in roostd.db roostd.db-wal roostd.db-shm; do
  [[ -e $SDATA/$f ]] && expect_eq "$(stat -c %a "$SDATA/$f")" 600 "$f is 0600"
done
code() { curl -sk -o "$TMP/body" -w '%{http_code}' "$@"; }
TOK=$("$ROOST" token create --uses 1)
expect_eq "$(code -X POST -d "{\"token\":\"$TOK\",\"hostname\":\"h1\",\"mode\":\"always-on\"}" $U/v1/enroll)" 201 "enroll a host"
HID=$(json_get 'd["host_id"]' < "$TMP/body"); HSEC=$(json_get 'd["secret"]' < "$TMP/body")
HAUTH="Authorization: Bearer $HID.$HSEC"
REPO=$SDATA/repo

# req NAME METHOD PATH HEADERS BODY: writes a raw request to $TMP/NAME
req() {
  $PY - "$TMP/$1" "$2" "$3" "$4" "$5" <<'EOF'
import sys
path, method, target, headers, body = sys.argv[1:6]
head = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
for h in headers.split("|"):
    if h:
        head += h + "\r\n"
open(path, "wb").write(head.encode() + b"\r\n" + body.encode().decode("unicode_escape").encode("latin-1"))
EOF
}
# send NAME: status on line 1, body on line 2 of $RESP
send() { RESP=$($H request "$SPORT" "$TMP/$1"); STATUS=$(head -1 <<< "$RESP"); }
hexid() { $PY -c 'import os; print(os.urandom(32).hex())'; }
absent() { [[ $(code -I -H "$HAUTH" "$U/v1/repo/$1") == 404 ]]; }
tmp_empty() { [[ -z $(ls -A "$REPO/tmp") ]]; }

# chunked: refused, nothing stored, nothing created
P=$(hexid)
req chunked_put PUT "/v1/repo/packs/$P" "$HAUTH|Transfer-Encoding: chunked" '5\r\nhello\r\n0\r\n\r\n'
send chunked_put
expect_eq "$STATUS" 411 "chunked object upload: 411"
expect_contains "$RESP" "Content-Length" "the answer says to send Content-Length"
absent "packs/$P" && ok "no pack stored from a chunked upload" || bad "chunked pack stored"
# the same name can still be uploaded (no 409 forever)
expect_eq "$(code -X PUT -H "$HAUTH" --data-binary 'x' "$U/v1/repo/packs/$P")" 400 "the name stays free (a bad pack is 400, not 409)"
req chunked_rest POST /v1/enroll-tokens "Authorization: Bearer $ROOST_TOKEN|Transfer-Encoding: chunked" '12\r\n{"ttl":5,"uses":3}\r\n0\r\n\r\n'
send chunked_rest
expect_eq "$STATUS" 411 "chunked REST body: 411, not a token with defaults"
req te_other POST /v1/enroll-tokens "Authorization: Bearer $ROOST_TOKEN|Transfer-Encoding: gzip" ''
send te_other
expect_eq "$STATUS" 501 "an unknown Transfer-Encoding: 501"
curl -sk -H 'Transfer-Encoding: chunked' -H "Authorization: Bearer $ROOST_TOKEN" -X POST \
  --data-binary '{"ttl":5,"uses":3}' -o "$TMP/body" -w '%{http_code}' "$U/v1/enroll-tokens" > "$TMP/code" || true
expect_eq "$(cat "$TMP/code")" 411 "curl's chunked POST: 411"

# ambiguous and malformed framing
req both POST /v1/enroll-tokens "Authorization: Bearer $ROOST_TOKEN|Content-Length: 18|Transfer-Encoding: chunked" '{"ttl":5,"uses":3}'
send both
expect_eq "$STATUS" 400 "Content-Length and Transfer-Encoding together: 400"
for cl in '18x' '-1' '0x12' '1 8' '99999999999999999999'; do
  req badlen POST /v1/enroll-tokens "Authorization: Bearer $ROOST_TOKEN|Content-Length: $cl" '{"ttl":5,"uses":3}'
  send badlen
  expect_eq "$STATUS" 400 "malformed Content-Length \"$cl\": 400"
done
req twolen POST /v1/enroll-tokens "Authorization: Bearer $ROOST_TOKEN|Content-Length: 18|Content-Length: 18" '{"ttl":5,"uses":3}'
send twolen
expect_eq "$STATUS" 400 "Content-Length twice: 400"
req twolen_put PUT "/v1/repo/packs/$P" "$HAUTH|Content-Length: 5|Content-Length: 7" 'hello'
send twolen_put
expect_eq "$STATUS" 400 "Content-Length twice on an upload: 400"
absent "packs/$P" && ok "nothing stored" || bad "stored despite two lengths"
# a well-framed REST request still works, and its body is read
expect_eq "$(code -H "Authorization: Bearer $ROOST_TOKEN" -X POST -d '{"ttl":5,"uses":3}' $U/v1/enroll-tokens)" 201 "a Content-Length body: 201"
expect_contains "$(cat "$TMP/body")" '"uses":3' "its body was read (uses 3)"

# content checked against the name
head -c 3000 /dev/urandom > "$TMP/rand"
I=$(hexid)
expect_eq "$(code -X PUT -H "$HAUTH" --data-binary @"$TMP/rand" "$U/v1/repo/index/$I")" 400 "an index whose bytes do not hash to its name: 400"
expect_contains "$(cat "$TMP/body")" "bad_content" "answered bad_content"
absent "index/$I" && ok "the index was not stored" || bad "a mismatched index was stored"
S=$(hexid)
# a host writes snapshots only from a running backup job of its own (prune's safety)
expect_eq "$(code -X PUT -H "$HAUTH" --data-binary @"$TMP/rand" "$U/v1/repo/snapshots/$S")" 403 "a snapshot from a host with no running backup: 403"
expect_contains "$(cat "$TMP/body")" "no running backup job" "it says why"
expect_eq "$(code -X PUT -H "$HAUTH" --data-binary @"$TMP/rand" "$U/v1/repo/snapshots/$S?job=999")" 403 "a snapshot for a job that is not running: 403"
expect_contains "$(cat "$TMP/body")" "job 999 is not a running backup" "it names the job"
absent "snapshots/$S" && ok "the refused snapshot was not stored" || bad "a refused snapshot was stored"
expect_eq "$(code -X PUT -H "Authorization: Bearer $ROOST_TOKEN" --data-binary @"$TMP/rand" "$U/v1/repo/snapshots/$S")" 400 "a mismatched snapshot: 400"
absent "snapshots/$S" && ok "the snapshot was not stored" || bad "a mismatched snapshot was stored"
expect_eq "$(code -X PUT -H "$HAUTH" --data-binary @"$TMP/rand" "$U/v1/repo/packs/$P")" 400 "a pack whose trailer does not hash to its name: 400"
absent "packs/$P" && ok "the pack was not stored" || bad "a mismatched pack was stored"
expect_eq "$(code -X PUT -H "$HAUTH" --data-binary '' "$U/v1/repo/packs/$P")" 400 "an empty pack: 400"
absent "packs/$P" && ok "no empty pack stored" || bad "an empty pack was stored"
wait_until 5 tmp_empty && ok "no temporary file left" || bad "left in tmp: $(ls "$REPO/tmp")"

# a real agent's uploads pass the checks
mkdir -p "$TMP/src"; head -c 200000 /dev/urandom > "$TMP/src/r"; echo hi > "$TMP/src/t"
enroll web always-on
expect_rc 0 "$ROOST" group add web data --path "$TMP/src"
start_agent web
JOB=$("$ROOST" backup web --group data)
wait_until 60 job_is "$JOB" succeeded && ok "an agent's backup is accepted" || bad "backup: $(job_status "$JOB") $("$ROOST" job show "$JOB" --json)"
stop_agent web
expect_rc 0 "$ROOST" repo check -r "$REPO" --password-file "$SDATA/repo.password" --read-data
expect_contains "$(cat "$TMP/server.log")" "event=http.bad_framing" "refusals are logged"
stop_server

# a failed commit: 5xx, nothing visible, and the name stays usable
SDATA=$TMP/server2 SPORT=$(free_port)
export ROOST_FAULT=commit:1
start_server 2
unset ROOST_FAULT
U=$ROOST_SERVER
REPO=$SDATA/repo
TOK=$("$ROOST" token create --uses 1)
code -X POST -d "{\"token\":\"$TOK\",\"hostname\":\"h2\",\"mode\":\"always-on\"}" $U/v1/enroll > /dev/null
HAUTH="Authorization: Bearer $(json_get 'd["host_id"]' < "$TMP/body").$(json_get 'd["secret"]' < "$TMP/body")"
I=$($PY -c 'import hashlib,sys; print(hashlib.blake2b(open(sys.argv[1],"rb").read(), digest_size=32).hexdigest())' "$TMP/rand")
expect_eq "$(code -X PUT -H "$HAUTH" --data-binary @"$TMP/rand" "$U/v1/repo/index/$I")" 500 "a failed commit: 500, not 201"
expect_contains "$(cat "$TMP/body")" "injected fault" "the error says why"
absent "index/$I" && ok "nothing visible after the failed commit" || bad "object visible after a failed commit"
wait_until 5 tmp_empty && ok "no temporary file left" || bad "left in tmp: $(ls "$REPO/tmp")"
expect_contains "$(cat "$TMP/server.log")" "event=repo.commit_failed" "the failure is logged"
expect_eq "$(code -X PUT -H "$HAUTH" --data-binary @"$TMP/rand" "$U/v1/repo/index/$I")" 201 "the retry commits: 201"
expect_eq "$(code -I -H "$HAUTH" "$U/v1/repo/index/$I")" 200 "and the object is there"
stop_server
finish
