#!/bin/bash
# SPDX-License-Identifier: MIT
# What two instances share beyond agents (issue 14, docs/scale-out.md 2.5,
# 2.6, 2.8 and test plan 5-7): maintenance asked on A and B at once runs
# once (one 201, one 409); a job's events, made on the instance its agent
# is on, reach an event stream opened on the other instance, once each and
# in id order; failed logins through A count on B (the throttle is shared).
if [[ -z ${ROOST_TEST_PG:-} ]]; then
  exec "$(dirname "$0")/../pg/with_pg.sh" bash "$0" "$@"
fi
source "$ROOST_SRC/tests/integration/lib.sh"
source "$ROOST_SRC/tests/integration/fleet.sh"
source "$ROOST_SRC/tests/scale/scale.sh"
scale_setup || { finish; exit 1; }
inst_start A --maintenance-cron off
inst_start B --maintenance-cron off

# --- events: a stream on A sees B's agent's job, once per event, in order
make_tree "$TMP/src" 1
enroll_on ev always-on B A
start_agent ev
wait_until 20 agent_is_on ev B && ok "agent ev is on B" || bad "ev: $(agent_on ev)"
expect_rc 0 on B "$ROOST" group add ev data --path "$TMP/src"
last=$(pgq "SELECT coalesce(max(id),0) FROM events")
curl -skN -H "Authorization: Bearer $ROOST_TOKEN" "${URL[A]}/v1/events/stream" >"$TMP/sse-A.txt" &
SSE=$!
cleanup_hooks+=("kill $SSE 2>/dev/null")
sleep 1
J=$(on B "$ROOST" backup ev --group data --no-wait)
expect_rc 0 on B "$ROOST" job wait "$J" --timeout 60
sleep 2
kill $SSE 2>/dev/null; wait $SSE 2>/dev/null || true
$PY - "$TMP/sse-A.txt" "$last" "$J" <<'PY' && ok "A's stream saw B's job events once each, in id order" || bad "A's stream: $(head -c 2000 "$TMP/sse-A.txt")"
import json, sys
ids, types = [], []
for line in open(sys.argv[1]):
    if line.startswith("id:"):
        ids.append(int(line[3:].strip()))
    elif line.startswith("data:"):
        try:
            d = json.loads(line[5:])
        except ValueError:
            continue
        if d.get("job_id") == int(sys.argv[3]) or (d.get("job") or {}).get("id") == int(sys.argv[3]):
            types.append(d.get("type"))
ids = [i for i in ids if i > int(sys.argv[2])]
assert ids == sorted(ids) and len(ids) == len(set(ids)), ids
assert "job.finished" in types or "job.succeeded" in types, types
assert types.count("job.started") <= 1, types
PY
ev_ids=$(pgq "SELECT count(*), count(DISTINCT id) FROM events")
expect_eq "${ev_ids%%|*}" "${ev_ids##*|}" "event ids are unique"

# --- maintenance asked on both at once: one runs
codes=$( (curl -sk -o /dev/null -w '%{http_code}\n' -X POST -H "Authorization: Bearer $ROOST_TOKEN" \
            -H 'Content-Type: application/json' -d '{}' "${URL[A]}/v1/maintenance" &
          curl -sk -o /dev/null -w '%{http_code}\n' -X POST -H "Authorization: Bearer $ROOST_TOKEN" \
            -H 'Content-Type: application/json' -d '{}' "${URL[B]}/v1/maintenance" &
          wait) | sort | tr '\n' ' ')
wait_until 60 eval "(( \$(pgq \"SELECT count(*) FROM maintenance WHERE status='running'\") == 0 ))" \
  && ok "maintenance runs ended" || bad "maintenance still running"
expect_eq "$(pgq "SELECT count(*) FROM maintenance m1 JOIN maintenance m2 ON m1.id < m2.id
  AND m1.started_at <= coalesce(m2.finished_at, m2.started_at) AND m2.started_at <= coalesce(m1.finished_at, m1.started_at)
  AND m1.status <> 'interrupted' AND m2.status <> 'interrupted'")" 0 "no two maintenance runs overlapped"
[[ $codes == *409* && $codes == *201* ]] && ok "maintenance asked on A and B at once: one 201, one 409 ($codes)" \
  || bad "maintenance at once on A and B: $codes"

# --- the login throttle is shared
expect_rc 0 on A "$ROOST" user add olga --role viewer --password-file <(echo 'correct horse battery')
for i in 1 2 3 4 5; do
  c=$(curl -sk -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
      -d '{"name":"olga","password":"wrong wrong wrong"}' "${URL[A]}/v1/login")
  [[ $c == 401 ]] || bad "failed login $i through A: $c"
done
c=$(curl -sk -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -d '{"name":"olga","password":"wrong wrong wrong"}' "${URL[B]}/v1/login")
expect_eq "$c" 429 "after 5 failures through A, B throttles the sixth"
finish
