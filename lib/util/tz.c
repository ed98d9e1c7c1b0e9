/* SPDX-License-Identifier: MIT */
/*
 * TZif reader and POSIX TZ rule evaluator. A zone is a sorted table of
 * transitions (64-bit, from the v2+ block) plus the footer rule that extends
 * it past the last transition. Lookups are binary searches; nothing here
 * touches libc's TZ.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "roost/timeutil.h"
#include "roost/tz.h"

#define TZ_MAX_FILE (512 * 1024)
#define TZ_MAX_NAME 128

/* A POSIX rule date: Jn (julian, no Feb 29), n (zero-based, with Feb 29), Mm.w.d. */
struct rule_date {
	char kind; /* 'J', 'D', 'M' */
	int a, b, c;
	int32_t time; /* seconds after local midnight, may be negative or > 24h */
};

struct posix_rule {
	int32_t std_off, dst_off; /* east of UTC */
	int has_dst;
	struct rule_date start, end;
};

struct roost_tz {
	char name[TZ_MAX_NAME];
	int is_utc;
	size_t ntrans;
	int64_t *trans;       /* ascending */
	int32_t *trans_off;   /* offset in effect from trans[i] on */
	int32_t initial_off;  /* before the first transition */
	int has_rule;
	struct posix_rule rule;
	struct roost_tz *next; /* cache chain */
};

static struct roost_tz utc_zone = {.name = "UTC", .is_utc = 1};

const struct roost_tz *roost_tz_utc(void)
{
	return &utc_zone;
}

const char *roost_tz_name(const struct roost_tz *tz)
{
	return tz->name;
}

int roost_tz_is_utc(const struct roost_tz *tz)
{
	return tz->is_utc;
}

/* ---- POSIX TZ strings ------------------------------------------------ */

static int parse_abbr(const char **p)
{
	const char *s = *p;
	if (*s == '<') {
		s++;
		while (*s && *s != '>')
			s++;
		if (*s != '>')
			return -1;
		*p = s + 1;
		return 0;
	}
	int n = 0;
	while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) {
		s++;
		n++;
	}
	if (n < 3)
		return -1;
	*p = s;
	return 0;
}

/* [+-]hh[:mm[:ss]] with hh up to maxh; returns seconds. */
static int parse_hms(const char **p, int maxh, int32_t *out)
{
	const char *s = *p;
	int sign = 1;
	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	int v[3] = {0, 0, 0};
	for (int i = 0; i < 3; i++) {
		if (i > 0) {
			if (*s != ':')
				break;
			s++;
		}
		if (*s < '0' || *s > '9')
			return -1;
		int n = 0, digits = 0;
		while (*s >= '0' && *s <= '9' && digits < 3) {
			n = n * 10 + (*s++ - '0');
			digits++;
		}
		v[i] = n;
	}
	if (v[0] > maxh || v[1] > 59 || v[2] > 59)
		return -1;
	*out = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
	*p = s;
	return 0;
}

static int parse_num(const char **p, int lo, int hi, int *out)
{
	const char *s = *p;
	int n = 0, digits = 0;
	while (*s >= '0' && *s <= '9' && digits < 4) {
		n = n * 10 + (*s++ - '0');
		digits++;
	}
	if (!digits || n < lo || n > hi)
		return -1;
	*out = n;
	*p = s;
	return 0;
}

static int parse_rule_date(const char **p, struct rule_date *d)
{
	const char *s = *p;
	if (*s == 'J') {
		s++;
		d->kind = 'J';
		if (parse_num(&s, 1, 365, &d->a))
			return -1;
	} else if (*s == 'M') {
		s++;
		d->kind = 'M';
		if (parse_num(&s, 1, 12, &d->a) || *s++ != '.' || parse_num(&s, 1, 5, &d->b) ||
		    *s++ != '.' || parse_num(&s, 0, 6, &d->c))
			return -1;
	} else {
		d->kind = 'D';
		if (parse_num(&s, 0, 365, &d->a))
			return -1;
	}
	d->time = 7200;
	if (*s == '/') {
		s++;
		if (parse_hms(&s, 167, &d->time))
			return -1;
	}
	*p = s;
	return 0;
}

static int parse_posix(const char *s, struct posix_rule *r)
{
	memset(r, 0, sizeof(*r));
	int32_t off;
	if (parse_abbr(&s) || parse_hms(&s, 24, &off))
		return -1;
	r->std_off = -off;
	if (!*s)
		return 0;
	if (parse_abbr(&s))
		return -1;
	r->has_dst = 1;
	r->dst_off = r->std_off + 3600;
	if (*s && *s != ',') {
		if (parse_hms(&s, 24, &off))
			return -1;
		r->dst_off = -off;
	}
	if (!*s) { /* no rule: the US rule, as POSIX implementations assume */
		r->start = (struct rule_date){'M', 3, 2, 0, 7200};
		r->end = (struct rule_date){'M', 11, 1, 0, 7200};
		return 0;
	}
	if (*s++ != ',' || parse_rule_date(&s, &r->start) || *s++ != ',' ||
	    parse_rule_date(&s, &r->end) || *s)
		return -1;
	return 0;
}

/* Wall-clock seconds (as if UTC) at which a rule date falls in year y. */
static int64_t rule_wall(const struct rule_date *d, int64_t y)
{
	int64_t day;
	switch (d->kind) {
	case 'J': /* 1..365, Feb 29 never counted */
		day = roost_days_from_civil(y, 1, 1) + d->a - 1;
		if (roost_is_leap(y) && d->a >= 60)
			day++;
		break;
	case 'D':
		day = roost_days_from_civil(y, 1, 1) + d->a;
		break;
	default: { /* Mm.w.d: d-th weekday of week w (5 = last) of month m */
		int64_t first = roost_days_from_civil(y, d->a, 1);
		int wd = roost_weekday_from_days(first);
		int64_t dd = first + (d->c - wd + 7) % 7 + (int64_t)(d->b - 1) * 7;
		int64_t last = first + roost_days_in_month(y, d->a) - 1;
		while (dd > last)
			dd -= 7;
		day = dd;
	}
	}
	return day * 86400 + d->time;
}

static int32_t rule_offset_at(const struct posix_rule *r, int64_t t)
{
	if (!r->has_dst)
		return r->std_off;
	struct roost_civil c;
	roost_civil_from_time(t + r->std_off, &c);
	/* Check this year and its neighbours so transitions near Jan 1 work. */
	for (int64_t y = c.year + 1; y >= c.year - 1; y--) {
		int64_t start = rule_wall(&r->start, y) - r->std_off;
		int64_t end = rule_wall(&r->end, y) - r->dst_off;
		if (start < end) {
			if (t >= end)
				return r->std_off;
			if (t >= start)
				return r->dst_off;
		} else { /* southern hemisphere: DST spans the new year */
			if (t >= start)
				return r->dst_off;
			if (t >= end)
				return r->std_off;
		}
	}
	return r->std_off;
}

int32_t roost_tz_offset_at(const struct roost_tz *tz, int64_t t)
{
	if (tz->is_utc)
		return 0;
	if (tz->ntrans == 0 || t < tz->trans[0])
		return tz->ntrans == 0 && tz->has_rule ? rule_offset_at(&tz->rule, t)
		                                       : tz->initial_off;
	if (t >= tz->trans[tz->ntrans - 1] && tz->has_rule)
		return rule_offset_at(&tz->rule, t);
	size_t lo = 0, hi = tz->ntrans; /* invariant: trans[lo] <= t < trans[hi] */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (tz->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return tz->trans_off[lo];
}

enum roost_tz_kind roost_tz_resolve(const struct roost_tz *tz, int64_t wall,
                                    int64_t *utc, int64_t *gap_end_wall)
{
	if (tz->is_utc) {
		*utc = wall;
		return ROOST_TZ_UNIQUE;
	}
	int32_t before = roost_tz_offset_at(tz, wall - 86400);
	int32_t after = roost_tz_offset_at(tz, wall + 86400);
	int64_t u1 = wall - before, u2 = wall - after;
	int ok1 = roost_tz_offset_at(tz, u1) == before;
	int ok2 = roost_tz_offset_at(tz, u2) == after;
	if (ok1 && ok2) {
		*utc = u1 < u2 ? u1 : u2;
		return u1 == u2 ? ROOST_TZ_UNIQUE : ROOST_TZ_REPEATED;
	}
	if (ok1 || ok2) {
		*utc = ok1 ? u1 : u2;
		return ROOST_TZ_UNIQUE;
	}
	/* A gap: the transition lies in (lo, hi]; find it by bisection. */
	int64_t lo = u1 < u2 ? u1 : u2, hi = u1 < u2 ? u2 : u1;
	int32_t off_lo = roost_tz_offset_at(tz, lo);
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;
		if (roost_tz_offset_at(tz, mid) == off_lo)
			lo = mid;
		else
			hi = mid;
	}
	int64_t end = hi + roost_tz_offset_at(tz, hi);
	*gap_end_wall = end > wall ? end : wall + 1; /* always progress */
	return ROOST_TZ_SKIPPED;
}

/* ---- TZif ------------------------------------------------------------- */

static int64_t be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	if (n == 4)
		return (int32_t)(uint32_t)v;
	return (int64_t)v;
}

struct tzif_counts {
	uint32_t isut, isstd, leap, time, type, chars;
};

static int read_counts(const unsigned char *h, struct tzif_counts *c)
{
	if (memcmp(h, "TZif", 4) != 0)
		return -1;
	c->isut = (uint32_t)be(h + 20, 4);
	c->isstd = (uint32_t)be(h + 24, 4);
	c->leap = (uint32_t)be(h + 28, 4);
	c->time = (uint32_t)be(h + 32, 4);
	c->type = (uint32_t)be(h + 36, 4);
	c->chars = (uint32_t)be(h + 40, 4);
	if (c->type == 0 || c->type > 256 || c->time > 100000 || c->chars > 65536 ||
	    c->leap > 10000 || (c->isut && c->isut != c->type) ||
	    (c->isstd && c->isstd != c->type))
		return -1;
	return 0;
}

static size_t block_len(const struct tzif_counts *c, int tsize)
{
	return (size_t)c->time * (size_t)tsize + c->time + (size_t)c->type * 6 + c->chars +
	       (size_t)c->leap * (size_t)(tsize + 4) + c->isstd + c->isut;
}

void roost_tz_free(struct roost_tz *tz)
{
	if (!tz || tz == &utc_zone)
		return;
	free(tz->trans);
	free(tz->trans_off);
	free(tz);
}

enum roost_err roost_tz_parse(const char *name, const unsigned char *d, size_t len,
                              struct roost_tz **out, struct roost_errbuf *eb)
{
	*out = NULL;
	struct tzif_counts c;
	if (len < 44 || read_counts(d, &c))
		return roost_errf(eb, ROOST_ECORRUPT, "time zone %s: not a TZif file", name);
	int version = d[4] ? d[4] - '0' : 1;
	size_t off = 44, v1 = block_len(&c, 4);
	int tsize = 4;
	if (version >= 2) {
		if (len < off + v1 + 44 || read_counts(d + off + v1, &c))
			return roost_errf(eb, ROOST_ECORRUPT, "time zone %s: bad TZif v2 header", name);
		off += v1 + 44;
		tsize = 8;
	}
	size_t blen = block_len(&c, tsize);
	if (len < off + blen)
		return roost_errf(eb, ROOST_ECORRUPT, "time zone %s: truncated TZif file", name);
	if (c.leap)
		return roost_errf(eb, ROOST_ENOTSUP,
		                  "time zone %s: zones with leap seconds are not supported", name);
	struct roost_tz *tz = calloc(1, sizeof(*tz));
	if (!tz)
		return ROOST_ENOMEM;
	snprintf(tz->name, sizeof(tz->name), "%s", name);
	const unsigned char *times = d + off;
	const unsigned char *idx = times + (size_t)c.time * (size_t)tsize;
	const unsigned char *types = idx + c.time;
	int32_t type_off[256];
	for (uint32_t i = 0; i < c.type; i++) {
		type_off[i] = (int32_t)be(types + 6 * i, 4);
		if (type_off[i] < -25 * 3600 || type_off[i] > 26 * 3600)
			goto corrupt;
	}
	tz->initial_off = type_off[0];
	if (c.time) {
		tz->trans = malloc(sizeof(int64_t) * c.time);
		tz->trans_off = malloc(sizeof(int32_t) * c.time);
		if (!tz->trans || !tz->trans_off) {
			roost_tz_free(tz);
			return ROOST_ENOMEM;
		}
	}
	for (uint32_t i = 0; i < c.time; i++) {
		int64_t t = be(times + (size_t)i * (size_t)tsize, tsize);
		if (idx[i] >= c.type || (i && t <= tz->trans[i - 1]))
			goto corrupt;
		tz->trans[i] = t;
		tz->trans_off[i] = type_off[idx[i]];
	}
	tz->ntrans = c.time;
	if (version >= 2) {
		const unsigned char *f = d + off + blen;
		const unsigned char *end = d + len;
		if (f < end && *f == '\n') {
			const unsigned char *nl = memchr(f + 1, '\n', (size_t)(end - f - 1));
			if (nl && nl - f - 1 < 128) {
				char rule[128];
				memcpy(rule, f + 1, (size_t)(nl - f - 1));
				rule[nl - f - 1] = 0;
				if (rule[0] && parse_posix(rule, &tz->rule) == 0)
					tz->has_rule = 1;
				else if (rule[0])
					goto corrupt;
			}
		}
	}
	*out = tz;
	return ROOST_OK;
corrupt:
	roost_tz_free(tz);
	return roost_errf(eb, ROOST_ECORRUPT, "time zone %s: malformed TZif data", name);
}

static int valid_zone_name(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len >= TZ_MAX_NAME || n[0] == '/' || n[0] == '.' || strstr(n, "..") ||
	    strstr(n, "//") || n[len - 1] == '/')
		return 0;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("/_+-.", *p)))
			return 0;
	return 1;
}

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct roost_tz *cache;

static enum roost_err load_zone(const char *name, struct roost_tz **out,
                                struct roost_errbuf *eb)
{
	*out = NULL;
	const char *dir = getenv("TZDIR");
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return roost_errf(eb, ROOST_ENOENT, "unknown time zone \"%s\"", name);
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > TZ_MAX_FILE) {
		close(fd);
		return roost_errf(eb, ROOST_ENOENT, "unknown time zone \"%s\"", name);
	}
	size_t len = (size_t)st.st_size;
	unsigned char *buf = malloc(len ? len : 1);
	if (!buf) {
		close(fd);
		return ROOST_ENOMEM;
	}
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	enum roost_err err = roost_tz_parse(name, buf, got, out, eb);
	free(buf);
	if (err == ROOST_ECORRUPT)
		return roost_errf(eb, ROOST_ENOENT, "unknown time zone \"%s\" (%s is not a zone file)",
		                  name, path);
	return err;
}

enum roost_err roost_tz_get(const char *name, const struct roost_tz **out,
                            struct roost_errbuf *eb)
{
	*out = NULL;
	if (!name || !*name || strcmp(name, "UTC") == 0) {
		*out = &utc_zone;
		return ROOST_OK;
	}
	if (!valid_zone_name(name))
		return roost_errf(eb, ROOST_EINVAL, "invalid time zone name \"%.64s\"", name);
	pthread_mutex_lock(&cache_lock);
	for (struct roost_tz *z = cache; z; z = z->next)
		if (strcmp(z->name, name) == 0) {
			pthread_mutex_unlock(&cache_lock);
			*out = z;
			return ROOST_OK;
		}
	struct roost_tz *z;
	enum roost_err err = load_zone(name, &z, eb);
	if (!err) {
		z->next = cache;
		cache = z;
		*out = z;
	}
	pthread_mutex_unlock(&cache_lock);
	return err;
}
