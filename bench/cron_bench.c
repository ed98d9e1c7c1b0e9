/* SPDX-License-Identifier: MIT */
/*
 * ns per cron_next() for typical expressions. Catch-up evaluates next() for
 * every schedule of every waking host, so this must stay well under 1 us.
 * Prints the median of 7 runs of N calls each, per expression.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "roost/cron.h"

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	static const char *const exprs[] = {
		"*/5 * * * *",
		"0 9 * * MON-FRI",
		"0 2 * * *",
		"30 3 1 * *",
		"0 0 29 2 *",
		"*/10 * * * * *",
		"0 0 13 * 5",
		"CRON_TZ=Europe/London 0 9 * * *",
		"CRON_TZ=America/New_York 30 1 * * *",
	};
	int n = argc > 1 ? atoi(argv[1]) : 200000;
	if (n < 1000)
		n = 1000;
	printf("%-40s %12s\n", "expression", "ns/next()");
	for (size_t e = 0; e < sizeof(exprs) / sizeof(exprs[0]); e++) {
		struct roost_errbuf eb;
		struct cron *c;
		if (cron_parse(exprs[e], NULL, &c, &eb)) {
			fprintf(stderr, "%s: %s\n", exprs[e], eb.msg);
			return 1;
		}
		double runs[7];
		volatile int64_t sink = 0;
		for (int r = 0; r < 7; r++) {
			int64_t t = 1764000000;
			double t0 = now_ns();
			for (int i = 0; i < n; i++) {
				int64_t next;
				if (cron_next(c, t, &next))
					return 1;
				/* Step forward irregularly so both near and far fires count. */
				t = (i & 7) ? next : next + 86400 * 3;
				if ((i & 1023) == 1023) /* stay within realistic years */
					t = 1764000000 + (i & 0xffff);
			}
			runs[r] = (now_ns() - t0) / n;
			sink += t;
		}
		(void)sink;
		qsort(runs, 7, sizeof(runs[0]), cmp);
		printf("%-40s %12.1f\n", exprs[e], runs[3]);
		cron_free(c);
	}
	return 0;
}
