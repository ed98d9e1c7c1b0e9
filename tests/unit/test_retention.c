/* SPDX-License-Identifier: MIT */
/*
 * Retention rules (lib/repo/retention.c) against restic's `forget`
 * semantics: hand-checked cases at calendar edges (hour, day, ISO week
 * across a year end, month, year), then many random series compared with a
 * reference written the way restic's ApplyPolicy reads, whose buckets come
 * from gmtime_r/strftime ("%G%V" for the ISO week) rather than from the
 * engine's own arithmetic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "roost/repo.h"
#include "roost/timeutil.h"

static int64_t at(const char *rfc3339)
{
	int64_t t;
	assert_int_equal(roost_time_parse(rfc3339, &t, NULL), 0);
	return t;
}

/* kept[] as a string of 'K'/'-' for readable failures */
static void kept(const struct roost_keep_policy *p, const int64_t *t, size_t n, char *out)
{
	unsigned why[256];
	roost_keep_apply(p, t, n, why);
	for (size_t i = 0; i < n; i++)
		out[i] = why[i] ? 'K' : '-';
	out[n] = 0;
}

static void test_last_and_calendar_edges(void **st)
{
	(void)st;
	char k[64];
	/* newest first */
	const int64_t hours[] = {at("2026-11-30T10:59:00Z"), at("2026-11-30T10:01:00Z"),
	                         at("2026-11-30T09:59:59Z"), at("2026-11-30T00:00:00Z"),
	                         at("2026-11-29T23:59:59Z")};
	kept(&(struct roost_keep_policy){.last = 3}, hours, 5, k);
	assert_string_equal(k, "KKK--");
	kept(&(struct roost_keep_policy){.hourly = 10}, hours, 5, k);
	assert_string_equal(k, "K-KKK"); /* 10:01 shares 10:59's hour */
	kept(&(struct roost_keep_policy){.daily = 1}, hours, 5, k);
	assert_string_equal(k, "K----");
	kept(&(struct roost_keep_policy){.daily = 2}, hours, 5, k);
	assert_string_equal(k, "K---K");
	/* the rules add up: last 1 and daily 2 keep the same newest one */
	kept(&(struct roost_keep_policy){.last = 1, .daily = 2}, hours, 5, k);
	assert_string_equal(k, "K---K");
	/* ISO weeks: Mon 2026-12-28 .. Sun 2027-01-03 is one week (2026-W53);
	 * Sun 2026-12-27 is the week before */
	const int64_t weeks[] = {at("2027-01-03T23:00:00Z"), at("2027-01-01T12:00:00Z"),
	                         at("2026-12-28T00:00:00Z"), at("2026-12-27T23:59:59Z"),
	                         at("2026-12-21T00:00:00Z"), at("2026-12-20T00:00:00Z")};
	kept(&(struct roost_keep_policy){.weekly = 5}, weeks, 6, k);
	assert_string_equal(k, "K--K-K"); /* W53, W52 (Sun 27th, Mon 21st), W51 */
}

static void test_month_year_and_unused(void **st)
{
	(void)st;
	char k[64];
	const int64_t t[] = {at("2027-01-01T00:00:00Z"), at("2026-12-31T23:59:59Z"),
	                     at("2026-12-01T00:00:00Z"), at("2026-11-30T23:59:59Z"),
	                     at("2025-06-15T00:00:00Z"), at("2024-02-29T12:00:00Z")};
	kept(&(struct roost_keep_policy){.monthly = 3}, t, 6, k);
	assert_string_equal(k, "KK-K--");
	kept(&(struct roost_keep_policy){.yearly = 10}, t, 6, k);
	assert_string_equal(k, "KK--KK");
	kept(&(struct roost_keep_policy){.yearly = 2}, t, 6, k);
	assert_string_equal(k, "KK----");
	/* no rule keeps nothing (callers treat an empty policy as "keep all") */
	kept(&(struct roost_keep_policy){0}, t, 6, k);
	assert_string_equal(k, "------");
	assert_true(roost_keep_policy_empty(&(struct roost_keep_policy){0}));
	assert_false(roost_keep_policy_empty(&(struct roost_keep_policy){.monthly = 1}));
	/* reasons name the rules */
	unsigned why[6];
	char r[64];
	roost_keep_apply(&(struct roost_keep_policy){.last = 1, .monthly = 2}, t, 6, why);
	roost_keep_reason(why[0], r, sizeof(r));
	assert_string_equal(r, "last, monthly");
	roost_keep_reason(why[1], r, sizeof(r));
	assert_string_equal(r, "monthly");
}

/* ---- the reference: restic's ApplyPolicy, buckets from strftime ---- */

static long long ref_bucket(int64_t t, int rule)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	char b[32];
	switch (rule) {
	case 1: strftime(b, sizeof(b), "%Y%m%d%H", &tm); break;
	case 2: strftime(b, sizeof(b), "%Y%m%d", &tm); break;
	case 3: strftime(b, sizeof(b), "%G%V", &tm); break;
	case 4: strftime(b, sizeof(b), "%Y%m", &tm); break;
	default: strftime(b, sizeof(b), "%Y", &tm); break;
	}
	return atoll(b);
}

static void ref_apply(const struct roost_keep_policy *p, const int64_t *t, size_t n, char *out)
{
	struct {
		int count;
		long long last;
	} buckets[5] = {{p->hourly, -1}, {p->daily, -1}, {p->weekly, -1}, {p->monthly, -1},
	                {p->yearly, -1}};
	for (size_t nr = 0; nr < n; nr++) {
		int keep = (int)nr < p->last;
		for (int i = 0; i < 5; i++) {
			if (buckets[i].count <= 0)
				continue;
			long long val = ref_bucket(t[nr], i + 1);
			if (val != buckets[i].last) {
				keep = 1;
				buckets[i].last = val;
				buckets[i].count--;
			}
		}
		out[nr] = keep ? 'K' : '-';
	}
	out[n] = 0;
}

static void test_random_series_match_restic(void **st)
{
	(void)st;
	srand(20261130);
	char got[256], want[256];
	int cases = 0, kept_some = 0;
	for (int c = 0; c < 3000; c++) {
		size_t n = 1 + (size_t)(rand() % 200);
		int64_t t[200];
		/* newest first, gaps from seconds to months, so buckets both repeat
		 * and skip; around 2020..2030, years and ISO-week year ends included */
		int64_t now = at("2030-01-03T12:00:00Z") - (int64_t)(rand() % (3 * 365)) * 86400;
		static const int64_t gaps[] = {7, 600, 3599, 3600, 5400, 86399, 86400,
		                               3 * 86400, 7 * 86400, 31 * 86400};
		int scale = rand() % 10;
		for (size_t i = 0; i < n; i++) {
			t[i] = now;
			now -= 1 + rand() % gaps[rand() % (scale + 1)];
		}
		struct roost_keep_policy p = {0};
		int *f[] = {&p.last, &p.hourly, &p.daily, &p.weekly, &p.monthly, &p.yearly};
		for (int i = 0; i < 6; i++)
			if (rand() % 2)
				*f[i] = rand() % 12;
		kept(&p, t, n, got);
		ref_apply(&p, t, n, want);
		if (strcmp(got, want)) {
			fprintf(stderr, "case %d: policy %d/%d/%d/%d/%d/%d n=%zu\n got  %s\n want %s\n", c,
			        p.last, p.hourly, p.daily, p.weekly, p.monthly, p.yearly, n, got, want);
			fail();
		}
		cases++;
		kept_some += strchr(got, 'K') != NULL && strchr(got, '-') != NULL;
	}
	assert_int_equal(cases, 3000);
	assert_true(kept_some > 1000); /* the cases did decide something */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_last_and_calendar_edges),
		cmocka_unit_test(test_month_year_and_unused),
		cmocka_unit_test(test_random_series_match_restic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
