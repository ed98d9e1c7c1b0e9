# SPDX-License-Identifier: MIT
# Helpers for the two-instance suite (make check-scale; issue 14): sourced
# after lib.sh and fleet.sh, under tests/pg/with_pg.sh (ROOST_TEST_PG). One
# throwaway PostgreSQL cluster, one s3rver behind the SigV4 check
# (tests/integration/s3.sh), and roostd instances A and B on two ports with
# one certificate, admin token and repository password (B's data directory
# gets A's secrets), the same --db and --repo: one fleet.
#   inst_start X [roostd args]   start instance X (A first: it makes the repository)
#   inst_stop X [SIGNAL]         TERM must end it with 0; KILL is a crash on purpose
#   on X CMD...                  run an admin command against instance X
#   enroll_on NAME MODE X [Y..]  enroll an agent whose --server list is X, Y...
#   agent_on NAME                the instance the agent is connected to now (A, B or -)
#   pgq SQL                      one query on the shared store, unaligned
source "$ROOST_SRC/tests/integration/s3.sh"
declare -A IPORT=() IPID=() URL=()
SCALE_REPO=
SCALE_SETTLE=${SCALE_SETTLE:-2}
# short instance lifetimes, so that deaths are seen in seconds, not minutes
export ROOSTD_HEARTBEAT_S=${ROOSTD_HEARTBEAT_S:-1}
export ROOSTD_INSTANCE_TTL_S=${ROOSTD_INSTANCE_TTL_S:-5}
export ROOSTD_LEASE_TTL_S=${ROOSTD_LEASE_TTL_S:-5}

pgq() { psql "$ROOST_TEST_PG" -qAtc "$1" 2>>"$TMP/psql.err" || { echo "psql failed: $(tail -1 "$TMP/psql.err")" >&2; echo ERR; }; }

scale_setup() { # the shared store and repository
  [[ -n ${ROOST_TEST_PG:-} ]] || { bad "no ROOST_TEST_PG (run under tests/pg/with_pg.sh)"; return 1; }
  s3_start roost-scale || return 1
  SCALE_REPO="s3:$EP/roost-scale/repo"
}

inst_start() { # X [roostd args]
  local x=$1; shift
  local d=$TMP/inst-$x
  [[ -n ${IPORT[$x]:-} ]] || IPORT[$x]=$(free_port)
  if [[ $x != A && ! -e $d/admin.token ]]; then
    mkdir -p "$d"
    cp "$TMP/inst-A/"{tls-cert.pem,tls-key.pem,admin.token,metrics.token,repo.password} "$d/"
  fi
  "$ROOST_BIN/roostd" --data "$d" --listen "127.0.0.1:${IPORT[$x]}" --db "$ROOST_TEST_PG" \
    --repo "$SCALE_REPO" --catchup-settle "$SCALE_SETTLE" --log-level debug "$@" \
    >>"$TMP/server-$x.out" 2>>"$TMP/server-$x.log" &
  IPID[$x]=$!
  daemon_started "${IPID[$x]}" "roostd $x"
  URL[$x]=https://127.0.0.1:${IPORT[$x]}
  if ! wait_until 30 curl -skf "${URL[$x]}/v1/health"; then
    bad "instance $x did not come up"
    tail -20 "$TMP/server-$x.log" | sed 's/^/#   /'
    return 1
  fi
  if [[ $x == A ]]; then
    export ROOST_TOKEN=$(cat "$d/admin.token") ROOST_FINGERPRINT=$(cat "$d/fingerprint")
    export ROOST_SERVER=${URL[A]}
  fi
}

inst_stop() { stop_daemon "${IPID[$1]}" "${2:-TERM}" || true; }

on() { local x=$1; shift; ROOST_SERVER=${URL[$x]} "$@"; }

enroll_on() { # NAME MODE X [Y...]
  local name=$1 mode=$2 tok x; shift 2
  local servers=()
  for x in "$@"; do servers+=(--server "${URL[$x]:-$x}"); done
  tok=$(on "$1" "$ROOST" token create) || return 1
  "$ROOST_BIN/roost-agent" enroll "${servers[@]}" --token "$tok" --fingerprint "$ROOST_FINGERPRINT" \
    --mode "$mode" --hostname "$name" --state "$TMP/agent-$name" >/dev/null
}

agent_on() { # NAME -> A, B or - (from the agent's own log: its last connection)
  local line x
  line=$(grep -E 'event=agent\.(connected|disconnected|reconnect)' "$TMP/agent-$1.log" 2>/dev/null | tail -1)
  if [[ $line == *event=agent.connected* ]]; then
    line=$(sed -n 's/.*server="\{0,1\}\([^" ]*\).*/\1/p' <<<"$line")
    for x in "${!URL[@]}"; do
      [[ $line == "${URL[$x]}" ]] && { echo "$x"; return 0; }
    done
  fi
  echo -
}

# for wait_until: the agent is connected to instance X, and instance Y (default
# X) says the host is online
agent_is_on() { # NAME X [Y]
  [[ $(agent_on "$1") == "$2" ]] &&
    [[ $(on "${3:-$2}" "$ROOST" host show "$1" --json | json_get 'd["online"]') == true ]]
}

# a forwarder in front of instance X; killing it cuts every connection through it
fwd_start() { # X -> FWD_PORT, FWD_PID
  $PY "$ROOST_SRC/tests/scale/tcpfwd.py" --upstream "127.0.0.1:${IPORT[$1]}" >"$TMP/fwd-$1.port" &
  FWD_PID=$!
  cleanup_hooks+=("kill $FWD_PID 2>/dev/null")
  for _ in $(seq 1 100); do [[ -s $TMP/fwd-$1.port ]] && break; sleep 0.05; done
  FWD_PORT=$(cat "$TMP/fwd-$1.port")
  [[ -n $FWD_PORT ]] || { bad "tcpfwd did not start"; return 1; }
}

# a source tree of some size and variety
make_tree() { # DIR SEED
  mkdir -p "$1/sub"
  head -c 1500000 /dev/urandom >"$1/big"
  seq "$2" 100000 >"$1/sub/text"
  for i in $(seq 1 20); do echo "file $i $2" >"$1/sub/f$i"; done
}
