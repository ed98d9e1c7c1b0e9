/* SPDX-License-Identifier: MIT */
/*
 * The text of S3 requests and answers (backend_s3.c): S3's URI encoding of
 * keys and query values, and the little of XML it reads from answers (the
 * first element of a name, entity-decoded). Plain functions of their
 * arguments: tested alone (tests/unit/test_s3_text.c, fuzz/fuzz_s3_xml.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

