/* SPDX-License-Identifier: MIT */
/* The text of S3 requests and answers: lib/net/s3_text.c. */
#ifndef ROOST_NET_S3_TEXT_H
#define ROOST_NET_S3_TEXT_H

#include <stddef.h>

/* s URI-encoded as SigV4 wants it into out[cap]: unreserved characters kept,
 * '/' kept when keep_slash. 0, or -1 when out is too small. */
int s3_uri_encode(char *out, size_t cap, const char *s, int keep_slash);
/* The content of the first <tag>...</tag> in [p, end), entity-decoded
 * (&amp; &lt; &gt; &quot; &apos; and numeric references, as UTF-8) into
 * out[cap]. 0, or -1 when absent, malformed or too long. */
int s3_xml_tag(const char *p, const char *end, const char *tag, char *out, size_t cap);

#endif
