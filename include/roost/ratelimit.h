/* SPDX-License-Identifier: MIT */
/*
 * A byte-rate limiter shared by many streams (docs/policies.md, "The upload
 * limit"): one token bucket whose waiting bytes are served in the order
 * they were reserved, so parallel streams share the rate fairly and a
 * stream that asks more often gains nothing.
 *
 * A stream asks for the bytes it wants to send; it is granted at most one
 * chunk (roost_ratelimit_chunk: about 1/32 s of the rate, 256 B to 64 KiB),
 * reserves it, and may send it once the bucket's allowance reaches the end
 * of its reservation. The bucket holds 1/8 s of the rate, at least one
 * chunk (the burst after an idle time; at most 1/4 s of any rate from
 * 1 KiB/s). The rate may change at any moment: bytes already reserved
 * and still waiting go at the new rate. Rate 0 means unlimited: every
 * request is granted whole, at once, and waiting streams are released.
 *
 * Time is a parameter of the core calls (roost_ratelimit_reserve,
 * roost_ratelimit_wait_ns), so tests simulate streams without sleeping;
 * roost_ratelimit_take is the blocking form over a clock. Every call is
 * thread-safe (one mutex per limiter).
 */
#ifndef ROOST_RATELIMIT_H
#define ROOST_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "roost/clock.h"

#define ROOST_RATELIMIT_MAX_RATE (UINT64_C(1) << 40) /* bytes/s; more is clamped */

struct roost_ratelimit;

/* A limiter of bytes_per_s (0: unlimited) whose blocking calls read
 * clock's monotonic time (NULL: the system clock; borrowed, must outlive
 * the limiter). NULL when out of memory. Free with roost_ratelimit_free. */
struct roost_ratelimit *roost_ratelimit_new(uint64_t bytes_per_s,
                                            const struct roost_clock *clock);
/* NULL is a no-op. No call may be in progress. */
void roost_ratelimit_free(struct roost_ratelimit *rl);

/* Changes the rate at now_ns (0: unlimited); waiting streams see the new
 * rate at once (roost_ratelimit_take's sleepers are woken). */
void roost_ratelimit_set_rate_at(struct roost_ratelimit *rl, uint64_t bytes_per_s,
                                 int64_t now_ns);
/* The same at the limiter's clock's now. */
void roost_ratelimit_set_rate(struct roost_ratelimit *rl, uint64_t bytes_per_s);
uint64_t roost_ratelimit_rate(struct roost_ratelimit *rl);
/* The largest grant at bytes_per_s (0: unlimited, SIZE_MAX). */
size_t roost_ratelimit_chunk(uint64_t bytes_per_s);
/* The bucket's size at bytes_per_s: the most it sends at once after an idle time. */
uint64_t roost_ratelimit_burst(uint64_t bytes_per_s);

/*
 * Core, non-blocking. Reserves up to want bytes (want > 0) at now_ns and
 * returns how many were reserved (at most one chunk; want when unlimited);
 * *ticket identifies the reservation. The caller then sends them once
 * roost_ratelimit_wait_ns(rl, *ticket, now) is 0, and not before; it must
 * not reserve again first (a stream holds one reservation at a time).
 */
size_t roost_ratelimit_reserve(struct roost_ratelimit *rl, size_t want, int64_t now_ns,
                               uint64_t *ticket);
/* 0 when the reservation ticket may be sent at now_ns, else the ns to wait
 * at the current rate (the rate may change meanwhile: ask again). */
int64_t roost_ratelimit_wait_ns(struct roost_ratelimit *rl, uint64_t ticket, int64_t now_ns);

/*
 * Blocking: reserves up to want bytes and sleeps until they may be sent
 * (woken early by a rate change). Returns the bytes granted, or 0 when
 * *cancel (may be NULL) became non-zero while waiting (checked at least
 * every 100 ms).
 */
size_t roost_ratelimit_take(struct roost_ratelimit *rl, size_t want, const volatile int *cancel);

#endif
