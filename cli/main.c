/* SPDX-License-Identifier: MIT */
/*
 * roost: the command line. Dispatches on the first word to the command
 * groups (repo, cron, and the fleet admin commands).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
	"usage: roost <command> [arguments]\n"
	"\n"
	"Repository (local, restic-like):\n"
	"  repo init|backup|snapshots|ls|restore|check|forget|prune|diff|stats -r DIR ...\n"
	"\n"
	"Fleet (talk to roostd; --server, ROOST_TOKEN, --fingerprint, --json):\n"
	"  token create | host list|show|set|remove | group add|list\n"
	"  schedule add|list|next|enable|disable | backup HOST --group NAME\n"
	"  job list|show|cancel|wait | snapshot list | restore HOST SNAPSHOT --target DIR\n"
	"  events [--follow] | webhook add|list|remove|test\n"
	"  user add NAME --role R [--password-file F] | user list | user remove NAME\n"
	"                 ('roost host --help' lists them all)\n"
	"\n"
	"Utilities:\n"
	"  cron next EXPR [--from RFC3339] [--count N] [--tz ZONE]\n"
	"                 print the next fire times of a cron expression\n"
	"\n"
	"Run 'roost <command> --help' for the options of a command.\n";

int main(int argc, char **argv)
{
	/* A write on a connection roostd has closed (an event stream it ended,
	 * a keep-alive it timed out) is an error the HTTP client reports, not a
	 * reason to die with SIGPIPE (exit 141 from roost job wait). */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		printf("roost %s\n", ROOST_VERSION);
		return EXIT_OK;
	}
	if (strcmp(cmd, "repo") == 0)
		return cmd_repo(argc - 1, argv + 1);
	if (strcmp(cmd, "cron") == 0)
		return cmd_cron(argc - 1, argv + 1);
	if (cmd_admin_known(cmd))
		return cmd_admin(cmd, argc - 1, argv + 1);
	fprintf(stderr, "roost: unknown command \"%s\"\n\n%s", cmd, usage);
	return EXIT_USAGE;
}
