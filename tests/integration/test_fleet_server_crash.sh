#!/bin/bash
# SPDX-License-Identifier: MIT
# kill -9 of roostd at random moments while an always-on host fires every two
# seconds and uploads, and a laptop is caught up after every reconnection
# (settle 1 s, so kills land before, during and after catch-ups). After every
# kill the store opens (roostd comes back healthy). At the end: no job stuck,
# `roost repo check` clean, and nothing dispatched twice:
#  - no fire slot produced jobs in two dispatch rounds (server log + store),
#  - a host never had two current jobs (each job created after the previous ended),
#  - the agents started each job at most once.
# Then the agent is killed -9 in the middle of a real upload (no test delay):
# its job ends interrupted, nothing is stuck, the next backup succeeds.
# SERVER_CRASH_TRIALS scales it (default 20; bench/soak runs more).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"
TRIALS=${SERVER_CRASH_TRIALS:-20}

start_server 1
mkdir -p "$TMP/src" "$TMP/big"
for i in $(seq 1 6); do head -c 400000 /dev/urandom > "$TMP/src/f$i"; done
enroll srv always-on
enroll lap intermittent
start_agent srv
start_agent lap
wait_until 20 host_online srv && wait_until 20 host_online lap && ok "both agents online" || bad "agents not online"
expect_rc 0 "$ROOST" group add srv data --path "$TMP/src"
# The laptop's group never succeeds (its path is missing) and its schedule
# never fires live (January 1st): it is overdue at every hello, so every
# restart of roostd is followed by a catch-up one settle window later.
expect_rc 0 "$ROOST" group add lap docs --path "$TMP/lsrc-missing"
expect_rc 0 "$ROOST" schedule add srv often --cron '*/2 * * * * *' --group data
expect_rc 0 "$ROOST" schedule add lap yearly --cron '0 0 0 1 1 *' --group docs

# new data now and then, so backups upload
mutate() { head -c 300000 /dev/urandom > "$TMP/src/f$(( RANDOM % 6 + 1 ))"; }
restarts_ok=0
for t in $(seq 1 "$TRIALS"); do
  mutate
  # the kill lands 0.3-3 s after the laptop's hello: before, during or after
  # its catch-up (settle 1 s), however long roostd took to start (it derives
  # the repository key, Argon2id, at start)
  wait_until 10 host_online lap || :
  d=$(( RANDOM % 2700 + 300 ))
  sleep "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
  stop_server KILL
  if start_server 1; then restarts_ok=$((restarts_ok + 1)); else bad "trial $t: roostd did not come back (store?)"; fi
  echo "# trial $t: killed roostd ${d} ms after the laptop came back"
done
expect_eq "$restarts_ok" "$TRIALS" "roostd came back healthy after each of $TRIALS kill -9"
wait_until 20 host_online srv && wait_until 20 host_online lap && ok "both agents reconnected" || bad "agents did not reconnect"
expect_rc 0 "$ROOST" schedule disable srv often
expect_rc 0 "$ROOST" schedule disable lap yearly

# no job stuck: every job reaches an end state, no host keeps a current job
all_ended() {
  local h
  for h in srv lap; do
    [[ $(count_jobs "$h" "j['status'] in ('queued','running')") == 0 ]] || return 1
    [[ $("$ROOST" host show "$h" --json | json_get 'd["current_job_id"]') == null ]] || return 1
  done
}
wait_until 90 all_ended && ok "no job stuck: every job ended, no host busy" \
  || bad "jobs stuck: $(jobs_json srv | json_get '[(j["id"],j["status"]) for j in d if j["status"] in ("queued","running")]') $(jobs_json lap | json_get '[(j["id"],j["status"]) for j in d if j["status"] in ("queued","running")]')"
nsrv=$(count_jobs srv "j['status']=='succeeded'")
ncu=$(count_jobs lap "j['trigger']=='catchup'")
(( nsrv >= 3 )) && ok "$nsrv scheduled backups of srv succeeded across the kills" || bad "only $nsrv backups of srv succeeded"
(( ncu >= TRIALS / 4 )) && ok "$ncu catch-ups of the laptop across the kills" || bad "only $ncu catch-ups in $TRIALS restarts"
echo "# jobs: srv $(count_jobs srv True), lap $(count_jobs lap True); by status: $(jobs_json srv | json_get 'sorted(__import__("collections").Counter(j["status"] for j in d).items())')"

# nothing dispatched twice
jobs_json srv > "$TMP/jobs-srv.json"
jobs_json lap > "$TMP/jobs-lap.json"
dup=$($PY - "$TMP/server.log" "$TMP/jobs-srv.json" "$TMP/jobs-lap.json" "$TMP/agent-srv.log" "$TMP/agent-lap.log" <<'PYEOF'
import collections, json, re, sys
log, js, jl, asrv, alap = sys.argv[1:6]
jobs = {j["id"]: j for f in (js, jl) for j in json.load(open(f))}
problems = []
# 1. a fire slot whose dispatch rounds left jobs in the store more than once
rounds = collections.defaultdict(list)   # (host, schedule, slot) -> [set of job ids]
cur = None
for line in open(log, errors="replace"):
    m = re.search(r"event=fire host=(\d+) schedule=(\d+) slot=(\S+) via=\S+ action=(\S+)", line)
    if m:
        key = m.group(1, 2, 3)
        cur = key if m.group(4) == "dispatch" else None
        if cur:
            rounds[key].append(set())
        continue
    m = re.search(r"event=dispatch host=(\d+) schedule=(\d+) .*trigger=schedule job=(\d+)", line)
    if m and cur and m.group(1, 2) == cur[:2]:
        rounds[cur][-1].add(int(m.group(3)))
    elif "event=" in line and "event=dispatch" not in line:
        cur = None
for key, rs in rounds.items():
    kept = [r for r in rs if r & jobs.keys()]
    if len(kept) > 1:
        problems.append(f"slot {key} dispatched in {len(kept)} rounds: {kept}")
# 2. a host never has two current jobs (one group per schedule: one job per dispatch)
for f in (js, jl):
    v = sorted(json.load(open(f)), key=lambda j: j["id"])
    for a, b in zip(v, v[1:]):
        if a["finished_at"] and b["created_at"] < a["finished_at"]:
            problems.append(f"job {b['id']} ({b['trigger']}) created {b['created_at']} "
                            f"while job {a['id']} ran until {a['finished_at']}")
# 3. each job started at most once by its agent
for f in (asrv, alap):
    c = collections.Counter(re.findall(r"event=job\.start job=(\d+)", open(f, errors="replace").read()))
    problems += [f"{f.split('/')[-1]}: job {j} started {n} times" for j, n in c.items() if n > 1]
print(f"# {sum(len(r) for r in rounds.values())} dispatch rounds over {len(rounds)} slots, {len(jobs)} jobs", file=sys.stderr)
print("\n".join(problems))
PYEOF
)
expect_eq "$dup" "" "nothing dispatched twice across $TRIALS kills of roostd"
expect_rc 0 "$ROOST" repo check -r "$SDATA/repo" --password-file "$SDATA/repo.password"
expect_eq "$(grep -c 'more than one pack' <<< "$OUT$ERR")" 0 "no blob stored twice"

# --- the agent killed -9 in the middle of a real upload (no test delay)
for i in $(seq 1 12); do head -c 4000000 /dev/urandom > "$TMP/big/b$i"; done
expect_rc 0 "$ROOST" group add srv big --path "$TMP/big"
puts0=$(grep -c "event=repo.put host=1 object=\"\?packs/" "$TMP/server.log" || true)
J=$("$ROOST" backup srv --group big)
uploading() { upload_in_flight; }
if wait_until 60 uploading && job_is "$J" running; then
  stop_agent srv KILL
  ok "agent killed after $(( $(grep -c "event=repo.put host=1 object=\"\?packs/" "$TMP/server.log") - puts0 )) packs of job $J were uploaded, job still running"
else
  bad "no upload of job $J seen while it ran: $(job_status "$J")"
  stop_agent srv KILL
fi
expect_eq "$(job_status "$J")" running "while the agent is gone its job stays running"
start_agent srv
wait_until 30 job_is "$J" interrupted && ok "the job cut off mid-upload ends interrupted" || bad "job after restart: $(job_status "$J")"
expect_eq "$("$ROOST" host show srv --json | json_get 'd["current_job_id"]')" null "host not stuck busy"
J2=$("$ROOST" backup srv --group big)
expect_rc 0 "$ROOST" job wait "$J2" --timeout 120
expect_rc 0 "$ROOST" repo check -r "$SDATA/repo" --password-file "$SDATA/repo.password" --read-data
stop_agent srv
stop_agent lap
finish
