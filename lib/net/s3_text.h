/* SPDX-License-Identifier: MIT */
/* The text of S3 requests and answers: lib/net/s3_text.c. */
#ifndef ROOST_NET_S3_TEXT_H
#define ROOST_NET_S3_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "roost/error.h"

/* s URI-encoded as SigV4 wants it into out[cap]: unreserved characters kept,
 * '/' kept when keep_slash. 0, or -1 when out is too small. */
int s3_uri_encode(char *out, size_t cap, const char *s, int keep_slash);
/* The content of the first <tag>...</tag> in [p, end), entity-decoded
 * (&amp; &lt; &gt; &quot; &apos; and numeric references, as UTF-8) into
 * out[cap]. 0, or -1 when absent, malformed or too long. */
int s3_xml_tag(const char *p, const char *end, const char *tag, char *out, size_t cap);

/* A failed answer (status, its XML body) in words: no such bucket, the
 * credentials or the clock refused, Object Lock refused, no such object... */
enum roost_err s3_answer_err(const char *bucket, const char *endpoint, const char *method,
                             const char *what, long status, const uint8_t *body, size_t len,
                             struct roost_errbuf *eb);
/* 1 when the answer is worth a retry: 5xx, 429, SlowDown, RequestTimeout. */
int s3_answer_retryable(long status, const uint8_t *body, size_t len);
/* ROOST_S3_OBJECT_LOCK's "MODE:DAYS" (MODE COMPLIANCE or GOVERNANCE, any
 * case; DAYS 1..36500, "d" allowed after it) into mode (upper case) and
 * days. 0, or -1 when malformed. */
int s3_lock_parse(const char *spec, char mode[16], int *days);
/* t as S3's retain-until date: ISO 8601 UTC, "2026-12-30T19:00:00Z". */
void s3_iso8601(time_t t, char out[32]);

#endif
