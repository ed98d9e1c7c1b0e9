/* SPDX-License-Identifier: MIT */
/*
 * The `roost` command line: one file per command group. Each entry point
 * takes the arguments after its group name (argv[0] is the verb) and returns
 * the process exit code: 0 success, 1 failure, 2 bad usage, 3 integrity.
 */
#ifndef ROOST_CLI_H
#define ROOST_CLI_H

enum cli_exit {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
	EXIT_INTEGRITY = 3,
};

/* cmd_repo.c */
int cmd_repo(int argc, char **argv);
/* cmd_repo_key.c: `roost repo key add` and `roost repo upgrade` (argv[0] the verb) */
int cmd_repo_key(int argc, char **argv);
/* cmd_repo_copy.c: `roost repo copy -r FROM --to TO` (argv[0] "copy") */
int cmd_repo_copy(int argc, char **argv);

/* cmd_admin.c: the fleet admin commands (group is "host", "job", ...) */
int cmd_admin(const char *group, int argc, char **argv);
int cmd_admin_known(const char *group);

/* cmd_cron.c */
int cmd_cron(int argc, char **argv);

/* util.c */
/* Prints "roost: <message>\n" to stderr and returns code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses a decimal integer in [lo, hi]; 0 on success. */
int cli_parse_int(const char *s, long long lo, long long hi, long long *out);

#endif
