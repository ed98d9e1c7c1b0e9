# SPDX-License-Identifier: MIT
# Helpers for fleet tests (sourced after lib.sh): a real roostd on a free
# 127.0.0.1 port, real agents in their own state directories, the admin
# client configured through ROOST_SERVER / ROOST_TOKEN / ROOST_FINGERPRINT.
PY=/usr/bin/python3
declare -A AGENT_PID=()

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
    --log-level debug "$@" >>"$TMP/server.out" 2>>"$TMP/server.log" &
  SPID=$!
  disown "$SPID"
  cleanup_hooks+=("kill -9 $SPID 2>/dev/null")
  export ROOST_SERVER="https://127.0.0.1:$SPORT"
  if ! wait_until 20 curl -skf "$ROOST_SERVER/v1/health"; then
    echo "roostd did not come up"; cat "$TMP/server.log"; return 1
  fi
  export ROOST_TOKEN=$(cat "$SDATA/admin.token")
  export ROOST_FINGERPRINT=$(cat "$SDATA/fingerprint")
}

# waits for a (disowned) process to exit
wait_pid() { while kill -0 "$1" 2>/dev/null; do sleep 0.05; done; }
stop_server() { kill -TERM "$SPID" 2>/dev/null || true; wait_pid "$SPID"; }

enroll() { # NAME MODE
  local tok
  tok=$("$ROOST" token create) || return 1
  "$ROOST_BIN/roost-agent" enroll --server "$ROOST_SERVER" --token "$tok" \
    --fingerprint "$ROOST_FINGERPRINT" --mode "$2" --hostname "$1" --state "$TMP/agent-$1" >/dev/null
}

start_agent() { # NAME [env assignments...]
  local name=$1; shift
  env TZ=UTC "$@" "$ROOST_BIN/roost-agent" run --state "$TMP/agent-$name" \
    >>"$TMP/agent-$name.out" 2>>"$TMP/agent-$name.log" &
  AGENT_PID[$name]=$!
  disown "${AGENT_PID[$name]}"
  cleanup_hooks+=("kill -9 ${AGENT_PID[$name]} 2>/dev/null")
}

stop_agent() { # NAME [SIGNAL]
  local pid=${AGENT_PID[$1]:-}
  [[ -n $pid ]] || return 0
  kill "-${2:-TERM}" "$pid" 2>/dev/null || true
  wait_pid "$pid"
  AGENT_PID[$1]=
}

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
