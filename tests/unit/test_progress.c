/* SPDX-License-Identifier: MIT */
/* Unit tests of cli/progress.c: the numbers, lines and event reader that the
 * waiting commands (roost backup, restore, job wait) show a user. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "progress.h"

static void test_count(void **st)
{
	(void)st;
	char b[32];
	const struct { uint64_t v; const char *want; } c[] = {
		{0, "0"}, {7, "7"}, {999, "999"}, {1000, "1,000"}, {1234, "1,234"},
		{123456, "123,456"}, {1234567, "1,234,567"},
		{18446744073709551615ull, "18,446,744,073,709,551,615"},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		fmt_count(c[i].v, b, sizeof(b));
		assert_string_equal(b, c[i].want);
	}
}

static void test_bytes(void **st)
{
	(void)st;
	char b[32];
	const struct { uint64_t v; const char *want; } c[] = {
		{0, "0 B"},          {999, "999 B"},          {1000, "1.0 kB"},
		{1234, "1.2 kB"},    {99949, "99.9 kB"},      {99950, "100 kB"},
		{999499, "999 kB"},  {999950, "1.0 MB"},      {1200000000, "1.2 GB"},
		{34500000, "34.5 MB"}, {123000000000ull, "123 GB"}, {5000000000000ull, "5.0 TB"},
		{18446744073709551615ull, "18.4 EB"},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		fmt_bytes(c[i].v, b, sizeof(b));
		assert_string_equal(b, c[i].want);
	}
	/* a small buffer is cut, never overrun */
	char small[4];
	fmt_bytes(1200000000, small, sizeof(small));
	assert_string_equal(small, "1.2");
}

static void test_rate_and_duration(void **st)
{
	(void)st;
	char b[32];
	fmt_rate(69000000, 2.0, b, sizeof(b));
	assert_string_equal(b, "34.5 MB/s");
	fmt_rate(500, 1.0, b, sizeof(b));
	assert_string_equal(b, "500 B/s");
	fmt_rate(100, 0, b, sizeof(b));
	assert_string_equal(b, "");
	fmt_duration(8.34, b, sizeof(b));
	assert_string_equal(b, "8.3 s");
	fmt_duration(0, b, sizeof(b));
	assert_string_equal(b, "0.0 s");
	fmt_duration(125, b, sizeof(b));
	assert_string_equal(b, "2 min 05 s");
	fmt_duration(3600 * 3 + 7 * 60 + 10, b, sizeof(b));
	assert_string_equal(b, "3 h 07 min");
}

static void test_progress_line(void **st)
{
	(void)st;
	char b[256];
	struct progress_view v = {.id = 42, .status = "queued", .host = "laptop", .host_offline = 1};
	progress_line(&v, b, sizeof(b));
	assert_string_equal(b, "job 42: waiting for host laptop to come online");
	v.host_offline = 0;
	progress_line(&v, b, sizeof(b));
	assert_string_equal(b, "job 42: queued for laptop");
	v = (struct progress_view){.id = 42, .status = "deferred", .reason = "outside its window"};
	progress_line(&v, b, sizeof(b));
	assert_string_equal(b, "job 42: deferred: outside its window");
	v = (struct progress_view){.id = 42, .status = "running", .files = 1234, .bytes = 1200000000,
	                           .rate_bytes = 69000000, .rate_seconds = 2, .elapsed = 8.7};
	progress_line(&v, b, sizeof(b));
	assert_string_equal(b, "job 42: running, 1,234 files, 1.2 GB, 34.5 MB/s (8 s)");
	/* no rate until there is half a second to measure it over */
	v.rate_seconds = 0.2;
	v.elapsed = 0.3;
	progress_line(&v, b, sizeof(b));
	assert_string_equal(b, "job 42: running, 1,234 files, 1.2 GB");
}

static void test_outcome(void **st)
{
	(void)st;
	char b[512];
	json_t *j = json_loads("{\"id\": 42, \"kind\": \"backup\", \"status\": \"succeeded\","
	                       " \"snapshot_id\": \"3f2a8c1d99aa\", \"error\": null,"
	                       " \"stats\": {\"files\": 1234, \"bytes\": 1200000000,"
	                       " \"bytes_new\": 12000000}}", 0, NULL);
	assert_non_null(j);
	assert_int_equal(job_outcome(j, 8.3, b, sizeof(b)), 0);
	assert_string_equal(b, "job 42 succeeded: snapshot 3f2a8c1d, 1,234 files, 1.2 GB "
	                       "(12.0 MB new) in 8.3 s");
	json_decref(j);

	/* the time from the job's own instants when the wait did not see it all */
	j = json_loads("{\"id\": 7, \"kind\": \"restore\", \"status\": \"succeeded\","
	               " \"started_at\": \"2026-11-30T10:00:00Z\","
	               " \"finished_at\": \"2026-11-30T10:02:05Z\","
	               " \"params\": {\"snapshot_id\": \"abcdef0123456789\", \"target\": \"/tmp/r\"},"
	               " \"stats\": {\"files\": 3, \"bytes\": 2048}}", 0, NULL);
	assert_int_equal(job_outcome(j, -1, b, sizeof(b)), 0);
	assert_string_equal(b, "job 7 succeeded: restored snapshot abcdef01 to /tmp/r, 3 files, "
	                       "2.0 kB in 2 min 05 s");
	json_decref(j);

	const char *bad[] = {"failed", "canceled", "interrupted"};
	for (int i = 0; i < 3; i++) {
		j = json_pack("{s:i, s:s, s:s, s:s}", "id", 9, "kind", "backup", "status", bad[i],
		              "error", "group path /nope: No such file or directory");
		assert_int_equal(job_outcome(j, 1, b, sizeof(b)), 1);
		char want[160];
		snprintf(want, sizeof(want), "job 9 %s: group path /nope: No such file or directory",
		         bad[i]);
		assert_string_equal(b, want);
		json_decref(j);
	}
	j = json_pack("{s:i, s:s, s:n}", "id", 9, "status", "canceled", "error");
	assert_int_equal(job_outcome(j, 1, b, sizeof(b)), 1);
	assert_string_equal(b, "job 9 canceled");
	json_decref(j);
	assert_true(job_status_pending("queued") && job_status_pending("running") &&
	            job_status_pending("deferred"));
	assert_false(job_status_pending("succeeded") || job_status_pending("failed"));
}

struct seen {
	char types[8][64];
	char datas[8][256];
	int n, stop_at;
};

static int collect(void *ctx, const char *type, const char *data)
{
	struct seen *s = ctx;
	if (s->n < 8) {
		snprintf(s->types[s->n], 64, "%s", type);
		snprintf(s->datas[s->n], 256, "%s", data);
	}
	s->n++;
	return s->stop_at && s->n == s->stop_at ? 7 : 0;
}

static void test_sse_bytewise_and_whole(void **st)
{
	(void)st;
	const char text[] = ": roost events\n\n"
	                    "id: 5\nevent: job.succeeded\ndata: {\"a\":1}\n\n"
	                    ": keepalive\n\n"
	                    "event: job.progress\r\ndata: {\"b\":2}\r\n\r\n"
	                    "data: one\ndata: two\n\n"
	                    "event: job.running\rdata:x\r\r"
	                    "event: half";
	for (int mode = 0; mode < 2; mode++) {
		struct sse_parser p;
		struct seen s = {0};
		sse_parser_init(&p);
		if (mode == 0) {
			assert_int_equal(sse_parser_feed(&p, text, strlen(text), collect, &s), 0);
		} else { /* one byte at a time: events split anywhere, even inside "\r\n" */
			for (size_t i = 0; i < strlen(text); i++)
				assert_int_equal(sse_parser_feed(&p, text + i, 1, collect, &s), 0);
		}
		assert_int_equal(s.n, 4);
		assert_string_equal(s.types[0], "job.succeeded");
		assert_string_equal(s.datas[0], "{\"a\":1}");
		assert_string_equal(s.types[1], "job.progress");
		assert_string_equal(s.datas[1], "{\"b\":2}");
		assert_string_equal(s.types[2], "message");
		assert_string_equal(s.datas[2], "one\ntwo");
		assert_string_equal(s.types[3], "job.running");
		assert_string_equal(s.datas[3], "x");
		/* the unfinished event comes when its blank line does */
		assert_int_equal(sse_parser_feed(&p, "\ndata: y\n\n", 10, collect, &s), 0);
		assert_int_equal(s.n, 5);
		assert_string_equal(s.types[4], "half");
		sse_parser_release(&p);
	}
}

static void test_sse_stop_and_overlong(void **st)
{
	(void)st;
	struct sse_parser p;
	struct seen s = {.stop_at = 1};
	sse_parser_init(&p);
	const char two[] = "data: 1\n\ndata: 2\n\n";
	assert_int_equal(sse_parser_feed(&p, two, strlen(two), collect, &s), 7);
	assert_int_equal(s.n, 1);
	sse_parser_release(&p);

	/* a line over the bound drops its event, not the stream */
	sse_parser_init(&p);
	s = (struct seen){0};
	size_t big = SSE_LINE_MAX + 100;
	char *l = malloc(big + 32);
	assert_non_null(l);
	memcpy(l, "event: huge\ndata: ", 18);
	memset(l + 18, 'x', big);
	memcpy(l + 18 + big, "\n\n", 2);
	assert_int_equal(sse_parser_feed(&p, l, 18 + big + 2, collect, &s), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(sse_parser_feed(&p, "event: after\ndata: ok\n\n", 23, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.types[0], "after");
	assert_string_equal(s.datas[0], "ok");
	free(l);
	sse_parser_release(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_rate_and_duration),
		cmocka_unit_test(test_progress_line),
		cmocka_unit_test(test_outcome),
		cmocka_unit_test(test_sse_bytewise_and_whole),
		cmocka_unit_test(test_sse_stop_and_overlong),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
