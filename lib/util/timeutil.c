/* SPDX-License-Identifier: MIT */
/*
 * Civil-date arithmetic over the proleptic Gregorian calendar, done with
 * integer formulas on 400-year eras (no libc time zone state, thread-safe),
 * and RFC 3339 formatting/parsing.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "roost/timeutil.h"

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int roost_is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int roost_days_in_month(int64_t y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2)
		return roost_is_leap(y) ? 29 : 28;
	return dim[(m - 1) % 12];
}

/* Era-based day count: a year starts in March so Feb 29 is the era's last day. */
int64_t roost_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = floor_div(y, 400);
	int64_t yoe = y - era * 400;                              /* [0, 399] */
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1; /* [0, 365] */
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;       /* [0, 146096] */
	return era * 146097 + doe - 719468;
}

void roost_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
	days += 719468;
	int64_t era = floor_div(days, 146097);
	int64_t doe = days - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int roost_weekday_from_days(int64_t days)
{
	int64_t w = (days + 4) % 7; /* 1970-01-01 was a Thursday */
	return (int)(w < 0 ? w + 7 : w);
}

int64_t roost_civil_to_time(const struct roost_civil *c)
{
	return roost_days_from_civil(c->year, c->month, c->day) * 86400 +
	       c->hour * 3600 + c->minute * 60 + c->second;
}

void roost_civil_from_time(int64_t t, struct roost_civil *c)
{
	int64_t days = floor_div(t, 86400);
	int64_t sod = t - days * 86400;
	roost_civil_from_days(days, &c->year, &c->month, &c->day);
	c->hour = (int)(sod / 3600);
	c->minute = (int)(sod / 60 % 60);
	c->second = (int)(sod % 60);
	c->wday = roost_weekday_from_days(days);
}

char *roost_time_format(int64_t t, char *buf, size_t len)
{
	struct roost_civil c;
	roost_civil_from_time(t, &c);
	snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)c.year,
	         c.month, c.day, c.hour, c.minute, c.second);
	return buf;
}

char *roost_time_format_ms(int64_t ms, char *buf, size_t len)
{
	int64_t s = floor_div(ms, 1000);
	struct roost_civil c;
	roost_civil_from_time(s, &c);
	snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)c.year,
	         c.month, c.day, c.hour, c.minute, c.second, (int)(ms - s * 1000));
	return buf;
}

/* Reads exactly n digits. */
static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

enum roost_err roost_time_parse(const char *s, int64_t *out, struct roost_errbuf *eb)
{
	*out = 0;
	const char *p = s;
	int y, mo, d, h, mi, se;
	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
	    digits(&p, 2, &d))
		goto bad;
	if (*p != 'T' && *p != 't' && *p != ' ')
		goto bad;
	p++;
	if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
	    digits(&p, 2, &se))
		goto bad;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			goto bad;
		while (isdigit((unsigned char)*p))
			p++;
	}
	int offset = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om;
		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 ||
		    om > 59)
			goto bad;
		offset = sign * (oh * 3600 + om * 60);
	} else {
		goto bad;
	}
	if (*p)
		goto bad;
	if (mo < 1 || mo > 12 || d < 1 || d > roost_days_in_month(y, mo) || h > 23 ||
	    mi > 59 || se > 60)
		return roost_errf(eb, ROOST_EINVAL, "time \"%s\": no such date or time", s);
	if (se == 60) /* leap second: the instant after :59 */
		se = 59;
	struct roost_civil c = {.year = y, .month = mo, .day = d, .hour = h,
	                        .minute = mi, .second = se};
	*out = roost_civil_to_time(&c) - offset;
	return ROOST_OK;
bad:
	return roost_errf(eb, ROOST_EINVAL,
	                  "time \"%s\" is not RFC 3339 (expected e.g. 2026-11-26T09:00:00Z)", s);
}
