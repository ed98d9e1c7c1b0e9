/* SPDX-License-Identifier: MIT */
/* Server URLs and fingerprints for the HTTPS client (lib/net/http.c). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_url.h"
#include "roost/http.h"

int roost_fingerprint_normalize(const char *in, char out[65])
{
	size_t n = 0;
	if (!in)
		return -1;
	for (const char *p = in; *p; p++) {
		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char)*p) || n >= 64)
			return -1;
		out[n++] = (char)tolower((unsigned char)*p);
	}
	if (n != 64)
		return -1;
	out[64] = 0;
	return 0;
}

char *roost_url_escape(const char *s)
{
	size_t n = strlen(s);
	char *o = malloc(3 * n + 1), *q = o;
	if (!o)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || strchr("-._~", *p))
			*q++ = (char)*p;
		else
			q += sprintf(q, "%%%02X", *p);
	}
	*q = 0;
	return o;
}

enum roost_err http_parse_url(const char *url, char *host, size_t hcap, char *port, size_t pcap,
                              char *prefix, size_t xcap, struct roost_errbuf *eb)
{
	if (strncmp(url, "https://", 8) != 0)
		return roost_errf(eb, ROOST_EINVAL, "server URL %s: must start with https://", url);
	const char *h = url + 8, *end = h + strcspn(h, "/");
	const char *colon = NULL;
	if (*h == '[') { /* [v6]:port */
		const char *rb = memchr(h, ']', (size_t)(end - h));
		if (!rb)
			return roost_errf(eb, ROOST_EINVAL, "server URL %s: bad IPv6 address", url);
		if ((size_t)(rb - h - 1) >= hcap)
			return roost_errf(eb, ROOST_EINVAL, "server URL %s: host too long", url);
		memcpy(host, h + 1, (size_t)(rb - h - 1));
		host[rb - h - 1] = 0;
		colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		const char *he = colon ? colon : end;
		if (he == h || (size_t)(he - h) >= hcap)
			return roost_errf(eb, ROOST_EINVAL, "server URL %s: bad host", url);
		memcpy(host, h, (size_t)(he - h));
		host[he - h] = 0;
	}
	if (colon) {
		size_t pl = (size_t)(end - colon - 1);
		if (pl == 0 || pl >= pcap || strspn(colon + 1, "0123456789") < pl)
			return roost_errf(eb, ROOST_EINVAL, "server URL %s: bad port", url);
		memcpy(port, colon + 1, pl);
		port[pl] = 0;
	} else {
		snprintf(port, pcap, "443");
	}
	size_t xl = strlen(end);
	while (xl > 0 && end[xl - 1] == '/')
		xl--;
	if (xl >= xcap)
		return roost_errf(eb, ROOST_EINVAL, "server URL %s: path too long", url);
	memcpy(prefix, end, xl);
	prefix[xl] = 0;
	return ROOST_OK;
}
