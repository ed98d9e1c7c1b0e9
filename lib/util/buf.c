/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "roost/buf.h"

int roost_buf_append(char **buf, size_t *len, size_t *cap, const void *in, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t nc = *cap ? *cap : 4096;
		while (nc < *len + n + 1)
			nc *= 2;
		char *nb = realloc(*buf, nc);
		if (!nb)
			return -1;
		*buf = nb;
		*cap = nc;
	}
	if (n)
		memcpy(*buf + *len, in, n);
	*len += n;
	(*buf)[*len] = 0;
	return 0;
}
