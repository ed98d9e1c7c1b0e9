/* SPDX-License-Identifier: MIT */
/*
 * Structured logging: one event per line on stderr (or a chosen fd),
 *   ts=2026-11-26T09:00:00.123Z level=info event=catchup.dispatch host=h1 ...
 * The event name is a dotted word; the rest is "key=value" pairs formatted by
 * the caller. Any value that may hold spaces, quotes or bytes from outside
 * (names, paths, messages) must go through roost_lq(), which quotes and
 * escapes it so every line stays one parseable event.
 * Thread-safe: each event is emitted with a single write(2).
 */
#ifndef ROOST_LOG_H
#define ROOST_LOG_H

enum roost_log_level {
	ROOST_LOG_DEBUG = 0,
	ROOST_LOG_INFO,
	ROOST_LOG_WARN,
	ROOST_LOG_ERROR,
	ROOST_LOG_OFF,
};

/* Minimum level emitted (default INFO; ROOST_LOG_LEVEL=debug|info|warn|error|off). */
void roost_log_set_level(enum roost_log_level level);
enum roost_log_level roost_log_get_level(void);
/* Parses "debug", "info", ...; returns -1 when unknown. */
int roost_log_level_parse(const char *s);
/* Where events go (default 2, stderr). */
void roost_log_set_fd(int fd);

void roost_log(enum roost_log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Returns `s` quoted for a log value when it needs quoting ("a b" -> "\"a b\"",
 * control bytes as \xNN), or `s` itself when it is a plain word. The result
 * lives in a per-thread ring of 8 buffers, so up to 8 roost_lq() results can
 * appear in one roost_log call; long values are truncated with "...".
 * NULL becomes "-".
 */
const char *roost_lq(const char *s);

/* One line of another library's logging (libwebsockets) as an event `source`
 * with msg=<the line, trailing newline dropped, quoted>. */
void roost_log_foreign(enum roost_log_level level, const char *source, const char *line);

#define log_debug(ev, ...) roost_log(ROOST_LOG_DEBUG, ev, __VA_ARGS__)
#define log_info(ev, ...)  roost_log(ROOST_LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...)  roost_log(ROOST_LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) roost_log(ROOST_LOG_ERROR, ev, __VA_ARGS__)

#endif
