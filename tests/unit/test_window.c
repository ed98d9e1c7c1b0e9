/* SPDX-License-Identifier: MIT */
/*
 * Backup windows (lib/cron/window.c): parsing, midnight wrap, and both DST
 * transitions in Europe/Berlin and America/New_York, time as a parameter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "roost/timeutil.h"
#include "roost/window.h"

static int64_t T(const char *s)
{
	int64_t t;
	assert_int_equal(roost_time_parse(s, &t, NULL), ROOST_OK);
	return t;
}

static struct roost_window W(const char *s)
{
	struct roost_window w;
	assert_int_equal(window_parse(s, &w, NULL), ROOST_OK);
	return w;
}

static const struct roost_tz *Z(const char *name)
{
	const struct roost_tz *tz;
	assert_int_equal(roost_tz_get(name, &tz, NULL), ROOST_OK);
	return tz;
}

static void test_window_parse(void **st)
{
	(void)st;
	struct roost_window w;
	struct roost_errbuf eb = {{0}};
	char buf[16];
	assert_int_equal(window_parse("22:00-06:00", &w, NULL), ROOST_OK);
	assert_int_equal(w.start_min, 22 * 60);
	assert_int_equal(w.end_min, 6 * 60);
	assert_string_equal(window_format(&w, buf, sizeof(buf)), "22:00-06:00");
	const char *bad[] = {"", "22:00", "24:00-06:00", "22:60-06:00", "2:00-06:00",
	                     "22:00-06:00 ", "22:00_06:00", "10:00-10:00", "aa:bb-cc:dd"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(window_parse(bad[i], &w, &eb), ROOST_EINVAL);
	assert_non_null(strstr(eb.msg, "window"));
	assert_int_equal(window_parse(NULL, &w, NULL), ROOST_EINVAL);
}

static void test_window_midnight_wrap(void **st)
{
	(void)st;
	struct roost_window w = W("22:00-06:00");
	assert_false(window_contains(&w, NULL, T("2026-11-26T21:59:59Z")));
	assert_true(window_contains(&w, NULL, T("2026-11-26T22:00:00Z")));
	assert_true(window_contains(&w, NULL, T("2026-11-26T23:59:59Z")));
	assert_true(window_contains(&w, NULL, T("2026-11-27T00:00:00Z")));
	assert_true(window_contains(&w, NULL, T("2026-11-27T05:59:59Z")));
	assert_false(window_contains(&w, NULL, T("2026-11-27T06:00:00Z")));
	assert_int_equal(window_next_open(&w, NULL, T("2026-11-27T12:00:00Z")),
	                 T("2026-11-27T22:00:00Z"));
	assert_int_equal(window_next_open(&w, NULL, T("2026-11-27T06:00:00Z")),
	                 T("2026-11-27T22:00:00Z"));
	assert_int_equal(window_next_open(&w, NULL, T("2026-11-27T01:00:00Z")),
	                 T("2026-11-27T01:00:00Z")); /* already open */
	/* a window that does not wrap, in a zone: 09:00-17:00 Berlin (CET, +1) */
	struct roost_window d = W("09:00-17:00");
	const struct roost_tz *be = Z("Europe/Berlin");
	assert_false(window_contains(&d, be, T("2026-11-26T07:59:00Z")));
	assert_true(window_contains(&d, be, T("2026-11-26T08:00:00Z")));
	assert_false(window_contains(&d, be, T("2026-11-26T16:00:00Z")));
	assert_int_equal(window_next_open(&d, be, T("2026-11-26T16:00:00Z")),
	                 T("2026-11-27T08:00:00Z"));
}

static void test_window_berlin_dst(void **st)
{
	(void)st;
	const struct roost_tz *be = Z("Europe/Berlin");
	/* spring forward 2026-03-29: 02:00 CET -> 03:00 CEST (01:00Z); 02:30 does not
	 * exist, so the window opens at the first valid instant after: 03:00 CEST */
	struct roost_window w = W("02:30-04:00");
	assert_int_equal(window_next_open(&w, be, T("2026-03-28T23:30:00Z")),
	                 T("2026-03-29T01:00:00Z"));
	assert_false(window_contains(&w, be, T("2026-03-29T00:59:59Z")));
	assert_true(window_contains(&w, be, T("2026-03-29T01:00:00Z")));
	assert_true(window_contains(&w, be, T("2026-03-29T01:59:59Z")));  /* 03:59 CEST */
	assert_false(window_contains(&w, be, T("2026-03-29T02:00:00Z"))); /* 04:00 CEST */
	/* the day before and after: 02:30 exists */
	assert_int_equal(window_next_open(&w, be, T("2026-03-27T12:00:00Z")),
	                 T("2026-03-28T01:30:00Z"));
	assert_int_equal(window_next_open(&w, be, T("2026-03-29T12:00:00Z")),
	                 T("2026-03-30T00:30:00Z"));
	/* fall back 2026-10-25: 03:00 CEST -> 02:00 CET (01:00Z); 02:15-02:45 happens
	 * twice on the clock and counts once, at its first occurrence (CEST) */
	struct roost_window f = W("02:15-02:45");
	assert_int_equal(window_next_open(&f, be, T("2026-10-24T22:00:00Z")),
	                 T("2026-10-25T00:15:00Z"));
	assert_true(window_contains(&f, be, T("2026-10-25T00:30:00Z")));  /* 02:30 CEST */
	assert_false(window_contains(&f, be, T("2026-10-25T01:30:00Z"))); /* 02:30 CET */
	assert_int_equal(window_next_open(&f, be, T("2026-10-25T00:50:00Z")),
	                 T("2026-10-26T01:15:00Z"));
	/* a window across the fall-back hour lasts one hour longer in real time */
	struct roost_window n = W("22:00-06:00");
	assert_true(window_contains(&n, be, T("2026-10-25T04:59:59Z")));  /* 05:59 CET */
	assert_false(window_contains(&n, be, T("2026-10-25T05:00:00Z")));
}

static void test_window_new_york_dst(void **st)
{
	(void)st;
	const struct roost_tz *ny = Z("America/New_York");
	/* spring forward 2026-03-08: 02:00 EST -> 03:00 EDT (07:00Z); a window that wraps
	 * midnight and ends at 02:30, which does not exist: it closes at 03:00 EDT */
	struct roost_window w = W("22:00-02:30");
	assert_int_equal(window_next_open(&w, ny, T("2026-03-07T12:00:00Z")),
	                 T("2026-03-08T03:00:00Z")); /* 22:00 EST */
	assert_true(window_contains(&w, ny, T("2026-03-08T06:59:59Z")));
	assert_false(window_contains(&w, ny, T("2026-03-08T07:00:00Z")));
	assert_int_equal(window_next_open(&w, ny, T("2026-03-08T07:00:00Z")),
	                 T("2026-03-09T02:00:00Z")); /* 22:00 EDT */
	/* fall back 2026-11-01: 02:00 EDT -> 01:00 EST (06:00Z). 01:30-03:00 opens at
	 * the first 01:30 (EDT) and stays open through the repeated hour */
	struct roost_window f = W("01:30-03:00");
	assert_false(window_contains(&f, ny, T("2026-11-01T05:29:59Z")));
	assert_true(window_contains(&f, ny, T("2026-11-01T05:30:00Z")));
	assert_true(window_contains(&f, ny, T("2026-11-01T06:10:00Z")));  /* 01:10 EST */
	assert_true(window_contains(&f, ny, T("2026-11-01T07:59:59Z")));  /* 02:59 EST */
	assert_false(window_contains(&f, ny, T("2026-11-01T08:00:00Z")));
	/* 00:00-01:30 closes at the first 01:30: the repeated 01:00-01:30 EST is outside */
	struct roost_window e = W("00:00-01:30");
	assert_true(window_contains(&e, ny, T("2026-11-01T05:29:59Z")));
	assert_false(window_contains(&e, ny, T("2026-11-01T06:10:00Z")));
	assert_int_equal(window_next_open(&e, ny, T("2026-11-01T06:10:00Z")),
	                 T("2026-11-02T05:00:00Z"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_parse),
		cmocka_unit_test(test_window_midnight_wrap),
		cmocka_unit_test(test_window_berlin_dst),
		cmocka_unit_test(test_window_new_york_dst),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
