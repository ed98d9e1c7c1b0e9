/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of lib/util/tz: offsets agree with glibc's localtime_r (an
 * independent reader of the same zoneinfo) across zones and centuries, DST
 * gaps and folds resolve correctly, hostile names and files are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "roost/tz.h"

static void test_matches_glibc(void **st)
{
	(void)st;
	static const char *const zones[] = {
		"America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata",
		"America/Sao_Paulo", "Pacific/Chatham", "Asia/Tehran", "Europe/Dublin",
		"America/St_Johns", "Pacific/Apia", "Africa/Casablanca", "Etc/GMT+5",
		"Australia/Lord_Howe", "America/Santiago"};
	unsigned seed = 99;
	for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
		const struct roost_tz *tz;
		struct roost_errbuf eb;
		if (roost_tz_get(zones[z], &tz, &eb))
			fail_msg("%s: %s", zones[z], eb.msg);
		setenv("TZ", zones[z], 1);
		tzset();
		for (int i = 0; i < 4000; i++) {
			seed = seed * 1103515245u + 12345u;
			/* 1950 .. 2150, denser near DST changes of "now" */
			int64_t t = -631152000LL + (int64_t)(((uint64_t)seed << 20 ^ seed) % 6311520000ULL);
			time_t tt = (time_t)t;
			struct tm tm;
			localtime_r(&tt, &tm);
			int32_t got = roost_tz_offset_at(tz, t);
			if (got != tm.tm_gmtoff)
				fail_msg("%s at %lld: got %d glibc %ld", zones[z], (long long)t, got,
				         tm.tm_gmtoff);
		}
	}
	unsetenv("TZ");
}

static void test_resolve(void **st)
{
	(void)st;
	const struct roost_tz *tz;
	assert_int_equal(roost_tz_get("America/New_York", &tz, NULL), ROOST_OK);
	int64_t u, gap_end;
	/* 2026-03-08 02:30 wall does not exist; the gap ends at 03:00 wall */
	int64_t wall = 1772937000; /* 2026-03-08T02:30:00 as wall */
	assert_int_equal(roost_tz_resolve(tz, wall, &u, &gap_end), ROOST_TZ_SKIPPED);
	assert_int_equal(gap_end, 1772938800); /* 03:00 */
	/* 2026-11-01 01:30 wall occurs twice; first at 05:30Z */
	wall = 1793496600; /* 2026-11-01T01:30:00 as wall */
	assert_int_equal(roost_tz_resolve(tz, wall, &u, &gap_end), ROOST_TZ_REPEATED);
	assert_int_equal(u, 1793511000); /* 2026-11-01T05:30:00Z */
	/* an ordinary time */
	wall = 1793584800; /* 2026-11-02T02:00 wall = 07:00Z */
	assert_int_equal(roost_tz_resolve(tz, wall, &u, &gap_end), ROOST_TZ_UNIQUE);
	assert_int_equal(u, 1793602800);
	assert_int_equal(roost_tz_resolve(roost_tz_utc(), 5, &u, &gap_end), ROOST_TZ_UNIQUE);
	assert_int_equal(u, 5);
}

static void test_names(void **st)
{
	(void)st;
	const struct roost_tz *tz;
	struct roost_errbuf eb;
	assert_int_equal(roost_tz_get(NULL, &tz, NULL), ROOST_OK);
	assert_true(roost_tz_is_utc(tz));
	assert_int_equal(roost_tz_get("UTC", &tz, NULL), ROOST_OK);
	assert_true(roost_tz_is_utc(tz));
	static const char *const bad[] = {"../etc/passwd", "/etc/passwd", "a/../b", "Europe//London",
	                                  "Europe/", "Europe/Lon don", ".hidden", "x\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(roost_tz_get(bad[i], &tz, &eb), ROOST_EINVAL);
		assert_null(tz);
		assert_non_null(strstr(eb.msg, "invalid time zone name"));
	}
	assert_int_equal(roost_tz_get("Nowhere/Place", &tz, &eb), ROOST_ENOENT);
	assert_non_null(strstr(eb.msg, "unknown time zone"));
	/* a directory is not a zone */
	assert_int_equal(roost_tz_get("Europe", &tz, &eb), ROOST_ENOENT);
	/* cached: the same object twice */
	const struct roost_tz *a, *b;
	assert_int_equal(roost_tz_get("Europe/Paris", &a, NULL), ROOST_OK);
	assert_int_equal(roost_tz_get("Europe/Paris", &b, NULL), ROOST_OK);
	assert_ptr_equal(a, b);
	assert_string_equal(roost_tz_name(a), "Europe/Paris");
}

static void test_malformed_tzif(void **st)
{
	(void)st;
	struct roost_tz *tz;
	struct roost_errbuf eb;
	unsigned char junk[64] = "TZif2";
	assert_int_equal(roost_tz_parse("x", junk, sizeof(junk), &tz, &eb), ROOST_ECORRUPT);
	assert_null(tz);
	assert_int_equal(roost_tz_parse("x", junk, 3, &tz, &eb), ROOST_ECORRUPT);
	/* a header claiming more transitions than the file holds */
	unsigned char h[44] = "TZif2";
	h[35] = 50; /* timecnt */
	h[39] = 1;  /* typecnt */
	assert_int_equal(roost_tz_parse("x", h, sizeof(h), &tz, &eb), ROOST_ECORRUPT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_glibc),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_malformed_tzif),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
