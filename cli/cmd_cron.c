/* SPDX-License-Identifier: MIT */
/* `roost cron next`: preview the fire times of an expression. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "roost/clock.h"
#include "roost/cron.h"
#include "roost/timeutil.h"

static const char cron_usage[] =
	"usage: roost cron next EXPR [--from RFC3339] [--count N] [--tz ZONE]\n"
	"\n"
	"Prints the next N fire instants of the cron expression EXPR, one per\n"
	"line, in RFC 3339 UTC. Each is strictly after the previous one.\n"
	"\n"
	"  --from T     start after instant T (default: now)\n"
	"  --count N    how many to print, 1-10000 (default 5)\n"
	"  --tz ZONE    zone the expression is read in when it has no CRON_TZ=\n"
	"               prefix (default UTC)\n"
	"\n"
	"EXPR is 5 fields (minute hour day-of-month month day-of-week), 6 with a\n"
	"leading second, or @hourly/@daily/@weekly/@monthly/@yearly; see docs/cron.md.\n"
	"Exit status: 0 ok, 2 invalid expression or option.\n";

static int cron_next_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{"from", required_argument, NULL, 'f'},
		{"count", required_argument, NULL, 'n'},
		{"tz", required_argument, NULL, 'z'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *from = NULL, *tz = NULL;
	long long count = 5;
	int ch;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			from = optarg;
			break;
		case 'n':
			if (cli_parse_int(optarg, 1, 10000, &count))
				return cli_fail(EXIT_USAGE,
				                "--count: \"%s\" is not a number from 1 to 10000", optarg);
			break;
		case 'z':
			tz = optarg;
			break;
		case 'h':
			fputs(cron_usage, stdout);
			return EXIT_OK;
		case ':':
			return cli_fail(EXIT_USAGE, "%s needs a value", argv[optind - 1]);
		default:
			return cli_fail(EXIT_USAGE, "unknown option \"%s\"\n%s", argv[optind - 1],
			                cron_usage);
		}
	}
	if (argc - optind != 1)
		return cli_fail(EXIT_USAGE, "expected one cron expression (quote it), got %d "
		                "arguments\n%s", argc - optind, cron_usage);
	const char *expr = argv[optind];

	struct roost_errbuf eb;
	int64_t t;
	if (from) {
		if (roost_time_parse(from, &t, &eb))
			return cli_fail(EXIT_USAGE, "--from: %s", eb.msg);
	} else {
		t = roost_clock_now_s(roost_clock_system());
	}
	struct cron *c;
	enum roost_err err = cron_parse(expr, tz, &c, &eb);
	if (err)
		return cli_fail(err == ROOST_ENOMEM ? EXIT_FAIL : EXIT_USAGE,
		                "invalid cron expression \"%s\": %s", expr, eb.msg);
	for (long long i = 0; i < count; i++) {
		if (cron_next(c, t, &t)) {
			if (i == 0)
				fprintf(stderr, "roost: \"%s\" does not fire again before year 9999\n",
				        expr);
			break;
		}
		char buf[40];
		puts(roost_time_format(t, buf, sizeof(buf)));
	}
	cron_free(c);
	return EXIT_OK;
}

int cmd_cron(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(cron_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (strcmp(argv[1], "next") != 0)
		return cli_fail(EXIT_USAGE, "unknown cron command \"%s\"\n%s", argv[1], cron_usage);
	return cron_next_cmd(argc - 1, argv + 1);
}
