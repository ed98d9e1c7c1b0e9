/* SPDX-License-Identifier: MIT */
/*
 * What every REST handler file shares (api.c, api_repository.c, and the
 * object API in repo_api.c): query parameters, ids in paths, and the common
 * answers (a JSON body, 404, 405, 503 when the store did not keep a write).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roost/log.h"
#include "roostd.h"

const char *query_get(const char *query, const char *key, char *buf, size_t cap)
{
	size_t kl = strlen(key);
	for (const char *p = query; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);
		if (n > kl && !strncmp(p, key, kl) && p[kl] == '=') {
			size_t vl = n - kl - 1;
			if (vl >= cap)
				vl = cap - 1;
			memcpy(buf, p + kl + 1, vl);
			buf[vl] = 0;
			return buf;
		}
		p = amp ? amp + 1 : p + n;
	}
	return NULL;
}

void api_ok(struct resp *rs, int status, json_t *j)
{
	json_decref(rs->json);
	rs->status = status;
	rs->json = j ? j : json_object();
}

/* The store did not keep a write: 503 (the client may retry), never a 2xx. */
void api_store_failed(struct resp *rs, const char *what)
{
	char m[400];
	snprintf(m, sizeof(m), "%s: the store could not record it (%s)", what, db_last_error());
	log_error("api.store_failed", "what=%s msg=%s", roost_lq(what), roost_lq(db_last_error()));
	resp_error(rs, 503, "store_error", m, NULL);
}

void api_not_found(struct resp *rs, const char *what)
{
	char m[160];
	snprintf(m, sizeof(m), "%s not found", what);
	resp_error(rs, 404, "not_found", m, NULL);
}

int api_parse_id(const char *s, int64_t *out)
{
	char *e;
	long long v = strtoll(s, &e, 10);
	if (!*s || *e || v <= 0)
		return -1;
	*out = v;
	return 0;
}

int api_is(const struct req *rq, const char *m)
{
	return !strcmp(rq->method, m);
}

void api_method_not_allowed(struct resp *rs)
{
	resp_error(rs, 405, "method_not_allowed", "method not allowed on this route", NULL);
}
