# SPDX-License-Identifier: MIT
# Helpers for integration tests: sourced, not run. ROOST_BIN points at the
# built binaries, ROOST_SRC at the source tree (set by ctest).
set -euo pipefail
: "${ROOST_BIN:?ROOST_BIN must point at the bin directory of a build}"
: "${ROOST_SRC:?ROOST_SRC must point at the source tree}"
ROOST="$ROOST_BIN/roost"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/roost-test.XXXXXX")
PASS=0
FAIL=0
cleanup_hooks=()
# run by finish before the summary (fleet.sh stops its daemons and reads their logs here)
finish_hooks=()
cleanup() {
  # best effort on the way out: a hook that fails must not hide the others
  for h in "${cleanup_hooks[@]}"; do eval "$h" || true; done
  if [[ -n ${ROOST_KEEP_TMP:-} ]]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

ok()   { PASS=$((PASS + 1)); echo "ok - $*"; }
# skip WHAT WHY : a check that did not run says so (TAP: "ok - WHAT # SKIP WHY").
# ROOST_NO_SKIP=1 (set on CI, which runs as root with xattrs) turns a skip into a failure.
SKIPS=0
skip() {
  if [[ -n ${ROOST_NO_SKIP:-} ]]; then bad "$1: skipped ($2) but ROOST_NO_SKIP is set"; return; fi
  SKIPS=$((SKIPS + 1)); echo "ok - $1 # SKIP $2"
}
bad()  { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
# expect_rc WANT CMD... : runs CMD, checks its exit code, keeps stdout/stderr in $OUT/$ERR
expect_rc() {
  local want=$1; shift
  set +e
  "$@" >"$TMP/.stdout" 2>"$TMP/.stderr"
  local rc=$?
  set -e
  OUT=$(cat "$TMP/.stdout"); ERR=$(cat "$TMP/.stderr")
  if [[ $rc -eq $want ]]; then ok "exit $want: $*"; else bad "exit $rc (want $want): $* :: $ERR"; fi
}
expect_contains() { # HAYSTACK NEEDLE WHAT
  if [[ "$1" == *"$2"* ]]; then ok "$3"; else bad "$3: \"$2\" not in: $1"; fi
}
expect_eq() { # GOT WANT WHAT
  if [[ "$1" == "$2" ]]; then ok "$3"; else bad "$3: got \"$1\" want \"$2\""; fi
}
finish() {
  for h in "${finish_hooks[@]}"; do eval "$h"; done
  finish_hooks=()
  echo "$PASS passed, $FAIL failed, $SKIPS skipped"
  [[ $FAIL -eq 0 ]]
}
