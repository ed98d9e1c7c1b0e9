#!/bin/bash
# SPDX-License-Identifier: MIT
# The web dashboard (docs/dashboard.md) in a real browser: roostd, two real
# agents, three users (admin, operator, viewer) made with `roost user add`;
# tests/browser/dashboard.mjs drives Debian's chromium through playwright-core
# (login, the fleet and its health, a backup followed live to "succeeded",
# browsing a snapshot, a download compared byte for byte, a restore compared
# on disk, what a viewer sees and may do, CSRF, login throttling, the cron
# preview) and writes screenshots of every page into $ROOST_SHOTS.
# Before it, the static files' HTTP answers are checked with curl.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"

CHROMIUM=${ROOST_CHROMIUM:-/usr/bin/chromium}
if ! command -v node >/dev/null || [[ ! -x $CHROMIUM ]]; then
  bad "node and $CHROMIUM are needed (scripts/deps.sh installs them)"
  finish
  exit 1
fi
if ! "$ROOST_SRC/scripts/browser-deps.sh"; then
  bad "tests/browser's packages could not be installed (scripts/browser-deps.sh)"
  finish
  exit 1
fi

start_server 2
U=$ROOST_SERVER

# ---- the static files over HTTP ----
hdrs() { curl -sk -D - -o "$TMP/body" "$@"; }
H=$(hdrs "$U/")
expect_contains "$H" "HTTP/1.1 302" "GET / redirects"
expect_contains "$H" "location: /ui/" "... to /ui/"
H=$(hdrs "$U/ui/")
expect_contains "$H" "HTTP/1.1 200" "GET /ui/ answers"
expect_contains "$H" "content-type: text/html" "index.html is HTML"
expect_contains "$H" "content-security-policy: default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'" "CSP header"
expect_contains "$H" "x-content-type-options: nosniff" "nosniff header"
expect_contains "$H" "referrer-policy: no-referrer" "no-referrer header"
expect_contains "$H" "cache-control: no-cache" "no-cache header"
expect_contains "$(cat "$TMP/body")" '<script type="module" src="/ui/js/app.js">' "index.html loads the app as a module"
ETAG=$(grep -i '^etag:' <<<"$H" | cut -d' ' -f2 | tr -d '\r')
[[ $ETAG =~ ^\"[0-9a-f]{32}\"$ ]] && ok "a strong ETag ($ETAG)" || bad "ETag: '$ETAG'"
expect_eq "$(curl -sk -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG" "$U/ui/")" 304 "If-None-Match with the ETag: 304"
expect_eq "$(curl -sk -o /dev/null -w '%{http_code}' -H 'If-None-Match: "0000"' "$U/ui/")" 200 "another ETag: 200"
H=$(hdrs "$U/ui/hosts/7/snapshots/abc")
expect_contains "$(cat "$TMP/body")" '<main id="main">' "a page path answers index.html"
H=$(hdrs "$U/ui/js/app.js")
expect_contains "$H" "content-type: text/javascript" "a module is JavaScript"
H=$(hdrs "$U/ui/style.css")
expect_contains "$H" "content-type: text/css" "the style sheet is CSS"
H=$(curl -sk -I "$U/ui/style.css")
expect_contains "$H" "HTTP/1.1 200" "HEAD answers"
expect_eq "$(curl -sk -o /dev/null -w '%{http_code}' -X POST -d '{}' "$U/ui/")" 405 "POST to /ui/: 405"
expect_eq "$(curl -sk --path-as-is -o /dev/null -w '%{http_code}' "$U/ui/../admin.token")" 404 "no way out of /ui/ (..)"
expect_eq "$(curl -sk --path-as-is -o /dev/null -w '%{http_code}' "$U/ui/%2e%2e/%2e%2e/etc/passwd")" 404 "no way out of /ui/ (%2e%2e)"
H=$(hdrs --path-as-is "$U/ui/js/../../admin.token")
[[ $(cat "$TMP/body") != *"$ROOST_TOKEN"* ]] && ok "the admin token is never served" || bad "the admin token was served"

# ---- --ui-dir: files from a directory, through a checked name only ----
UD=$TMP/uidir
mkdir -p "$UD/js"
echo '<p>dev index</p>' > "$UD/index.html"
echo 'export const x = 1;' > "$UD/js/a.js"
echo 'not for the web' > "$UD/.hidden.js"
ln -s "$SDATA/admin.token" "$UD/js/token.js"
P2=$(free_port)
"$ROOST_BIN/roostd" --data "$TMP/server2" --listen "127.0.0.1:$P2" --ui-dir "$UD" \
  >>"$TMP/server2.out" 2>>"$TMP/server2.log" &
daemon_started $! "roostd --ui-dir"
U2=https://127.0.0.1:$P2
wait_until 20 curl -skf "$U2/v1/health" || bad "roostd --ui-dir did not come up"
H=$(hdrs "$U2/ui/js/a.js")
expect_eq "$(cat "$TMP/body")" 'export const x = 1;' "--ui-dir serves a file of the directory"
expect_contains "$H" "content-type: text/javascript" "... with its type"
ETAG2=$(grep -i '^etag:' <<<"$H" | cut -d' ' -f2 | tr -d '\r')
expect_eq "$(curl -sk -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG2" "$U2/ui/js/a.js")" 304 "--ui-dir: 304 for its ETag"
echo 'export const x = 2;' > "$UD/js/a.js"
expect_eq "$(curl -sk -o /dev/null -w '%{http_code}' -H "If-None-Match: $ETAG2" "$U2/ui/js/a.js")" 200 "--ui-dir: a changed file has a new ETag"
curl -sk -o "$TMP/body" "$U2/ui/js/token.js"
expect_eq "$(cat "$TMP/body")" '<p>dev index</p>' "--ui-dir: a symbolic link is not followed (index.html instead)"
curl -sk -o "$TMP/body" "$U2/ui/.hidden.js"
expect_eq "$(cat "$TMP/body")" '<p>dev index</p>' "--ui-dir: a dot file is not served"
curl -sk -o "$TMP/body" "$U2/ui/hosts/3"
expect_eq "$(cat "$TMP/body")" '<p>dev index</p>' "--ui-dir: a page path answers index.html"

# ---- a fleet of two ----
SRC=$TMP/src-alpha
mkdir -p "$SRC/sub/deeper" "$SRC/many" "$TMP/src-beta"
head -c 24000000 /dev/urandom > "$SRC/data.bin"
for i in $(seq 1 40); do echo "file $i of sub" > "$SRC/sub/f$i.txt"; done
head -c 300000 /dev/urandom > "$SRC/sub/deeper/blob.bin"
ln -s ../data.bin "$SRC/sub/link"
for i in $(seq 1 300); do echo "$i" > "$SRC/many/n$(printf %04d "$i")"; done
echo "a name that is markup" > "$SRC/<img src=x onerror=window.__xss=1>.txt"
echo beta > "$TMP/src-beta/b.txt"
enroll alpha always-on
enroll beta intermittent
start_agent alpha
start_agent beta
wait_until 20 host_online alpha && wait_until 20 host_online beta && ok "both agents online" || bad "agents not online"
expect_rc 0 "$ROOST" group add alpha src --path "$SRC"
expect_rc 0 "$ROOST" group add beta src --path "$TMP/src-beta"
expect_rc 0 "$ROOST" schedule add alpha nightly --cron '0 3 * * *' --group src
expect_rc 0 "$ROOST" schedule add beta hourly --cron '0 * * * *' --group src

# a first snapshot of alpha to browse (the page makes the second one)
J=$("$ROOST" backup alpha --group src)
expect_rc 0 "$ROOST" job wait "$J"

# ---- users ----
printf 'admin-pass-1\n' > "$TMP/pw-admin"
printf 'operator-pass-1\n' > "$TMP/pw-operator"
printf 'viewer-pass-1\n' > "$TMP/pw-viewer"
expect_rc 0 "$ROOST" user add ada --role admin --password-file "$TMP/pw-admin"
expect_rc 0 "$ROOST" user add otto --role operator --password-file "$TMP/pw-operator"
expect_rc 0 "$ROOST" user add vera --role viewer --password-file "$TMP/pw-viewer"

ROOST_SHOTS=${ROOST_SHOTS:-$TMP/shots}
mkdir -p "$ROOST_SHOTS"
export ROOST_SHOTS
set +e
env ROOST_URL="$U" ROOST_CHROMIUM="$CHROMIUM" TMP="$TMP" SRC="$SRC" \
  HOSTS_JSON="$("$ROOST" host list --json)" \
  USERS="ada:admin-pass-1 otto:operator-pass-1 vera:viewer-pass-1" \
  TREECMP="$ROOST_SRC/tests/integration/treecmp.py" \
  node "$ROOST_SRC/tests/browser/dashboard.mjs" > "$TMP/browser.out" 2>&1
rc=$?
set -e
cat "$TMP/browser.out"
while IFS= read -r line; do
  case $line in
    "ok - "*) PASS=$((PASS + 1)) ;;
    "not ok - "*) FAIL=$((FAIL + 1)) ;;
  esac
done < "$TMP/browser.out"
if [[ $rc -ne 0 ]] && ! grep -q '^not ok - ' "$TMP/browser.out"; then bad "dashboard.mjs exited with $rc"; fi
echo "# screenshots in $ROOST_SHOTS"
finish
