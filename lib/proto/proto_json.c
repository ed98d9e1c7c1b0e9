/* SPDX-License-Identifier: MIT */
/*
 * The JSON readers and writers both directions of the protocol share
 * (lib/proto/proto_int.h): one place where a field is bounded, typed and,
 * when refused, named.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto_int.h"
#include "roost/jsonutil.h"
#include "roost/proto.h"
#include "roost/timeutil.h"

enum roost_err proto_load(const char *buf, size_t len, size_t max, json_t **out,
                          struct roost_errbuf *eb)
{
	*out = NULL;
	if (len > max)
		return roost_errf(eb, ROOST_ERANGE, "message larger than %zu bytes", max);
	json_error_t je;
	json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		return roost_errf(eb, ROOST_EINVAL, "malformed JSON: %s", je.text);
	*out = o;
	return ROOST_OK;
}

enum roost_err proto_get_type(const json_t *o, char *type, size_t cap, struct roost_errbuf *eb)
{
	type[0] = 0;
	if (!json_is_object(o))
		return roost_errf(eb, ROOST_EINVAL, "expected a JSON object");
	return proto_get_str(o, "type", 1, type, cap, eb);
}

enum roost_err proto_get_str(const json_t *o, const char *key, int required, char *out,
                             size_t cap, struct roost_errbuf *eb)
{
	json_t *v = json_object_get(o, key);
	out[0] = 0;
	if (!v || json_is_null(v)) {
		if (required)
			return roost_errf(eb, ROOST_EINVAL, "%s: missing", key);
		return ROOST_OK;
	}
	if (!json_is_string(v))
		return roost_errf(eb, ROOST_EINVAL, "%s: not a string", key);
	size_t n = json_string_length(v);
	if (n >= cap || memchr(json_string_value(v), 0, n))
		return roost_errf(eb, ROOST_EINVAL, "%s: too long or holds a NUL", key);
	memcpy(out, json_string_value(v), n + 1);
	return ROOST_OK;
}

enum roost_err proto_get_id(const json_t *o, const char *key, int64_t *out,
                            struct roost_errbuf *eb)
{
	json_t *v = json_object_get(o, key);
	*out = 0;
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return roost_errf(eb, ROOST_EINVAL, "%s: expected a positive integer", key);
	*out = json_integer_value(v);
	return ROOST_OK;
}

enum roost_err proto_get_count(const json_t *o, const char *key, uint64_t *out,
                               struct roost_errbuf *eb)
{
	json_t *v = json_object_get(o, key);
	*out = 0;
	if (!v || json_is_null(v))
		return ROOST_OK;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return roost_errf(eb, ROOST_EINVAL, "%s: expected a count", key);
	*out = (uint64_t)json_integer_value(v);
	return ROOST_OK;
}

enum roost_err proto_get_time(const json_t *o, const char *key, int required, int64_t *out,
                              struct roost_errbuf *eb)
{
	char buf[64];
	enum roost_err err = proto_get_str(o, key, required, buf, sizeof(buf), eb);
	*out = 0;
	if (err || !buf[0])
		return err;
	int64_t t;
	if (roost_time_parse(buf, &t, NULL))
		return roost_errf(eb, ROOST_EINVAL, "%s: not an RFC 3339 time", key);
	/* what roost_time_format can write back, so an encoder never fails on a decoded time */
	if (t < 0 || t > PROTO_TIME_MAX)
		return roost_errf(eb, ROOST_EINVAL, "%s: before 1970 or after 9999", key);
	*out = t;
	return ROOST_OK;
}

void proto_strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

enum roost_err proto_strv_push(char ***v, size_t *n, const char *s)
{
	char *c = strdup(s);
	char **nv = c ? realloc(*v, (*n + 1) * sizeof(**v)) : NULL;
	if (!nv) {
		free(c);
		return ROOST_ENOMEM;
	}
	nv[(*n)++] = c;
	*v = nv;
	return ROOST_OK;
}

enum roost_err proto_get_strv(const json_t *o, const char *key, int required, char ***v,
                              size_t *n, struct roost_errbuf *eb)
{
	*v = NULL;
	*n = 0;
	json_t *a = json_object_get(o, key);
	if (!a || json_is_null(a)) {
		if (required)
			return roost_errf(eb, ROOST_EINVAL, "%s: missing", key);
		return ROOST_OK;
	}
	if (!json_is_array(a))
		return roost_errf(eb, ROOST_EINVAL, "%s: expected an array of strings", key);
	size_t len = json_array_size(a);
	if (len > PROTO_MAX_LIST)
		return roost_errf(eb, ROOST_ERANGE, "%s: more than %d entries", key, PROTO_MAX_LIST);
	char **out = calloc(len ? len : 1, sizeof(*out));
	if (!out)
		return ROOST_ENOMEM;
	for (size_t i = 0; i < len; i++) {
		json_t *e = json_array_get(a, i);
		size_t sl = json_string_length(e);
		if (!json_is_string(e) || sl == 0 || sl > PROTO_MAX_PATH ||
		    memchr(json_string_value(e), 0, sl)) {
			proto_strv_free(out, i);
			return roost_errf(eb, ROOST_EINVAL, "%s[%zu]: expected a string of 1 to %d "
			                                    "bytes without NUL", key, i, PROTO_MAX_PATH);
		}
		if (!(out[i] = strdup(json_string_value(e)))) {
			proto_strv_free(out, i);
			return ROOST_ENOMEM;
		}
	}
	*v = out;
	*n = len;
	return ROOST_OK;
}

static enum roost_err err_prefix(struct roost_errbuf *eb, enum roost_err err, const char *key,
                                 const char *index)
{
	if (!eb || err == ROOST_ENOMEM)
		return err;
	char was[sizeof(eb->msg)];
	memcpy(was, eb->msg, sizeof(was));
	was[sizeof(was) - 1] = 0;
	/* "field: problem" becomes "key[i].field: problem", a bare "problem" "key[i]: problem" */
	int bare = !strncmp(was, "expected", 8);
	return roost_errf(eb, err, "%s%s%s%s", key, index, bare ? ": " : ".", was);
}

enum roost_err proto_err_at(struct roost_errbuf *eb, enum roost_err err, const char *key,
                            size_t i)
{
	char index[32];
	snprintf(index, sizeof(index), "[%zu]", i);
	return err_prefix(eb, err, key, index);
}

enum roost_err proto_err_in(struct roost_errbuf *eb, enum roost_err err, const char *key)
{
	return err_prefix(eb, err, key, "");
}

enum roost_err proto_put(json_t *o, const char *key, json_t *v, struct roost_errbuf *eb)
{
	(void)eb;
	/* json_object_set_new takes v even when it fails */
	if (!v || json_object_set_new(o, key, v))
		return ROOST_ENOMEM;
	return ROOST_OK;
}

enum roost_err proto_put_str(json_t *o, const char *key, const char *s,
                             struct roost_errbuf *eb)
{
	json_t *v = json_string(s);
	if (!v)
		return roost_errf(eb, ROOST_EINVAL, "%s: not valid UTF-8", key);
	return proto_put(o, key, v, eb);
}

enum roost_err proto_put_str_or_null(json_t *o, const char *key, const char *s,
                                     struct roost_errbuf *eb)
{
	return s[0] ? proto_put_str(o, key, s, eb) : proto_put(o, key, json_null(), eb);
}

enum roost_err proto_new_msg(enum proto_type t, json_t **out)
{
	*out = json_pack("{s:s}", "type", proto_type_name(t));
	return *out ? ROOST_OK : ROOST_ENOMEM;
}

enum roost_err proto_put_int(json_t *o, const char *key, int64_t v, struct roost_errbuf *eb)
{
	return proto_put(o, key, json_integer((json_int_t)v), eb);
}

enum roost_err proto_put_time(json_t *o, const char *key, int64_t t, struct roost_errbuf *eb)
{
	if (t < 0 || t > PROTO_TIME_MAX)
		return roost_errf(eb, ROOST_EINVAL, "%s: before 1970 or after 9999", key);
	char buf[40];
	return proto_put_str(o, key, roost_time_format(t, buf, sizeof(buf)), eb);
}

enum roost_err proto_put_text(json_t *o, const char *key, const char *s, size_t cap,
                              struct roost_errbuf *eb)
{
	json_t *v = json_bytes_lossy(s, strlen(s));
	if (!v)
		return ROOST_ENOMEM;
	size_t n = json_string_length(v);
	if (n >= cap) {
		const char *t = json_string_value(v);
		n = cap - 1;
		while (n > 0 && ((unsigned char)t[n] & 0xc0) == 0x80)
			n--; /* t[n] starts a character: cut before it */
		json_t *cut = json_stringn(t, n);
		json_decref(v);
		if (!cut)
			return ROOST_ENOMEM;
		v = cut;
	}
	return proto_put(o, key, v, eb);
}

enum roost_err proto_put_strv(json_t *o, const char *key, char *const *v, size_t n,
                              struct roost_errbuf *eb)
{
	json_t *a = json_array();
	if (!a)
		return ROOST_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_string(v[i]);
		if (!e) {
			json_decref(a);
			return roost_errf(eb, ROOST_EINVAL, "%s[%zu]: not valid UTF-8", key, i);
		}
		if (json_array_append_new(a, e)) {
			json_decref(a);
			return ROOST_ENOMEM;
		}
	}
	return proto_put(o, key, a, eb);
}
