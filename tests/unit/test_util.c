/* SPDX-License-Identifier: MIT */
/* Unit tests of lib/util: civil time, RFC 3339, errors, logging, clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "roost/clock.h"
#include "roost/error.h"
#include "roost/log.h"
#include "roost/timeutil.h"

static void test_civil_matches_gmtime(void **st)
{
	(void)st;
	unsigned s = 7;
	for (int i = 0; i < 200000; i++) {
		s = s * 1103515245u + 12345u;
		int64_t t = (int64_t)((((uint64_t)s << 22) ^ s) % 400000000000ULL) - 200000000000LL;
		time_t tt = (time_t)t;
		struct tm tm;
		gmtime_r(&tt, &tm);
		struct roost_civil c;
		roost_civil_from_time(t, &c);
		assert_int_equal(c.year, tm.tm_year + 1900LL);
		assert_int_equal(c.month, tm.tm_mon + 1);
		assert_int_equal(c.day, tm.tm_mday);
		assert_int_equal(c.hour, tm.tm_hour);
		assert_int_equal(c.minute, tm.tm_min);
		assert_int_equal(c.second, tm.tm_sec);
		assert_int_equal(c.wday, tm.tm_wday);
		assert_int_equal(roost_civil_to_time(&c), t);
	}
}

static void test_rfc3339(void **st)
{
	(void)st;
	int64_t t;
	struct roost_errbuf eb;
	assert_int_equal(roost_time_parse("2026-11-26T09:00:00Z", &t, &eb), ROOST_OK);
	assert_int_equal(t, 1795683600);
	assert_int_equal(roost_time_parse("2026-11-26T10:00:00.999+01:00", &t, &eb), ROOST_OK);
	assert_int_equal(t, 1795683600);
	assert_int_equal(roost_time_parse("2026-11-26t04:30:00-04:30", &t, &eb), ROOST_OK);
	assert_int_equal(t, 1795683600);
	assert_int_equal(roost_time_parse("1969-12-31T23:59:59Z", &t, &eb), ROOST_OK);
	assert_int_equal(t, -1);
	char buf[40];
	assert_string_equal(roost_time_format(1795683600, buf, sizeof(buf)), "2026-11-26T09:00:00Z");
	assert_string_equal(roost_time_format_ms(1795683600123LL, buf, sizeof(buf)),
	                    "2026-11-26T09:00:00.123Z");
	static const char *const bad[] = {"", "2026-11-26", "2026-11-26T09:00:00",
	                                  "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
	                                  "2026-11-26T24:00:00Z", "2026-11-26T09:00:00Zjunk",
	                                  "2026-11-26T09:00:00+1:00", "2026-11-26T09:00:00.Z",
	                                  "yesterday"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		eb.msg[0] = 0;
		assert_int_equal(roost_time_parse(bad[i], &t, &eb), ROOST_EINVAL);
		assert_true(strlen(eb.msg) > 0);
	}
	assert_int_equal(roost_time_parse("2028-02-29T00:00:00Z", &t, &eb), ROOST_OK);
}

static void test_errors(void **st)
{
	(void)st;
	for (int e = 0; e < ROOST_ERR_MAX; e++)
		assert_true(strlen(roost_strerror((enum roost_err)e)) > 0);
	assert_string_equal(roost_strerror((enum roost_err)999), "unknown error");
	struct roost_errbuf eb;
	assert_int_equal(roost_errf(&eb, ROOST_EINVAL, "field %s", "x"), ROOST_EINVAL);
	assert_string_equal(eb.msg, "field x");
	assert_int_equal(roost_errf(NULL, ROOST_EIO, "ignored"), ROOST_EIO);
}

static void test_log_format(void **st)
{
	(void)st;
	int p[2];
	assert_int_equal(pipe(p), 0);
	roost_log_set_fd(p[1]);
	roost_log_set_level(ROOST_LOG_INFO);
	log_debug("hidden", "a=1");
	log_info("catchup.dispatch", "host=%s name=%s n=%d", roost_lq("h1"),
	         roost_lq("my laptop\n\"x\""), 3);
	log_warn("bare", "%s", "");
	roost_log_set_fd(2);
	close(p[1]);
	char buf[1024] = {0};
	ssize_t n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	assert_true(n > 0);
	char *first = buf, *nl = strchr(buf, '\n');
	assert_non_null(nl);
	*nl = 0;
	assert_non_null(strstr(first, " level=info event=catchup.dispatch host=h1 "
	                              "name=\"my laptop\\x0a\\\"x\\\"\" n=3"));
	assert_true(strncmp(first, "ts=", 3) == 0);
	assert_null(strstr(nl + 1, "hidden"));
	assert_non_null(strstr(nl + 1, "level=warn event=bare"));
	assert_int_equal(roost_log_level_parse("debug"), ROOST_LOG_DEBUG);
	assert_int_equal(roost_log_level_parse("nope"), -1);
	assert_string_equal(roost_lq(NULL), "-");
	assert_string_equal(roost_lq(""), "\"\"");
	char longv[2000];
	memset(longv, 'a', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = 0;
	longv[5] = ' ';
	const char *q = roost_lq(longv);
	assert_true(strlen(q) < 330);
	assert_non_null(strstr(q, "...\""));
}

static void test_fake_clock(void **st)
{
	(void)st;
	struct roost_fake_clock fc;
	roost_fake_clock_init(&fc, 1000);
	assert_int_equal(roost_clock_now_s(&fc.clock), 1000);
	roost_fake_clock_advance_ns(&fc, 60 * ROOST_NS_PER_SEC + 5);
	assert_int_equal(roost_clock_now_s(&fc.clock), 1060);
	assert_int_equal(roost_clock_mono_ns(&fc.clock), 1060 * ROOST_NS_PER_SEC + 5);
	const struct roost_clock *sys = roost_clock_system();
	assert_true(roost_clock_now_s(sys) > 1700000000);
	int64_t a = roost_clock_mono_ns(sys), b = roost_clock_mono_ns(sys);
	assert_true(b >= a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_civil_matches_gmtime),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_log_format),
		cmocka_unit_test(test_fake_clock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
