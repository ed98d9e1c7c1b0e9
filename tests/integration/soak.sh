# SPDX-License-Identifier: MIT
# The soak (issue 16), sourced after lib.sh and fleet.sh by
# test_soak.sh (scaled down for make check) and bench/soak (full length):
#
#   run_soak AGENTS SECONDS
#
# AGENTS real agents (a third intermittent) back up small changing trees on
# schedules firing every 5-11 s, while agents are killed with -9 or TERM at
# random and restarted, files change, and two clients hammer the REST API
# with valid and invalid requests (rest_hammer.py). Then every schedule is
# disabled and the fleet left to finish. Checked afterwards: no job stuck in
# queued or running, no 5xx or refused connection, roostd's descriptors and
# memory within the bounds below, roostd stops cleanly, and the repository
# passes `check --read-data`. Figures go to stdout as "# soak: ..." lines.

SOAK_FD_SLACK=${SOAK_FD_SLACK:-16}        # descriptors above the start's count
SOAK_REPO_FDS=32                          # backend_local.c's FD_CACHE
SOAK_RSS_SLACK_MB=${SOAK_RSS_SLACK_MB:-64} # RSS above the start's

# descriptors other than the repository's objects (the local backend keeps
# up to 32 of those open, a bounded cache: soak_repo_fds)
soak_fds() { ls -l "/proc/$SPID/fd" 2>/dev/null | awk 'NR > 1' | grep -vc -- "-> $SDATA/repo/" || :; }
soak_repo_fds() { ls -l "/proc/$SPID/fd" 2>/dev/null | grep -c -- "-> $SDATA/repo/" || :; }
soak_fd_kinds() {
  ls -l "/proc/$SPID/fd" | awk 'NR > 1 {print $NF}' | sed "s|^$SDATA/repo/.*|repository object|; s|^$TMP/||; s/[0-9]\{2,\}/N/g" |
    sort | uniq -c | tr -s ' ' | tr '\n' ';'
}
soak_rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$SPID/status" 2>/dev/null || echo 0; }
soak_all_online() {
  local n
  n=$("$ROOST" host list --json | json_get 'sum(1 for h in d if h["online"])')
  (( n == $1 ))
}
soak_none_active() {
  local q r
  q=$("$ROOST" job list --json --status queued | json_get 'len(d)')
  r=$("$ROOST" job list --json --status running | json_get 'len(d)')
  (( q == 0 && r == 0 ))
}

run_soak() { # AGENTS SECONDS
  local n=$1 secs=$2 i name mode t0
  start_server 2
  t0=$(date +%s)
  for ((i = 1; i <= n; i++)); do
    name=s$i
    mode=always-on
    (( i % 3 == 0 )) && mode=intermittent
    mkdir -p "$TMP/src/$name/sub"
    head -c $((4096 + RANDOM * 2)) /dev/urandom >"$TMP/src/$name/a.bin"
    seq 1 $((RANDOM % 5000 + 10)) >"$TMP/src/$name/sub/b.txt"
    enroll "$name" "$mode" || { bad "enroll $name"; return 1; }
    "$ROOST" group add "$name" data --path "$TMP/src/$name" >/dev/null
    "$ROOST" schedule add "$name" every --cron "*/$((5 + i % 7)) * * * * *" --group data >/dev/null
    start_agent "$name"
  done
  if wait_until 120 soak_all_online "$n"; then ok "$n agents online"; else bad "not all $n agents online"; fi
  echo "# soak: setup of $n agents took $(( $(date +%s) - t0 )) s"
  local fd0 rss0
  fd0=$(soak_fds) rss0=$(soak_rss_kb)
  echo "# soak: start: roostd fds=$fd0 rss=$((rss0 / 1024)) MB: $(soak_fd_kinds)"

  "$PY" "$ROOST_SRC/tests/integration/rest_hammer.py" "$ROOST_SERVER" "$ROOST_TOKEN" "$secs" \
    --rate 10 --clients 2 >"$TMP/hammer.out" 2>&1 &
  local hammer=$!
  local end=$(( $(date +%s) + secs )) kills=0 terms=0 edits=0 maxfd=$fd0 maxrss=$rss0 f r
  declare -A down=()
  while (( $(date +%s) < end )); do
    i=$(( RANDOM % n + 1 )); name=s$i
    if [[ -n ${down[$name]:-} ]]; then
      start_agent "$name"; unset "down[$name]"
    else
      case $(( RANDOM % 10 )) in
        0|1) stop_agent "$name" KILL; down[$name]=1; kills=$((kills + 1)) ;;
        2)   stop_agent "$name" TERM; down[$name]=1; terms=$((terms + 1)) ;;
        *)   seq 1 $((RANDOM % 5000 + 10)) >"$TMP/src/$name/sub/b.txt"; edits=$((edits + 1)) ;;
      esac
    fi
    f=$(soak_fds) r=$(soak_rss_kb)
    (( f > maxfd )) && maxfd=$f
    (( r > maxrss )) && maxrss=$r
    sleep "0.$(( RANDOM % 9 + 1 ))"
  done
  for name in "${!down[@]}"; do start_agent "$name"; done
  if wait "$hammer"; then ok "REST hammer: no 5xx, no refused connection"
  else bad "REST hammer failed"; fi
  echo "# soak: hammer $(tail -1 "$TMP/hammer.out")"
  grep '^error:' "$TMP/hammer.out" | head -5 | sed 's/^/# /' || :
  echo "# soak: chaos: $kills kill -9, $terms TERM, $edits edits over $secs s; peak fds=$maxfd rss=$((maxrss / 1024)) MB"

  for ((i = 1; i <= n; i++)); do "$ROOST" schedule disable "s$i" every >/dev/null; done
  if wait_until 60 soak_all_online "$n"; then ok "every agent back"; else bad "agents missing after the chaos"; fi
  if wait_until 240 soak_none_active; then ok "no job stuck in queued or running"
  else bad "jobs stuck: $("$ROOST" job list --json | json_get '[(j["id"], j["host_id"], j["status"]) for j in d if j["status"] in ("queued", "running")]')"; fi
  local total succeeded interrupted
  total=$("$ROOST" job list --json --limit 10000 | json_get 'len(d)')
  succeeded=$("$ROOST" job list --json --status succeeded --limit 10000 | json_get 'len(d)')
  interrupted=$("$ROOST" job list --json --status interrupted --limit 10000 | json_get 'len(d)')
  echo "# soak: jobs: $total in all, $succeeded succeeded, $interrupted interrupted"
  (( succeeded > 0 )) && ok "backups succeeded during the soak" || bad "no backup succeeded"

  local fd1 rss1
  fd1=$(soak_fds) rss1=$(soak_rss_kb)
  echo "# soak: end: roostd fds=$fd1 rss=$((rss1 / 1024)) MB (start $fd0, $((rss0 / 1024)) MB): $(soak_fd_kinds)"
  if (( fd1 <= fd0 + SOAK_FD_SLACK )); then ok "descriptors: $fd1 <= $fd0 + $SOAK_FD_SLACK"
  else
    bad "descriptors grew: $fd0 -> $fd1"
  fi
  local rfd
  rfd=$(soak_repo_fds)
  if (( rfd <= SOAK_REPO_FDS )); then ok "repository objects held open: $rfd <= $SOAK_REPO_FDS"
  else bad "repository objects held open: $rfd > $SOAK_REPO_FDS"; fi
  if (( rss1 <= rss0 + SOAK_RSS_SLACK_MB * 1024 )); then ok "memory: +$(( (rss1 - rss0) / 1024 )) MB <= $SOAK_RSS_SLACK_MB MB"
  else bad "memory grew: $((rss0 / 1024)) -> $((rss1 / 1024)) MB"; fi

  for ((i = 1; i <= n; i++)); do stop_agent "s$i"; done
  stop_server
  expect_rc 0 "$ROOST" repo check -r "$SDATA/repo" --password-file "$SDATA/repo.password" --read-data
}
