#!/bin/bash
# SPDX-License-Identifier: MIT
# A group's pre- and post-hooks (issue 15, docs/policies.md "Hooks") with a
# real roostd and agents: the order pre -> backup -> post (a marker file,
# and a file the pre-hook writes that must be in the snapshot); the API's
# bounds; a failing pre-hook (no backup, the error names the hook, its exit
# status and last stderr line, the post-hook sees ROOST_STATUS=failed); a
# failing post-hook after a good backup (job failed, snapshot kept); a hook
# that hangs killed at its timeout with the child that ignores SIGTERM; a
# cancel during a hook; an agent enrolled without --allow-hooks runs nothing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fleet.sh"

start_server 2
mkdir -p "$TMP/d1" "$TMP/d2"
echo "some data" > "$TMP/d1/file"
echo "other data" > "$TMP/d2/file"
M="$TMP/marker"
enroll web always-on --allow-hooks
enroll plain always-on
start_agent web
start_agent plain
wait_until 10 host_online web && wait_until 10 host_online plain && ok "both agents online" || bad "agents offline"
expect_contains "$(grep event=agent.start "$TMP/agent-web.log")" "hooks=allowed" "web's start log: hooks allowed"
expect_contains "$(grep event=agent.start "$TMP/agent-plain.log")" "hooks=disabled" "plain's start log: hooks disabled"

snapshots() { "$ROOST" repo snapshots -r "$SDATA/repo" --password-file "$SDATA/repo.password" --json | json_get 'len(d)'; }
job_field() { "$ROOST" job show "$1" --json | json_get "d[\"$2\"]"; }
gone() { # PID: not running (a zombie nobody reaps counts as gone)
  [[ ! -e /proc/$1/stat ]] || [[ $(sed 's/.*) //' "/proc/$1/stat" | cut -c1) == [ZX] ]]
}

# --- set up: the CLI and the API with their bounds
expect_rc 0 "$ROOST" group add web data --path "$TMP/d1" \
  --pre-hook "echo \"pre \$ROOST_JOB_ID \$ROOST_GROUP \$ROOST_HOST\" >>'$M'; echo made-by-pre >'$TMP/d1/from-pre'; echo pre-says-hi" \
  --post-hook "echo \"post \$ROOST_STATUS \$ROOST_SNAPSHOT_ID\" >>'$M'" --hook-timeout 30
expect_rc 0 "$ROOST" group list web --json
expect_eq "$(echo "$OUT" | json_get 'd[0]["hook_timeout_s"]')" 30 "the group shows hook_timeout_s"
expect_contains "$(echo "$OUT" | json_get 'd[0]["post_hook"]')" 'ROOST_STATUS' "the group shows post_hook"
expect_rc 2 "$ROOST" group add web bad --path "$TMP/d1" --hook-timeout 0
expect_rc 2 "$ROOST" group set web data --hook-timeout soon
HID=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["host_id"])' "$TMP/agent-web/identity.json")
GID=$("$ROOST" group list web --json | json_get 'd[0]["id"]')
acode() { curl -sk -o "$TMP/body" -w '%{http_code}' -H "Authorization: Bearer $ROOST_TOKEN" "$@"; }
G="$ROOST_SERVER/v1/hosts/$HID/groups/$GID"
expect_eq "$(acode -X PATCH -d '{"hook_timeout_s":0}' "$G")" 400 "hook_timeout_s 0 refused"
expect_contains "$(cat "$TMP/body")" '"field":"hook_timeout_s"' "the 400 names hook_timeout_s"
expect_eq "$(acode -X PATCH -d '{"hook_timeout_s":86401}' "$G")" 400 "hook_timeout_s 86401 refused"
expect_eq "$(acode -X PATCH -d '{"hook_timeout_s":"60"}' "$G")" 400 "hook_timeout_s must be an integer"
expect_eq "$(acode -X PATCH -d '{"pre_hook":7}' "$G")" 400 "pre_hook must be a string"
long=$($PY -c 'print("x" * 4097)')
expect_eq "$(acode -X PATCH -d "{\"post_hook\":\"$long\"}" "$G")" 400 "post_hook over 4096 bytes refused"
expect_contains "$(cat "$TMP/body")" '"field":"post_hook"' "the 400 names post_hook"
expect_eq "$(acode "$G")" 200 "the group is unchanged"
expect_eq "$(json_get 'd["hook_timeout_s"]' < "$TMP/body")" 30 "hook_timeout_s still 30"
expect_eq "$(acode -X POST -d "{\"name\":\"n\",\"paths\":[\"/x\"]}" "$ROOST_SERVER/v1/hosts/$HID/groups")" 201 "a group without hooks"
expect_eq "$(json_get '[d["pre_hook"], d["post_hook"], d["hook_timeout_s"]]' < "$TMP/body")" '["", "", 600]' "no hooks, timeout 600 by default"
# the config the agent keeps carries the hooks
wait_until 10 $PY -c 'import json,sys; g=[g for g in json.load(open(sys.argv[1]))["groups"] if g["name"]=="data"][0]; sys.exit(0 if g.get("hook_timeout_s")==30 and "ROOST_STATUS" in g.get("post_hook","") else 1)' "$TMP/agent-web/config.json" \
  && ok "the agent's config carries the group's hooks" || bad "hooks not in the agent's config"

# --- pre -> backup -> post
J=$("$ROOST" backup web --group data)
expect_rc 0 "$ROOST" job wait "$J" --timeout 90
S=$(job_field "$J" snapshot_id)
expect_eq "$(cat "$M")" "pre $J data web
post succeeded $S" "pre-hook, then post-hook with the backup's status and snapshot"
expect_rc 0 "$ROOST" repo ls -r "$SDATA/repo" --password-file "$SDATA/repo.password" "${S:0:12}"
expect_contains "$OUT" "$TMP/d1/from-pre" "the file the pre-hook wrote is in the snapshot"
expect_contains "$(cat "$TMP/agent-web.log")" "event=hook.output job=$J hook=pre stream=stdout line=pre-says-hi" "the hook's output is in the agent's log"
expect_eq "$(job_field "$J" hook_output)" "--- pre-hook: exit status 0
pre-says-hi
--- post-hook: exit status 0" "the job keeps the end of its hooks' output"
expect_rc 0 "$ROOST" job show "$J"
expect_contains "$OUT" "pre-says-hi" "roost job show prints it"

# --- a failing pre-hook: no backup, the post-hook still runs
: > "$M"
expect_rc 0 "$ROOST" group set web data \
  --pre-hook "echo 'first complaint' >&2; echo 'cannot freeze the database' >&2; echo \"pre \$ROOST_JOB_ID\" >>'$M'; exit 7"
n0=$(snapshots)
J=$("$ROOST" backup web --group data)
wait_until 60 job_is "$J" failed && ok "a failing pre-hook fails the job" || bad "job $J: $(job_status "$J")"
E=$(job_field "$J" error)
expect_contains "$E" "pre-hook failed: exit status 7" "the error names the hook and its exit status"
expect_contains "$E" "last stderr line: cannot freeze the database" "the error has its last stderr line"
expect_eq "$(job_field "$J" snapshot_id)" null "no snapshot"
expect_contains "$(job_field "$J" hook_output)" "--- pre-hook: exit status 7
first complaint
cannot freeze the database" "hook_output has the failing hook's whole stderr"
expect_eq "$(snapshots)" "$n0" "no backup ran"
expect_eq "$(cat "$M")" "pre $J
post failed " "the post-hook ran after it, with ROOST_STATUS=failed"

# --- a failing post-hook after a good backup: failed, the snapshot kept and named
expect_rc 0 "$ROOST" group set web data --pre-hook '' --post-hook "echo 'could not thaw' >&2; exit 5"
J=$("$ROOST" backup web --group data)
wait_until 60 job_is "$J" failed && ok "a failing post-hook fails the job" || bad "job $J: $(job_status "$J")"
E=$(job_field "$J" error)
S=$(job_field "$J" snapshot_id)
expect_contains "$E" "post-hook failed: exit status 5; last stderr line: could not thaw" "the error names the post-hook"
[[ $S =~ ^[0-9a-f]{64}$ ]] && ok "the job still names its snapshot" || bad "no snapshot id: $S"
expect_contains "$E" "snapshot ${S:0:12} was kept" "the error says the snapshot was kept"
expect_rc 0 "$ROOST" repo ls -r "$SDATA/repo" --password-file "$SDATA/repo.password" "${S:0:12}"

# --- a hook that hangs: killed at its timeout, with its child that ignores SIGTERM
expect_rc 0 "$ROOST" group set web data --post-hook '' --hook-timeout 2 \
  --pre-hook "sh -c 'trap \"\" TERM; echo \$\$ >$TMP/child.pid; exec sleep 300' & echo \$\$ >$TMP/shell.pid; echo 'still waiting' >&2; wait"
J=$("$ROOST" backup web --group data)
t0=$(date +%s)
wait_until 30 job_is "$J" failed && ok "the hanging hook's job failed" || bad "job $J: $(job_status "$J")"
took=$(( $(date +%s) - t0 ))
(( took >= 2 && took <= 15 )) && ok "it ended after the 2 s timeout and the 5 s grace ($took s)" || bad "took $took s"
expect_contains "$(job_field "$J" error)" "pre-hook failed: timed out after 2 s; last stderr line: still waiting" "the error says it timed out"
CP=$(cat "$TMP/child.pid"); SP=$(cat "$TMP/shell.pid")
gone "$SP" && ok "the hook's shell is gone" || bad "shell $SP still running"
gone "$CP" && ok "its child that ignored SIGTERM is gone" || bad "child $CP still running"

# --- a cancel during a hook kills it; the post-hook still runs (the cleanup)
: > "$M"
expect_rc 0 "$ROOST" group set web data --hook-timeout 600 \
  --pre-hook "echo \$\$ >$TMP/cancel.pid; exec sleep 300" --post-hook "echo \"post \$ROOST_STATUS\" >>'$M'"
J=$("$ROOST" backup web --group data)
wait_until 30 grep -q "event=hook.start job=$J hook=pre" "$TMP/agent-web.log" && wait_until 10 test -s "$TMP/cancel.pid" \
  && ok "the pre-hook is running" || bad "no pre-hook seen for job $J"
expect_rc 0 "$ROOST" job cancel "$J"
wait_until 20 job_is "$J" canceled && ok "the job ends canceled" || bad "job $J after cancel: $(job_status "$J")"
gone "$(cat "$TMP/cancel.pid")" && ok "the canceled hook is gone" || bad "the canceled hook still runs"
expect_eq "$(cat "$M")" "post failed" "the post-hook ran after the cancel"

# --- an agent without --allow-hooks runs nothing
expect_rc 0 "$ROOST" group add plain data --path "$TMP/d2" --pre-hook "touch '$TMP/plain-ran'" --post-hook "touch '$TMP/plain-ran'"
n0=$(snapshots)
J=$("$ROOST" backup plain --group data)
wait_until 60 job_is "$J" failed && ok "plain fails a job of a group with hooks" || bad "job $J: $(job_status "$J")"
expect_contains "$(job_field "$J" error)" "hooks are disabled on this host: enroll with --allow-hooks" "the error says how to allow hooks"
[[ ! -e $TMP/plain-ran ]] && ok "no hook ran on plain" || bad "a hook ran on plain"
expect_eq "$(snapshots)" "$n0" "no backup ran on plain"
# the same group without hooks backs up
expect_rc 0 "$ROOST" group set plain data --pre-hook '' --post-hook ''
J=$("$ROOST" backup plain --group data)
expect_rc 0 "$ROOST" job wait "$J" --timeout 90

stop_agent web
stop_agent plain
finish
