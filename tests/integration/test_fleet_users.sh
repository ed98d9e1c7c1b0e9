#!/bin/bash
# SPDX-License-Identifier: MIT
# Dashboard users and sessions (docs/dashboard.md, "Who may do what", "Users and
# sessions") with the real roostd and curl on 127.0.0.1: users made with the CLI
# (all three roles), login and its cookie, each role's rights, CSRF, logout, a
# removed user, idle expiry, login throttling, hostile cookies and bodies, and
# the admin token unchanged.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"

start_server 2
U=$ROOST_SERVER
A="Authorization: Bearer $ROOST_TOKEN"
code() { curl -sk -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' "$@" || true; }
body() { json_get "$1" < "$TMP/body"; }
# login NAME PASSWORD: the status in $LOGIN_CODE, the token in $SESSION, the CSRF token in $CSRF
login() {
  LOGIN_CODE=$(code -X POST -H 'Content-Type: application/json' -d "{\"name\":\"$1\",\"password\":\"$2\"}" "$U/v1/login")
  SESSION=$(sed -n 's/^set-cookie: roost_session=\([^;]*\);.*/\1/Ip' "$TMP/headers" | tr -d '\r')
  CSRF=$([[ $LOGIN_CODE == 200 ]] && body 'd["csrf"]' || true)
}
# as TOKEN CSRF CURL-ARGS...: a request with the session cookie (and the CSRF token, if not "-")
as() {
  local t=$1 x=$2; shift 2
  if [[ $x == - ]]; then code -H "Cookie: roost_session=$t" "$@"
  else code -H "Cookie: roost_session=$t" -H "X-CSRF-Token: $x" "$@"; fi
}

# ---- users, with the CLI ----
printf 'admin-pass-1\n' > "$TMP/pw-admin"
expect_rc 0 "$ROOST" user add ada --role admin --password-file "$TMP/pw-admin"
expect_contains "$OUT" "ada" "user add says who was added"
expect_rc 0 bash -c "echo operator-pass | '$ROOST' user add otto --role operator"
expect_rc 0 bash -c "printf 'viewer-pass\n' | '$ROOST' user add vera --role viewer"
expect_rc 1 bash -c "echo viewer-pass | '$ROOST' user add vera --role viewer"
expect_contains "$ERR" "409" "a taken name: 409"
expect_rc 2 bash -c "echo viewer-pass | '$ROOST' user add kim --role king"
expect_rc 2 bash -c "echo viewer-pass | '$ROOST' user add 'bad name' --role viewer"
expect_contains "$ERR" "name" "a bad name is named"
expect_rc 2 bash -c "echo short | '$ROOST' user add kim --role viewer"
expect_contains "$ERR" "password" "a short password is named"
expect_rc 2 "$ROOST" user add kim
expect_rc 2 "$ROOST" user add kim --role viewer --password-file "$TMP/nonexistent"
expect_rc 2 "$ROOST" user frobnicate
expect_rc 0 "$ROOST" user add --help
expect_contains "$OUT" "--role" "user --help shows the options"
# on a terminal: asked twice, not echoed
PTY="$PY $ROOST_SRC/tests/integration/pty_run.py"
expect_rc 0 $PTY "Password: " tty-pass-one "Password (again): " tty-pass-one -- "$ROOST" user add tina --role viewer
expect_contains "$OUT" "(again)" "on a terminal the password is asked twice"
[[ $OUT != *tty-pass-one* ]] && ok "the password is not echoed" || bad "the password was echoed: $OUT"
expect_rc 2 $PTY "Password: " tty-pass-one "Password (again): " tty-pass-two -- "$ROOST" user add tim --role viewer
expect_contains "$OUT" "differ" "two different passwords are refused"
login tina tty-pass-one; expect_eq "$LOGIN_CODE" 200 "the password typed on the terminal logs in"
expect_rc 0 "$ROOST" user remove tina
expect_rc 0 "$ROOST" user list
expect_contains "$OUT" "otto" "user list shows the users"
expect_contains "$OUT" "operator" "user list shows roles"
expect_rc 0 "$ROOST" user list --json
expect_eq "$(echo "$OUT" | json_get '[u["name"] + ":" + u["role"] for u in d]')" \
  '["ada:admin", "otto:operator", "vera:viewer"]' "user list --json: every user and role"
expect_eq "$(echo "$OUT" | json_get 'sorted(d[0].keys())')" \
  '["created_at", "id", "last_login_at", "name", "role"]' "user JSON fields"
# the API's contract: 201 {id, name, role}
expect_eq "$(code -H "$A" -X POST -d '{"name":"tmp1","password":"12345678","role":"viewer"}' $U/v1/users)" 201 "POST /v1/users: 201"
expect_eq "$(body '[d["name"], d["role"], d["id"] > 0]')" '["tmp1", "viewer", true]' "POST /v1/users answers {id, name, role}"
TMP1_ID=$(body 'd["id"]')
expect_eq "$(code -H "$A" -X POST -d '{"name":"tmp2","password":"12345678","role":"root"}' $U/v1/users)" 400 "a bad role: 400"
expect_eq "$(body 'd["error"]["field"]')" role "a bad role names the field"
expect_eq "$(code -H "$A" -X DELETE $U/v1/users/$TMP1_ID)" 200 "DELETE /v1/users/{id}"
expect_eq "$(code -H "$A" -X DELETE $U/v1/users/$TMP1_ID)" 404 "DELETE of a gone user: 404"

# ---- login ----
login vera viewer-pass; expect_eq "$LOGIN_CODE" 200 "viewer login: 200"
VS=$SESSION VC=$CSRF
COOKIE=$(grep -i '^set-cookie:' "$TMP/headers" | tr -d '\r')
for attr in HttpOnly Secure SameSite=Strict Path=/ Max-Age=43200; do
  expect_contains "$COOKIE" "; $attr" "the session cookie has $attr"
done
expect_eq "${#VS}" 43 "the cookie carries 256 bits"
expect_eq "$(body '[d["user"]["name"], d["user"]["role"], len(d["csrf"]) > 20, "expires_at" in d]')" \
  '["vera", "viewer", true, true]' "login answers {user, csrf, expires_at}"
expect_eq "$(as "$VS" - $U/v1/session)" 200 "GET /v1/session with the cookie"
expect_eq "$(body '[d["user"]["name"], d["user"]["role"], d["csrf"], d["server"]["fingerprint"]]')" \
  "[\"vera\", \"viewer\", \"$VC\", \"$ROOST_FINGERPRINT\"]" "/v1/session: user, csrf, server fingerprint"
expect_eq "$(body 'bool(d["server"]["version"])')" true "/v1/session: server version"
login otto operator-pass; expect_eq "$LOGIN_CODE" 200 "operator login: 200"
OS=$SESSION OC=$CSRF
login ada admin-pass-1; expect_eq "$LOGIN_CODE" 200 "admin login: 200"
AS=$SESSION AC=$CSRF
expect_eq "$(code -H "$A" $U/v1/users)" 200 "GET /v1/users"
expect_eq "$(body '[u["last_login_at"] is not None for u in d]')" '[true, true, true]' "last_login_at is set at login"

# a host, without an agent
TOK=$("$ROOST" token create)
expect_eq "$(code -X POST -d "{\"token\":\"$TOK\",\"hostname\":\"h1\"}" $U/v1/enroll)" 201 "enroll a host through the API"
HID=$(body 'd["host_id"]')
expect_rc 0 "$ROOST" group add h1 etc --path /etc
GID=$("$ROOST" group list h1 --json | json_get 'd[0]["id"]')

# ---- viewer ----
expect_eq "$(as "$VS" - $U/v1/hosts)" 200 "viewer: GET /v1/hosts"
expect_eq "$(as "$VS" - $U/v1/hosts/$HID/groups)" 200 "viewer: GET a host's groups"
expect_eq "$(as "$VS" - $U/v1/jobs)" 200 "viewer: GET /v1/jobs"
expect_eq "$(as "$VS" - $U/v1/events)" 200 "viewer: GET /v1/events"
expect_eq "$(as "$VS" - -m 2 $U/v1/events/stream)" 200 "viewer: the event stream"
expect_eq "$(as "$VS" - $U/v1/fleet)" 200 "viewer: GET /v1/fleet"
expect_eq "$(as "$VS" - "$U/v1/cron/next?expr=0+3+*+*+*&count=2")" 200 "viewer: GET /v1/cron/next"
expect_eq "$(as "$VS" - "$U/v1/snapshots/abcdef/tree?path=/")" 404 "viewer: a snapshot's tree may be read (none here: 404)"
expect_eq "$(as "$VS" - "$U/v1/snapshots/abcdef/file?path=/etc/passwd")" 403 "viewer: downloads refused"
expect_eq "$(as "$VS" "$VC" -X POST -d "{\"group_id\":$GID}" $U/v1/hosts/$HID/backup)" 403 "viewer: POST backup refused"
expect_eq "$(body 'd["error"]["code"]')" forbidden "viewer refused: code forbidden"
expect_eq "$(as "$VS" "$VC" -X PATCH -d '{"mode":"intermittent"}' $U/v1/hosts/$HID)" 403 "viewer: PATCH host refused"
expect_eq "$(as "$VS" "$VC" -X POST -d '{"name":"x1234","password":"12345678","role":"admin"}' $U/v1/users)" 403 "viewer: POST /v1/users refused"
expect_eq "$(as "$VS" - $U/v1/users)" 403 "viewer: GET /v1/users refused"
expect_eq "$(as "$VS" - $U/v1/webhooks)" 403 "viewer: webhooks refused"
expect_eq "$(as "$VS" "$VC" -X POST $U/v1/enroll-tokens)" 403 "viewer: enrollment tokens refused"
expect_eq "$(as "$VS" - $U/metrics)" 403 "viewer: /metrics refused"
expect_eq "$(as "$VS" - $U/v1/repo/keys/)" 403 "viewer: the object API refused"
expect_eq "$(code -H "$A" $U/v1/jobs)" 200 "(jobs readable)"
expect_eq "$(body 'len(d)')" 0 "no job was made by the refused requests"

# ---- operator ----
expect_eq "$(as "$OS" - -X POST -d "{\"group_id\":$GID}" $U/v1/hosts/$HID/backup)" 403 "operator: a write without X-CSRF-Token refused"
expect_eq "$(body 'd["error"]["code"]')" csrf "without X-CSRF-Token: code csrf"
expect_eq "$(as "$OS" "$VC" -X POST -d "{\"group_id\":$GID}" $U/v1/hosts/$HID/backup)" 403 "operator: another session's CSRF token refused"
expect_eq "$(body 'd["error"]["code"]')" csrf "a wrong CSRF token: code csrf"
expect_eq "$(as "$OS" "$OC" -X POST -d "{\"group_id\":$GID}" $U/v1/hosts/$HID/backup)" 201 "operator: POST backup with the CSRF token"
JOB=$(body 'd["id"]')
expect_eq "$(body 'd["status"]')" queued "the operator's backup is queued"
expect_eq "$(as "$OS" "$OC" -X PATCH -d '{"mode":"intermittent"}' $U/v1/hosts/$HID)" 403 "operator: PATCH host refused"
expect_eq "$(as "$OS" - "$U/v1/snapshots/abcdef/file?path=/etc/passwd")" 404 "operator: downloads allowed (no such snapshot: 404)"
expect_eq "$(as "$OS" "$OC" -X DELETE $U/v1/hosts/$HID)" 403 "operator: DELETE host refused"
expect_eq "$(as "$OS" "$OC" -X POST -d '{"snapshot_id":"abc","target":"/tmp/x","from_host":"h1"}' $U/v1/hosts/$HID/restore)" 403 "operator: a cross-host restore refused"
expect_eq "$(as "$OS" "$OC" -X POST $U/v1/jobs/$JOB/cancel)" 200 "operator: cancel a job"
expect_eq "$(as "$OS" - $U/v1/jobs/$JOB)" 200 "operator: GET the job"
expect_eq "$(body 'd["status"]')" canceled "the job was canceled"

# ---- admin session, admin token ----
expect_eq "$(as "$AS" - -X POST -d '{"name":"kim","password":"12345678","role":"viewer"}' $U/v1/users)" 403 "admin session: a write without X-CSRF-Token refused"
expect_eq "$(as "$AS" "$AC" -X POST -d '{"name":"kim","password":"12345678","role":"viewer"}' $U/v1/users)" 201 "admin session: POST /v1/users"
expect_eq "$(as "$AS" "$AC" -X PATCH -d '{"mode":"intermittent"}' $U/v1/hosts/$HID)" 200 "admin session: PATCH host"
expect_eq "$(as "$AS" - $U/metrics)" 200 "admin session: /metrics"
expect_eq "$(code -H "$A" -X PATCH -d '{"mode":"always-on"}' $U/v1/hosts/$HID)" 200 "admin token: PATCH host, no CSRF token needed"
expect_eq "$(code -H "$A" $U/metrics)" 200 "admin token: /metrics"
expect_eq "$(code -H "$A" $U/v1/session)" 200 "admin token: /v1/session"
expect_eq "$(body '[d["user"]["id"], d["user"]["name"], d["user"]["role"], d["csrf"]]')" \
  '[0, "admin token", "admin", null]' "/v1/session of the admin token"
expect_eq "$(code -H "Authorization: Bearer $(cat "$SDATA/metrics.token")" $U/metrics)" 200 "metrics token: /metrics"
expect_eq "$(code -H "Authorization: Bearer $(cat "$SDATA/metrics.token")" $U/v1/repo/keys/)" 403 "metrics token: the object API refused"
expect_eq "$(code -H "Authorization: Bearer $(cat "$SDATA/metrics.token")" $U/v1/session)" 403 "metrics token: /v1/session refused"
# a bad Authorization header is not rescued by a good cookie
expect_eq "$(code -H "Authorization: Bearer nope" -H "Cookie: roost_session=$AS" $U/v1/hosts)" 401 "a wrong token with a cookie: 401"
expect_rc 0 "$ROOST" host list

# ---- logout, removed users ----
expect_eq "$(as "$OS" - -X POST $U/v1/logout)" 403 "logout without X-CSRF-Token refused"
expect_eq "$(as "$OS" "$OC" -X POST $U/v1/logout)" 200 "logout"
expect_contains "$(grep -i '^set-cookie:' "$TMP/headers")" "roost_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0" "logout clears the cookie"
expect_eq "$(as "$OS" - $U/v1/session)" 401 "the session ended at logout"
expect_eq "$(as "$VS" - $U/v1/hosts)" 200 "(vera's session is live)"
expect_rc 0 "$ROOST" user remove vera
expect_eq "$(as "$VS" - $U/v1/hosts)" 401 "a removed user's session: 401"
login vera viewer-pass; expect_eq "$LOGIN_CODE" 401 "a removed user can not log in"
expect_rc 2 "$ROOST" user remove vera

# ---- hostile input ----
expect_eq "$(code -X POST -d '{nope' $U/v1/login)" 400 "malformed login JSON: 400"
expect_eq "$(code -X POST -d '[]' $U/v1/login)" 400 "a login body that is not an object: 400"
expect_eq "$(code -X POST -d '{"name":5,"password":"x"}' $U/v1/login)" 400 "a name that is not a string: 400"
expect_eq "$(body 'd["error"]["field"]')" name "... names the field"
expect_eq "$(code -X POST -d '{"name":"ada"}' $U/v1/login)" 400 "no password: 400"
expect_eq "$(code -X GET $U/v1/login)" 405 "GET /v1/login: 405"
for c in 'roost_session=' 'roost_session=""' 'roost_session=AAAA' "roost_session=${AS:0:42}!" \
         'roost_session=;;;;;' '=;=;=' "roost_session=$(printf 'x%.0s' {1..3000})" \
         "a=1; roost_session=${AS}x" $'roost_session=\x01\x02\x7f' "$(printf 'c%d=v; ' {1..300})"; do
  expect_eq "$(code -H "Cookie: $c" $U/v1/hosts)" 401 "hostile cookie ${c:0:30}...: 401"
done
# beyond the 4 KiB of headers libwebsockets keeps, the connection is dropped (or refused)
HUGE=$(code -H "Cookie: $(head -c 5000 /dev/zero | tr '\0' 'a')" $U/v1/hosts)
[[ $HUGE =~ ^(000|400|401|431)$ ]] && ok "a huge cookie header: refused ($HUGE)" || bad "a huge cookie header: $HUGE"
expect_eq "$(code -H "Cookie: theme=dark; roost_session=$AS; lang=en" $U/v1/users)" 200 "the session cookie among others"
expect_eq "$(code $U/v1/health)" 200 "roostd is alive after the hostile cookies"

# ---- throttling: failed logins are counted in the store (login_failures, shared by
# every roostd on it: docs/scale-out.md 2.8), so a restart keeps them; cleared here
# while roostd is stopped so that the sequence below starts from none ----
store_sql() {
  if [ -n "${ROOST_TEST_DB:-}" ]; then
    psql -qAt "$ROOST_TEST_DB" -c "$1"
  else
    $PY -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); r = c.execute(sys.argv[2]).fetchall(); c.commit()
print("\n".join("|".join(map(str, x)) for x in r))' "$SDATA/roostd.db" "$1"
  fi
}
stop_server
(( $(store_sql "SELECT COUNT(*) FROM login_failures WHERE kind='addr'") > 0 )) &&
  ok "the failed logins so far are in the store" || bad "no failed login in login_failures"
store_sql "DELETE FROM login_failures" >/dev/null
start_server 2
U=$ROOST_SERVER
expect_eq "$(as "$AS" - $U/v1/session)" 200 "a session outlives a restart"
for i in 1 2 3 4 5; do
  expect_eq "$(code -X POST -d '{"name":"otto","password":"wrong-pass"}' $U/v1/login)" 401 "wrong password $i: 401"
done
expect_eq "$(body 'd["error"]["code"]')" invalid_login "a wrong password: invalid_login"
expect_eq "$(code -X POST -d '{"name":"otto","password":"wrong-pass"}' $U/v1/login)" 429 "the 6th attempt: 429"
expect_eq "$(body 'd["error"]["code"]')" throttled "429: code throttled"
expect_eq "$(grep -i '^retry-after:' "$TMP/headers" | tr -d '\r' | awk '{print $2}')" 1 "Retry-After: 1"
login otto operator-pass; expect_eq "$LOGIN_CODE" 429 "while throttled, even the right password waits"
expect_eq "$(code -X POST -d '{"name":"ada","password":"admin-pass-1"}' $U/v1/login)" 429 "the address is throttled too"
sleep 1.1
expect_eq "$(code -X POST -d '{"name":"otto","password":"wrong-pass"}' $U/v1/login)" 401 "after the wait, one more try"
expect_eq "$(code -X POST -d '{"name":"otto","password":"operator-pass"}' $U/v1/login)" 429 "... and the wait doubled"
expect_eq "$(grep -i '^retry-after:' "$TMP/headers" | tr -d '\r' | awk '{print $2}')" 2 "Retry-After: 2"
sleep 2.1
login otto operator-pass; expect_eq "$LOGIN_CODE" 200 "after the wait, the right password logs in"
expect_rc 0 "$ROOST" host list

# ---- expiry, unknown names: a roostd with --session-idle 3 --session-ttl 6 (whole seconds) ----
stop_server
start_server 2 --session-idle 3 --session-ttl 6
U=$ROOST_SERVER
login otto operator-pass; expect_eq "$LOGIN_CODE" 200 "login (idle limit 3 s)"
OS=$SESSION
sleep 1
expect_eq "$(as "$OS" - $U/v1/session)" 200 "used within the idle limit: live"
sleep 1
expect_eq "$(as "$OS" - $U/v1/session)" 200 "each request restarts the idle limit"
sleep 1
expect_eq "$(as "$OS" - $U/v1/session)" 200 "... again (3 s after login in all)"
sleep 4.2
expect_eq "$(as "$OS" - $U/v1/session)" 401 "idle beyond --session-idle: ended"
login otto operator-pass; expect_eq "$LOGIN_CODE" 200 "login (session limit 6 s)"
OS=$SESSION
expect_contains "$(grep -i '^set-cookie:' "$TMP/headers")" "Max-Age=6" "the cookie's Max-Age is --session-ttl"
LIVE=0
for i in 1 2 3 4 5 6 7 8 9; do
  sleep 1
  [[ $(as "$OS" - $U/v1/session) == 200 ]] || break
  LIVE=$i
done
(( LIVE >= 3 && LIVE <= 6 )) && ok "a session in use ends at --session-ttl (live for ${LIVE} s)" || bad "a session in use lived ${LIVE} s (--session-ttl 6)"
expect_eq "$(code -X POST -d '{"name":"nobody","password":"whatever1"}' $U/v1/login)" 401 "an unknown name: 401"
expect_eq "$(body 'd["error"]["code"]')" invalid_login "an unknown name: invalid_login"
T_UNKNOWN=$(curl -sk -o /dev/null -w '%{time_total}' -X POST -d '{"name":"nobody2","password":"whatever1"}' $U/v1/login)
T_KNOWN=$(curl -sk -o /dev/null -w '%{time_total}' -X POST -d '{"name":"ada","password":"whatever1"}' $U/v1/login)
expect_eq "$($PY -c "print($T_UNKNOWN >= 0.3 * $T_KNOWN)")" True "an unknown name takes Argon2id's time too ($T_UNKNOWN s vs $T_KNOWN s)"
# a burst of parallel guesses is not all checked before the first failures count
stop_server
start_server 2
U=$ROOST_SERVER
BURST=()
for i in $(seq 16); do
  curl -sk -o /dev/null -w '%{http_code}\n' -X POST -d '{"name":"otto","password":"guess-'$i'"}' $U/v1/login > "$TMP/burst.$i" &
  BURST+=($!)
done
wait "${BURST[@]}" # not roostd, also a child of this shell
N401=$(cat "$TMP"/burst.* | grep -c 401 || true); N429=$(cat "$TMP"/burst.* | grep -c 429 || true)
(( N401 + N429 == 16 )) && ok "a burst of 16 guesses: $N401 checked, $N429 throttled" || bad "burst: $(cat "$TMP"/burst.* | tr '\n' ' ')"
(( N401 <= 8 )) && ok "at most 8 of 16 parallel guesses were checked ($N401)" || bad "$N401 of 16 parallel guesses were checked"
finish
