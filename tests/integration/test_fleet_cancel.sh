#!/bin/bash
# SPDX-License-Identifier: MIT
# Cancel during a real upload (no test-only delay): the cancel flag reaches
# the agent's job thread and the engine's workers while packs are being
# uploaded; the job ends canceled, the host is free, the agent stays up and
# its next backup succeeds; the repository checks clean. Run under ASan by
# default and under ThreadSanitizer by test_fleet_threads.sh.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"

start_server 2
mkdir -p "$TMP/big"
for i in $(seq 1 12); do head -c 4000000 /dev/urandom > "$TMP/big/b$i"; done
enroll srv always-on
start_agent srv
wait_until 20 host_online srv && ok "agent online" || bad "agent not online"
expect_rc 0 "$ROOST" group add srv big --path "$TMP/big"

packs_put() { grep -c "event=repo.put host=1 object=\"\?packs/" "$TMP/server.log" || true; }
for round in 1 2; do
  puts0=$(packs_put)
  J=$("$ROOST" backup srv --group big)
  uploading() { upload_in_flight; }
  # The agent is held (SIGSTOP) the moment one of its packs is on its way, so
  # that the cancel lands mid-upload however fast this machine is; it reads
  # the cancel as soon as it runs again, with most of its upload still ahead.
  if wait_until 60 uploading && kill -STOP "${AGENT_PID[srv]}" && job_is "$J" running; then
    expect_rc 0 "$ROOST" job cancel "$J"
    kill -CONT "${AGENT_PID[srv]}"
    ok "round $round: canceled job $J after $(( $(packs_put) - puts0 )) packs were uploaded"
  else
    kill -CONT "${AGENT_PID[srv]}" 2>/dev/null || :
    bad "round $round: no upload of job $J seen while it ran: $(job_status "$J")"
  fi
  wait_until 30 job_is "$J" canceled && ok "round $round: the job ends canceled" || bad "round $round: job after cancel: $(job_status "$J")"
  expect_contains "$(cat "$TMP/agent-srv.log")" "event=job.cancel job=$J state=running" "round $round: the agent canceled it while running"
  wait_until 10 eval '[[ $("$ROOST" host show srv --json | json_get "d[\"current_job_id\"]") == null ]]' \
    && ok "round $round: the host is free" || bad "round $round: host stuck busy"
  # new data, so the next round uploads again
  for i in $(seq 1 12); do head -c 4000000 /dev/urandom > "$TMP/big/b$i"; done
done
if kill -0 "${AGENT_PID[srv]}"; then
  ok "the agent is still running"
  J2=$("$ROOST" backup srv --group big)
  expect_rc 0 "$ROOST" job wait "$J2" --timeout 180
else
  bad "the agent died (its log is scanned at the end)"
fi
expect_rc 0 "$ROOST" repo check -r "$SDATA/repo" --password-file "$SDATA/repo.password" --read-data
stop_agent srv
finish
