/* SPDX-License-Identifier: MIT */
/*
 * The text of S3 requests and answers (backend_s3.c): S3's URI encoding of
 * keys and query values, the little of XML it reads from answers (the
 * first element of a name, entity-decoded), an error answer in words, and
 * the Object Lock setting and dates. Plain functions of their arguments:
 * tested alone (tests/unit/test_s3_text.c, fuzz/fuzz_s3_xml.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "s3_text.h"

/* S3's URI encoding: unreserved characters kept, '/' kept when keep_slash. */
int s3_uri_encode(char *out, size_t cap, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~' ||
		           (keep_slash && c == '/');
		if (o + 4 > cap)
			return -1;
		if (keep)
			out[o++] = (char)c;
		else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = 0;
	return 0;
}

/* Content of the first <tag>...</tag> in [p, end), entity-decoded into out. */
int s3_xml_tag(const char *p, const char *end, const char *tag, char *out, size_t cap)
{
	char open[48], close[48];
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	const char *a = memmem(p, (size_t)(end - p), open, strlen(open));
	if (!a)
		return -1;
	a += strlen(open);
	const char *b = memmem(a, (size_t)(end - a), close, strlen(close));
	if (!b)
		return -1;
	size_t o = 0;
	while (a < b) {
		unsigned long cp;
		if (*a != '&') {
			cp = (unsigned char)*a++;
		} else {
			const char *semi = memchr(a, ';', (size_t)(b - a));
			if (!semi || semi - a > 10)
				return -1;
			size_t n = (size_t)(semi - a - 1);
			const char *e = a + 1;
			if (n == 3 && !memcmp(e, "amp", 3))
				cp = '&';
			else if (n == 2 && !memcmp(e, "lt", 2))
				cp = '<';
			else if (n == 2 && !memcmp(e, "gt", 2))
				cp = '>';
			else if (n == 4 && !memcmp(e, "quot", 4))
				cp = '"';
			else if (n == 4 && !memcmp(e, "apos", 4))
				cp = '\'';
			else if (n >= 2 && e[0] == '#') {
				char num[12];
				memcpy(num, e + 1, n - 1);
				num[n - 1] = 0;
				char *stop;
				cp = (num[0] == 'x' || num[0] == 'X') ? strtoul(num + 1, &stop, 16)
				                                      : strtoul(num, &stop, 10);
				if (*stop || cp == 0 || cp > 0x10FFFF)
					return -1;
			} else
				return -1;
			a = semi + 1;
		}
		/* UTF-8 out */
		char u[4];
		size_t un;
		if (cp < 0x80) {
			u[0] = (char)cp;
			un = 1;
		} else if (cp < 0x800) {
			u[0] = (char)(0xC0 | (cp >> 6));
			u[1] = (char)(0x80 | (cp & 0x3F));
			un = 2;
		} else if (cp < 0x10000) {
			u[0] = (char)(0xE0 | (cp >> 12));
			u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
			u[2] = (char)(0x80 | (cp & 0x3F));
			un = 3;
		} else {
			u[0] = (char)(0xF0 | (cp >> 18));
			u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
			u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
			u[3] = (char)(0x80 | (cp & 0x3F));
			un = 4;
		}
		if (o + un + 1 > cap)
			return -1;
		memcpy(out + o, u, un);
		o += un;
	}
	out[o] = 0;
	return 0;
}


enum roost_err s3_answer_err(const char *bucket, const char *endpoint, const char *method,
                             const char *what, long status, const uint8_t *body, size_t len,
                             struct roost_errbuf *eb)
{
	char code[128] = "", msg[256] = "";
	if (body && len) {
		const char *end = (const char *)body + len;
		s3_xml_tag((const char *)body, end, "Code", code, sizeof(code));
		s3_xml_tag((const char *)body, end, "Message", msg, sizeof(msg));
	}
	if (!strcmp(code, "NoSuchBucket"))
		return roost_errf(eb, ROOST_ENOENT, "S3: no such bucket %s at %s", bucket, endpoint);
	if (!strcmp(code, "SignatureDoesNotMatch") || !strcmp(code, "InvalidAccessKeyId") ||
	    !strcmp(code, "InvalidToken") || !strcmp(code, "ExpiredToken"))
		return roost_errf(eb, ROOST_EAUTH,
		                  "S3 refused the credentials: %s: %s (check AWS_ACCESS_KEY_ID "
		                  "and AWS_SECRET_ACCESS_KEY)", code, msg);
	if (!strcmp(code, "RequestTimeTooSkewed"))
		return roost_errf(eb, ROOST_EAUTH,
		                  "S3 refused the request's time (clock skew: set this machine's "
		                  "clock right): %s", msg);
	if (strstr(msg, "Object Lock") || strstr(code, "ObjectLock"))
		return roost_errf(eb, ROOST_EINVAL,
		                  "S3: %s %s: the bucket refused Object Lock retention: %s%s%s "
		                  "(ROOST_S3_OBJECT_LOCK needs a bucket created with Object Lock "
		                  "enabled; see docs/s3.md)", method, what, code, code[0] ? ": " : "",
		                  msg);
	if (status == 404 || !strcmp(code, "NoSuchKey"))
		return roost_errf(eb, ROOST_ENOENT, "%s: no such object", what);
	if (status == 403)
		return roost_errf(eb, ROOST_EPERM, "S3: %s %s: access denied%s%s%s%s", method, what,
		                  code[0] ? ": " : "", code, msg[0] ? ": " : "", msg);
	if (status == 416)
		return roost_errf(eb, ROOST_ECORRUPT, "%s: shorter than expected", what);
	return roost_errf(eb, ROOST_EIO, "S3: %s %s: HTTP %ld%s%s%s%s", method, what, status,
	                  code[0] ? ": " : "", code, msg[0] ? ": " : "", msg);
}

int s3_answer_retryable(long status, const uint8_t *body, size_t len)
{
	if (status >= 500 || status == 429)
		return 1;
	if (body && len) {
		const char *end = (const char *)body + len;
		char code[64] = "";
		s3_xml_tag((const char *)body, end, "Code", code, sizeof(code));
		return !strcmp(code, "SlowDown") || !strcmp(code, "RequestTimeout");
	}
	return 0;
}

int s3_lock_parse(const char *spec, char mode[16], int *days)
{
	const char *colon = spec ? strchr(spec, ':') : NULL;
	if (!colon)
		return -1;
	size_t ml = (size_t)(colon - spec);
	if (ml == 10 && !strncasecmp(spec, "COMPLIANCE", 10))
		snprintf(mode, 16, "COMPLIANCE");
	else if (ml == 10 && !strncasecmp(spec, "GOVERNANCE", 10))
		snprintf(mode, 16, "GOVERNANCE");
	else
		return -1;
	const char *d = colon + 1;
	size_t dl = strlen(d);
	if (dl && (d[dl - 1] == 'd' || d[dl - 1] == 'D'))
		dl--; /* "30d" as well as "30" */
	if (!dl || dl > 5)
		return -1;
	int v = 0;
	for (size_t i = 0; i < dl; i++) {
		if (!isdigit((unsigned char)d[i]))
			return -1;
		v = v * 10 + (d[i] - '0');
	}
	if (v < 1 || v > 36500)
		return -1;
	*days = v;
	return 0;
}

void s3_iso8601(time_t t, char out[32])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
