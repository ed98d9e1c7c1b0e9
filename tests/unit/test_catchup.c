/* SPDX-License-Identifier: MIT */
/*
 * The catch-up rule of intermittent hosts (server/catchup.c): the host gate
 * and the overdue (schedule, group) pairs, with time as a parameter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "roost/timeutil.h"
#include "roostd.h"
#include "store_url.h"

static int64_t T(const char *s)
{
	int64_t t;
	assert_int_equal(roost_time_parse(s, &t, NULL), ROOST_OK);
	return t;
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

/* The host gate alone: offline first, then always-on, then busy. */
static void test_catchup_gate_order(void **st)
{
	(void)st;
	struct catchup_host h = {.connected = 0, .intermittent = 0, .busy = 1};
	assert_int_equal(catchup_gate(&h), CATCHUP_SKIP_OFFLINE);
	h.connected = 1;
	assert_int_equal(catchup_gate(&h), CATCHUP_SKIP_ALWAYS_ON);
	h.intermittent = 1;
	assert_int_equal(catchup_gate(&h), CATCHUP_SKIP_BUSY);
	h.busy = 0;
	assert_int_equal(catchup_gate(&h), CATCHUP_RUN);
	assert_string_equal(catchup_skip_name(CATCHUP_SKIP_OFFLINE), "host_offline");
	assert_string_equal(catchup_skip_name(CATCHUP_SKIP_ALWAYS_ON), "host_always_on");
}

/* The pair rule alone needs no host: what the API's `overdue` shows for a
 * host whatever its connection; pairs beyond cap are counted, not written. */
static void test_catchup_overdue_pairs_without_host(void **st)
{
	(void)st;
	struct catchup_group g[3] = {
		{.group_id = 1},                                   /* never succeeded */
		{.group_id = 2, .succeeded = 1, .last_success = T("2026-11-26T02:00:00Z")},
		{.group_id = 3, .succeeded = 1, .last_success = T("2026-11-25T02:00:00Z")},
	};
	struct catchup_schedule s = {.schedule_id = 9, .cron = "0 2 * * *", .enabled = 1,
	                             .groups = g, .ngroups = 3};
	struct catchup_due out[1];
	/* at 09:00 on the 26th: group 1 (never) and group 3 (its next 02:00 passed) */
	assert_int_equal(catchup_eval_overdue(&s, 1, T("2026-11-26T09:00:00Z"), out, 1), 2);
	assert_int_equal(out[0].schedule_id, 9);
	assert_int_equal(out[0].group_id, 1);
	assert_int_equal(catchup_eval_overdue(&s, 1, T("2026-11-26T09:00:00Z"), NULL, 0), 2);
	/* at 02:00 on the 27th group 2's next slot has come: all three */
	assert_int_equal(catchup_eval_overdue(&s, 1, T("2026-11-27T02:00:00Z"), NULL, 0), 3);
	s.enabled = 0;
	assert_int_equal(catchup_eval_overdue(&s, 1, T("2026-11-27T02:00:00Z"), NULL, 0), 0);
}

/* ---- --catchup-jitter: 200 laptops waking at once ---- */

#define NHOSTS 200
#define JITTER 100
#define SETTLE 60
static int offline[NHOSTS + 1];

static int fake_online(int64_t h)
{
	return h > 0 && h <= NHOSTS && !offline[h];
}

static int fake_send(int64_t h, json_t *m)
{
	(void)m;
	return fake_online(h) ? 0 : -1;
}

static void test_catchup_jitter_offset(void **st)
{
	(void)st;
	uint8_t k1[16] = {1}, k2[16] = {2};
	assert_int_equal(catchup_jitter(k1, 5, 0), 0); /* the default: no jitter */
	int differ = 0;
	for (int64_t h = 1; h <= 1000; h++) {
		int64_t o = catchup_jitter(k1, h, JITTER);
		assert_in_range(o, 0, JITTER - 1);
		assert_int_equal(o, catchup_jitter(k1, h, JITTER)); /* stable */
		differ += o != catchup_jitter(k2, h, JITTER);
	}
	assert_true(differ > 900); /* keyed: another data directory spreads differently */
}

static void test_catchup_jitter_spreads_200_hosts(void **st)
{
	(void)st;
	struct srv S;
	memset(&S, 0, sizeof(S));
	g_srv = &S;
	struct roost_errbuf eb;
	assert_int_equal(store_open(test_store_url(":memory:"), &S.st, &eb), ROOST_OK);
	S.catchups = dueheap_new();
	S.settle_s = SETTLE;
	S.catchup_jitter_s = JITTER;
	memcpy(S.jitter_key, "a data directory", 16);
	const int64_t t0 = T("2026-11-30T09:00:00Z");
	S.fake_now = t0;
	S.send_hook = fake_send;
	S.online_hook = fake_online;
	uint8_t hh[AUTH_HASH_LEN] = {0};
	for (int64_t h = 1; h <= NHOSTS; h++) {
		char name[16];
		snprintf(name, sizeof(name), "lap%lld", (long long)h);
		assert_int_equal(db_exec("INSERT INTO hosts (id, name, hostname, mode, secret_hash, "
		                         "created_at) VALUES (?, ?, ?, 'intermittent', ?, 0)", "ittb",
		                         h, name, name, hh, sizeof(hh)), DB_DONE);
		db_exec("INSERT INTO source_groups (id, host_id, name, paths) VALUES (?, ?, 'g', '[]')",
		        "ii", h, h);
		db_exec("INSERT INTO schedules (id, host_id, name, cron) VALUES (?, ?, 'd', '0 2 * * *')",
		        "ii", h, h);
		db_exec("INSERT INTO schedule_groups VALUES (?, ?)", "ii", h, h);
	}
	/* everyone wakes at 09:00; hosts 1-10 drop again during their wait */
	memset(offline, 0, sizeof(offline));
	for (int64_t h = 1; h <= NHOSTS; h++)
		catchup_arm_hello(h, t0, catchup_hello_epoch(h));
	for (int h = 1; h <= 10; h++)
		offline[h] = 1;
	/* a second hello of host 20 within its wait re-arms, never stacks */
	catchup_arm_hello(20, t0, catchup_hello_epoch(20));
	enum { BUCKETS = 20 };
	int bucket[BUCKETS] = {0}, per_s[JITTER] = {0}, before = 0, after = 0;
	for (int64_t t = t0; t <= t0 + SETTLE + JITTER + 5; t++) {
		S.fake_now = t;
		int64_t was = db_int(0, "SELECT COUNT(*) FROM jobs", NULL);
		catchup_timer_cb(NULL);
		int64_t now = db_int(0, "SELECT COUNT(*) FROM jobs", NULL) - was;
		int64_t off = t - t0 - SETTLE;
		if (off < 0)
			before += (int)now;
		else if (off >= JITTER)
			after += (int)now;
		else {
			bucket[off / (JITTER / BUCKETS)] += (int)now;
			per_s[off] += (int)now;
		}
	}
	assert_int_equal(before, 0); /* nobody before the settle window ends */
	assert_int_equal(after, 0);  /* nobody beyond settle + jitter */
	/* each host that stayed exactly once, the dropped ones not at all */
	assert_int_equal(db_int(0, "SELECT COUNT(*) FROM jobs", NULL), NHOSTS - 10);
	assert_int_equal(db_int(0, "SELECT COUNT(DISTINCT host_id) FROM jobs", NULL), NHOSTS - 10);
	assert_int_equal(db_int(0, "SELECT COUNT(*) FROM jobs WHERE host_id <= 10", NULL), 0);
	/* spread, the rule: no second holds more than twice the mean (1.9 a
	 * second: at most 3; the golden-ratio offsets keep to that whatever the
	 * phase, a plain hash does not) */
	double mean_s = (double)(NHOSTS - 10) / JITTER;
	for (int o = 0; o < JITTER; o++)
		if (per_s[o] > 2 * mean_s)
			fail_msg("second %d holds %d catch-ups, mean %.1f", o, per_s[o], mean_s);
	/* and coarser: 5 s buckets, none above twice the mean, none empty */
	double mean = (double)(NHOSTS - 10) / BUCKETS;
	for (int b = 0; b < BUCKETS; b++) {
		if (bucket[b] > 2 * mean || bucket[b] == 0)
			fail_msg("bucket %d (%d-%d s) holds %d catch-ups, mean %.1f", b,
			         b * (JITTER / BUCKETS), (b + 1) * (JITTER / BUCKETS), bucket[b], mean);
	}
	dueheap_free(S.catchups);
	store_close(S.st);
	g_srv = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catchup_skips),
		cmocka_unit_test(test_catchup_due_and_not_due),
		cmocka_unit_test(test_catchup_unparseable_never),
		cmocka_unit_test(test_catchup_hourly_does_not_mask_daily),
		cmocka_unit_test(test_catchup_host_zone),
		cmocka_unit_test(test_catchup_gate_order),
		cmocka_unit_test(test_catchup_overdue_pairs_without_host),
		cmocka_unit_test(test_catchup_jitter_offset),
		cmocka_unit_test(test_catchup_jitter_spreads_200_hosts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
