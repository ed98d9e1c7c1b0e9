#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs a command beside a throwaway PostgreSQL cluster: initdb into a temp
# directory, the server on a free loopback port (password authentication
# over TCP, its socket in the temp directory), a database of its own; the
# command gets ROOST_TEST_PG=postgresql://roost:PASSWORD@127.0.0.1:PORT/roost
# (and ROOST_TEST_PG_PORT, ROOST_TEST_PG_PASSWORD); everything is removed
# after. As root the cluster runs as the user postgres (initdb refuses root).
#   tests/pg/with_pg.sh CMD [ARG...]
set -euo pipefail
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "with_pg: no PostgreSQL server (apt-get install postgresql)" >&2
  exit 1
fi
dir=$(mktemp -d /tmp/roost-pg-XXXXXX)
as=()
if [ "$(id -u)" = 0 ]; then
  chown postgres "$dir"
  as=(runuser -u postgres --)
fi
pw=$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')
port= child=
cleanup() {
  [ -n "$child" ] && kill "$child" 2>/dev/null
  "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 143' TERM INT   # a test timeout: the cluster stops all the same
printf '%s\n' "$pw" >"$dir/pw"
chmod 600 "$dir/pw"
[ "$(id -u)" = 0 ] && chown postgres "$dir/pw"
"${as[@]}" "$bindir/initdb" -D "$dir/data" -U roost --pwfile="$dir/pw" --auth-local=trust \
  --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }
for try in 1 2 3 4 5; do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50" \
      start >/dev/null 2>&1; then
    break
  fi
  port=
done
if [ -z "$port" ]; then
  echo "with_pg: the server did not start" >&2
  cat "$dir/server.log" >&2
  exit 1
fi
"${as[@]}" "$bindir/psql" -h "$dir" -p "$port" -U roost -d postgres -qAt \
  -c "CREATE DATABASE roost" >/dev/null
export ROOST_TEST_PG="postgresql://roost:$pw@127.0.0.1:$port/roost"
export ROOST_TEST_PG_PORT=$port ROOST_TEST_PG_PASSWORD=$pw
"$@" &   # waited for, so that a signal reaches the trap at once
child=$!
rc=0
wait "$child" || rc=$?
child=
exit "$rc"
