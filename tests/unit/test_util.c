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
#include <fcntl.h>

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

/* Reads what was logged into the pipe so far (non-blocking end). */
static size_t drain(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	while (n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = 0;
	return n;
}

static int count_of(const char *hay, const char *needle)
{
	int c = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		c++;
	return c;
}

static void test_log_limited(void **st)
{
	(void)st;
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	struct roost_fake_clock fc;
	roost_fake_clock_init(&fc, 1000);
	roost_log_set_fd(p[1]);
	roost_log_set_level(ROOST_LOG_INFO);
	roost_log_limit_config(3, 10000, &fc.clock);
	int written = 0;
	for (int i = 0; i < 1000; i++)
		written += roost_log_limited(ROOST_LOG_WARN, "net.accept", "10.0.0.1", "n=%d", i);
	assert_int_equal(written, 3);
	/* another source has its own budget; a NULL source is one key */
	assert_int_equal(roost_log_limited(ROOST_LOG_WARN, "net.accept", "10.0.0.2", "x=1"), 1);
	assert_int_equal(roost_log_limited(ROOST_LOG_WARN, "other", NULL, "x=1"), 1);
	/* below the level: neither written nor counted */
	assert_int_equal(roost_log_limited(ROOST_LOG_DEBUG, "net.accept", "10.0.0.3", "x=1"), 0);
	static char buf[65536];
	drain(p[0], buf, sizeof(buf));
	assert_int_equal(count_of(buf, "event=net.accept"), 4);
	assert_int_equal(count_of(buf, "log.suppressed"), 0);
	/* the window ends: one summary with the count, then the budget is back */
	roost_fake_clock_advance_ns(&fc, 11 * ROOST_NS_PER_SEC);
	roost_log_limit_flush(0);
	drain(p[0], buf, sizeof(buf));
	assert_int_equal(count_of(buf, "\n"), 1);
	assert_non_null(strstr(buf, "level=warn event=log.suppressed of=net.accept "
	                            "source=10.0.0.1 count=997"));
	assert_int_equal(roost_log_limited(ROOST_LOG_WARN, "net.accept", "10.0.0.1", "again=1"), 1);
	/* a key that goes on being hit is summed up by its own next line */
	for (int i = 0; i < 10; i++)
		roost_log_limited(ROOST_LOG_WARN, "net.accept", "10.0.0.1", "i=%d", i);
	roost_fake_clock_advance_ns(&fc, 11 * ROOST_NS_PER_SEC);
	roost_log_limited(ROOST_LOG_WARN, "net.accept", "10.0.0.1", "later=1");
	drain(p[0], buf, sizeof(buf));
	assert_non_null(strstr(buf, "of=net.accept source=10.0.0.1 count=8"));
	assert_non_null(strstr(buf, "later=1"));
	/* many sources: all limited events together stay within 20 x burst */
	written = 0;
	for (int i = 0; i < 5000; i++) {
		char src[32];
		snprintf(src, sizeof(src), "h%d", i);
		written += roost_log_limited(ROOST_LOG_WARN, "flood", src, "i=%d", i);
	}
	assert_true(written <= 60);
	roost_fake_clock_advance_ns(&fc, 11 * ROOST_NS_PER_SEC);
	roost_log_limit_flush(1);
	size_t n = drain(p[0], buf, sizeof(buf));
	/* bounded: <= 60 lines, <= 60 summaries, one line for the rest */
	assert_true(count_of(buf, "\n") <= 121);
	assert_true(n < sizeof(buf) - 1);
	assert_non_null(strstr(buf, "of=* source=* count="));
	roost_log_set_fd(2);
	roost_log_limit_config(5, 10000, roost_clock_system());
	close(p[0]);
	close(p[1]);
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
		cmocka_unit_test(test_log_limited),
		cmocka_unit_test(test_fake_clock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
