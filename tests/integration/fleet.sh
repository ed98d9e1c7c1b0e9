# SPDX-License-Identifier: MIT
# Helpers for fleet tests (sourced after lib.sh): a real roostd on a free
# 127.0.0.1 port, real agents in their own state directories, the admin
# client configured through ROOST_SERVER / ROOST_TOKEN / ROOST_FINGERPRINT.
#
# The harness owns its daemons: they are children of the test shell (not
# disowned), every stop is TERM then a bounded wait (DAEMON_STOP_S), and the
# exit status is checked: 0 after TERM, 137 after a deliberate KILL, anything
# else (a crash, a sanitizer abort, a leak report) fails the test. At finish
# every daemon still running is stopped the same way and every daemon log is
# scanned for ASan/LSan/UBSan/TSan reports, which fail the test and are shown.
PY=/usr/bin/python3
declare -A AGENT_PID=()
declare -A DAEMON_LABEL=() # pid -> "roostd" or "agent NAME", while it runs
DAEMON_STOP_S=${DAEMON_STOP_S:-30}
# Leak checking reaches the daemons whatever ctest was started with; a report
# aborts (the status check sees it) and lands in the daemon's log.
case ":${ASAN_OPTIONS:-}:" in *:detect_leaks=1:*) ;; *) ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1" ;; esac
case ":$ASAN_OPTIONS:" in *:abort_on_error=*) ;; *) ASAN_OPTIONS="$ASAN_OPTIONS:abort_on_error=1" ;; esac
export ASAN_OPTIONS
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
SANITIZER_RE='ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer)|WARNING: ThreadSanitizer|runtime error:|SUMMARY: [A-Za-z]*Sanitizer'

daemon_started() { # PID LABEL
  DAEMON_LABEL[$1]=$2
  cleanup_hooks+=("kill -9 $1 2>/dev/null")
}

# stop_daemon PID [SIGNAL]: signals the daemon, waits at most DAEMON_STOP_S for
# it to exit and checks how it ended. Returns 1 (and records a failure) when it
# did not end the way the signal asks for.
stop_daemon() {
  local pid=$1 sig=${2:-TERM} label=${DAEMON_LABEL[$1]:-pid $1} rc want
  [[ -n ${DAEMON_LABEL[$1]:-} ]] || return 0
  unset "DAEMON_LABEL[$pid]"
  want=0; [[ $sig == KILL ]] && want=137
  if ! kill "-$sig" "$pid" 2>/dev/null; then
    set +e; wait "$pid"; rc=$?; set -e
    bad "$label had already exited (status $rc) before SIG$sig"
    daemon_log_tail "$label"
    return 1
  fi
  local end=$(( $(date +%s) + DAEMON_STOP_S ))
  while kill -0 "$pid" 2>/dev/null && (( $(date +%s) < end )); do sleep 0.05; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -ABRT "$pid" 2>/dev/null || true
    sleep 1
    kill -9 "$pid" 2>/dev/null || true
    set +e; wait "$pid"; set -e
    bad "$label did not exit within ${DAEMON_STOP_S}s of SIG$sig"
    daemon_log_tail "$label"
    return 1
  fi
  set +e; wait "$pid"; rc=$?; set -e
  if [[ $rc -ne $want ]]; then
    bad "$label exited with status $rc after SIG$sig (want $want)"
    daemon_log_tail "$label"
    return 1
  fi
  return 0
}

daemon_log_tail() { # LABEL
  local f
  case $1 in roostd) f=$TMP/server.log ;; "roostd "*) f=$TMP/server-${1#roostd }.log ;; "agent "*) f=$TMP/agent-${1#agent }.log ;; *) return 0 ;; esac
  [[ -f $f ]] && { echo "# last lines of $f:"; tail -25 "$f" | sed 's/^/#   /'; }
  return 0
}

# Every report of a sanitizer in any daemon log fails the test, with the report.
scan_sanitizer_logs() {
  local f found=0
  for f in "$TMP"/server*.log "$TMP"/server*.out "$TMP"/agent-*.log "$TMP"/agent-*.out "$TMP"/extra-*.log; do
    [[ -f $f ]] || continue
    if grep -Eq "$SANITIZER_RE" "$f"; then
      found=1
      bad "sanitizer report in $(basename "$f")"
      grep -En -m1 "$SANITIZER_RE" "$f" | sed 's/^/# /'
      awk -v re="$SANITIZER_RE" '$0 ~ re {on=1} on {print "#   " $0; if (++n >= 80) exit}' "$f"
    fi
  done
  [[ $found -eq 0 ]] && ok "no sanitizer report in any daemon log"
  return 0
}

# at finish: every daemon still running is stopped gracefully, then the logs are read
FLEET_FINISHED=0
fleet_finish() {
  local pid
  FLEET_FINISHED=1
  for pid in "${!DAEMON_LABEL[@]}"; do stop_daemon "$pid" TERM || true; done
  scan_sanitizer_logs
}
finish_hooks+=(fleet_finish)
# a test that ends early (set -e) never reaches finish: its daemon logs are still shown
cleanup_hooks+=('[[ $FLEET_FINISHED == 1 ]] || { echo "# the test ended early; sanitizer reports in the daemon logs:"; scan_sanitizer_logs; }')

free_port() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# wait_until SECONDS CMD... : polls CMD every 0.1 s; 0 once it succeeds, 1 on timeout
wait_until() {
  local limit=$1; shift
  local end=$(( $(date +%s%N) + limit * 1000000000 ))
  while (( $(date +%s%N) < end )); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}

# jq-like: json_get 'EXPR' <<< JSON, EXPR is Python over `d`
json_get() { $PY -c "import json,sys; d=json.load(sys.stdin); r=($1); print(json.dumps(r) if isinstance(r,(dict,list,bool)) or r is None else r)"; }

start_server() { # [SETTLE] [extra args]
  local settle=${1:-2}; shift || true
  SDATA=${SDATA:-$TMP/server}
  SPORT=${SPORT:-$(free_port)}
  "$ROOST_BIN/roostd" --data "$SDATA" --listen "127.0.0.1:$SPORT" --catchup-settle "$settle" \
    --log-level debug ${ROOST_TEST_DB:+--db "$ROOST_TEST_DB"} "$@" >>"$TMP/server.out" 2>>"$TMP/server.log" &
  SPID=$!
  daemon_started "$SPID" roostd
  export ROOST_SERVER="https://127.0.0.1:$SPORT"
  if ! wait_until 20 curl -skf "$ROOST_SERVER/v1/health"; then
    echo "roostd did not come up"; cat "$TMP/server.log"; return 1
  fi
  export ROOST_TOKEN=$(cat "$SDATA/admin.token")
  export ROOST_FINGERPRINT=$(cat "$SDATA/fingerprint")
}

# stop_server [SIGNAL]: TERM (default) must end roostd with status 0; KILL is a crash on purpose
stop_server() { stop_daemon "$SPID" "${1:-TERM}" || true; }

enroll() { # NAME MODE [more roost-agent enroll options, e.g. --allow-hooks]
  local tok
  tok=$("$ROOST" token create) || return 1
  "$ROOST_BIN/roost-agent" enroll --server "$ROOST_SERVER" --token "$tok" \
    --fingerprint "$ROOST_FINGERPRINT" --mode "$2" --hostname "$1" --state "$TMP/agent-$1" \
    "${@:3}" >/dev/null
}

start_agent() { # NAME [env assignments...]
  local name=$1; shift
  env TZ=UTC "$@" "$ROOST_BIN/roost-agent" run --state "$TMP/agent-$name" \
    >>"$TMP/agent-$name.out" 2>>"$TMP/agent-$name.log" &
  AGENT_PID[$name]=$!
  daemon_started "${AGENT_PID[$name]}" "agent $name"
}

stop_agent() { # NAME [SIGNAL]: as stop_server
  local pid=${AGENT_PID[$1]:-}
  [[ -n $pid ]] || return 0
  AGENT_PID[$1]=
  stop_daemon "$pid" "${2:-TERM}" || true
}

# an object upload is in flight: roostd is writing a temporary in its repository
# (its local backend writes tmp/PID-..., then links it into place)
upload_in_flight() { [[ -n $(find "$SDATA/repo/tmp" -type f -name "$SPID-*" -size +0 2>/dev/null | head -1) ]]; }

host_online() { [[ $("$ROOST" host show "$1" --json | json_get 'd["online"]') == true ]]; }
host_offline() { ! host_online "$1"; }
# jobs of a host as JSON (newest first)
jobs_json() { "$ROOST" job list --host "$1" --json; }
job_status() { "$ROOST" job show "$1" --json | json_get 'd["status"]'; }
job_is() { [[ $(job_status "$1") == "$2" ]]; }
count_jobs() { # HOST PYTHON-CONDITION-over-j
  jobs_json "$1" | json_get "len([j for j in d if $2])"
}
# a cron expression (with seconds) that fires once, at epoch second T (UTC)
cron_at() { $PY -c "import time,sys; t=time.gmtime(int(sys.argv[1])); print(f'{t.tm_sec} {t.tm_min} {t.tm_hour} {t.tm_mday} {t.tm_mon} *')" "$1"; }
# for wait_until: at least N jobs of HOST match the condition
jobs_at_least() { (( $(count_jobs "$1" "$3") >= $2 )); }
