/* SPDX-License-Identifier: MIT */
/*
 * lib/net/ratelimit.c: the shared upload limiter. Streams are simulated in
 * simulated time (the core calls take now as a parameter): each stream
 * reserves, waits as long as it is told (or polls), sends in a microsecond,
 * and reserves again; so only the limiter paces them. The blocking form gets a
 * short real-time test of its own (lower bounds only: a loaded machine may
 * be slow, never faster than the limit).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "roost/ratelimit.h"

#define KiB ((uint64_t)1024)
#define MiB (1024 * KiB)
#define SEC ROOST_NS_PER_SEC
#define MS (SEC / 1000)
#define SEND_NS 1000 /* a grant's bytes take 1 us on the simulated wire */

struct stream {
	uint64_t left;     /* bytes still to send */
	uint64_t sent;
	int64_t next_ns;   /* when it acts next */
	int64_t poll_ns;   /* 0: sleeps as long as told; else retries this often */
	int64_t done_ns;   /* when its last byte was granted */
	int has_ticket;
	uint64_t ticket;
	size_t granted;
};

/* Runs the streams until all are done or the next event is after until_ns;
 * returns the time of the last event run. */
static int64_t simulate(struct roost_ratelimit *rl, struct stream *s, int n, int64_t until_ns)
{
	int64_t t = 0;
	for (;;) {
		int i = -1;
		for (int k = 0; k < n; k++)
			if (s[k].left && (i < 0 || s[k].next_ns < s[i].next_ns))
				i = k;
		if (i < 0 || s[i].next_ns > until_ns)
			return t;
		t = s[i].next_ns;
		if (!s[i].has_ticket) {
			s[i].granted = roost_ratelimit_reserve(rl, s[i].left, t, &s[i].ticket);
			assert_true(s[i].granted > 0 && s[i].granted <= s[i].left);
			s[i].has_ticket = 1;
		}
		int64_t w = roost_ratelimit_wait_ns(rl, s[i].ticket, t);
		assert_true(w >= 0);
		if (w == 0) {
			s[i].left -= s[i].granted;
			s[i].sent += s[i].granted;
			s[i].has_ticket = 0;
			if (!s[i].left)
				s[i].done_ns = t;
			s[i].next_ns = t + SEND_NS;
		} else {
			s[i].next_ns = t + (s[i].poll_ns ? s[i].poll_ns : w);
		}
	}
}

static uint64_t total_sent(const struct stream *s, int n)
{
	uint64_t b = 0;
	for (int k = 0; k < n; k++)
		b += s[k].sent;
	return b;
}

static int64_t last_done(const struct stream *s, int n)
{
	int64_t t = 0;
	for (int k = 0; k < n; k++) {
		assert_int_equal(s[k].left, 0);
		if (s[k].done_ns > t)
			t = s[k].done_ns;
	}
	return t;
}

static struct roost_ratelimit *sim_limiter(uint64_t rate, struct roost_fake_clock *fc)
{
	roost_fake_clock_init(fc, 0);
	struct roost_ratelimit *rl = roost_ratelimit_new(rate, &fc->clock);
	assert_non_null(rl);
	return rl;
}

static void near(double got, double want, double tol, const char *what)
{
	if (got < want * (1 - tol) || got > want * (1 + tol))
		fail_msg("%s: %.4f, want %.4f +- %.1f%%", what, got, want, tol * 100);
}

/* 20 MiB at 2 MiB/s over 4 streams: 10 s; never ahead of rate + burst,
 * never behind by more than the chunks in flight, the streams abreast */
static void test_rate_four_streams(void **st)
{
	(void)st;
	struct roost_fake_clock fc;
	const uint64_t rate = 2 * MiB;
	struct roost_ratelimit *rl = sim_limiter(rate, &fc);
	struct stream s[4];
	memset(s, 0, sizeof(s));
	for (int k = 0; k < 4; k++)
		s[k].left = 5 * MiB;
	uint64_t burst = roost_ratelimit_burst(rate), chunk = roost_ratelimit_chunk(rate);
	for (int64_t t = SEC / 2; t < 10 * SEC; t += SEC / 2) {
		simulate(rl, s, 4, t);
		double ideal = (double)rate * (double)t / SEC;
		uint64_t b = total_sent(s, 4);
		if ((double)b > ideal + (double)burst + 1)
			fail_msg("at %.1f s: %llu bytes sent, more than rate + burst", (double)t / SEC,
			         (unsigned long long)b);
		if ((double)b < ideal - 4.0 * (double)chunk)
			fail_msg("at %.1f s: %llu bytes sent, behind the rate", (double)t / SEC,
			         (unsigned long long)b);
		for (int k = 1; k < 4; k++) {
			int64_t d = (int64_t)s[k].sent - (int64_t)s[0].sent;
			if (d > (int64_t)chunk || d < -(int64_t)chunk)
				fail_msg("at %.1f s: stream %d %llu bytes, stream 0 %llu", (double)t / SEC, k,
				         (unsigned long long)s[k].sent, (unsigned long long)s[0].sent);
		}
	}
	simulate(rl, s, 4, INT64_MAX);
	near((double)last_done(s, 4) / SEC, 10.0, 0.02, "20 MiB at 2 MiB/s, seconds");
	/* and the burst makes it only that much sooner */
	near((double)last_done(s, 4) / SEC, (double)(20 * MiB - burst) / (double)rate, 0.001,
	     "20 MiB less the burst at 2 MiB/s, seconds");
	roost_ratelimit_free(rl);
}

/* the rate changes mid-way: the bytes still to go take the new rate at once */
static void test_rate_change(void **st)
{
	(void)st;
	struct roost_fake_clock fc;
	uint64_t changes[][2] = {{2 * MiB, 8 * MiB}, {8 * MiB, 1 * MiB}, {2 * MiB, 20 * MiB}};
	for (int c = 0; c < 3; c++) {
		struct roost_ratelimit *rl = sim_limiter(changes[c][0], &fc);
		struct stream s[4];
		memset(s, 0, sizeof(s));
		for (int k = 0; k < 4; k++)
			s[k].left = 5 * MiB;
		const int64_t at = 2 * SEC;
		simulate(rl, s, 4, at);
		uint64_t b = total_sent(s, 4);
		near((double)b, (double)(2 * changes[c][0] + roost_ratelimit_burst(changes[c][0])),
		     0.02, "bytes sent before the change");
		roost_ratelimit_set_rate_at(rl, changes[c][1], at);
		assert_int_equal(roost_ratelimit_rate(rl), changes[c][1]);
		simulate(rl, s, 4, INT64_MAX);
		double want = 2.0 + (double)(20 * MiB - b) / (double)changes[c][1];
		near((double)last_done(s, 4) / SEC, want, 0.02, "finish after a rate change, seconds");
		roost_ratelimit_free(rl);
	}
	/* a stream waiting at a crawl is released by a faster rate at once */
	struct roost_ratelimit *rl = sim_limiter(1 * KiB, &fc);
	struct stream one = {.left = 1 * MiB};
	simulate(rl, &one, 1, 10 * SEC);
	near((double)one.sent, 10.0 * KiB + (double)roost_ratelimit_burst(1 * KiB), 0.1,
	     "bytes at 1 KiB/s for 10 s");
	roost_ratelimit_set_rate_at(rl, 1 * MiB, 10 * SEC);
	simulate(rl, &one, 1, INT64_MAX);
	near((double)one.done_ns / SEC, 11.0, 0.02, "1 MiB after going from 1 KiB/s to 1 MiB/s");
	roost_ratelimit_free(rl);
}

/* 0 is unlimited: requests granted whole at once, waiting streams released */
static void test_unlimited(void **st)
{
	(void)st;
	struct roost_fake_clock fc;
	struct roost_ratelimit *rl = sim_limiter(0, &fc);
	assert_int_equal(roost_ratelimit_chunk(0), SIZE_MAX);
	uint64_t ticket;
	assert_int_equal(roost_ratelimit_reserve(rl, 16 * MiB, 0, &ticket), 16 * MiB);
	assert_int_equal(roost_ratelimit_wait_ns(rl, ticket, 0), 0);
	struct stream s[4];
	memset(s, 0, sizeof(s));
	for (int k = 0; k < 4; k++)
		s[k].left = 5 * MiB;
	simulate(rl, s, 4, INT64_MAX);
	assert_int_equal(last_done(s, 4), 0);
	roost_ratelimit_free(rl);

	/* limited, then 0: the waiting reservation may go at once; limited
	 * again: it starts from a full bucket, not from the old debt */
	rl = sim_limiter(1 * KiB, &fc);
	uint64_t t1, t2;
	size_t g = roost_ratelimit_reserve(rl, 64 * KiB, 0, &t1);
	assert_int_equal(g, roost_ratelimit_chunk(1 * KiB));
	assert_int_equal(roost_ratelimit_wait_ns(rl, t1, 0), 0); /* within the burst */
	roost_ratelimit_reserve(rl, 64 * KiB, 0, &t2);
	assert_true(roost_ratelimit_wait_ns(rl, t2, 0) >= SEC / 8);
	roost_ratelimit_set_rate_at(rl, 0, MS);
	assert_int_equal(roost_ratelimit_wait_ns(rl, t2, MS), 0);
	roost_ratelimit_set_rate_at(rl, 1 * KiB, 2 * MS);
	roost_ratelimit_reserve(rl, 64 * KiB, 2 * MS, &t1);
	assert_int_equal(roost_ratelimit_wait_ns(rl, t1, 2 * MS), 0);
	roost_ratelimit_free(rl);
}

/* a stream alone takes the whole rate; when others come each gets its
 * share, however often the first one asks */
static void test_fairness(void **st)
{
	(void)st;
	struct roost_fake_clock fc;
	const uint64_t rate = 2 * MiB;
	struct roost_ratelimit *rl = sim_limiter(rate, &fc);
	struct stream s[4];
	memset(s, 0, sizeof(s));
	for (int k = 0; k < 4; k++) {
		s[k].left = 64 * MiB;
		s[k].next_ns = k ? 3 * SEC : 0;
	}
	s[0].poll_ns = MS; /* greedy: retries every millisecond */
	s[2].poll_ns = 7 * MS;
	simulate(rl, s, 4, 3 * SEC - 1);
	near((double)s[0].sent, 3.0 * (double)rate + (double)roost_ratelimit_burst(rate), 0.02,
	     "stream 0 alone for 3 s");
	uint64_t before[4];
	for (int k = 0; k < 4; k++)
		before[k] = s[k].sent;
	simulate(rl, s, 4, 11 * SEC);
	for (int k = 0; k < 4; k++)
		near((double)(s[k].sent - before[k]), 8.0 * (double)rate / 4, 0.02,
		     "a stream's share of 8 s among 4");
	roost_ratelimit_free(rl);
}

/* the burst after an idle time: at least one chunk, at most 1/4 s of the rate */
static void test_burst(void **st)
{
	(void)st;
	uint64_t rates[] = {1 * KiB, 100 * KiB, 2 * MiB, 20 * MiB, 10000000 * KiB};
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		uint64_t r = rates[i], b = roost_ratelimit_burst(r);
		size_t c = roost_ratelimit_chunk(r);
		assert_true(c >= 256 && c <= 64 * KiB);
		assert_true(b >= c);
		assert_true(b <= r / 4);
		struct roost_fake_clock fc;
		struct roost_ratelimit *rl = sim_limiter(r, &fc);
		/* idle for a minute, then what may go at one instant */
		uint64_t ticket, sent = 0;
		for (;;) {
			size_t g = roost_ratelimit_reserve(rl, 1 * MiB, 60 * SEC, &ticket);
			if (roost_ratelimit_wait_ns(rl, ticket, 60 * SEC))
				break;
			sent += g;
		}
		assert_true(sent <= b);
		assert_true(sent + c > b);
		roost_ratelimit_free(rl);
	}
}

/* ---- the blocking form, in real time ---- */

struct taker {
	struct roost_ratelimit *rl;
	uint64_t want, got;
	volatile int *cancel;
	volatile int done;
};

static void *taker_main(void *arg)
{
	struct taker *t = arg;
	while (t->got < t->want) {
		size_t g = roost_ratelimit_take(t->rl, t->want - t->got, t->cancel);
		if (!g)
			break;
		t->got += g;
	}
	__atomic_store_n(&t->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_blocking(void **st)
{
	(void)st;
	/* 4 threads, 1 MiB in all at 2 MiB/s: not sooner than the limit allows */
	const uint64_t rate = 2 * MiB;
	struct roost_ratelimit *rl = roost_ratelimit_new(rate, NULL);
	assert_non_null(rl);
	struct taker t[4];
	pthread_t th[4];
	double t0 = mono_s();
	for (int k = 0; k < 4; k++) {
		t[k] = (struct taker){.rl = rl, .want = 256 * KiB};
		assert_int_equal(pthread_create(&th[k], NULL, taker_main, &t[k]), 0);
	}
	for (int k = 0; k < 4; k++) {
		pthread_join(th[k], NULL);
		assert_int_equal(t[k].got, 256 * KiB);
	}
	double el = mono_s() - t0;
	double floor_s = (double)(1 * MiB - roost_ratelimit_burst(rate)) / (double)rate;
	if (el < floor_s * 0.98 || el > 30)
		fail_msg("1 MiB at 2 MiB/s took %.3f s, want at least %.3f", el, floor_s);

	/* a sleeper at a crawl is woken by a rate change: 1 MiB at 1 KiB/s
	 * would take 17 minutes */
	roost_ratelimit_set_rate(rl, 1 * KiB);
	struct taker slow = {.rl = rl, .want = 1 * MiB};
	assert_int_equal(pthread_create(&th[0], NULL, taker_main, &slow), 0);
	usleep(300 * 1000);
	assert_false(__atomic_load_n(&slow.done, __ATOMIC_ACQUIRE));
	t0 = mono_s();
	roost_ratelimit_set_rate(rl, 0);
	pthread_join(th[0], NULL);
	assert_int_equal(slow.got, 1 * MiB);
	if (mono_s() - t0 > 10)
		fail_msg("the rate change did not release the sleeper");

	/* and a canceled wait returns 0 */
	roost_ratelimit_set_rate(rl, 1 * KiB);
	volatile int cancel = 0;
	struct taker c = {.rl = rl, .want = 1 * MiB, .cancel = &cancel};
	assert_int_equal(pthread_create(&th[0], NULL, taker_main, &c), 0);
	usleep(300 * 1000);
	__atomic_store_n(&cancel, 1, __ATOMIC_RELAXED);
	pthread_join(th[0], NULL);
	assert_true(c.got < 8 * KiB);
	roost_ratelimit_free(rl);
	roost_ratelimit_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_four_streams),
		cmocka_unit_test(test_rate_change),
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_fairness),
		cmocka_unit_test(test_burst),
		cmocka_unit_test(test_blocking),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
