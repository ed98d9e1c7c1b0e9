/* SPDX-License-Identifier: MIT */
/*
 * REST request bodies, decoded strictly: unknown types, duplicate keys,
 * oversized strings, NUL bytes and empty lists are refused with a 400 that
 * names the field. No store or network here, so this file is fuzzed alone.
 */
#include <stdio.h>
#include <string.h>

#include "roost/jsonutil.h"
#include "roost/window.h"
#include "roostd.h"

void resp_error(struct resp *rs, int status, const char *code, const char *msg,
                const char *field)
{
	json_decref(rs->json);
	rs->status = status;
	/* messages may quote the input (a parser's error text): keep them valid UTF-8 */
	json_t *e = json_pack("{s:s, s:o}", "code", code, "message",
	                      json_bytes_lossy(msg, strlen(msg)));
	if (field)
		json_object_set_new(e, "field", json_bytes_lossy(field, strlen(field)));
	rs->json = json_pack("{s:o}", "error", e);
}

json_t *body_object(const char *b, size_t n, struct resp *rs)
{
	json_error_t je;
	json_t *o = b && n ? json_loadb(b, n, JSON_REJECT_DUPLICATES, &je) : NULL;
	if (!o) {
		char msg[256];
		snprintf(msg, sizeof(msg), "request body is not valid JSON%s%s", b && n ? ": " : "",
		         b && n ? je.text : "");
		resp_error(rs, 400, "invalid_json", msg, NULL);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		resp_error(rs, 400, "invalid_json", "request body must be a JSON object", NULL);
		return NULL;
	}
	return o;
}

static int bad(struct resp *rs, const char *field, const char *msg)
{
	char m[256];
	snprintf(m, sizeof(m), "%s: %s", field, msg);
	resp_error(rs, 400, "invalid_field", m, field);
	return -1;
}

/* A string member: 1 present, 0 absent, -1 error. */
static int str_field(json_t *o, const char *key, char *out, size_t cap, int nonempty,
                     struct resp *rs)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return 0;
	if (!json_is_string(v))
		return bad(rs, key, "expected a string");
	size_t n = json_string_length(v);
	if (memchr(json_string_value(v), 0, n))
		return bad(rs, key, "must not contain NUL bytes");
	if (n >= cap)
		return bad(rs, key, "too long");
	if (nonempty && n == 0)
		return bad(rs, key, "must not be empty");
	memcpy(out, json_string_value(v), n + 1);
	return 1;
}

/* An array of non-empty strings (max 1000 of max 4096 bytes): new ref in *out. */
static int strlist_field(json_t *o, const char *key, int nonempty, int absolute, json_t **out,
                         struct resp *rs)
{
	*out = NULL;
	json_t *v = json_object_get(o, key);
	if (!v)
		return 0;
	if (!json_is_array(v))
		return bad(rs, key, "expected an array of strings");
	if (nonempty && json_array_size(v) == 0)
		return bad(rs, key, "must not be empty");
	if (json_array_size(v) > 1000)
		return bad(rs, key, "too many entries");
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		if (!json_is_string(e) || json_string_length(e) == 0 || json_string_length(e) > 4096 ||
		    memchr(json_string_value(e), 0, json_string_length(e)))
			return bad(rs, key, "entries must be non-empty strings without NUL bytes");
		if (absolute && json_string_value(e)[0] != '/')
			return bad(rs, key, "paths must be absolute");
	}
	*out = json_incref(v);
	return 1;
}

static int name_ok(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '/')
			return 0;
	return 1;
}

int body_group(const char *b, size_t n, int partial, struct body_group *g, struct resp *rs)
{
	memset(g, 0, sizeof(*g));
	json_t *o = body_object(b, n, rs);
	if (!o)
		return -1;
	int rc = -1, k;
	if ((k = str_field(o, "name", g->name, sizeof(g->name), 1, rs)) < 0)
		goto out;
	g->has_name = k;
	if (g->has_name && !name_ok(g->name)) {
		bad(rs, "name", "must not contain control characters or '/'");
		goto out;
	}
	if ((k = strlist_field(o, "paths", 1, 1, &g->paths, rs)) < 0)
		goto out;
	g->has_paths = k;
	if ((k = strlist_field(o, "excludes", 0, 0, &g->excludes, rs)) < 0)
		goto out;
	g->has_excludes = k;
	if ((k = str_field(o, "dedup", g->dedup, sizeof(g->dedup), 1, rs)) < 0)
		goto out;
	if (k && strcmp(g->dedup, "fleet") && strcmp(g->dedup, "host")) {
		bad(rs, "dedup", "expected \"fleet\" or \"host\"");
		goto out;
	}
	if ((k = str_field(o, "pre_hook", g->pre_hook, sizeof(g->pre_hook), 0, rs)) < 0)
		goto out;
	g->has_pre_hook = k;
	if ((k = str_field(o, "post_hook", g->post_hook, sizeof(g->post_hook), 0, rs)) < 0)
		goto out;
	g->has_post_hook = k;
	json_t *to = json_object_get(o, "hook_timeout_s");
	if (to) {
		if (!json_is_integer(to) || json_integer_value(to) < 1 ||
		    json_integer_value(to) > 86400) {
			bad(rs, "hook_timeout_s", "expected 1 to 86400 seconds");
			goto out;
		}
		g->hook_timeout_s = (int)json_integer_value(to);
	}
	if (!partial && !g->has_name) {
		bad(rs, "name", "missing");
		goto out;
	}
	if (!partial && !g->has_paths) {
		bad(rs, "paths", "missing");
		goto out;
	}
	rc = 0;
out:
	json_decref(o);
	if (rc)
		body_group_free(g);
	return rc;
}

void body_group_free(struct body_group *g)
{
	json_decref(g->paths);
	json_decref(g->excludes);
	g->paths = g->excludes = NULL;
}

const char *const body_keep_names[BODY_KEEP_RULES] = {
	"keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly"};

/* "retention": null (no rules: keep all) or an object of keep_* counts; only
 * the rules named are set (a PATCH leaves the others as they were). */
static int retention_field(json_t *o, struct body_schedule *s, struct resp *rs)
{
	json_t *r = json_object_get(o, "retention");
	if (!r)
		return 0;
	s->has_retention = 1;
	if (json_is_null(r)) {
		s->retention_null = 1;
		return 0;
	}
	if (!json_is_object(r)) {
		bad(rs, "retention", "expected an object of keep_* counts, or null");
		return -1;
	}
	const char *key;
	json_t *v;
	json_object_foreach(r, key, v) {
		int rule = 0;
		while (rule < BODY_KEEP_RULES && strcmp(key, body_keep_names[rule]))
			rule++;
		if (rule == BODY_KEEP_RULES) {
			char m[200];
			snprintf(m, sizeof(m), "unknown rule \"%.64s\" (known: keep_last, keep_hourly, "
			                       "keep_daily, keep_weekly, keep_monthly, keep_yearly)", key);
			bad(rs, "retention", m);
			return -1;
		}
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 1000000) {
			char m[96];
			snprintf(m, sizeof(m), "%s: a count between 0 (unused) and 1000000", key);
			bad(rs, "retention", m);
			return -1;
		}
		s->keep[rule] = (int)json_integer_value(v);
		s->keep_given |= 1u << rule;
	}
	return 0;
}

int body_schedule(const char *b, size_t n, int partial, struct body_schedule *s,
                  struct resp *rs)
{
	memset(s, 0, sizeof(*s));
	s->enabled = -1;
	json_t *o = body_object(b, n, rs);
	if (!o)
		return -1;
	int rc = -1, k;
	if ((k = str_field(o, "name", s->name, sizeof(s->name), 1, rs)) < 0)
		goto out;
	s->has_name = k;
	if (s->has_name && !name_ok(s->name)) {
		bad(rs, "name", "must not contain control characters or '/'");
		goto out;
	}
	if ((k = str_field(o, "cron", s->cron, sizeof(s->cron), 1, rs)) < 0)
		goto out;
	s->has_cron = k;
	if ((k = str_field(o, "window", s->window, sizeof(s->window), 0, rs)) < 0)
		goto out;
	s->has_window = k;
	struct roost_window w;
	struct roost_errbuf web = {{0}};
	if (s->has_window && s->window[0] && window_parse(s->window, &w, &web) != ROOST_OK) {
		bad(rs, "window", "expected \"HH:MM-HH:MM\" (00:00 to 23:59, start != end) or \"\"");
		goto out;
	}
	json_t *en = json_object_get(o, "enabled");
	if (en) {
		if (!json_is_boolean(en)) {
			bad(rs, "enabled", "expected true or false");
			goto out;
		}
		s->enabled = json_is_true(en);
	}
	json_t *gi = json_object_get(o, "group_ids");
	if (gi) {
		if (!json_is_array(gi) || json_array_size(gi) > 1000) {
			bad(rs, "group_ids", "expected an array of group ids");
			goto out;
		}
		size_t i;
		json_t *e;
		json_array_foreach(gi, i, e) {
			if (!json_is_integer(e) || json_integer_value(e) <= 0) {
				bad(rs, "group_ids", "entries must be positive integers");
				goto out;
			}
		}
		s->group_ids = json_incref(gi);
	}
	if (retention_field(o, s, rs))
		goto out;
	if (!partial && !s->has_name) {
		bad(rs, "name", "missing");
		goto out;
	}
	if (!partial && !s->has_cron) {
		bad(rs, "cron", "missing");
		goto out;
	}
	rc = 0;
out:
	json_decref(o);
	if (rc)
		body_schedule_free(s);
	return rc;
}

void body_schedule_free(struct body_schedule *s)
{
	json_decref(s->group_ids);
	s->group_ids = NULL;
}

int body_restore(const char *b, size_t n, struct body_restore *r, struct resp *rs)
{
	memset(r, 0, sizeof(*r));
	json_t *o = body_object(b, n, rs);
	if (!o)
		return -1;
	int rc = -1, k;
	if ((k = str_field(o, "snapshot_id", r->snapshot_id, sizeof(r->snapshot_id), 1, rs)) <= 0) {
		if (k == 0)
			bad(rs, "snapshot_id", "missing");
		goto out;
	}
	if ((k = str_field(o, "target", r->target, sizeof(r->target), 1, rs)) <= 0) {
		if (k == 0)
			bad(rs, "target", "missing");
		goto out;
	}
	if (r->target[0] != '/') {
		bad(rs, "target", "must be an absolute path");
		goto out;
	}
	if (strlist_field(o, "include", 0, 1, &r->include, rs) < 0)
		goto out;
	if (str_field(o, "from_host", r->from_host, sizeof(r->from_host), 0, rs) < 0)
		goto out;
	rc = 0;
out:
	json_decref(o);
	if (rc)
		body_restore_free(r);
	return rc;
}

void body_restore_free(struct body_restore *r)
{
	json_decref(r->include);
	r->include = NULL;
}
