/* SPDX-License-Identifier: MIT */
/*
 * The clock interface. Scheduling code never calls time() itself: it takes
 * `now` as a parameter or a struct roost_clock, so tests inject time and a
 * 60-second window is tested in microseconds.
 */
#ifndef ROOST_CLOCK_H
#define ROOST_CLOCK_H

#include <stdint.h>

/* Nanoseconds since the Unix epoch (wall clock) and a monotonic reading. */
struct roost_clock {
	int64_t (*now_ns)(void *ctx);  /* wall clock, UTC */
	int64_t (*mono_ns)(void *ctx); /* monotonic, for intervals */
	void *ctx;
};

#define ROOST_NS_PER_SEC INT64_C(1000000000)

/* The real clock (CLOCK_REALTIME / CLOCK_MONOTONIC). Static, thread-safe. */
const struct roost_clock *roost_clock_system(void);

/* Convenience readers. */
int64_t roost_clock_now_ns(const struct roost_clock *c);
int64_t roost_clock_now_s(const struct roost_clock *c);
int64_t roost_clock_mono_ns(const struct roost_clock *c);

/*
 * A settable clock for tests: both readings return `now_ns`, which only
 * moves when the test calls roost_fake_clock_set/advance. Not thread-safe.
 */
struct roost_fake_clock {
	struct roost_clock clock;
	int64_t now_ns;
};
void roost_fake_clock_init(struct roost_fake_clock *fc, int64_t now_s);
void roost_fake_clock_set(struct roost_fake_clock *fc, int64_t now_s);
void roost_fake_clock_advance_ns(struct roost_fake_clock *fc, int64_t ns);

#endif
