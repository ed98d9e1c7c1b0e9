/* SPDX-License-Identifier: MIT */
/*
 * The role table of docs/dashboard.md, in one place: the router (api.c),
 * the routes http.c serves itself (/metrics, /v1/events/stream) and the
 * user routes (api_users.c) all ask authz_role_may. A route absent from the
 * table is admin only, so a new route is closed until someone names it here.
 */
#include <string.h>

#include "authz.h"

#define MAX_SEGS 8

/* "*" matches any one segment; "GET" also admits HEAD. */
static const struct rule {
	enum role min;
	const char *method;
	const char *pattern; /* segments after the leading "/" */
} rules[] = {
	/* viewer: reads */
	{ROLE_VIEWER, "GET", "v1/hosts"},
	{ROLE_VIEWER, "GET", "v1/hosts/*"},
	{ROLE_VIEWER, "GET", "v1/hosts/*/groups"},
	{ROLE_VIEWER, "GET", "v1/hosts/*/groups/*"},
	{ROLE_VIEWER, "GET", "v1/hosts/*/schedules"},
	{ROLE_VIEWER, "GET", "v1/hosts/*/schedules/*"},
	{ROLE_VIEWER, "GET", "v1/hosts/*/schedules/*/next"},
	{ROLE_VIEWER, "GET", "v1/jobs"},
	{ROLE_VIEWER, "GET", "v1/jobs/*"},
	{ROLE_VIEWER, "GET", "v1/snapshots"},
	{ROLE_VIEWER, "GET", "v1/snapshots/*/tree"},
	{ROLE_VIEWER, "GET", "v1/events"},
	{ROLE_VIEWER, "GET", "v1/events/stream"},
	{ROLE_VIEWER, "GET", "v1/repository"},
	{ROLE_VIEWER, "GET", "v1/maintenance"},
	{ROLE_VIEWER, "GET", "v1/maintenance/*"},
	{ROLE_VIEWER, "GET", "v1/fleet"},
	{ROLE_VIEWER, "GET", "v1/cron/next"},
	{ROLE_VIEWER, "GET", "v1/session"},
	{ROLE_VIEWER, "POST", "v1/logout"},
	/* operator: backups, restores, cancel, downloads */
	{ROLE_OPERATOR, "POST", "v1/hosts/*/backup"},
	{ROLE_OPERATOR, "POST", "v1/hosts/*/restore"},
	{ROLE_OPERATOR, "POST", "v1/jobs/*/cancel"},
	{ROLE_OPERATOR, "GET", "v1/snapshots/*/file"},
};

static const struct rule public_routes[] = {
	{ROLE_NONE, "GET", "v1/health"},
	{ROLE_NONE, "POST", "v1/enroll"},
	{ROLE_NONE, "POST", "v1/login"},
};

enum role role_parse(const char *s)
{
	if (!s)
		return ROLE_NONE;
	if (!strcmp(s, "admin"))
		return ROLE_ADMIN;
	if (!strcmp(s, "operator"))
		return ROLE_OPERATOR;
	if (!strcmp(s, "viewer"))
		return ROLE_VIEWER;
	return ROLE_NONE;
}

const char *role_name(enum role r)
{
	switch (r) {
	case ROLE_ADMIN: return "admin";
	case ROLE_OPERATOR: return "operator";
	case ROLE_VIEWER: return "viewer";
	default: return "none";
	}
}

int authz_is_write(const char *method)
{
	return !method || (strcmp(method, "GET") && strcmp(method, "HEAD"));
}

/* Splits path into at most MAX_SEGS segments (pointers into buf); -1 beyond. */
static int split(const char *path, char *buf, size_t cap, const char **seg)
{
	size_t n = strlen(path);
	if (n >= cap)
		return -1;
	memcpy(buf, path, n + 1);
	int ns = 0;
	for (char *p = buf; *p;) {
		while (*p == '/')
			*p++ = 0;
		if (!*p)
			break;
		if (ns == MAX_SEGS)
			return -1;
		seg[ns++] = p;
		while (*p && *p != '/')
			p++;
	}
	return ns;
}

static int matches(const struct rule *r, const char *method, const char **seg, int ns)
{
	if (strcmp(r->method, method) && !(!strcmp(r->method, "GET") && !strcmp(method, "HEAD")))
		return 0;
	const char *p = r->pattern;
	for (int i = 0; i < ns; i++) {
		size_t len = strcspn(p, "/");
		if (!len)
			return 0; /* the path is longer than the pattern */
		if (!(len == 1 && *p == '*') && (strlen(seg[i]) != len || strncmp(seg[i], p, len)))
			return 0;
		p += len;
		if (*p == '/')
			p++;
	}
	return !*p; /* and not shorter */
}

static int in_table(const struct rule *t, size_t n, enum role r, const char *method,
                    const char *path)
{
	char buf[512];
	const char *seg[MAX_SEGS];
	if (!method || !path)
		return 0;
	int ns = split(path, buf, sizeof(buf), seg);
	if (ns < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (r >= t[i].min && matches(&t[i], method, seg, ns))
			return 1;
	return 0;
}

int authz_role_may(enum role r, const char *method, const char *path)
{
	if (r == ROLE_ADMIN)
		return 1;
	if (r == ROLE_NONE)
		return 0;
	return in_table(rules, sizeof(rules) / sizeof(rules[0]), r, method, path);
}

int authz_public(const char *method, const char *path)
{
	return in_table(public_routes, sizeof(public_routes) / sizeof(public_routes[0]), ROLE_NONE,
	                method, path);
}
