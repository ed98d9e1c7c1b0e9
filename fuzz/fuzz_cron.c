/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the cron parser and the next-fire search. Any input must
 * either be rejected with a message or give a strictly increasing series of
 * fire times.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "roost/cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 2048)
		return 0;
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	/* empty before every call: a rejection that sets no message must be seen,
	 * not hidden by the previous input's text */
	struct roost_errbuf eb;
	memset(&eb, 0, sizeof(eb));
	struct cron *c;
	if (cron_parse(s, NULL, &c, &eb) == ROOST_OK) {
		int64_t t = 1764000000; /* 2025-11-24 */
		for (int i = 0; i < 4; i++) {
			int64_t n;
			if (cron_next(c, t, &n))
				break;
			if (n <= t)
				abort();
			t = n;
		}
		cron_free(c);
	} else if (eb.msg[0] == 0) {
		abort(); /* every rejection must say why */
	}
	free(s);
	return 0;
}
