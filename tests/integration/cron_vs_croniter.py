#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Differential test: `roost cron next` against croniter (Debian's
python3-croniter), an independent Vixie-style implementation, on random
5-field expressions in UTC. Fields whose text starts with '*' and a step
(like */2) are left out of the two day fields, because croniter departs from
Vixie cron there (Vixie treats them as unrestricted, croniter does not).
Likewise a day field whose list happens to cover every value (1-sat,sun):
croniter rewrites it to '*', Vixie decides by the text, so those are skipped."""
import datetime
import random
import subprocess
import sys

from croniter import croniter

ROOST = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 300
rng = random.Random(20261126)
MON = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DOW = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


def field(lo, hi, names=None, allow_star_step=True):
    r = rng.random()
    if r < 0.3:
        return "*"
    if r < 0.45 and allow_star_step:
        return "*/%d" % rng.randint(1, max(1, (hi - lo) // 2))
    items = []
    for _ in range(rng.randint(1, 3)):
        a = rng.randint(lo, hi)
        k = rng.random()
        name = lambda v: names[v - lo] if names and v - lo < len(names) and rng.random() < 0.5 else str(v)
        if k < 0.5:
            items.append(name(a))
        else:
            b = rng.randint(a, hi)
            s = "" if k < 0.75 else "/%d" % rng.randint(1, 4)
            items.append("%s-%s%s" % (name(a), name(b), s))
    return ",".join(items)


def main():
    checked = 0
    for i in range(N):
        expr = " ".join([field(0, 59), field(0, 23), field(1, 28, allow_star_step=False),
                         field(1, 12, MON), field(0, 6, DOW, allow_star_step=False)])
        ex = croniter(expr).expanded
        if (ex[2] == ["*"] and not expr.split()[2].startswith("*")) or \
           (ex[4] == ["*"] and not expr.split()[4].startswith("*")):
            continue
        start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc) + \
            datetime.timedelta(seconds=rng.randint(0, 86400 * 800))
        start = start.replace(second=0)
        want = []
        it = croniter(expr, start)
        for _ in range(5):
            want.append(it.get_next(datetime.datetime).strftime("%Y-%m-%dT%H:%M:%SZ"))
        p = subprocess.run([ROOST, "cron", "next", expr, "--from",
                            start.strftime("%Y-%m-%dT%H:%M:%SZ"), "--count", "5"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            print("FAIL %r: exit %d %s" % (expr, p.returncode, p.stderr.strip()))
            return 1
        got = p.stdout.split()
        if got != want:
            print("FAIL %r from %s:\n  roost    %s\n  croniter %s" % (expr, start, got, want))
            return 1
        checked += 1
    print("%d passed, 0 failed" % checked)
    return 0


if __name__ == "__main__":
    sys.exit(main())
