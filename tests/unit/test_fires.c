/* SPDX-License-Identifier: MIT */
/*
 * The fire rule of always-on hosts (server/fires.c, fires_decide) with time
 * as a parameter: dispatch when idle, coalesce when busy, drop duplicates,
 * fires covered by a later job and unusable schedules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "roost/timeutil.h"
#include "roostd.h"

static int64_t T(const char *s)
{
	int64_t t;
	assert_int_equal(roost_time_parse(s, &t, NULL), ROOST_OK);
	return t;
}

static void test_fire_idle_dispatches(void **st)
{
	(void)st;
	struct fire_facts f = {.schedule_usable = 1, .last_job_created = INT64_MIN};
	assert_int_equal(fires_decide(&f, T("2026-11-26T09:00:00Z")), FIRE_DISPATCH);
}

static void test_fire_busy_coalesces(void **st)
{
	(void)st;
	struct fire_facts f = {.schedule_usable = 1, .last_job_created = T("2026-11-26T08:00:00Z"),
	                       .host_busy = 1};
	/* many fires while busy: each says "pending", the store upserts one row */
	assert_int_equal(fires_decide(&f, T("2026-11-26T09:00:00Z")), FIRE_COALESCE);
	assert_int_equal(fires_decide(&f, T("2026-11-26T09:10:00Z")), FIRE_COALESCE);
	assert_string_equal(fires_action_name(FIRE_COALESCE), "pending");
}

static void test_fire_duplicate_and_covered(void **st)
{
	(void)st;
	struct fire_facts f = {.seen = 1, .schedule_usable = 1, .last_job_created = INT64_MIN};
	assert_int_equal(fires_decide(&f, T("2026-11-26T09:00:00Z")), FIRE_DROP_SEEN);
	/* a job of this schedule was created at or after the slot: dropped */
	f.seen = 0;
	f.last_job_created = T("2026-11-26T09:00:00Z");
	assert_int_equal(fires_decide(&f, T("2026-11-26T09:00:00Z")), FIRE_DROP_COVERED);
	assert_int_equal(fires_decide(&f, T("2026-11-26T08:59:59Z")), FIRE_DROP_COVERED);
	assert_int_equal(fires_decide(&f, T("2026-11-26T09:00:01Z")), FIRE_DISPATCH);
	f.schedule_usable = 0;
	assert_int_equal(fires_decide(&f, T("2026-11-26T10:00:00Z")), FIRE_DROP_DISABLED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fire_idle_dispatches),
		cmocka_unit_test(test_fire_busy_coalesces),
		cmocka_unit_test(test_fire_duplicate_and_covered),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
