/* SPDX-License-Identifier: MIT */
/*
 * The shared byte-rate limiter (include/roost/ratelimit.h): a token bucket
 * kept as "allowance beyond what is reserved". Reservations take bytes from
 * it in arrival order and may leave it negative: the bytes reserved and
 * still waiting. A reservation is identified by the byte position it ends
 * at, and may be sent once the allowance has reached that position, so the
 * waiting streams are served first come, first served whatever the rate
 * does meanwhile.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "roost/ratelimit.h"

#define CHUNK_MIN 256
#define CHUNK_MAX (64 * 1024)
#define POLL_NS (100 * INT64_C(1000000)) /* a sleeper looks at *cancel this often */

struct roost_ratelimit {
	const struct roost_clock *clock; /* immutable */
	pthread_mutex_t mu;
	pthread_cond_t cv; /* signalled on a rate change; CLOCK_MONOTONIC */
	/* under mu */
	uint64_t rate;     /* bytes/s; 0: unlimited */
	/* allowance beyond `reserved`, in bytes: <= the burst; negative while
	 * reserved bytes wait. Meaningless while unlimited (set at the change). */
	double tokens;
	uint64_t reserved; /* bytes reserved since the start: the last ticket given */
	int64_t last_ns;   /* when tokens was last brought up to date */
};

size_t roost_ratelimit_chunk(uint64_t bytes_per_s)
{
	if (!bytes_per_s)
		return SIZE_MAX;
	uint64_t c = bytes_per_s / 32;
	return c < CHUNK_MIN ? CHUNK_MIN : c > CHUNK_MAX ? CHUNK_MAX : (size_t)c;
}

uint64_t roost_ratelimit_burst(uint64_t bytes_per_s)
{
	uint64_t b = bytes_per_s / 8, c = roost_ratelimit_chunk(bytes_per_s);
	return bytes_per_s && b < c ? c : b;
}

struct roost_ratelimit *roost_ratelimit_new(uint64_t bytes_per_s,
                                            const struct roost_clock *clock)
{
	struct roost_ratelimit *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return NULL;
	pthread_condattr_t ca;
	if (pthread_condattr_init(&ca)) {
		free(rl);
		return NULL;
	}
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int bad = pthread_cond_init(&rl->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (bad) {
		free(rl);
		return NULL;
	}
	pthread_mutex_init(&rl->mu, NULL);
	rl->clock = clock ? clock : roost_clock_system();
	rl->rate = bytes_per_s > ROOST_RATELIMIT_MAX_RATE ? ROOST_RATELIMIT_MAX_RATE : bytes_per_s;
	rl->tokens = (double)roost_ratelimit_burst(rl->rate);
	rl->last_ns = roost_clock_mono_ns(rl->clock);
	return rl;
}

void roost_ratelimit_free(struct roost_ratelimit *rl)
{
	if (!rl)
		return;
	pthread_cond_destroy(&rl->cv);
	pthread_mutex_destroy(&rl->mu);
	free(rl);
}

/* Brings tokens up to now at the current rate (mu held). A clock that went
 * back (a test's) only moves last_ns. */
static void advance_locked(struct roost_ratelimit *rl, int64_t now_ns)
{
	if (rl->rate && now_ns > rl->last_ns) {
		double t = rl->tokens + (double)rl->rate * (double)(now_ns - rl->last_ns) / 1e9;
		double cap = (double)roost_ratelimit_burst(rl->rate);
		rl->tokens = t > cap ? cap : t;
	}
	rl->last_ns = now_ns;
}

void roost_ratelimit_set_rate_at(struct roost_ratelimit *rl, uint64_t bytes_per_s,
                                 int64_t now_ns)
{
	if (bytes_per_s > ROOST_RATELIMIT_MAX_RATE)
		bytes_per_s = ROOST_RATELIMIT_MAX_RATE;
	pthread_mutex_lock(&rl->mu);
	advance_locked(rl, now_ns);
	double cap = (double)roost_ratelimit_burst(bytes_per_s);
	if (!rl->rate || !bytes_per_s)
		rl->tokens = cap; /* nothing waits while unlimited: start full */
	else if (rl->tokens > cap)
		rl->tokens = cap; /* waiting bytes (tokens < 0) stay, at the new rate */
	rl->rate = bytes_per_s;
	pthread_cond_broadcast(&rl->cv);
	pthread_mutex_unlock(&rl->mu);
}

void roost_ratelimit_set_rate(struct roost_ratelimit *rl, uint64_t bytes_per_s)
{
	roost_ratelimit_set_rate_at(rl, bytes_per_s, roost_clock_mono_ns(rl->clock));
}

uint64_t roost_ratelimit_rate(struct roost_ratelimit *rl)
{
	pthread_mutex_lock(&rl->mu);
	uint64_t r = rl->rate;
	pthread_mutex_unlock(&rl->mu);
	return r;
}

static size_t reserve_locked(struct roost_ratelimit *rl, size_t want, int64_t now_ns,
                             uint64_t *ticket)
{
	advance_locked(rl, now_ns);
	size_t c = roost_ratelimit_chunk(rl->rate);
	size_t g = want < c ? want : c;
	if (rl->rate) {
		rl->reserved += g;
		rl->tokens -= (double)g;
	}
	*ticket = rl->reserved;
	return g;
}

/* mu held, tokens up to date. */
static int64_t wait_locked(struct roost_ratelimit *rl, uint64_t ticket)
{
	if (!rl->rate)
		return 0;
	/* the allowance (reserved + tokens) must reach the ticket */
	double need = (double)(int64_t)(ticket - rl->reserved) - rl->tokens;
	if (need <= 0)
		return 0;
	double ns = need * 1e9 / (double)rl->rate;
	return ns < 1 ? 1 : ns > 1e15 ? INT64_C(1000000000000000) : (int64_t)ns + 1;
}

size_t roost_ratelimit_reserve(struct roost_ratelimit *rl, size_t want, int64_t now_ns,
                               uint64_t *ticket)
{
	pthread_mutex_lock(&rl->mu);
	size_t g = reserve_locked(rl, want, now_ns, ticket);
	pthread_mutex_unlock(&rl->mu);
	return g;
}

int64_t roost_ratelimit_wait_ns(struct roost_ratelimit *rl, uint64_t ticket, int64_t now_ns)
{
	pthread_mutex_lock(&rl->mu);
	advance_locked(rl, now_ns);
	int64_t w = wait_locked(rl, ticket);
	pthread_mutex_unlock(&rl->mu);
	return w;
}

size_t roost_ratelimit_take(struct roost_ratelimit *rl, size_t want, const volatile int *cancel)
{
	uint64_t ticket;
	pthread_mutex_lock(&rl->mu);
	size_t g = reserve_locked(rl, want, roost_clock_mono_ns(rl->clock), &ticket);
	for (;;) {
		advance_locked(rl, roost_clock_mono_ns(rl->clock));
		int64_t w = wait_locked(rl, ticket);
		if (!w)
			break;
		if (cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED)) {
			g = 0;
			break;
		}
		/* the condition variable sleeps on the real monotonic clock */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t at = (int64_t)ts.tv_nsec + (w < POLL_NS ? w : POLL_NS);
		ts.tv_sec += at / ROOST_NS_PER_SEC;
		ts.tv_nsec = at % ROOST_NS_PER_SEC;
		int rc = pthread_cond_timedwait(&rl->cv, &rl->mu, &ts);
		if (rc && rc != ETIMEDOUT && rc != EINTR)
			break;
	}
	pthread_mutex_unlock(&rl->mu);
	return g;
}
