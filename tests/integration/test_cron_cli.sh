#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `roost cron next` as a user runs it: output, exit codes, messages, --help,
# and agreement with an independent implementation (croniter).
source "$(dirname "$0")/lib.sh"

expect_rc 0 "$ROOST" cron next '0 9 * * MON-FRI' --from 2026-11-26T00:00:00Z --count 3
expect_eq "$OUT" $'2026-11-26T09:00:00Z\n2026-11-27T09:00:00Z\n2026-11-30T09:00:00Z' "weekday 09:00"

expect_rc 0 "$ROOST" cron next --count 2 --from 2026-03-07T00:00:00Z --tz America/New_York '30 2 * * *'
expect_eq "$OUT" $'2026-03-07T07:30:00Z\n2026-03-09T06:30:00Z' "spring-forward gap skipped, options before EXPR"

expect_rc 0 "$ROOST" cron next '*/10 * * * * *' --from 2026-11-26T09:00:05Z --count 2
expect_eq "$OUT" $'2026-11-26T09:00:10Z\n2026-11-26T09:00:20Z' "seconds field"

expect_rc 0 "$ROOST" cron next '@daily'
expect_eq "$(echo "$OUT" | wc -l)" 5 "default count is 5"

expect_rc 2 "$ROOST" cron next '0 0 * * 8'
expect_contains "$ERR" "day-of-week: 8 is out of range 0-7" "invalid field is named"
expect_rc 2 "$ROOST" cron next '0 0 30 2 *'
expect_contains "$ERR" "never fires" "never-firing expression rejected"
expect_rc 2 "$ROOST" cron next '* * * *'
expect_rc 2 "$ROOST" cron next '* * * * *' --count 0
expect_rc 2 "$ROOST" cron next '* * * * *' --count abc
expect_rc 2 "$ROOST" cron next '* * * * *' --from yesterday
expect_contains "$ERR" "RFC 3339" "bad --from explained"
expect_rc 2 "$ROOST" cron next '* * * * *' --tz Mars/Olympus
expect_contains "$ERR" "unknown time zone" "bad --tz explained"
expect_rc 2 "$ROOST" cron next '* * * * *' --bogus
expect_rc 2 "$ROOST" cron next
expect_rc 2 "$ROOST" cron frob
expect_rc 0 "$ROOST" cron next --help
expect_contains "$OUT" "usage: roost cron next" "cron --help"
expect_rc 0 "$ROOST" --help
expect_rc 2 "$ROOST" nosuchcommand

PY=/usr/bin/python3  # Debian's interpreter, where python3-croniter installs
if "$PY" -c "import croniter" 2>/dev/null; then
  expect_rc 0 "$PY" "$ROOST_SRC/tests/integration/cron_vs_croniter.py" "$ROOST" 300
  echo "$OUT" | tail -3
else
  bad "python3-croniter missing (scripts/deps.sh installs it)"
fi
finish
