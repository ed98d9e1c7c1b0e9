/* SPDX-License-Identifier: MIT */
/* Unit tests of lib/cron: grammar, Vixie day rule, calendars, DST, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "roost/cron.h"
#include "roost/timeutil.h"
#include "roost/tz.h"

static int64_t T(const char *s)
{
	int64_t t;
	struct roost_errbuf eb;
	if (roost_time_parse(s, &t, &eb))
		fail_msg("bad time %s: %s", s, eb.msg);
	return t;
}

/* Asserts the next `n` fires of expr after `from` are exactly `want`. */
static void expect_fires(const char *expr, const char *tz, const char *from, int n, ...)
{
	struct cron *c;
	struct roost_errbuf eb;
	if (cron_parse(expr, tz, &c, &eb))
		fail_msg("parse \"%s\": %s", expr, eb.msg);
	int64_t t = T(from);
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const char *want = va_arg(ap, const char *);
		int64_t next;
		assert_int_equal(cron_next(c, t, &next), ROOST_OK);
		char got[40];
		roost_time_format(next, got, sizeof(got));
		if (strcmp(got, want) != 0)
			fail_msg("\"%s\" fire %d after %s: got %s want %s", expr, i, from, got, want);
		t = next;
	}
	va_end(ap);
	cron_free(c);
}

static void expect_error(const char *expr, const char *want_substr)
{
	struct cron *c;
	struct roost_errbuf eb = {{0}};
	enum roost_err err = cron_parse(expr, NULL, &c, &eb);
	if (err != ROOST_EINVAL)
		fail_msg("\"%s\" parsed but should fail with \"%s\"", expr, want_substr);
	assert_null(c);
	if (!strstr(eb.msg, want_substr))
		fail_msg("\"%s\": message \"%s\" lacks \"%s\"", expr, eb.msg, want_substr);
}

static void test_basic_fields(void **st)
{
	(void)st;
	expect_fires("*/15 * * * *", NULL, "2026-11-26T09:07:00Z", 3, "2026-11-26T09:15:00Z",
	             "2026-11-26T09:30:00Z", "2026-11-26T09:45:00Z");
	expect_fires("10-50/20 8 * * *", NULL, "2026-11-26T00:00:00Z", 4, "2026-11-26T08:10:00Z",
	             "2026-11-26T08:30:00Z", "2026-11-26T08:50:00Z", "2026-11-27T08:10:00Z");
	expect_fires("0 1,13 * * *", NULL, "2026-11-26T01:00:00Z", 2, "2026-11-26T13:00:00Z",
	             "2026-11-27T01:00:00Z");
	/* strictly after: a fire instant itself is not returned */
	expect_fires("0 9 * * *", NULL, "2026-11-26T09:00:00Z", 1, "2026-11-27T09:00:00Z");
	/* fractional --from is truncated, still strictly after */
	expect_fires("0 9 * * *", NULL, "2026-11-26T08:59:59.9Z", 1, "2026-11-26T09:00:00Z");
	/* N/S means N-max/S */
	expect_fires("5/20 * * * *", NULL, "2026-11-26T09:00:00Z", 3, "2026-11-26T09:05:00Z",
	             "2026-11-26T09:25:00Z", "2026-11-26T09:45:00Z");
}

static void test_seconds_field(void **st)
{
	(void)st;
	expect_fires("*/10 * * * * *", NULL, "2026-11-26T09:00:05Z", 3, "2026-11-26T09:00:10Z",
	             "2026-11-26T09:00:20Z", "2026-11-26T09:00:30Z");
	expect_fires("30 0 9 * * *", NULL, "2026-11-26T00:00:00Z", 1, "2026-11-26T09:00:30Z");
	expect_fires("59 59 23 31 12 *", NULL, "2026-06-01T00:00:00Z", 1, "2026-12-31T23:59:59Z");
}

static void test_names_and_sunday(void **st)
{
	(void)st;
	/* 2026-11-26 is a Thursday */
	expect_fires("0 9 * * MON-FRI", NULL, "2026-11-27T10:00:00Z", 1, "2026-11-30T09:00:00Z");
	expect_fires("0 9 * * sun", NULL, "2026-11-26T00:00:00Z", 1, "2026-11-29T09:00:00Z");
	expect_fires("0 9 * * 7", NULL, "2026-11-26T00:00:00Z", 1, "2026-11-29T09:00:00Z");
	expect_fires("0 9 * * 0", NULL, "2026-11-26T00:00:00Z", 1, "2026-11-29T09:00:00Z");
	expect_fires("0 9 * * 5-7", NULL, "2026-11-27T10:00:00Z", 3, "2026-11-28T09:00:00Z",
	             "2026-11-29T09:00:00Z", "2026-12-04T09:00:00Z");
	expect_fires("0 9 * * FRI-SUN", NULL, "2026-11-27T10:00:00Z", 2, "2026-11-28T09:00:00Z",
	             "2026-11-29T09:00:00Z");
	expect_fires("0 0 1 jan,JUL *", NULL, "2026-02-01T00:00:00Z", 2, "2026-07-01T00:00:00Z",
	             "2027-01-01T00:00:00Z");
	expect_fires("0 0 1 JAN-DEC/3 *", NULL, "2026-02-01T00:00:00Z", 2, "2026-04-01T00:00:00Z",
	             "2026-07-01T00:00:00Z");
}

static void test_descriptors(void **st)
{
	(void)st;
	expect_fires("@hourly", NULL, "2026-11-26T09:30:00Z", 1, "2026-11-26T10:00:00Z");
	expect_fires("@daily", NULL, "2026-11-26T09:30:00Z", 1, "2026-11-27T00:00:00Z");
	expect_fires("@midnight", NULL, "2026-11-26T09:30:00Z", 1, "2026-11-27T00:00:00Z");
	expect_fires("@weekly", NULL, "2026-11-26T09:30:00Z", 1, "2026-11-29T00:00:00Z");
	expect_fires("@monthly", NULL, "2026-11-26T09:30:00Z", 1, "2026-12-01T00:00:00Z");
	expect_fires("@yearly", NULL, "2026-11-26T09:30:00Z", 1, "2027-01-01T00:00:00Z");
	expect_fires("@annually", NULL, "2026-11-26T09:30:00Z", 1, "2027-01-01T00:00:00Z");
	expect_fires("  @DAILY  ", NULL, "2026-11-26T09:30:00Z", 1, "2026-11-27T00:00:00Z");
}

static void test_vixie_day_rule(void **st)
{
	(void)st;
	/* both restricted: the 13th OR any Friday (2026-11-27 is a Friday) */
	expect_fires("0 0 13 * 5", NULL, "2026-11-26T00:00:00Z", 3, "2026-11-27T00:00:00Z",
	             "2026-12-04T00:00:00Z", "2026-12-11T00:00:00Z");
	expect_fires("0 0 13 * 5", NULL, "2026-12-11T00:00:00Z", 1, "2026-12-13T00:00:00Z");
	/* day-of-week '*': only day-of-month counts */
	expect_fires("0 0 13 * *", NULL, "2026-11-26T00:00:00Z", 1, "2026-12-13T00:00:00Z");
	/* day-of-month '*': only day-of-week counts */
	expect_fires("0 0 * * 1", NULL, "2026-11-26T00:00:00Z", 1, "2026-11-30T00:00:00Z");
	/* a field starting with '*' counts as unrestricted (Vixie): AND */
	expect_fires("0 0 */2 * 1", NULL, "2026-11-26T00:00:00Z", 2, "2026-12-07T00:00:00Z",
	             "2026-12-21T00:00:00Z");
	/* step 7 over 0-7 selects Sunday (0 and 7): the next Sunday the 1st */
	expect_fires("0 0 1 * */7", NULL, "2026-11-26T00:00:00Z", 1, "2027-08-01T00:00:00Z");
}

static void test_calendar_edges(void **st)
{
	(void)st;
	/* leap days */
	expect_fires("0 0 29 2 *", NULL, "2025-03-01T00:00:00Z", 2, "2028-02-29T00:00:00Z",
	             "2032-02-29T00:00:00Z");
	/* 2100 is not a leap year */
	expect_fires("0 0 29 2 *", NULL, "2096-03-01T00:00:00Z", 1, "2104-02-29T00:00:00Z");
	/* month ends: the 31st skips 30-day months */
	expect_fires("0 0 31 * *", NULL, "2026-03-31T00:00:00Z", 3, "2026-05-31T00:00:00Z",
	             "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z");
	expect_fires("0 12 30 * *", NULL, "2027-01-30T12:00:00Z", 1, "2027-03-30T12:00:00Z");
	/* year boundaries */
	expect_fires("0 0 * * *", NULL, "2026-12-31T12:00:00Z", 1, "2027-01-01T00:00:00Z");
	expect_fires("*/30 * * * *", NULL, "2026-12-31T23:45:00Z", 2, "2027-01-01T00:00:00Z",
	             "2027-01-01T00:30:00Z");
	expect_fires("0 0 1 1 *", NULL, "2026-01-01T00:00:00Z", 1, "2027-01-01T00:00:00Z");
	expect_fires("0 0 31 12 *", NULL, "2026-12-31T00:00:01Z", 1, "2027-12-31T00:00:00Z");
	/* "0 0 30 2,3 *": February never has a 30th, March does */
	expect_fires("0 0 30 2,3 *", NULL, "2026-01-01T00:00:00Z", 1, "2026-03-30T00:00:00Z");
}

static void test_dst_new_york(void **st)
{
	(void)st;
	/* spring forward 2026-03-08 02:00 EST -> 03:00 EDT: 02:30 does not exist */
	expect_fires("30 2 * * *", "America/New_York", "2026-03-07T00:00:00Z", 3,
	             "2026-03-07T07:30:00Z", "2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z");
	/* 03:00 exists and fires */
	expect_fires("0 3 * * *", "America/New_York", "2026-03-08T00:00:00Z", 1,
	             "2026-03-08T07:00:00Z");
	/* fall back 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 occurs twice, fires once */
	expect_fires("30 1 * * *", "America/New_York", "2026-10-31T00:00:00Z", 3,
	             "2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z");
	/* every 20 minutes through the fall-back hour: no repeats */
	expect_fires("*/20 * * * *", "America/New_York", "2026-11-01T05:30:00Z", 6,
	             "2026-11-01T05:40:00Z", "2026-11-01T07:00:00Z", "2026-11-01T07:20:00Z",
	             "2026-11-01T07:40:00Z", "2026-11-01T08:00:00Z", "2026-11-01T08:20:00Z");
	/* from inside the second pass of 01:xx: next is 02:00 EST, not a repeat */
	expect_fires("*/20 * * * *", "America/New_York", "2026-11-01T06:10:00Z", 1,
	             "2026-11-01T07:00:00Z");
	/* every 20 minutes through spring forward: 01:40 EST then 03:00 EDT */
	expect_fires("*/20 * * * *", "America/New_York", "2026-03-08T06:30:00Z", 2,
	             "2026-03-08T06:40:00Z", "2026-03-08T07:00:00Z");
}

static void test_dst_london(void **st)
{
	(void)st;
	/* 2026-03-29 01:00 GMT -> 02:00 BST: 01:30 does not exist */
	expect_fires("CRON_TZ=Europe/London 30 1 * * *", NULL, "2026-03-28T00:00:00Z", 2,
	             "2026-03-28T01:30:00Z", "2026-03-30T00:30:00Z");
	/* 2026-10-25 02:00 BST -> 01:00 GMT: 01:30 once, at BST */
	expect_fires("CRON_TZ=Europe/London 30 1 * * *", NULL, "2026-10-24T12:00:00Z", 2,
	             "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z");
	/* the prefix overrides the default zone */
	expect_fires("CRON_TZ=Europe/London 0 9 * * *", "America/New_York",
	             "2026-07-01T00:00:00Z", 1, "2026-07-01T08:00:00Z");
	expect_fires("TZ=UTC 0 9 * * *", "Europe/London", "2026-07-01T00:00:00Z", 1,
	             "2026-07-01T09:00:00Z");
	/* far future: past the TZif transitions, the POSIX rule applies */
	expect_fires("CRON_TZ=Europe/London 0 12 1 7 *", NULL, "2090-01-01T00:00:00Z", 1,
	             "2090-07-01T11:00:00Z");
	/* southern hemisphere: DST over the new year */
	expect_fires("CRON_TZ=Australia/Sydney 0 12 1 1 *", NULL, "2060-06-01T00:00:00Z", 1,
	             "2061-01-01T01:00:00Z");
}

static void test_errors(void **st)
{
	(void)st;
	expect_error("0 0 * * 8", "day-of-week: 8 is out of range 0-7");
	expect_error("60 * * * *", "minute: 60 is out of range 0-59");
	expect_error("* 24 * * *", "hour: 24 is out of range 0-23");
	expect_error("* * 0 * *", "day-of-month: 0 is out of range 1-31");
	expect_error("* * 32 * *", "day-of-month: 32");
	expect_error("* * * 13 *", "month: 13 is out of range 1-12");
	expect_error("60 * * * * *", "second: 60 is out of range 0-59");
	expect_error("* * * *", "expected 5 fields");
	expect_error("* * * * * * *", "got more than 6");
	expect_error("", "got 0");
	expect_error("*/0 * * * *", "minute: step 0 is out of range");
	expect_error("10-5 * * * *", "minute: range 10-5 is backwards");
	expect_error("* * * FOO *", "month: unknown name \"FOO\"");
	expect_error("* * * * MONDAY", "day-of-week: unknown name \"MONDAY\"");
	expect_error("* * * JAN-MON *", "month: unknown name \"MON\"");
	expect_error("1,,2 * * * *", "minute: missing value");
	expect_error("1- * * * *", "minute: missing value");
	expect_error("*x * * * *", "minute: unexpected character 'x'");
	expect_error("0 0 30 2 *", "never fires");
	expect_error("0 0 31 2,4,6 *", "never fires");
	expect_error("@reboot", "unknown descriptor");
	expect_error("@daily extra", "unexpected text after @daily");
	expect_error("CRON_TZ=Nowhere/City 0 9 * * *", "unknown time zone \"Nowhere/City\"");
	expect_error("CRON_TZ=../../etc/passwd 0 9 * * *", "invalid time zone name");
	expect_error("CRON_TZ=/etc/passwd 0 9 * * *", "invalid time zone name");
	expect_error("CRON_TZ= 0 9 * * *", "needs a zone name");
	expect_error("99999 * * * *", "minute: number too long");
	/* 0 0 30 2 5: both restricted, Fridays fire, so valid */
	assert_int_equal(cron_validate("0 0 30 2 5", NULL, NULL), ROOST_OK);
}

/* --- brute force reference: scan minute by minute with the plain rules --- */

struct ref {
	uint64_t bits[6];
	int dom_star, dow_star;
};

static int ref_match(const struct ref *r, const struct roost_civil *c)
{
	if (!((r->bits[0] >> c->second) & 1) || !((r->bits[1] >> c->minute) & 1) ||
	    !((r->bits[2] >> c->hour) & 1) || !((r->bits[4] >> c->month) & 1))
		return 0;
	int dom = (r->bits[3] >> c->day) & 1, dow = (r->bits[5] >> c->wday) & 1;
	return (r->dom_star || r->dow_star) ? (dom && dow) : (dom || dow);
}

static unsigned rnd_state = 12345;
static unsigned rnd(unsigned n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) % n;
}

/* A random field text within [lo,hi] and its bit set, built independently. */
static void rand_field(char *out, size_t len, int lo, int hi, uint64_t *bits, int dow)
{
	*bits = 0;
	size_t o = 0;
	int items = 1 + (int)rnd(3);
	int star_first = rnd(4) == 0;
	for (int i = 0; i < items; i++) {
		int a, b, step = 1;
		int kind = (i == 0 && star_first) ? 0 : 1 + (int)rnd(3);
		if (kind == 0) {
			a = lo;
			b = hi;
			if (rnd(2))
				step = 1 + (int)rnd((unsigned)(hi - lo + 1));
			o += (size_t)snprintf(out + o, len - o, step > 1 ? "*/%d" : "*", step);
		} else if (kind == 1) {
			a = b = lo + (int)rnd((unsigned)(hi - lo + 1));
			o += (size_t)snprintf(out + o, len - o, "%d", a);
		} else {
			a = lo + (int)rnd((unsigned)(hi - lo + 1));
			b = a + (int)rnd((unsigned)(hi - a + 1));
			step = kind == 3 ? 1 + (int)rnd(5) : 1;
			o += (size_t)snprintf(out + o, len - o, step > 1 ? "%d-%d/%d" : "%d-%d", a, b,
			                      step);
		}
		for (int v = a; v <= b; v += step)
			*bits |= UINT64_C(1) << (dow && v == 7 ? 0 : v);
		if (i + 1 < items)
			out[o++] = ',';
	}
	out[o] = 0;
}

static void test_random_against_brute_force(void **st)
{
	(void)st;
	static const int lo[6] = {0, 0, 0, 1, 1, 0}, hi[6] = {59, 59, 23, 31, 12, 7};
	int checked = 0;
	for (int iter = 0; iter < 400; iter++) {
		struct ref r;
		char f[6][128], expr[800];
		for (int i = 0; i < 6; i++)
			rand_field(f[i], sizeof(f[i]), lo[i], hi[i], &r.bits[i], i == 5);
		/* keep most expressions frequent enough to scan */
		if (rnd(2)) {
			strcpy(f[4], "*");
			r.bits[4] = 0x1ffe;
		}
		r.dom_star = f[3][0] == '*';
		r.dow_star = f[5][0] == '*';
		snprintf(expr, sizeof(expr), "0 %s %s %s %s %s", f[1], f[2], f[3], f[4], f[5]);
		r.bits[0] = 1;
		struct cron *c;
		struct roost_errbuf eb;
		if (cron_parse(expr, NULL, &c, &eb))
			continue; /* "never fires" combinations */
		int64_t t = T("2027-02-20T11:17:00Z") + (int64_t)rnd(86400 * 400);
		t -= t % 60;
		int64_t want = 0;
		for (int64_t m = t + 60; m < t + 86400LL * 366 * 5; m += 60) {
			struct roost_civil cv;
			roost_civil_from_time(m, &cv);
			if (ref_match(&r, &cv)) {
				want = m;
				break;
			}
		}
		int64_t got;
		enum roost_err err = cron_next(c, t, &got);
		if (want) {
			if (err || got != want)
				fail_msg("\"%s\" from %lld: got %lld want %lld", expr, (long long)t,
				         (long long)got, (long long)want);
			checked++;
		}
		cron_free(c);
	}
	assert_true(checked > 200);
}

/* In a DST zone: fires are the first occurrence of each matching wall time.
 * The reference is independent of lib/cron and lib/util/tz: wall times come
 * from glibc's localtime_r (the system tzdata) and each expression's match is
 * written out by hand. */
static int m_every7(int h, int m) { (void)h; return m % 7 == 0; }
static int m_0130(int h, int m) { return h == 1 && m == 30; }
static int m_0200_0230(int h, int m) { return h == 2 && (m == 0 || m == 30); }
static int m_15_0to3(int h, int m) { return m == 15 && h <= 3; }
static int m_every20_1to2(int h, int m) { return m % 20 == 0 && h >= 1 && h <= 2; }
static int m_hourly(int h, int m) { (void)h; return m == 0; }

static void wall_of(int64_t t, struct tm *tm)
{
	time_t tt = (time_t)t;
	assert_non_null(localtime_r(&tt, tm));
}

static int same_wall(const struct tm *a, const struct tm *b)
{
	return a->tm_year == b->tm_year && a->tm_yday == b->tm_yday && a->tm_hour == b->tm_hour &&
	       a->tm_min == b->tm_min;
}

static void test_random_dst_zone(void **st)
{
	(void)st;
	static const struct {
		const char *expr;
		int (*match)(int h, int m);
	} cases[] = {{"*/7 * * * *", m_every7},     {"30 1 * * *", m_0130},
	             {"0,30 2 * * *", m_0200_0230}, {"15 0-3 * * *", m_15_0to3},
	             {"*/20 1-2 * * *", m_every20_1to2}, {"0 * * * *", m_hourly}};
	static const char *const starts[] = {"2026-03-07T20:00:00Z", "2026-10-31T20:00:00Z",
	                                     "2026-11-01T05:59:00Z", "2026-11-01T06:30:00Z"};
	const char *old = getenv("TZ");
	char *saved = old ? strdup(old) : NULL;
	setenv("TZ", "America/New_York", 1);
	tzset();
	/* the system zone really is New York with DST (not UTC for want of tzdata) */
	struct tm probe;
	wall_of(T("2026-07-01T12:00:00Z"), &probe);
	assert_int_equal(probe.tm_hour, 8);
	wall_of(T("2026-01-01T12:00:00Z"), &probe);
	assert_int_equal(probe.tm_hour, 7);
	int spring_checked = 0, fall_checked = 0;
	for (size_t e = 0; e < sizeof(cases) / sizeof(cases[0]); e++)
		for (size_t s = 0; s < sizeof(starts) / sizeof(starts[0]); s++) {
			struct cron *c;
			assert_int_equal(cron_parse(cases[e].expr, "America/New_York", &c, NULL), ROOST_OK);
			int64_t t = T(starts[s]);
			for (int k = 0; k < 6; k++) {
				int64_t want = 0;
				for (int64_t m = t + 60 - (t % 60); !want; m += 60) {
					struct tm w, prev;
					wall_of(m, &w);
					if (!cases[e].match(w.tm_hour, w.tm_min))
						continue;
					/* first occurrence: no earlier instant shows the same wall time */
					int first = 1;
					for (int64_t back = 60; back <= 7200 && first; back += 60) {
						wall_of(m - back, &prev);
						if (same_wall(&prev, &w))
							first = 0;
					}
					if (first)
						want = m;
					else
						fall_checked++;
				}
				int64_t got;
				assert_int_equal(cron_next(c, t, &got), ROOST_OK);
				if (got != want)
					fail_msg("%s from %lld: got %lld want %lld", cases[e].expr, (long long)t,
					         (long long)got, (long long)want);
				if (got - t > 3600 && starts[s][6] == '3')
					spring_checked++;
				t = got;
			}
			cron_free(c);
		}
	if (saved) {
		setenv("TZ", saved, 1);
		free(saved);
	} else {
		unsetenv("TZ");
	}
	tzset();
	/* the repeated hour and the skipped hour were both crossed */
	assert_true(fall_checked > 0);
	assert_true(spring_checked > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_fields),
		cmocka_unit_test(test_seconds_field),
		cmocka_unit_test(test_names_and_sunday),
		cmocka_unit_test(test_descriptors),
		cmocka_unit_test(test_vixie_day_rule),
		cmocka_unit_test(test_calendar_edges),
		cmocka_unit_test(test_dst_new_york),
		cmocka_unit_test(test_dst_london),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_random_against_brute_force),
		cmocka_unit_test(test_random_dst_zone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
