#!/bin/bash
# SPDX-License-Identifier: MIT
# roostd's connection budgets (issue 16): slow request bodies are cut off by
# the minimum rate while other clients keep getting answers within a second;
# at a low descriptor limit a flood of connections pauses accepting (no
# busy loop, a bounded log), what is open keeps being served, and health
# answers once the flood stops; connections per address are capped.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"
H="$PY $ROOST_SRC/tests/integration/hostile.py"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# 1. slow bodies: 1 byte a second against a minimum of 100 B/s over 2 s
start_server 2 --body-timeout 2 --body-min-rate 100 --max-conns-per-addr 0
$H slowbody "$SPORT" 40 15 > "$TMP/slow.out" &
SLOW=$!
sleep 1
PROBE=$($H probe "$SPORT" 6)
wait "$SLOW"
SL=$(cat "$TMP/slow.out")
expect_eq "${SL%% *}" "closed=40" "every slow body is cut off ($SL)"
expect_eq "$($PY -c "import sys; print(float(sys.argv[1].split('max_s=')[1]) < 10)" "$SL")" True \
  "within a few seconds, not when the client gives up ($SL)"
expect_contains "$PROBE" "fail=0" "other clients are answered meanwhile ($PROBE)"
expect_eq "$($PY -c "import sys; print(int(sys.argv[1].split('max_ms=')[1]) < 1000)" "$PROBE")" True \
  "each within a second ($PROBE)"
expect_contains "$(cat "$TMP/server.log")" "event=http.slow_body" "slow bodies are logged"
N=$(grep -c "event=http.slow_body" "$TMP/server.log" || true)
(( N <= 10 )) && ok "rate-limited: $N slow_body lines for 40 peers" || bad "$N slow_body lines"
stop_server

# 2. a descriptor limit of 256 (160 connections after the reserve) and a flood of 400
SPORT=$(free_port)
: > "$TMP/extra-server2.log"
bash -c 'ulimit -n 256 && exec "$@"' _ "$ROOST_BIN/roostd" --data "$SDATA" --listen "127.0.0.1:$SPORT" \
  --header-timeout 3 --max-conns-per-addr 0 >>"$TMP/server.out" 2>>"$TMP/extra-server2.log" &
SPID=$!
daemon_started "$SPID" roostd
export ROOST_SERVER="https://127.0.0.1:$SPORT"
wait_until 20 curl -skf "$ROOST_SERVER/v1/health" || bad "roostd did not come up under ulimit -n 256"
expect_contains "$(cat "$TMP/extra-server2.log")" "nofile=256" "roostd sees the limit"
$H keepalive "$SPORT" 14 > "$TMP/ka.out" &
KA=$!
sleep 1
LINES0=$(wc -l < "$TMP/extra-server2.log")
$H flood "$SPORT" 400 8 > "$TMP/flood.out" &
FLOOD=$!
wait_until 10 grep -q opened "$TMP/flood.out" || true
sleep 1
T0=$(cpu_ticks "$SPID"); sleep 3; T1=$(cpu_ticks "$SPID")
(( T1 - T0 < 150 )) && ok "no busy loop at the limit ($((T1 - T0)) ticks of CPU in 3 s)" \
  || bad "roostd spins at the limit: $((T1 - T0)) ticks in 3 s"
expect_contains "$(cat "$TMP/extra-server2.log")" "event=net.saturated" "the pause is logged"
wait "$FLOOD"
wait_until 5 curl -skf -m 2 "$ROOST_SERVER/v1/health" && ok "health answers once the flood stops" \
  || bad "health does not answer after the flood"
wait "$KA"
expect_contains "$(cat "$TMP/ka.out")" "fail=0" "an open connection is served through the flood ($(cat "$TMP/ka.out"))"
LINES=$(( $(wc -l < "$TMP/extra-server2.log") - LINES0 ))
(( LINES < 60 )) && ok "the log stays bounded: $LINES lines" || bad "log flood: $LINES lines"
stop_server

# 3. per address: at most 20 connections at once from 127.0.0.1
SPORT=$(free_port)
start_server 2 --max-conns-per-addr 20
PA=$($H peraddr "$SPORT" 40)
N=${PA#refused=}
(( N >= 15 && N <= 25 )) && ok "connections beyond 20 from one address refused ($PA)" || bad "per-address limit: $PA"
wait_until 5 curl -skf "$ROOST_SERVER/v1/health" && ok "served again once they close" || bad "health after per-address refusals"
# closed connections no longer count: 60 in a row, one at a time, all served
SEQ=0
for i in $(seq 60); do curl -skf -o /dev/null "$ROOST_SERVER/v1/health" && SEQ=$((SEQ + 1)); done
expect_eq "$SEQ" 60 "60 connections one after another from one address, all served (limit 20)"
expect_contains "$(cat "$TMP/server.log")" "why=per_address_limit" "refusals are logged"
stop_server

# 4. the event loop and the descriptor limit (issue 17): the soft limit is
# raised to the hard one at start; poll by default, libuv on request; a
# SIGTERM ends either with status 0 (stop_server checks it)
SPORT=$(free_port)
: > "$TMP/extra-server4.log"
HARD=$(ulimit -Hn); [[ $HARD == unlimited ]] || (( HARD > 3000 )) && HARD=3000
bash -c 'ulimit -Sn 300 && ulimit -Hn "$0" && exec "$@"' "$HARD" "$ROOST_BIN/roostd" --data "$SDATA" \
  --listen "127.0.0.1:$SPORT" >>"$TMP/server.out" 2>>"$TMP/extra-server4.log" &
SPID=$!
daemon_started "$SPID" roostd
wait_until 20 curl -skf "https://127.0.0.1:$SPORT/v1/health" || bad "roostd did not come up (soft limit 300)"
expect_contains "$(cat "$TMP/extra-server4.log")" "nofile=$HARD" "the soft descriptor limit (300) is raised to the hard limit ($HARD)"
expect_eq "$(awk '/Max open files/ {print $4}' "/proc/$SPID/limits")" "$HARD" "the process runs with the hard limit"
expect_contains "$(cat "$TMP/extra-server4.log")" "event_loop=poll" "libwebsockets' own poll() loop is the default"
stop_server
SPORT=$(free_port)
start_server 2 --event-loop libuv
expect_contains "$(cat "$TMP/server.log")" "event_loop=libuv" "--event-loop libuv runs lws on a libuv loop"
stop_server
expect_rc 2 "$ROOST_BIN/roostd" --data "$SDATA" --event-loop select

# 5. at most 1024 handshakes under way (issue 17): a fleet reconnecting at
# once must not start more TLS handshakes than finish before their deadline;
# beyond, roostd stops accepting and new connections wait in the listen
# queue (not closed: a client that connects meanwhile is served once those
# under way are done, without connecting again)
if [[ $(ulimit -Hn) == unlimited ]] || (( $(ulimit -Hn) >= 4096 )); then
  SPORT=$(free_port)
  # a handshake deadline beyond the flood's life: the pause lasts until it closes
  start_server 2 --max-conns-per-addr 0 --header-timeout 30
  bash -c 'ulimit -Sn "$(ulimit -Hn)" && exec "$@"' _ $H flood "$SPORT" 1200 5 > "$TMP/flood5.out" &
  FL=$!
  wait_until 15 grep -q opened "$TMP/flood5.out" || true
  expect_contains "$(cat "$TMP/flood5.out")" "opened=1200" "1200 connections that never start TLS"
  wait_until 5 grep -q "event=net.accept_paused" "$TMP/server.log" \
    && ok "at 1024 handshakes under way accepting pauses" || bad "no net.accept_paused with 1200 handshakes under way"
  # connects while accepting is paused: waits in the queue, then is answered
  T0=$(date +%s)
  curl -sk -m 20 -o /dev/null -w '%{http_code}' "$ROOST_SERVER/v1/health" > "$TMP/waited.out" 2>/dev/null &
  CW=$!
  sleep 1
  expect_eq "$(cat "$TMP/waited.out")" "" "a connection made while paused is not closed (it waits)"
  wait "$CW"
  expect_eq "$(cat "$TMP/waited.out")" 200 "it is answered once the handshakes under way are done ($(( $(date +%s) - T0 )) s)"
  N=$(grep -c "event=net.shed" "$TMP/server.log" || true)
  expect_eq "$N" 0 "nothing is shed while accepting is paused"
  N=$(grep -c "event=net.accept_paused" "$TMP/server.log" || true)
  (( N <= 10 )) && ok "the pause is logged a bounded number of times ($N lines)" || bad "$N net.accept_paused lines"
  wait "$FL"
  wait_until 5 curl -skf -m 2 "$ROOST_SERVER/v1/health" && ok "served again once they close" \
    || bad "health does not answer after the handshake flood"
  stop_server
else
  echo "# part 5 skipped: hard descriptor limit $(ulimit -Hn) < 4096"
fi
finish
