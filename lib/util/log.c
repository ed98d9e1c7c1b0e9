/* SPDX-License-Identifier: MIT */
/* Structured, line-oriented logging (see roost/log.h). */
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

void roost_log(enum roost_log_level level, const char *event, const char *fmt, ...)
{
	if ((int)level < atomic_load(&log_level) || level >= ROOST_LOG_OFF)
		return;
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
		va_list ap;
		va_start(ap, fmt);
		int m = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
		va_end(ap);
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
