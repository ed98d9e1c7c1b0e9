/* SPDX-License-Identifier: MIT */
/*
 * Backup windows: parsing, and the open/close instants of one local day with
 * the DST rules of include/roost/window.h. A day's interval is computed from
 * its wall times through roost_tz_resolve, so the rules for skipped and
 * repeated wall times are the same ones cron uses.
 */
#include <stdio.h>
#include <string.h>

#include "roost/window.h"

static int two_digits(const char *p, int max, int *out)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return -1;
	*out = (p[0] - '0') * 10 + (p[1] - '0');
	return *out <= max ? 0 : -1;
}

enum roost_err window_parse(const char *s, struct roost_window *out, struct roost_errbuf *eb)
{
	int h1, m1, h2, m2;
	out->start_min = out->end_min = 0;
	if (!s || strlen(s) != 11 || s[2] != ':' || s[5] != '-' || s[8] != ':' ||
	    two_digits(s, 23, &h1) || two_digits(s + 3, 59, &m1) || two_digits(s + 6, 23, &h2) ||
	    two_digits(s + 9, 59, &m2))
		return roost_errf(eb, ROOST_EINVAL, "window: want HH:MM-HH:MM (00:00 to 23:59)");
	if (h1 == h2 && m1 == m2)
		return roost_errf(eb, ROOST_EINVAL, "window: start and end are the same time");
	out->start_min = h1 * 60 + m1;
	out->end_min = h2 * 60 + m2;
	return ROOST_OK;
}

char *window_format(const struct roost_window *w, char *buf, size_t cap)
{
	snprintf(buf, cap, "%02d:%02d-%02d:%02d", w->start_min / 60, w->start_min % 60,
	         w->end_min / 60, w->end_min % 60);
	return buf;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The instant a wall time first happens, or the first one after its gap. */
static int64_t instant(const struct roost_tz *tz, int64_t wall)
{
	int64_t utc = 0, gap_end = 0;
	if (roost_tz_resolve(tz, wall, &utc, &gap_end) == ROOST_TZ_SKIPPED) {
		if (roost_tz_resolve(tz, gap_end, &utc, &gap_end) == ROOST_TZ_SKIPPED)
			utc = gap_end - roost_tz_offset_at(tz, gap_end); /* a gap right after a gap */
	}
	return utc;
}

/* The window of local day `day` (days since the epoch, wall time): [*open, *close). */
static void day_interval(const struct roost_window *w, const struct roost_tz *tz, int64_t day,
                         int64_t *open, int64_t *close)
{
	int64_t ws = day * 86400 + (int64_t)w->start_min * 60;
	int64_t we = (day + (w->end_min <= w->start_min)) * 86400 + (int64_t)w->end_min * 60;
	*open = instant(tz, ws);
	*close = instant(tz, we);
}

static int64_t local_day(const struct roost_tz *tz, int64_t t)
{
	return floor_div(t + roost_tz_offset_at(tz, t), 86400);
}

int window_contains(const struct roost_window *w, const struct roost_tz *tz, int64_t t)
{
	if (!tz)
		tz = roost_tz_utc();
	int64_t day = local_day(tz, t);
	for (int64_t d = day - 1; d <= day; d++) {
		int64_t o, c;
		day_interval(w, tz, d, &o, &c);
		if (o <= t && t < c)
			return 1;
	}
	return 0;
}

int64_t window_next_open(const struct roost_window *w, const struct roost_tz *tz, int64_t t)
{
	if (!tz)
		tz = roost_tz_utc();
	if (window_contains(w, tz, t))
		return t;
	int64_t day = local_day(tz, t);
	for (int64_t d = day - 1; d <= day + 3; d++) {
		int64_t o, c;
		day_interval(w, tz, d, &o, &c);
		if (o >= t && o < c)
			return o;
	}
	return t + 86400; /* not reached for real zones: every day has an opening */
}
