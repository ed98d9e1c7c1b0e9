#!/bin/bash
# SPDX-License-Identifier: MIT
# The host's upload limit (docs/policies.md, "The upload limit") with a real
# roostd and agent: a host field the API checks and shows, pushed to the
# agent in its config; 20 MiB of random bytes (incompressible) backed up at
# 2048 KiB/s take 10 s (+-15%: the repository's metadata and the engine's
# work add a little, the burst takes a little off); the limit raised while
# a job runs speeds that job up at once. Durations are the agent's own
# (job.start to job.finished in its log, in ms), so a slow dispatch does not
# count; the wall time around `roost job wait` is shown too.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"

MIB=1048576
# The repository gets 2 MiB packs: the agent uploads a pack once it is
# whole, so with the default 16 MiB the first upload would wait for the
# engine to chunk, compress and seal 16 MiB (seconds on a loaded machine,
# under ASan) and the test would time the machine, not the limiter.
start_server 2
stop_server
rm -rf "$SDATA/repo"
ROOST_PASSWORD=$(cat "$SDATA/repo.password") "$ROOST" repo init -r "$SDATA/repo" --pack-size $((2 * MIB)) >/dev/null \
  && ok "repository with 2 MiB packs" || bad "repo init"
start_server 2
enroll srv always-on
start_agent srv
wait_until 20 host_online srv && ok "agent online" || bad "agent not online"
mkdir -p "$TMP/data"
head -c $((20 * MIB)) /dev/urandom >"$TMP/data/r1"
expect_rc 0 "$ROOST" group add srv data --path "$TMP/data"
HID=$("$ROOST" host show srv --json | json_get 'd["id"]')
expect_eq "$("$ROOST" host show srv --json | json_get 'd["upload_limit_kbps"]')" 0 "no limit by default"

# the API refuses a bad value, naming the field; the CLI before it
patch() { curl -sk -o "$TMP/patch.out" -w '%{http_code}' -X PATCH -H "Authorization: Bearer $ROOST_TOKEN" \
  -H 'Content-Type: application/json' -d "$1" "$ROOST_SERVER/v1/hosts/$HID"; }
for v in -1 10000001 '"2048"' 1.5 true null; do
  expect_eq "$(patch "{\"upload_limit_kbps\":$v}")" 400 "PATCH upload_limit_kbps=$v refused"
  expect_eq "$(json_get 'd["error"]["field"]' <"$TMP/patch.out")" upload_limit_kbps "the 400 of $v names the field"
done
expect_eq "$(patch '{"upload_limit_kbps":10000000}')" 200 "PATCH upload_limit_kbps=10000000 (the maximum)"
expect_rc 2 "$ROOST" host set srv --upload-limit -5
expect_rc 2 "$ROOST" host set srv --upload-limit 12k
expect_rc 0 "$ROOST" host set srv --upload-limit 2048
expect_contains "$OUT" "2048 KiB/s" "host set says the limit"
expect_eq "$("$ROOST" host show srv --json | json_get 'd["upload_limit_kbps"]')" 2048 "the host shows it"
expect_contains "$("$ROOST" host show srv)" "upload_limit: 2048 KiB/s" "host show prints it"
expect_eq "$("$ROOST" host show srv --json | json_get 'd["mode"]')" always-on "the mode is unchanged"
applied() { grep -q "event=agent.upload_limit kib_per_s=$1\$" "$TMP/agent-srv.log"; }
wait_until 10 applied 2048 && ok "the agent got the new config" || bad "the agent did not apply 2048 KiB/s"

# ms from the agent's job.start to its job.finished of job $1
job_ms() {
  $PY - "$TMP/agent-srv.log" "$1" <<'EOF'
import datetime, re, sys
t = {}
for line in open(sys.argv[1]):
    m = re.match(r'ts=(\S+) \S+ event=(job\.start|job\.finished) job=(\d+)\b', line)
    if m and m.group(3) == sys.argv[2]:
        t[m.group(2)] = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
print(int((t["job.finished"] - t["job.start"]).total_seconds() * 1000))
EOF
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
between() { # VALUE LOW HIGH
  (( $1 >= $2 && $1 <= $3 ))
}

# 1. 20 MiB at 2048 KiB/s: 10 s +- 15%
W0=$(now_ms)
J=$("$ROOST" backup srv --group data)
expect_rc 0 "$ROOST" job wait "$J" --timeout 120
W1=$(now_ms)
D=$(job_ms "$J")
echo "# job $J: ${D} ms in the agent, $((W1 - W0)) ms around job wait"
between "$D" 8500 11500 && ok "20 MiB at 2048 KiB/s took ${D} ms (10 s +- 15%)" \
  || bad "20 MiB at 2048 KiB/s took ${D} ms, want 8500..11500"
"$ROOST" job show "$J" --json >"$TMP/job.json"
expect_eq "$(json_get 'd["stats"]["bytes"]' <"$TMP/job.json")" $((20 * MIB)) "the job backed up 20 MiB"

# 2. the same size, the limit raised ten times after 3 s of the job
rm -f "$TMP/data/r1"
head -c $((20 * MIB)) /dev/urandom >"$TMP/data/r2"
started() { grep -q "event=job.start job=$1 " "$TMP/agent-srv.log"; }
W0=$(now_ms)
J2=$("$ROOST" backup srv --group data)
wait_until 30 started "$J2" || bad "job $J2 did not start"
sleep 3
job_is "$J2" running && ok "job $J2 still running after 3 s" || bad "job $J2 not running after 3 s: $(job_status "$J2")"
expect_rc 0 "$ROOST" host set srv --upload-limit 20480
expect_rc 0 "$ROOST" job wait "$J2" --timeout 120
W1=$(now_ms)
D2=$(job_ms "$J2")
echo "# job $J2: ${D2} ms in the agent, $((W1 - W0)) ms around job wait"
between "$D2" 3000 7000 && ok "raised to 20480 KiB/s after 3 s: ${D2} ms (< 7 s)" \
  || bad "raised to 20480 KiB/s after 3 s: ${D2} ms, want 3000..7000"
$PY - "$TMP/agent-srv.log" "$J2" <<'EOF' && ok "the agent applied 20480 KiB/s while job $J2 ran" || bad "no new limit applied during job $J2"
import re, sys
state = 0
for line in open(sys.argv[1]):
    if re.search(r'event=job\.start job=%s ' % sys.argv[2], line): state = 1
    elif state == 1 and 'event=agent.upload_limit kib_per_s=20480' in line: state = 2
    elif state == 2 and re.search(r'event=job\.finished job=%s ' % sys.argv[2], line): sys.exit(0)
sys.exit(1)
EOF

# 3. 0 removes the limit
expect_rc 0 "$ROOST" host set srv --upload-limit 0
expect_contains "$OUT" "not limited" "host set 0 says no limit"
expect_contains "$("$ROOST" host show srv)" "upload_limit: none" "host show: none"
wait_until 10 applied 0 && ok "the agent's limit is removed" || bad "the agent did not remove its limit"
check_repo() { ROOST_PASSWORD=$(cat "$SDATA/repo.password") "$ROOST" repo check -r "$SDATA/repo"; }
expect_rc 0 check_repo
stop_agent srv
finish
