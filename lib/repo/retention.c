/* SPDX-License-Identifier: MIT */
/*
 * Retention rules with restic's meaning (`restic forget --keep-*`), over one
 * series of snapshot times, newest first. Pure: no repository, no clock.
 * `roost repo forget` (maintenance.c) and roostd's maintenance
 * (server/retention.c) both decide through roost_keep_apply.
 *
 * The rules, as restic applies them: walking the series newest first,
 * "last N" keeps the first N; each calendar rule (hourly, daily, weekly,
 * monthly, yearly) keeps a snapshot when its bucket (its hour, day, ISO
 * week, month or year, in UTC) differs from the bucket of the last snapshot
 * that rule kept, until the rule has kept N. A snapshot is kept if any rule
 * keeps it. Every rule that keeps something keeps the newest snapshot, so a
 * policy with any rule keeps at least one.
 */
#include <stdio.h>
#include <string.h>

#include "roost/repo.h"
#include "roost/timeutil.h"

static int64_t floordiv(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

int64_t roost_keep_bucket(int64_t t, int rule)
{
	struct roost_civil c;
	roost_civil_from_time(t, &c);
	switch (rule) {
	case ROOST_KEEP_RULE_HOURLY:
		return (int64_t)c.year * 1000000 + c.month * 10000 + c.day * 100 + c.hour;
	case ROOST_KEEP_RULE_DAILY:
		return (int64_t)c.year * 10000 + c.month * 100 + c.day;
	case ROOST_KEEP_RULE_WEEKLY:
		/* weeks that start on a Monday (ISO weeks): 1970-01-01 was a Thursday */
		return floordiv(floordiv(t, 86400) + 3, 7);
	case ROOST_KEEP_RULE_MONTHLY:
		return (int64_t)c.year * 100 + c.month;
	default:
		return c.year;
	}
}

int roost_keep_policy_empty(const struct roost_keep_policy *p)
{
	return !p->last && !p->hourly && !p->daily && !p->weekly && !p->monthly && !p->yearly;
}

void roost_keep_apply(const struct roost_keep_policy *p, const int64_t *times, size_t n,
                      unsigned *why)
{
	const int limits[ROOST_KEEP_RULES] = {p->last,   p->hourly,  p->daily,
	                                      p->weekly, p->monthly, p->yearly};
	int left[ROOST_KEEP_RULES];
	int64_t last[ROOST_KEEP_RULES];
	int used[ROOST_KEEP_RULES] = {0};
	memcpy(left, limits, sizeof(left));
	for (size_t i = 0; i < n; i++) {
		why[i] = 0;
		if (left[ROOST_KEEP_RULE_LAST] > 0) {
			why[i] |= 1u << ROOST_KEEP_RULE_LAST;
			left[ROOST_KEEP_RULE_LAST]--;
		}
		for (int r = ROOST_KEEP_RULE_HOURLY; r < ROOST_KEEP_RULES; r++) {
			if (left[r] <= 0)
				continue;
			int64_t b = roost_keep_bucket(times[i], r);
			if (used[r] && b == last[r])
				continue;
			why[i] |= 1u << r;
			last[r] = b;
			used[r] = 1;
			left[r]--;
		}
	}
}

static const char *const rule_names[ROOST_KEEP_RULES] = {"last",   "hourly",  "daily",
                                                          "weekly", "monthly", "yearly"};

const char *roost_keep_rule_name(int rule)
{
	return rule >= 0 && rule < ROOST_KEEP_RULES ? rule_names[rule] : "?";
}

void roost_keep_reason(unsigned why, char *buf, size_t len)
{
	size_t o = 0;
	if (len)
		buf[0] = 0;
	for (int r = 0; r < ROOST_KEEP_RULES; r++) {
		if (!(why & (1u << r)))
			continue;
		int k = snprintf(buf + o, len > o ? len - o : 0, "%s%s", o ? ", " : "", rule_names[r]);
		if (k > 0)
			o += (size_t)k;
	}
}
