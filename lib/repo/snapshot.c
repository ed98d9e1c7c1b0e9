/* SPDX-License-Identifier: MIT */
/* Snapshot objects: JSON, sealed. */
#include <stdlib.h>
#include <string.h>

#include "repo_int.h"
#include "roost/jsonutil.h"
#include "roost/timeutil.h"

void roost_snapshot_release(struct roost_snapshot *s)
{
	if (!s)
		return;
	free(s->hostname);
	free(s->username);
	free(s->program);
	for (size_t i = 0; i < s->npaths; i++)
		free(s->paths[i]);
	free(s->paths);
	for (size_t i = 0; i < s->ntags; i++)
		free(s->tags[i]);
	free(s->tags);
	for (size_t i = 0; i < s->nexcludes; i++)
		free(s->excludes[i]);
	free(s->excludes);
	memset(s, 0, sizeof(*s));
}

void roost_snapshots_free(struct roost_snapshot *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		roost_snapshot_release(&s[i]);
	free(s);
}

static json_t *str_array(char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_bytes_lossy(v[i], strlen(v[i])));
	return a;
}

enum roost_err snapshot_encode(const struct roost_snapshot *s, char **out)
{
	char ts[64], tree[HEX_LEN + 1];
	struct roost_civil c;
	roost_civil_from_time(s->time_s, &c);
	snprintf(ts, sizeof(ts), "%04lld-%02d-%02dT%02d:%02d:%02d.%09uZ", (long long)c.year,
	         c.month, c.day, c.hour, c.minute, c.second, s->time_ns);
	hex_encode(s->tree, ID_LEN, tree);
	const struct roost_snapshot_summary *m = &s->summary;
	json_t *j = json_pack(
		"{s:i, s:s, s:o, s:o, s:o, s:o, s:o, s:s, s:s, s:{s:I, s:I, s:I, s:I, s:I, s:I}}",
		"version", 1, "time", ts, "hostname",
		json_bytes_lossy(s->hostname ? s->hostname : "", s->hostname ? strlen(s->hostname) : 0),
		"username",
		json_bytes_lossy(s->username ? s->username : "", s->username ? strlen(s->username) : 0),
		"paths", str_array(s->paths, s->npaths), "tags", str_array(s->tags, s->ntags),
		"excludes", str_array(s->excludes, s->nexcludes), "tree", tree, "program",
		s->program ? s->program : "roost " ROOST_VERSION, "summary", "files",
		(json_int_t)m->files, "dirs", (json_int_t)m->dirs, "bytes", (json_int_t)m->bytes,
		"bytes_new", (json_int_t)m->bytes_new, "blobs_new", (json_int_t)m->blobs_new,
		"duration_ms", (json_int_t)m->duration_ms);
	if (!j)
		return ROOST_ENOMEM;
	*out = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return *out ? ROOST_OK : ROOST_ENOMEM;
}

static int get_strs(json_t *a, char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!a)
		return 0;
	if (!json_is_array(a))
		return -1;
	size_t k = json_array_size(a);
	char **v = calloc(k ? k : 1, sizeof(*v));
	if (!v)
		return -1;
	for (size_t i = 0; i < k; i++) {
		json_t *e = json_array_get(a, i);
		if (!json_is_string(e) || !(v[i] = strdup(json_string_value(e)))) {
			for (size_t j = 0; j < i; j++)
				free(v[j]);
			free(v);
			return -1;
		}
	}
	*out = v;
	*n = k;
	return 0;
}

static uint64_t get_u64(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

enum roost_err snapshot_decode(const char *js, size_t n, struct roost_snapshot *s,
                               struct roost_errbuf *eb)
{
	memset(s, 0, sizeof(*s));
	json_error_t je;
	json_t *j = json_loadb(js, n, 0, &je);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		return roost_errf(eb, ROOST_ECORRUPT, "snapshot is not a JSON object");
	}
	enum roost_err err = ROOST_OK;
	json_t *ver = json_object_get(j, "version");
	const char *ts = json_get_str(j, "time"), *tree = json_get_str(j, "tree");
	if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
		err = roost_errf(eb, ROOST_ENOTSUP, "snapshot format version is not 1");
		goto done;
	}
	int64_t t;
	if (!ts || roost_time_parse(ts, &t, NULL) || !tree || hex_decode(tree, s->tree, ID_LEN)) {
		err = roost_errf(eb, ROOST_ECORRUPT, "snapshot lacks a valid time or tree");
		goto done;
	}
	s->time_s = t;
	const char *dot = strchr(ts, '.');
	if (dot) {
		uint32_t ns = 0;
		int digits = 0;
		for (const char *p = dot + 1; *p >= '0' && *p <= '9' && digits < 9; p++, digits++)
			ns = ns * 10 + (uint32_t)(*p - '0');
		while (digits++ < 9)
			ns *= 10;
		s->time_ns = ns;
	}
	const char *h = json_get_str(j, "hostname"), *u = json_get_str(j, "username"),
		   *pg = json_get_str(j, "program");
	s->hostname = strdup(h ? h : "");
	s->username = strdup(u ? u : "");
	s->program = strdup(pg ? pg : "");
	if (!s->hostname || !s->username || !s->program ||
	    get_strs(json_object_get(j, "paths"), &s->paths, &s->npaths) ||
	    get_strs(json_object_get(j, "tags"), &s->tags, &s->ntags) ||
	    get_strs(json_object_get(j, "excludes"), &s->excludes, &s->nexcludes)) {
		err = roost_errf(eb, ROOST_ECORRUPT, "snapshot has malformed fields");
		goto done;
	}
	json_t *m = json_object_get(j, "summary");
	if (json_is_object(m)) {
		s->summary.files = get_u64(m, "files");
		s->summary.dirs = get_u64(m, "dirs");
		s->summary.bytes = get_u64(m, "bytes");
		s->summary.bytes_new = get_u64(m, "bytes_new");
		s->summary.blobs_new = get_u64(m, "blobs_new");
		s->summary.duration_ms = get_u64(m, "duration_ms");
	}
done:
	if (err)
		roost_snapshot_release(s);
	json_decref(j);
	return err;
}
