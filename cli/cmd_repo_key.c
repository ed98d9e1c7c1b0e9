/* SPDX-License-Identifier: MIT */
/*
 * `roost repo key add -r DIR [--put-only] [--new-password-file F]` and
 * `roost repo upgrade -r DIR`: a repository's keys and its format version
 * (docs/repository-format.md). The current password comes from
 * ROOST_PASSWORD or --password-file F, the new key's from ROOST_NEW_PASSWORD
 * or --new-password-file F.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "roost/repo.h"

/* The first line of file f, or the variable env; NULL after a message. */
static char *password_from(const char *f, const char *env, const char *what)
{
	if (!f) {
		const char *v = getenv(env);
		if (!v || !*v) {
			cli_fail(EXIT_USAGE, "no %s: set %s or give the file option", what, env);
			return NULL;
		}
		return strdup(v);
	}
	FILE *fp = fopen(f, "r");
	char line[1024];
	if (!fp || !fgets(line, sizeof(line), fp)) {
		if (fp)
			fclose(fp);
		cli_fail(EXIT_USAGE, "%s: can not read the %s", f, what);
		return NULL;
	}
	fclose(fp);
	line[strcspn(line, "\r\n")] = 0;
	if (!*line) {
		cli_fail(EXIT_USAGE, "%s: the %s is empty", f, what);
		return NULL;
	}
	return strdup(line);
}

int cmd_repo_key(int argc, char **argv)
{
	const char *verb = argv[0];
	int add = 0;
	if (!strcmp(verb, "key")) {
		if (argc < 2 || strcmp(argv[1], "add"))
			return cli_fail(EXIT_USAGE, "usage: roost repo key add -r DIR [--put-only] "
			                "[--new-password-file F]");
		add = 1;
		argc--;
		argv++;
	}
	const char *repo = getenv("ROOST_REPOSITORY"), *pwf = NULL, *npwf = NULL;
	int put_only = 0;
	static const struct option opts[] = {
		{"repo", required_argument, 0, 'r'},
		{"password-file", required_argument, 0, 'p'},
		{"new-password-file", required_argument, 0, 'n'},
		{"put-only", no_argument, 0, 'w'},
		{0, 0, 0, 0},
	};
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "r:", opts, NULL)) != -1) {
		switch (c) {
		case 'r': repo = optarg; break;
		case 'p': pwf = optarg; break;
		case 'n': npwf = optarg; break;
		case 'w': put_only = 1; break;
		default: return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_fail(EXIT_USAGE, "%s: unexpected argument \"%s\"", verb, argv[optind]);
	if (!add && (put_only || npwf))
		return cli_fail(EXIT_USAGE, "upgrade takes only -r and --password-file");
	if (!repo)
		return cli_fail(EXIT_USAGE, "no repository: give -r DIR or set ROOST_REPOSITORY");
	char *pw = password_from(pwf, "ROOST_PASSWORD", "password");
	char *npw = pw && add ? password_from(npwf, "ROOST_NEW_PASSWORD", "new key's password")
	                      : NULL;
	if (!pw || (add && !npw)) {
		free(pw);
		return EXIT_USAGE;
	}
	struct roost_errbuf eb;
	struct roost_backend *be = NULL;
	struct roost_repo *r = NULL;
	int rc = EXIT_OK;
	enum roost_err err = roost_backend_open(repo, 0, &be, &eb);
	if (err)
		rc = cli_fail(err == ROOST_ENOENT || err == ROOST_EINVAL ? EXIT_USAGE : EXIT_FAIL, "%s",
		              eb.msg);
	else if ((err = roost_repo_open(be, pw, &r, &eb)))
		rc = cli_fail(err == ROOST_ECORRUPT ? EXIT_INTEGRITY : EXIT_FAIL, "%s", eb.msg);
	else if (add) {
		if ((err = roost_repo_key_add(r, npw, put_only, &eb)))
			rc = cli_fail(EXIT_FAIL, "key add: %s", eb.msg);
		else
			printf("added a %s key\n", put_only ? "put-only" : "full");
	} else {
		int done = 0;
		if ((err = roost_repo_upgrade(r, &done, &eb)))
			rc = cli_fail(EXIT_FAIL, "upgrade: %s", eb.msg);
		else
			printf(done ? "upgraded to format 2\n" : "already format %d\n",
			       roost_repo_version(r));
	}
	roost_repo_close(r);
	roost_backend_close(be);
	free(pw);
	free(npw);
	return rc;
}
