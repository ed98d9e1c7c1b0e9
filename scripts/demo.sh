#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make demo`: a roost fleet of one on this machine. Starts roostd on its
# embedded defaults (SQLite store, local repository, self-signed TLS) in
# DEMO (default demo-data/), enrolls a local agent, gives it a source group
# and a schedule, runs a backup and shows what the server knows. Server and
# agent keep running in the background; `make demo-stop` stops them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
DEMO=${DEMO:-demo-data}
PORT=${ROOST_DEMO_PORT:-8443}
# the demo schedule (tests use a short one, e.g. '*/5 * * * * *')
CRON=${ROOST_DEMO_CRON:-0 * * * *}
BIN=${BIN:-build/bin}
demo=$(realpath -m "$DEMO")

"$root/scripts/demo-stop.sh" "$DEMO" >/dev/null 2>&1 || true
if curl -sk "https://127.0.0.1:$PORT/v1/health" >/dev/null 2>&1; then
  echo "demo: something already listens on 127.0.0.1:$PORT; set ROOST_DEMO_PORT to another port" >&2
  exit 1
fi
rm -rf "$demo"
mkdir -p "$demo"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "starting roostd on https://127.0.0.1:$PORT (data in $DEMO/server)"
nohup "$BIN/roostd" --data "$demo/server" --listen "127.0.0.1:$PORT" --catchup-settle 10 \
  >"$demo/roostd.out" 2>"$demo/roostd.log" &
echo $! >"$demo/roostd.pid"
for _ in $(seq 100); do
  curl -skf "https://127.0.0.1:$PORT/v1/health" >/dev/null 2>&1 && break
  sleep 0.1
done
cat "$demo/roostd.out"

export ROOST_SERVER="https://127.0.0.1:$PORT"
export ROOST_TOKEN=$(cat "$demo/server/admin.token")
export ROOST_FINGERPRINT=$(cat "$demo/server/fingerprint")
roost() { "$BIN/roost" "$@"; }

say "roost token create   (a one-time enrollment token)"
TOKEN=$(roost token create --ttl 600)
echo "$TOKEN"

say "roost-agent enroll --state $DEMO/agent   (this machine becomes host demo-host)"
"$BIN/roost-agent" enroll --server "$ROOST_SERVER" --token "$TOKEN" \
  --fingerprint "$ROOST_FINGERPRINT" --hostname demo-host --state "$demo/agent"
nohup "$BIN/roost-agent" run --state "$demo/agent" >"$demo/agent.out" 2>"$demo/agent.log" &
echo $! >"$demo/agent.pid"
for _ in $(seq 100); do
  [[ $(roost host show demo-host --json 2>/dev/null | /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["online"])' 2>/dev/null) == True ]] && break
  sleep 0.1
done

say "roost group add demo-host sources --path $root/docs --path $root/include"
roost group add demo-host sources --path "$root/docs" --path "$root/include" --exclude '*.swp'

say "roost schedule add demo-host hourly --cron '$CRON' --group sources"
roost schedule add demo-host hourly --cron "$CRON" --group sources

say "roost backup demo-host --group sources   (the agent backs up through the server)"
JOB=$(roost backup demo-host --group sources)
roost job wait "$JOB" --timeout 120

say "roost user add admin --role admin   (a login for the web dashboard)"
head -c 18 /dev/urandom | base64 | tr '+/' 'xy' >"$demo/dashboard.password"
chmod 600 "$demo/dashboard.password"
roost user add admin --role admin --password-file "$demo/dashboard.password"

say "roost host list"
roost host list
say "roost job list"
roost job list
say "roost snapshot list"
roost snapshot list

cat <<EOF

The web dashboard:  $ROOST_SERVER/ui/
  log in as admin, password $(cat "$demo/dashboard.password")   (also in $DEMO/dashboard.password)
  the certificate is self-signed: check its SHA-256 fingerprint in the browser,
  $ROOST_FINGERPRINT

roostd and the agent keep running (logs: $DEMO/roostd.log, $DEMO/agent.log).
To use the admin commands from this shell:

  export ROOST_SERVER=$ROOST_SERVER
  export ROOST_TOKEN=\$(cat $DEMO/server/admin.token)
  export ROOST_FINGERPRINT=$ROOST_FINGERPRINT
  export PATH=$root/$BIN:\$PATH

Then try:
  roost schedule next demo-host hourly --count 3
  roost restore demo-host latest --target /tmp/roost-demo-restore   (waits, with a progress line)
  roost backup demo-host --group sources                            (the same)
  roost schedule add demo-host quick --cron '*/20 * * * * *' --group sources
  roost host set demo-host --mode intermittent      (a laptop: catch-up after reconnects)
  roost repo check -r $DEMO/server/repo --password-file $DEMO/server/repo.password

Stop everything with: make demo-stop
EOF
