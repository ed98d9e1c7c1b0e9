/* SPDX-License-Identifier: MIT */
/*
 * Backup windows (docs/policies.md): "HH:MM-HH:MM" in a zone's wall time,
 * the time of day a schedule's jobs may start. The window of local day D
 * opens at D's start time and closes at the end time of D, or of D+1 when
 * end <= start (it wraps midnight). Both edges are instants:
 *
 *   an edge whose wall time does not exist (spring forward) is the first
 *   valid instant after the gap; an edge whose wall time occurs twice (fall
 *   back) is its first occurrence, so a repeated hour counts once.
 *
 * Pure: time is a parameter, no global state; thread-safe.
 */
#ifndef ROOST_WINDOW_H
#define ROOST_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "roost/error.h"
#include "roost/tz.h"

/* Minutes since midnight; start != end. */
struct roost_window {
	int start_min;
	int end_min;
};

/* Parses "HH:MM-HH:MM" (two digits each, 00-23 and 00-59, start != end).
 * ROOST_EINVAL with a message in eb on anything else. */
enum roost_err window_parse(const char *s, struct roost_window *out, struct roost_errbuf *eb);

/* "HH:MM-HH:MM" into buf (at least 12 bytes); returns buf. */
char *window_format(const struct roost_window *w, char *buf, size_t cap);

/* Is instant t inside the window, in zone tz (NULL = UTC)? */
int window_contains(const struct roost_window *w, const struct roost_tz *tz, int64_t t);

/* The first instant >= t at which the window is open (t itself when open). */
int64_t window_next_open(const struct roost_window *w, const struct roost_tz *tz, int64_t t);

#endif
