/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the scheduling core (server/sched.c), one per rule of
 * DESIGN.md's scheduling section, with time as a parameter.
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

static const struct catchup_host laptop = {.connected = 1, .intermittent = 1, .busy = 0};

static void test_catchup_skips(void **st)
{
	(void)st;
	struct catchup_group g = {.group_id = 1};
	struct catchup_schedule s = {.schedule_id = 7, .cron = "0 2 * * *", .enabled = 1,
	                             .groups = &g, .ngroups = 1};
	struct catchup_due out[4];
	size_t n;
	int64_t now = T("2026-11-26T09:00:00Z");
	struct catchup_host h = laptop;
	h.connected = 0; /* bounced offline during the settle window */
	assert_int_equal(catchup_eval(&h, &s, 1, now, out, 4, &n), CATCHUP_SKIP_OFFLINE);
	h = laptop;
	h.intermittent = 0; /* switched to always-on meanwhile */
	assert_int_equal(catchup_eval(&h, &s, 1, now, out, 4, &n), CATCHUP_SKIP_ALWAYS_ON);
	h = laptop;
	h.busy = 1;
	assert_int_equal(catchup_eval(&h, &s, 1, now, out, 4, &n), CATCHUP_SKIP_BUSY);
	assert_int_equal(n, 0);
	assert_string_equal(catchup_skip_name(CATCHUP_SKIP_BUSY), "host_busy");
}

static void test_catchup_due_and_not_due(void **st)
{
	(void)st;
	struct catchup_group g = {.group_id = 1, .succeeded = 1,
	                          .last_success = T("2026-11-25T02:00:00Z")};
	struct catchup_schedule s = {.schedule_id = 7, .cron = "0 2 * * *", .enabled = 1,
	                             .groups = &g, .ngroups = 1};
	struct catchup_due out[4];
	size_t n;
	/* the 2026-11-26 02:00 window passed while asleep: overdue */
	assert_int_equal(catchup_eval(&laptop, &s, 1, T("2026-11-26T09:00:00Z"), out, 4, &n),
	                 CATCHUP_RUN);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].schedule_id, 7);
	assert_int_equal(out[0].group_id, 1);
	/* exactly at the window: overdue (next <= now) */
	catchup_eval(&laptop, &s, 1, T("2026-11-26T02:00:00Z"), out, 4, &n);
	assert_int_equal(n, 1);
	/* a second before it: not yet */
	catchup_eval(&laptop, &s, 1, T("2026-11-26T01:59:59Z"), out, 4, &n);
	assert_int_equal(n, 0);
	/* never succeeded: always overdue */
	g.succeeded = 0;
	catchup_eval(&laptop, &s, 1, T("2026-11-25T03:00:00Z"), out, 4, &n);
	assert_int_equal(n, 1);
	/* disabled, or no groups: never */
	s.enabled = 0;
	catchup_eval(&laptop, &s, 1, T("2026-11-26T09:00:00Z"), out, 4, &n);
	assert_int_equal(n, 0);
	s.enabled = 1;
	s.ngroups = 0;
	catchup_eval(&laptop, &s, 1, T("2026-11-26T09:00:00Z"), out, 4, &n);
	assert_int_equal(n, 0);
}

static void test_catchup_unparseable_never(void **st)
{
	(void)st;
	struct catchup_group g = {.group_id = 1}; /* never succeeded */
	struct catchup_schedule s = {.schedule_id = 7, .cron = "0 0 30 2 *", .enabled = 1,
	                             .groups = &g, .ngroups = 1};
	struct catchup_due out[4];
	size_t n;
	assert_int_equal(catchup_eval(&laptop, &s, 1, T("2026-11-26T09:00:00Z"), out, 4, &n),
	                 CATCHUP_RUN);
	assert_int_equal(n, 0);
	s.cron = "not cron at all";
	catchup_eval(&laptop, &s, 1, T("2026-11-26T09:00:00Z"), out, 4, &n);
	assert_int_equal(n, 0);
}

/* Beyond the seed: an hourly schedule's successes do not mask a missed daily. */
static void test_catchup_hourly_does_not_mask_daily(void **st)
{
	(void)st;
	struct catchup_group hourly_g = {.group_id = 1, .succeeded = 1,
	                                 .last_success = T("2026-11-26T08:30:00Z")};
	struct catchup_group daily_g = {.group_id = 2, .succeeded = 1,
	                                .last_success = T("2026-11-24T23:00:00Z")};
	struct catchup_schedule s[2] = {
		{.schedule_id = 1, .cron = "0 * * * *", .enabled = 1, .groups = &hourly_g, .ngroups = 1},
		{.schedule_id = 2, .cron = "0 23 * * *", .enabled = 1, .groups = &daily_g, .ngroups = 1},
	};
	struct catchup_due out[4];
	size_t n;
	catchup_eval(&laptop, s, 2, T("2026-11-26T08:45:00Z"), out, 4, &n);
	assert_int_equal(n, 1); /* only the daily one: 2026-11-25T23:00 was missed */
	assert_int_equal(out[0].schedule_id, 2);
	assert_int_equal(out[0].group_id, 2);
	/* per (schedule, group): one group of a schedule current, the other not */
	struct catchup_group two[2] = {
		{.group_id = 5, .succeeded = 1, .last_success = T("2026-11-26T08:00:00Z")},
		{.group_id = 6, .succeeded = 0},
	};
	struct catchup_schedule both = {.schedule_id = 9, .cron = "0 8 * * *", .enabled = 1,
	                                .groups = two, .ngroups = 2};
	catchup_eval(&laptop, &both, 1, T("2026-11-26T08:45:00Z"), out, 4, &n);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].group_id, 6);
}

static void test_catchup_host_zone(void **st)
{
	(void)st;
	/* 02:00 in New York is 07:00Z in November */
	struct catchup_group g = {.group_id = 1, .succeeded = 1,
	                          .last_success = T("2026-11-25T07:00:00Z")};
	struct catchup_schedule s = {.schedule_id = 1, .cron = "0 2 * * *",
	                             .tz = "America/New_York", .enabled = 1, .groups = &g,
	                             .ngroups = 1};
	struct catchup_due out[2];
	size_t n;
	catchup_eval(&laptop, &s, 1, T("2026-11-26T06:59:59Z"), out, 2, &n);
	assert_int_equal(n, 0);
	catchup_eval(&laptop, &s, 1, T("2026-11-26T07:00:00Z"), out, 2, &n);
	assert_int_equal(n, 1);
}

static void test_heap_rearm_debounce_and_order(void **st)
{
	(void)st;
	struct due_heap *h = dueheap_new();
	int64_t id;
	/* hello at 0 arms at 60; a flapping host re-arms: one entry, the last due */
	assert_int_equal(dueheap_arm(h, 42, 60), ROOST_OK);
	assert_int_equal(dueheap_arm(h, 42, 75), ROOST_OK);
	assert_int_equal(dueheap_arm(h, 42, 90), ROOST_OK);
	assert_int_equal(dueheap_size(h), 1);
	assert_int_equal(dueheap_pop_due(h, 89, &id), -1);
	assert_int_equal(dueheap_next(h), 90);
	assert_int_equal(dueheap_pop_due(h, 90, &id), 0);
	assert_int_equal(id, 42);
	assert_int_equal(dueheap_pop_due(h, 1000, &id), -1);
	/* many hosts come out in due order; disarmed ones never */
	for (int64_t i = 1; i <= 5000; i++)
		assert_int_equal(dueheap_arm(h, i, (i * 7919) % 10007), ROOST_OK);
	for (int64_t i = 1; i <= 5000; i += 3)
		dueheap_disarm(h, i);
	for (int64_t i = 2; i <= 5000; i += 5) /* re-arm some later */
		assert_int_equal(dueheap_arm(h, i, 20000 + i), ROOST_OK);
	int64_t last = INT64_MIN;
	size_t popped = 0;
	uint8_t *seen = calloc(5001, 1);
	while (dueheap_pop_due(h, INT64_MAX - 1, &id) == 0) {
		assert_true(id >= 1 && id <= 5000);
		int disarmed = (id - 1) % 3 == 0, rearmed = (id - 2) % 5 == 0;
		assert_true(!disarmed || rearmed); /* disarmed (and not re-armed) never fire */
		assert_false(seen[id]);
		seen[id] = 1;
		popped++;
		int64_t due = (id - 2) % 5 == 0 ? 20000 + id : (id * 7919) % 10007;
		assert_true(due >= last);
		last = due;
	}
	size_t want = 0;
	for (int64_t i = 1; i <= 5000; i++)
		want += (i - 1) % 3 != 0 || (i - 2) % 5 == 0;
	assert_int_equal(popped, want);
	assert_true(want > 3000 && want < 5000);
	assert_int_equal(dueheap_size(h), 0);
	assert_int_equal(dueheap_next(h), INT64_MAX);
	/* a host disarmed and armed again works (tombstones) */
	dueheap_disarm(h, 7);
	assert_int_equal(dueheap_arm(h, 7, 5), ROOST_OK);
	assert_int_equal(dueheap_pop_due(h, 5, &id), 0);
	assert_int_equal(id, 7);
	free(seen);
	dueheap_free(h);
}

/* A send failure re-arms (the server does it): the heap takes the host back. */
static void test_heap_send_failure_rearm(void **st)
{
	(void)st;
	struct due_heap *h = dueheap_new();
	int64_t id;
	dueheap_arm(h, 3, 60);
	assert_int_equal(dueheap_pop_due(h, 60, &id), 0);
	/* dispatching failed: re-arm at now + settle */
	dueheap_arm(h, 3, 120);
	assert_int_equal(dueheap_pop_due(h, 119, &id), -1);
	assert_int_equal(dueheap_pop_due(h, 120, &id), 0);
	dueheap_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fire_idle_dispatches),
		cmocka_unit_test(test_fire_busy_coalesces),
		cmocka_unit_test(test_fire_duplicate_and_covered),
		cmocka_unit_test(test_catchup_skips),
		cmocka_unit_test(test_catchup_due_and_not_due),
		cmocka_unit_test(test_catchup_unparseable_never),
		cmocka_unit_test(test_catchup_hourly_does_not_mask_daily),
		cmocka_unit_test(test_catchup_host_zone),
		cmocka_unit_test(test_heap_rearm_debounce_and_order),
		cmocka_unit_test(test_heap_send_failure_rearm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
