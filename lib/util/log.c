/* SPDX-License-Identifier: MIT */
/* Structured, line-oriented logging (see roost/log.h). */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "roost/clock.h"
#include "roost/log.h"
#include "roost/timeutil.h"

static atomic_int log_level = ROOST_LOG_INFO;
static atomic_int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void roost_log_set_level(enum roost_log_level level)
{
	atomic_store(&log_level, (int)level);
}

enum roost_log_level roost_log_get_level(void)
{
	return (enum roost_log_level)atomic_load(&log_level);
}

int roost_log_level_parse(const char *s)
{
	for (int i = 0; i <= ROOST_LOG_OFF; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

void roost_log_set_fd(int fd)
{
	atomic_store(&log_fd, fd);
}

static void vlog(enum roost_log_level level, const char *event, const char *fmt, va_list ap)
{
	char line[4096];
	int64_t ns = roost_clock_now_ns(roost_clock_system());
	char ts[40];
	roost_time_format_ms(ns / 1000000, ts, sizeof(ts));
	int n = snprintf(line, sizeof(line), "ts=%s level=%s event=%s", ts,
	                 level_names[level], event);
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	if (fmt && *fmt && len < sizeof(line) - 2) {
		line[len++] = ' ';
		int m = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
		if (m > 0)
			len += (size_t)m < sizeof(line) - len ? (size_t)m : sizeof(line) - len - 1;
	}
	/* Never let a formatted value break the one-event-per-line rule. */
	for (size_t i = 0; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[len++] = '\n';
	ssize_t w = write(atomic_load(&log_fd), line, len);
	(void)w;
}

void roost_log(enum roost_log_level level, const char *event, const char *fmt, ...)
{
	if ((int)level < atomic_load(&log_level) || level >= ROOST_LOG_OFF)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(level, event, fmt, ap);
	va_end(ap);
}

/* ---- rate-limited events ---- */

#define LIM_SLOTS 512
#define LIM_PROBE 8
#define LIM_GLOBAL_FACTOR 20

/* One (event, source) key. used == 0: a free slot. */
struct lim_key {
	int used;
	uint64_t hash;
	char event[48];
	char source[80];
	int64_t start_ns; /* its window began here */
	unsigned written; /* lines written in the window */
	uint64_t suppressed;
};

static pthread_mutex_t lim_mu = PTHREAD_MUTEX_INITIALIZER;
static struct lim_key lim[LIM_SLOTS];
static unsigned lim_burst = 5;
static int64_t lim_window_ns = 10 * ROOST_NS_PER_SEC;
static const struct roost_clock *lim_clock;
static int64_t lim_global_start, lim_last_flush;
static unsigned lim_global_written;
static uint64_t lim_lost; /* suppressed by keys whose summary the global budget refused */

static int64_t lim_now(void)
{
	return roost_clock_mono_ns(lim_clock ? lim_clock : roost_clock_system());
}

static uint64_t lim_hash(const char *event, const char *source)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *p = event; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	for (const char *p = source; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return h;
}

/* Starts a new global window when the last one is over; what it lost is
 * summed up in one line. lim_mu held. */
static void lim_global_roll(int64_t now)
{
	if (now - lim_global_start < lim_window_ns)
		return;
	lim_global_start = now;
	lim_global_written = 0;
	if (lim_lost)
		roost_log(ROOST_LOG_WARN, "log.suppressed", "of=* source=* count=%llu",
		          (unsigned long long)lim_lost);
	lim_lost = 0;
}

/* Writes k's summary if it dropped anything; summaries count against the
 * global budget too (a flood from many sources would otherwise make one
 * summary per source), beyond it they add to one line per window.
 * lim_mu held. */
static void lim_summarise(struct lim_key *k)
{
	if (!k->suppressed)
		return;
	if (lim_global_written < lim_burst * LIM_GLOBAL_FACTOR) {
		lim_global_written++;
		roost_log(ROOST_LOG_WARN, "log.suppressed", "of=%s source=%s count=%llu",
		          roost_lq(k->event), roost_lq(k->source), (unsigned long long)k->suppressed);
	} else {
		lim_lost += k->suppressed;
	}
	k->suppressed = 0;
}

static void lim_flush_locked(int64_t now, int all)
{
	lim_global_roll(now);
	for (size_t i = 0; i < LIM_SLOTS; i++) {
		struct lim_key *k = &lim[i];
		if (k->used && (all || now - k->start_ns >= lim_window_ns)) {
			lim_summarise(k);
			k->used = 0;
		}
	}
	lim_last_flush = now;
	if (all && lim_lost) {
		roost_log(ROOST_LOG_WARN, "log.suppressed", "of=* source=* count=%llu",
		          (unsigned long long)lim_lost);
		lim_lost = 0;
	}
}

void roost_log_limit_flush(int all)
{
	pthread_mutex_lock(&lim_mu);
	lim_flush_locked(lim_now(), all);
	pthread_mutex_unlock(&lim_mu);
}

void roost_log_limit_config(unsigned burst, int64_t window_ms, const struct roost_clock *clock)
{
	pthread_mutex_lock(&lim_mu);
	lim_burst = burst ? burst : 1;
	lim_window_ns = (window_ms > 0 ? window_ms : 1) * 1000000;
	if (clock)
		lim_clock = clock;
	memset(lim, 0, sizeof(lim));
	lim_global_written = 0;
	lim_lost = 0;
	lim_global_start = lim_last_flush = lim_now();
	pthread_mutex_unlock(&lim_mu);
}

int roost_log_limited(enum roost_log_level level, const char *event, const char *source,
                      const char *fmt, ...)
{
	if ((int)level < atomic_load(&log_level) || level >= ROOST_LOG_OFF)
		return 0;
	if (!source)
		source = "-";
	uint64_t h = lim_hash(event, source);
	pthread_mutex_lock(&lim_mu);
	int64_t now = lim_now();
	if (now - lim_last_flush >= ROOST_NS_PER_SEC)
		lim_flush_locked(now, 0);
	lim_global_roll(now);
	/* its slot among LIM_PROBE neighbours: the key itself, a free one, or the oldest */
	struct lim_key *k = NULL, *free_k = NULL, *old = NULL;
	for (size_t i = 0; i < LIM_PROBE; i++) {
		struct lim_key *c = &lim[(h + i) % LIM_SLOTS];
		if (!c->used) {
			if (!free_k)
				free_k = c;
			continue;
		}
		if (c->hash == h && !strncmp(c->event, event, sizeof(c->event) - 1) &&
		    !strncmp(c->source, source, sizeof(c->source) - 1)) {
			k = c;
			break;
		}
		if (!old || c->start_ns < old->start_ns)
			old = c;
	}
	if (!k) {
		k = free_k;
		if (!k) {
			k = old;
			lim_summarise(k);
		}
		memset(k, 0, sizeof(*k));
		k->used = 1;
		k->hash = h;
		snprintf(k->event, sizeof(k->event), "%s", event);
		snprintf(k->source, sizeof(k->source), "%s", source);
		k->start_ns = now;
	} else if (now - k->start_ns >= lim_window_ns) {
		lim_summarise(k);
		k->start_ns = now;
		k->written = 0;
	}
	int emit = k->written < lim_burst && lim_global_written < lim_burst * LIM_GLOBAL_FACTOR;
	if (emit) {
		k->written++;
		lim_global_written++;
	} else {
		k->suppressed++;
	}
	pthread_mutex_unlock(&lim_mu);
	if (emit) {
		va_list ap;
		va_start(ap, fmt);
		vlog(level, event, fmt, ap);
		va_end(ap);
	}
	return emit;
}

static int needs_quote(const char *s)
{
	if (!*s)
		return 1;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p >= 0x7f)
			return 1;
	return 0;
}

const char *roost_lq(const char *s)
{
	static _Thread_local char ring[8][320];
	static _Thread_local unsigned next;
	if (!s)
		return "-";
	if (!needs_quote(s) && strlen(s) < sizeof(ring[0]))
		return s;
	char *b = ring[next++ % 8];
	size_t cap = sizeof(ring[0]) - 5; /* room for ..." and NUL */
	size_t o = 0;
	b[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (o + 4 >= cap) {
			memcpy(b + o, "...", 3);
			o += 3;
			break;
		}
		if (*p == '"' || *p == '\\') {
			b[o++] = '\\';
			b[o++] = (char)*p;
		} else if (*p < ' ' || *p == 0x7f) {
			o += (size_t)snprintf(b + o, 5, "\\x%02x", *p);
		} else {
			b[o++] = (char)*p;
		}
	}
	b[o++] = '"';
	b[o] = 0;
	return b;
}

void roost_log_foreign(enum roost_log_level level, const char *source, const char *line)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", line ? line : "");
	size_t n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = 0;
	roost_log(level, source, "msg=%s", roost_lq(buf));
}
