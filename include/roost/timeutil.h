/* SPDX-License-Identifier: MIT */
/*
 * Civil-time arithmetic (proleptic Gregorian, no time zone) and RFC 3339.
 * All times in roost are int64 seconds since the Unix epoch, UTC. Pure
 * functions, thread-safe.
 */
#ifndef ROOST_TIMEUTIL_H
#define ROOST_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "roost/error.h"

struct roost_civil {
	int64_t year;
	int month;  /* 1-12 */
	int day;    /* 1-31 */
	int hour, minute, second;
	int wday;   /* 0 = Sunday; filled by roost_civil_from_time */
};

/* Days since 1970-01-01 of a date, and back. */
int64_t roost_days_from_civil(int64_t y, int m, int d);
void roost_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
int roost_is_leap(int64_t y);
int roost_days_in_month(int64_t y, int m);
/* 0 = Sunday. */
int roost_weekday_from_days(int64_t days);

/* Seconds <-> broken-down civil time, both taken as UTC (or as "wall"). */
int64_t roost_civil_to_time(const struct roost_civil *c);
void roost_civil_from_time(int64_t t, struct roost_civil *c);

/* "2026-11-26T09:00:00Z" into buf (>= 32 bytes); returns buf. */
char *roost_time_format(int64_t t, char *buf, size_t len);
/* Milliseconds since the epoch as "2026-11-26T09:00:00.123Z". */
char *roost_time_format_ms(int64_t ms, char *buf, size_t len);

/*
 * Parses an RFC 3339 date-time ("2026-11-26T09:00:00Z", "...T10:00:00.5+01:00",
 * 't'/'z' and ' ' as separator accepted). Fractional seconds are truncated.
 * Returns ROOST_EINVAL with a message in eb when malformed.
 */
enum roost_err roost_time_parse(const char *s, int64_t *out, struct roost_errbuf *eb);

#endif
