/* SPDX-License-Identifier: MIT */
/* The system clock and a fake clock for tests. */
#include <time.h>

#include "roost/clock.h"

static int64_t read_clock(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * ROOST_NS_PER_SEC + ts.tv_nsec;
}

static int64_t sys_now(void *ctx)
{
	(void)ctx;
	return read_clock(CLOCK_REALTIME);
}

static int64_t sys_mono(void *ctx)
{
	(void)ctx;
	return read_clock(CLOCK_MONOTONIC);
}

static const struct roost_clock system_clock = {sys_now, sys_mono, NULL};

const struct roost_clock *roost_clock_system(void)
{
	return &system_clock;
}

int64_t roost_clock_now_ns(const struct roost_clock *c)
{
	return c->now_ns(c->ctx);
}

int64_t roost_clock_now_s(const struct roost_clock *c)
{
	int64_t ns = c->now_ns(c->ctx);
	return ns >= 0 ? ns / ROOST_NS_PER_SEC
	               : -((-ns + ROOST_NS_PER_SEC - 1) / ROOST_NS_PER_SEC);
}

int64_t roost_clock_mono_ns(const struct roost_clock *c)
{
	return c->mono_ns(c->ctx);
}

static int64_t fake_now(void *ctx)
{
	return ((struct roost_fake_clock *)ctx)->now_ns;
}

void roost_fake_clock_init(struct roost_fake_clock *fc, int64_t now_s)
{
	fc->clock.now_ns = fake_now;
	fc->clock.mono_ns = fake_now;
	fc->clock.ctx = fc;
	fc->now_ns = now_s * ROOST_NS_PER_SEC;
}

void roost_fake_clock_set(struct roost_fake_clock *fc, int64_t now_s)
{
	fc->now_ns = now_s * ROOST_NS_PER_SEC;
}

void roost_fake_clock_advance_ns(struct roost_fake_clock *fc, int64_t ns)
{
	fc->now_ns += ns;
}
