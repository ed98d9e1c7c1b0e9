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

#include <stdint.h>

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

/*
 * Rate-limited events, for what a peer can cause at will (failed accepts,
 * malformed requests, bad agent frames): each (event, source) key may write
 * `burst` lines per window; beyond that lines are only counted, and once the
 * key's window has ended one line
 *   level=warn event=log.suppressed of=<event> source=<source> count=<n>
 * says how many were dropped. `source` names who caused it (a peer address,
 * "host=12"); NULL means one key for the event. Besides the per-key budget,
 * all limited events and their summaries together may write at most
 * 20 x burst lines per window, plus one "of=* source=* count=N" line for
 * what that budget dropped: a flood from many sources stays bounded too.
 * Keys live in a fixed table of 512; when it is full the key whose window
 * started first is summarised and reused. Thread-safe.
 * Returns 1 if the line was written, 0 if it was suppressed (or below the
 * level).
 */
int roost_log_limited(enum roost_log_level level, const char *event, const char *source,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
struct roost_clock;
/* Budget per key and window (defaults 5 lines per 10 s, the system clock;
 * clock NULL keeps the current one). Resets every key. */
void roost_log_limit_config(unsigned burst, int64_t window_ms, const struct roost_clock *clock);
/* Writes the log.suppressed lines of keys whose window has ended (every key
 * with a count when `all`) and forgets those keys. Called by
 * roost_log_limited itself at most once per second; a daemon also calls it
 * from a timer, so a flood that stops is still summed up, and at exit. */
void roost_log_limit_flush(int all);

#define log_debug(ev, ...) roost_log(ROOST_LOG_DEBUG, ev, __VA_ARGS__)
#define log_info(ev, ...)  roost_log(ROOST_LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...)  roost_log(ROOST_LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) roost_log(ROOST_LOG_ERROR, ev, __VA_ARGS__)

#endif
