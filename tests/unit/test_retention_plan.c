/* SPDX-License-Identifier: MIT */
/*
 * roostd's retention plan (server/retention.c): a schedule's rules apply per
 * (schedule, host, group) to the snapshots its jobs made, whatever their
 * trigger; manual snapshots, snapshots of removed schedules, of schedules
 * without rules and of no known job stay; and, on random fleets, the newest
 * snapshot of every (host, group) is always kept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "retention.h"

static struct ret_owner owner(const char *snap, int64_t host, int64_t group, int64_t sched,
                              int manual, int keep_last)
{
	struct ret_owner o;
	memset(&o, 0, sizeof(o));
	snprintf(o.snapshot_id, sizeof(o.snapshot_id), "%s", snap);
	o.host_id = host;
	o.group_id = group;
	o.schedule_id = sched;
	o.manual = manual;
	snprintf(o.host, sizeof(o.host), "h%lld", (long long)host);
	snprintf(o.group, sizeof(o.group), "g%lld", (long long)group);
	snprintf(o.schedule, sizeof(o.schedule), "s%lld", (long long)sched);
	o.keep.last = keep_last;
	return o;
}

static void test_rules_per_series_and_what_stays(void **st)
{
	(void)st;
	/* host 1 group 1, schedule 7 keep_last 2: a1..a4 (a4 newest, a catch-up or
	 * pending run counts the same); host 2 group 2, same schedule id space but
	 * its own series: b1..b3; m1 manual on host 1 group 1; r1 of a removed
	 * schedule; n1 of no job; k1..k2 of a schedule without rules */
	struct ret_snap s[] = {{"a1", 100}, {"a2", 200}, {"a3", 300}, {"a4", 400}, {"b1", 110},
	                       {"b2", 210}, {"b3", 310}, {"m1", 50},  {"r1", 10},  {"n1", 5},
	                       {"k1", 20},  {"k2", 30}};
	size_t n = sizeof(s) / sizeof(s[0]);
	struct ret_owner o[] = {
		owner("a1", 1, 1, 7, 0, 2), owner("a2", 1, 1, 7, 0, 2), owner("a3", 1, 1, 7, 0, 2),
		owner("a4", 1, 1, 7, 0, 2), owner("b1", 2, 2, 8, 0, 2), owner("b2", 2, 2, 8, 0, 2),
		owner("b3", 2, 2, 8, 0, 2), owner("m1", 1, 1, 0, 1, 0), owner("r1", 1, 1, 0, 0, 0),
		owner("k1", 1, 3, 9, 0, 0), owner("k2", 1, 3, 9, 0, 0),
	};
	struct ret_decision d[16];
	assert_int_equal(retention_plan(s, n, o, sizeof(o) / sizeof(o[0]), d), 0);
	const char *want = "--KK-KKKKKKK";
	for (size_t i = 0; i < n; i++) {
		if ((want[i] == 'K') != d[i].keep)
			fail_msg("%s: keep=%d (%s)", s[i].id, d[i].keep, d[i].reason);
	}
	assert_non_null(strstr(d[0].reason, "no rule of schedule \"s7\" keeps it (keep_last 2)"));
	assert_non_null(strstr(d[3].reason, "kept by schedule \"s7\": last"));
	assert_non_null(strstr(d[7].reason, "manual"));
	assert_non_null(strstr(d[8].reason, "schedule was removed"));
	assert_non_null(strstr(d[9].reason, "no job"));
	assert_null(d[9].owner);
	assert_non_null(strstr(d[10].reason, "no retention rules"));
}

static void test_random_fleets_keep_each_groups_newest(void **st)
{
	(void)st;
	srand(11);
	enum { N = 300 };
	static struct ret_snap s[N];
	static struct ret_owner o[N];
	static struct ret_decision d[N];
	static char ids[N][16];
	for (int round = 0; round < 300; round++) {
		size_t n = 1 + (size_t)(rand() % N), no = 0;
		for (size_t i = 0; i < n; i++) {
			snprintf(ids[i], sizeof(ids[i]), "%zx", i * 7919 + 1);
			s[i] = (struct ret_snap){ids[i], 1700000000 + rand() % (400 * 86400)};
			if (rand() % 10 == 0)
				continue; /* no job known */
			int64_t host = 1 + rand() % 4, group = 1 + rand() % 3, sched = rand() % 4;
			int manual = sched == 0 && rand() % 2;
			o[no] = owner(ids[i], host, group, sched, manual, 0);
			/* the policy is the schedule's: the same for every job of it */
			srand((unsigned)(sched * 1000 + round));
			struct roost_keep_policy p = {rand() % 3, rand() % 3, rand() % 3,
			                              rand() % 3, rand() % 3, rand() % 2};
			o[no].keep = sched ? p : (struct roost_keep_policy){0};
			srand((unsigned)(round * 100000 + (int)i));
			no++;
		}
		assert_int_equal(retention_plan(s, n, o, no, d), 0);
		/* the newest snapshot of each (host, group) known is kept */
		for (size_t i = 0; i < n; i++) {
			if (!d[i].owner)
				continue;
			int newest = 1;
			for (size_t k = 0; k < n && newest; k++)
				if (k != i && d[k].owner && d[k].owner->host_id == d[i].owner->host_id &&
				    d[k].owner->group_id == d[i].owner->group_id &&
				    (s[k].time > s[i].time || (s[k].time == s[i].time && k < i)))
					newest = 0;
			if (newest && !d[i].keep)
				fail_msg("round %d: the newest of h%lld/g%lld (%s) would go: %s", round,
				         (long long)d[i].owner->host_id, (long long)d[i].owner->group_id,
				         s[i].id, d[i].reason);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules_per_series_and_what_stays),
		cmocka_unit_test(test_random_fleets_keep_each_groups_newest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
