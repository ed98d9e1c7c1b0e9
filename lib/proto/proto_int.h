/* SPDX-License-Identifier: MIT */
/*
 * What the two halves of lib/proto share (not public): bounded readers of
 * JSON members that fill fixed C fields and name the field when they
 * refuse, and the writers the encoders use. Readers treat a null member as
 * an absent one.
 */
#ifndef ROOST_PROTO_INT_H
#define ROOST_PROTO_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/error.h"
#include "roost/proto.h"

/* Parses len bytes (at most max) into an object; *out is a new reference. */
enum roost_err proto_load(const char *buf, size_t len, size_t max, json_t **out,
                          struct roost_errbuf *eb);
/* The "type" member into type (cap bytes); the message must be an object. */
enum roost_err proto_get_type(const json_t *o, char *type, size_t cap, struct roost_errbuf *eb);

/* A string of fewer than cap bytes without NUL; "" when absent and not required. */
enum roost_err proto_get_str(const json_t *o, const char *key, int required, char *out,
                             size_t cap, struct roost_errbuf *eb);
/* A required integer > 0. */
enum roost_err proto_get_id(const json_t *o, const char *key, int64_t *out,
                            struct roost_errbuf *eb);
/* An integer >= 0; 0 when absent. */
enum roost_err proto_get_count(const json_t *o, const char *key, uint64_t *out,
                               struct roost_errbuf *eb);
/* An RFC 3339 time in 0..PROTO_TIME_MAX; 0 when absent and not required. */
enum roost_err proto_get_time(const json_t *o, const char *key, int required, int64_t *out,
                              struct roost_errbuf *eb);
/* An array (at most PROTO_MAX_LIST) of strings of 1..PROTO_MAX_PATH bytes
 * without NUL, copied into *v; empty when absent and not required. */
enum roost_err proto_get_strv(const json_t *o, const char *key, int required, char ***v,
                              size_t *n, struct roost_errbuf *eb);
void proto_strv_free(char **v, size_t n);

/* Put "key[i]." or "key." before the message err left in eb (not for
 * ROOST_ENOMEM), so a message names the field by its whole path; return err. */
enum roost_err proto_err_at(struct roost_errbuf *eb, enum roost_err err, const char *key,
                            size_t i);
enum roost_err proto_err_in(struct roost_errbuf *eb, enum roost_err err, const char *key);

/* Writers: each sets key in o and returns ROOST_OK, ROOST_ENOMEM, or for a
 * string that is not UTF-8, ROOST_EINVAL naming key. */
enum roost_err proto_put(json_t *o, const char *key, json_t *v, struct roost_errbuf *eb);
enum roost_err proto_put_str(json_t *o, const char *key, const char *s,
                             struct roost_errbuf *eb);
/* s, or null when s is "". */
enum roost_err proto_put_str_or_null(json_t *o, const char *key, const char *s,
                                     struct roost_errbuf *eb);
enum roost_err proto_put_int(json_t *o, const char *key, int64_t v, struct roost_errbuf *eb);
/* A new message object {"type": t} into *out (new reference); ROOST_ENOMEM. */
enum roost_err proto_new_msg(enum proto_type t, json_t **out);
/* An RFC 3339 string. */
enum roost_err proto_put_time(json_t *o, const char *key, int64_t t, struct roost_errbuf *eb);
/* Any bytes as text that fits in cap bytes: invalid UTF-8 becomes U+FFFD
 * and the result is cut at a character boundary (messages, not data). */
enum roost_err proto_put_text(json_t *o, const char *key, const char *s, size_t cap,
                              struct roost_errbuf *eb);
enum roost_err proto_put_strv(json_t *o, const char *key, char *const *v, size_t n,
                              struct roost_errbuf *eb);

#endif
