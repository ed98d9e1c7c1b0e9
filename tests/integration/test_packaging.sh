#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What the README calls tested end to end besides the fleet scenarios:
#  - `make demo` (scripts/demo.sh, as the Makefile runs it) in a temporary
#    directory on a free port with a short schedule: the demo's backup
#    succeeds, the schedule fires on its own, then `make demo-stop` stops
#    server and agent gracefully, and their logs hold no sanitizer report;
#    the dashboard address and login it prints work;
#  - the systemd units pass `systemd-analyze verify` without a message
#    (ExecStart pointed at the built binaries, the only change).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"

# --- make demo / make demo-stop
DEMO=$TMP/demo
port=$(free_port)
cleanup_hooks+=("'$ROOST_SRC/scripts/demo-stop.sh' '$DEMO' >/dev/null 2>&1")
set +e
DEMO=$DEMO BIN=$ROOST_BIN ROOST_DEMO_PORT=$port ROOST_DEMO_CRON='*/5 * * * * *' \
  "$ROOST_SRC/scripts/demo.sh" >"$TMP/demo.out" 2>&1
rc=$?
set -e
expect_eq "$rc" 0 "make demo's script runs to its end :: $(tail -5 "$TMP/demo.out")"
out=$(cat "$TMP/demo.out")
expect_contains "$out" "demo-host" "the demo shows its host"
expect_contains "$out" "export ROOST_SERVER=https://127.0.0.1:$port" "and how to point the admin commands at it"
export ROOST_SERVER=https://127.0.0.1:$port
export ROOST_TOKEN=$(cat "$DEMO/server/admin.token")
export ROOST_FINGERPRINT=$(cat "$DEMO/server/fingerprint")
expect_rc 0 "$ROOST" snapshot list --host demo-host --json
expect_eq "$(echo "$OUT" | json_get 'len(d) >= 1')" true "the demo's backup made a snapshot"
wait_until 30 jobs_at_least demo-host 1 "j['trigger']=='schedule' and j['status']=='succeeded'" \
  && ok "the demo's schedule fired on its own and its backup succeeded" || bad "no scheduled demo backup: $(jobs_json demo-host)"
expect_contains "$out" "https://127.0.0.1:$port/ui/" "the demo prints the dashboard's address"
pw=$(cat "$DEMO/dashboard.password")
expect_contains "$out" "log in as admin, password $pw" "and a login for it"
code=$(curl -sk -o "$TMP/demo-login.json" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data "{\"name\":\"admin\",\"password\":\"$pw\"}" "https://127.0.0.1:$port/v1/login")
expect_eq "$code" 200 "the printed login logs in :: $(cat "$TMP/demo-login.json")"
code=$(curl -sk -o "$TMP/demo-ui.html" -w '%{http_code}' "https://127.0.0.1:$port/ui/")
expect_eq "$code" 200 "the dashboard's page is served"
expect_rc 0 "$ROOST" repo check -r "$DEMO/server/repo" --password-file "$DEMO/server/repo.password"
spid=$(cat "$DEMO/roostd.pid"); apid=$(cat "$DEMO/agent.pid")
expect_rc 0 make -s -C "$ROOST_SRC" demo-stop DEMO="$DEMO"
expect_contains "$OUT" "stopped agent" "demo-stop stopped the agent"
expect_contains "$OUT" "stopped roostd" "and the server"
kill -0 "$spid" 2>/dev/null && bad "roostd still running" || ok "roostd is gone"
kill -0 "$apid" 2>/dev/null && bad "the agent still running" || ok "the agent is gone"
expect_contains "$(cat "$DEMO/roostd.log")" "event=roostd.stop why=signal" "roostd stopped gracefully"
expect_contains "$(cat "$DEMO/agent.log")" "event=agent.stop why=signal" "the agent stopped gracefully"
[[ ! -e $DEMO/roostd.pid && ! -e $DEMO/agent.pid ]] && ok "pid files removed" || bad "pid files left"
for f in "$DEMO"/*.log "$DEMO"/*.out; do cp "$f" "$TMP/extra-demo-$(basename "$f").log"; done

# --- systemd units
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$TMP/units"
  for u in "$ROOST_SRC"/packaging/systemd/*.service; do
    sed "s|/usr/local/bin/|$ROOST_BIN/|" "$u" > "$TMP/units/$(basename "$u")"
  done
  set +e
  msg=$(cd "$TMP/units" && systemd-analyze verify ./*.service 2>&1)
  rc=$?
  set -e
  expect_eq "$rc/$msg" "0/" "systemd-analyze verify: the units are valid, without a warning"
  expect_eq "$(ls "$TMP/units" | wc -l)" 2 "both units (roostd, roost-agent) verified"
else
  skip "systemd units verified" "systemd-analyze missing (scripts/deps.sh installs systemd)"
fi
finish
