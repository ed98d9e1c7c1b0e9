/* SPDX-License-Identifier: MIT */
/*
 * Cron expressions: parsing into bit sets, and next-fire search.
 *
 * The search walks wall-clock (civil) time field by field, jumping to the
 * next set bit of each field, and then maps the wall time to an instant in
 * the expression's zone, skipping wall times that a DST change removes and
 * firing repeated ones at their first occurrence.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "roost/cron.h"
#include "roost/timeutil.h"
#include "roost/tz.h"

#define CRON_MAX_YEAR 9999
#define CRON_MAX_LEN 1024

struct cron {
	uint64_t sec, min; /* bits 0-59 */
	uint32_t hour;     /* bits 0-23 */
	uint32_t dom;      /* bits 1-31 */
	uint16_t mon;      /* bits 1-12 */
	uint8_t dow;       /* bits 0-6, 0 = Sunday */
	/*
	 * Vixie cron's rule: a day field whose text starts with '*' counts as
	 * unrestricted. When either day field is unrestricted a day must match
	 * both; when both are restricted it must match either.
	 */
	int dom_star, dow_star;
	const struct roost_tz *tz;
};

enum field_id { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, F_COUNT };

struct field_spec {
	const char *name;
	int lo, hi;
	const char *const *names; /* names[i] means lo + i */
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const struct field_spec specs[F_COUNT] = {
	[F_SEC] = {"second", 0, 59, NULL},
	[F_MIN] = {"minute", 0, 59, NULL},
	[F_HOUR] = {"hour", 0, 23, NULL},
	[F_DOM] = {"day-of-month", 1, 31, NULL},
	[F_MON] = {"month", 1, 12, month_names},
	[F_DOW] = {"day-of-week", 0, 7, day_names},
};

static const struct {
	const char *name, *expansion;
} descriptors[] = {
	{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
	{"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
	{"@hourly", "0 * * * *"},
};

/* Reads a number or a name of the field; *is_name tells which. */
static enum roost_err parse_value(const struct field_spec *f, const char **p, int *out,
                                  int *is_name, struct roost_errbuf *eb)
{
	const char *s = *p;
	*is_name = 0;
	if (isdigit((unsigned char)*s)) {
		long v = 0;
		int n = 0;
		while (isdigit((unsigned char)*s)) {
			if (++n > 4)
				return roost_errf(eb, ROOST_EINVAL, "%s: number too long", f->name);
			v = v * 10 + (*s++ - '0');
		}
		if (v < f->lo || v > f->hi)
			return roost_errf(eb, ROOST_EINVAL, "%s: %ld is out of range %d-%d", f->name,
			                  v, f->lo, f->hi);
		*out = (int)v;
		*p = s;
		return ROOST_OK;
	}
	if (isalpha((unsigned char)*s)) {
		const char *e = s;
		while (isalpha((unsigned char)*e))
			e++;
		size_t len = (size_t)(e - s);
		if (f->names && len == 3)
			for (int i = 0; f->names[i]; i++)
				if (strncasecmp(s, f->names[i], 3) == 0) {
					*out = f->lo + i;
					*is_name = 1;
					*p = e;
					return ROOST_OK;
				}
		return roost_errf(eb, ROOST_EINVAL, "%s: unknown name \"%.*s\"", f->name,
		                  (int)(len > 32 ? 32 : len), s);
	}
	if (!*s || *s == ',')
		return roost_errf(eb, ROOST_EINVAL, "%s: missing value", f->name);
	return roost_errf(eb, ROOST_EINVAL, "%s: unexpected character '%c'", f->name,
	                  isprint((unsigned char)*s) ? *s : '?');
}

/* One field: a comma-separated list of *, N, N-M, with optional /STEP. */
static enum roost_err parse_field(enum field_id id, const char *text, uint64_t *bits,
                                  struct roost_errbuf *eb)
{
	const struct field_spec *f = &specs[id];
	const char *p = text;
	*bits = 0;
	for (;;) {
		int lo, hi, is_name, step = 1, single = 0;
		enum roost_err err;
		if (*p == '*') {
			p++;
			lo = f->lo;
			hi = f->hi;
		} else {
			if ((err = parse_value(f, &p, &lo, &is_name, eb)))
				return err;
			hi = lo;
			single = 1;
			if (*p == '-') {
				p++;
				int hi_name;
				if ((err = parse_value(f, &p, &hi, &hi_name, eb)))
					return err;
				single = 0;
				/* "FRI-SUN": a range may end on Sunday written as 0. */
				if (id == F_DOW && hi == 0 && lo > 0)
					hi = 7;
				if (hi < lo)
					return roost_errf(eb, ROOST_EINVAL,
					                  "%s: range %d-%d is backwards", f->name, lo, hi);
			}
		}
		if (*p == '/') {
			p++;
			if (!isdigit((unsigned char)*p))
				return roost_errf(eb, ROOST_EINVAL, "%s: step must be a number",
				                  f->name);
			long s = 0;
			int n = 0;
			while (isdigit((unsigned char)*p)) {
				if (++n > 4)
					return roost_errf(eb, ROOST_EINVAL, "%s: step too long", f->name);
				s = s * 10 + (*p++ - '0');
			}
			int span = f->hi - f->lo + 1;
			if (s < 1 || s > span)
				return roost_errf(eb, ROOST_EINVAL, "%s: step %ld is out of range 1-%d",
				                  f->name, s, span);
			step = (int)s;
			if (single) /* "5/15" means 5-max/15 (as cronie and most parsers) */
				hi = f->hi;
		}
		for (int v = lo; v <= hi; v += step)
			*bits |= UINT64_C(1) << (id == F_DOW && v == 7 ? 0 : v);
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p)
			return roost_errf(eb, ROOST_EINVAL, "%s: unexpected character '%c'", f->name,
			                  isprint((unsigned char)*p) ? *p : '?');
		return ROOST_OK;
	}
}

/* Some (month, day) pair of the sets exists in some year. */
static int days_possible(const struct cron *c)
{
	static const int max_days[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	for (int m = 1; m <= 12; m++)
		if (c->mon & (1u << m))
			for (int d = 1; d <= max_days[m]; d++)
				if (c->dom & (1u << d))
					return 1;
	return 0;
}

enum roost_err cron_parse(const char *expr, const char *default_tz, struct cron **out,
                          struct roost_errbuf *eb)
{
	*out = NULL;
	if (!expr)
		return roost_errf(eb, ROOST_EINVAL, "empty cron expression");
	size_t len = strlen(expr);
	if (len > CRON_MAX_LEN)
		return roost_errf(eb, ROOST_EINVAL, "cron expression longer than %d bytes",
		                  CRON_MAX_LEN);
	char buf[CRON_MAX_LEN + 1];
	memcpy(buf, expr, len + 1);
	char *s = buf;
	while (isspace((unsigned char)*s))
		s++;

	const char *zone = default_tz;
	char zbuf[CRON_MAX_LEN + 1];
	if (strncmp(s, "CRON_TZ=", 8) == 0 || strncmp(s, "TZ=", 3) == 0) {
		s += s[0] == 'C' ? 8 : 3;
		size_t zl = strcspn(s, " \t\r\n");
		if (zl == 0)
			return roost_errf(eb, ROOST_EINVAL, "CRON_TZ= needs a zone name");
		memcpy(zbuf, s, zl);
		zbuf[zl] = 0;
		zone = zbuf;
		s += zl;
		while (isspace((unsigned char)*s))
			s++;
	}
	const struct roost_tz *tz;
	enum roost_err err = roost_tz_get(zone, &tz, eb);
	if (err)
		return err == ROOST_ENOMEM ? err : ROOST_EINVAL;

	char *fields[8];
	int nf = 0;
	char expanded[64];
	if (*s == '@') {
		size_t wl = strcspn(s, " \t\r\n");
		const char *exp = NULL;
		for (size_t i = 0; i < sizeof(descriptors) / sizeof(descriptors[0]); i++)
			if (strlen(descriptors[i].name) == wl &&
			    strncasecmp(s, descriptors[i].name, wl) == 0)
				exp = descriptors[i].expansion;
		if (!exp)
			return roost_errf(eb, ROOST_EINVAL,
			                  "unknown descriptor \"%.*s\" (expected @yearly, @annually, "
			                  "@monthly, @weekly, @daily, @midnight or @hourly)",
			                  (int)(wl > 32 ? 32 : wl), s);
		for (const char *r = s + wl; *r; r++)
			if (!isspace((unsigned char)*r))
				return roost_errf(eb, ROOST_EINVAL, "unexpected text after %.*s",
				                  (int)wl, s);
		snprintf(expanded, sizeof(expanded), "%s", exp);
		s = expanded;
	}
	for (char *tok = strtok(s, " \t\r\n"); tok; tok = strtok(NULL, " \t\r\n")) {
		if (nf == 7)
			break;
		fields[nf++] = tok;
	}
	if (nf != 5 && nf != 6)
		return roost_errf(eb, ROOST_EINVAL,
		                  "expected 5 fields (minute hour day-of-month month day-of-week) "
		                  "or 6 with a leading second, got %s%d",
		                  nf == 7 ? "more than " : "", nf == 7 ? 6 : nf);

	struct cron c = {.tz = tz};
	uint64_t bits[F_COUNT];
	bits[F_SEC] = 1; /* 5 fields: second 0 */
	int first = nf == 6 ? F_SEC : F_MIN;
	for (int i = first; i < F_COUNT; i++) {
		const char *text = fields[i - first];
		if ((err = parse_field((enum field_id)i, text, &bits[i], eb)))
			return err;
		if (i == F_DOM)
			c.dom_star = text[0] == '*';
		if (i == F_DOW)
			c.dow_star = text[0] == '*';
	}
	c.sec = bits[F_SEC];
	c.min = bits[F_MIN];
	c.hour = (uint32_t)bits[F_HOUR];
	c.dom = (uint32_t)bits[F_DOM];
	c.mon = (uint16_t)bits[F_MON];
	c.dow = (uint8_t)bits[F_DOW];
	/* Days can only be impossible when the day-of-month set alone decides. */
	if ((c.dom_star || c.dow_star) && !days_possible(&c))
		return roost_errf(eb, ROOST_EINVAL,
		                  "day-of-month: never fires (none of the days exists in the "
		                  "selected months)");

	struct cron *r = malloc(sizeof(*r));
	if (!r)
		return ROOST_ENOMEM;
	*r = c;
	*out = r;
	return ROOST_OK;
}

enum roost_err cron_validate(const char *expr, const char *default_tz,
                             struct roost_errbuf *eb)
{
	struct cron *c;
	enum roost_err err = cron_parse(expr, default_tz, &c, eb);
	cron_free(c);
	return err;
}

void cron_free(struct cron *c)
{
	free(c);
}

const char *cron_tz_name(const struct cron *c)
{
	return roost_tz_name(c->tz);
}

/* Lowest set bit of mask at position >= from, or -1. */
static int next_bit(uint64_t mask, int from)
{
	if (from >= 64)
		return -1;
	uint64_t m = mask & (~UINT64_C(0) << from);
	return m ? __builtin_ctzll(m) : -1;
}

static int day_matches(const struct cron *c, int64_t y, int m, int d)
{
	int dom = (c->dom >> d) & 1;
	int dow = (c->dow >> roost_weekday_from_days(roost_days_from_civil(y, m, d))) & 1;
	if (c->dom_star || c->dow_star)
		return dom && dow;
	return dom || dow;
}

/* Smallest matching wall time >= w; 0 on success, -1 when none by the limit. */
static int next_wall(const struct cron *c, int64_t w, int64_t *out)
{
	struct roost_civil t;
	roost_civil_from_time(w, &t);
	int64_t limit = t.year + 401;
	if (limit > CRON_MAX_YEAR)
		limit = CRON_MAX_YEAR;
	for (;;) {
		if (t.year > limit)
			return -1;
		if (!(c->mon & (1u << t.month))) {
			int nm = next_bit(c->mon, t.month + 1);
			if (nm < 0) {
				t.year++;
				nm = next_bit(c->mon, 1);
			}
			t.month = nm;
			t.day = 1;
			t.hour = t.minute = t.second = 0;
			continue;
		}
		if (t.day > roost_days_in_month(t.year, t.month)) {
			if (++t.month > 12) {
				t.month = 1;
				t.year++;
			}
			t.day = 1;
			t.hour = t.minute = t.second = 0;
			continue;
		}
		if (c->dow == 0x7f && (c->dom_star || c->dow_star)) {
			/* Only day-of-month decides: jump straight to its next day. */
			int d = next_bit(c->dom, t.day);
			if (d < 0 || d > roost_days_in_month(t.year, t.month)) {
				t.day = 32;
				continue;
			}
			if (d != t.day) {
				t.day = d;
				t.hour = t.minute = t.second = 0;
			}
		} else if (!day_matches(c, t.year, t.month, t.day)) {
			t.day++;
			t.hour = t.minute = t.second = 0;
			continue;
		}
		int h = next_bit(c->hour, t.hour);
		if (h < 0) {
			t.day++;
			t.hour = t.minute = t.second = 0;
			continue;
		}
		if (h != t.hour) {
			t.hour = h;
			t.minute = t.second = 0;
		}
		int mi = next_bit(c->min, t.minute);
		if (mi < 0) {
			t.hour++;
			t.minute = t.second = 0;
			continue;
		}
		if (mi != t.minute) {
			t.minute = mi;
			t.second = 0;
		}
		int s = next_bit(c->sec, t.second);
		if (s < 0) {
			t.minute++;
			t.second = 0;
			continue;
		}
		t.second = s;
		*out = roost_civil_to_time(&t);
		return 0;
	}
}

enum roost_err cron_next(const struct cron *c, int64_t t, int64_t *out)
{
	*out = 0;
	int64_t m;
	if (roost_tz_is_utc(c->tz)) {
		if (next_wall(c, t + 1, &m))
			return ROOST_ENOENT;
		*out = m;
		return ROOST_OK;
	}
	int64_t w = t + roost_tz_offset_at(c->tz, t) + 1;
	/*
	 * Every wall time before local(t) first occurred at or before t, so the
	 * answer is the first matching wall time >= local(t)+1 whose first
	 * occurrence is after t. Bounded: each round moves w forward.
	 */
	for (int rounds = 0; rounds < 100000; rounds++) {
		if (next_wall(c, w, &m))
			return ROOST_ENOENT;
		int64_t u, gap_end;
		enum roost_tz_kind k = roost_tz_resolve(c->tz, m, &u, &gap_end);
		if (k == ROOST_TZ_SKIPPED) {
			w = gap_end;
			continue;
		}
		if (u <= t) { /* t is in the second pass of a repeated hour */
			w = m + 1;
			continue;
		}
		*out = u;
		return ROOST_OK;
	}
	return ROOST_ENOENT;
}
