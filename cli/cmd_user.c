/* SPDX-License-Identifier: MIT */
/*
 * `roost user ...`: the dashboard's users (docs/dashboard.md, "Users and
 * sessions"), through roostd's /v1/users with the admin token.
 *
 *   roost user add NAME --role admin|operator|viewer [--password-file F]
 *   roost user list [--json]
 *   roost user remove NAME
 *
 * Without --password-file the password is asked twice, without echo, on a
 * terminal; otherwise one line of standard input is read. The password goes
 * to roostd only (which keeps its Argon2id hash) and is wiped here after.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "admin.h"

#define PW_MAX 1024

const char user_usage[] =
	"usage: roost user add NAME --role admin|operator|viewer [--password-file F]\n"
	"       roost user list [--json]\n"
	"       roost user remove NAME\n"
	"\n"
	"Users log in to the dashboard (/ui/) with a name and a password; their role says\n"
	"what they may do: viewer (read), operator (also start backups and restores, cancel\n"
	"jobs, download files), admin (everything). Names: 1-64 characters of\n"
	"A-Z a-z 0-9 . _ @ -; passwords: 8-1024 bytes.\n"
	"\n"
	"  --role R             the new user's role\n"
	"  --password-file F    the password is F's first line; without it the password is\n"
	"                       asked twice on a terminal, or read as one line of stdin\n"
	"  --json               print the API's JSON\n"
	"Common options (--server, --token-file, --fingerprint): roost host --help.\n";

/* One line of f into buf (without its end of line); 0, -1 when nothing was read, -2 too long. */
static int read_line(FILE *f, char *buf, size_t cap)
{
	if (!fgets(buf, (int)cap, f))
		return -1;
	size_t n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[--n] = 0;
	else if (n == cap - 1 && !feof(f))
		return -2; /* no end of line within the limit */
	if (n && buf[n - 1] == '\r')
		buf[--n] = 0;
	return 0;
}

/* Asks on the terminal without echo; 0 or -1. */
static int ask(const char *prompt, char *buf, size_t cap)
{
	struct termios old, quiet;
	fputs(prompt, stderr);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &old))
		return -1;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet))
		return -1;
	int rc = read_line(stdin, buf, cap);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	return rc;
}

static int read_password(const struct aopts *o, char *pw, size_t cap)
{
	int rc;
	if (o->password_file) {
		FILE *f = fopen(o->password_file, "re");
		if (!f)
			return cli_fail(EXIT_USAGE, "--password-file %s: %s", o->password_file,
			                strerror(errno));
		rc = read_line(f, pw, cap);
		fclose(f);
	} else if (isatty(STDIN_FILENO)) {
		char again[PW_MAX + 2];
		rc = ask("Password: ", pw, cap);
		if (!rc && (rc = ask("Password (again): ", again, sizeof(again))) == 0 &&
		    strcmp(pw, again)) {
			memset(again, 0, sizeof(again));
			return cli_fail(EXIT_USAGE, "the two passwords differ");
		}
		memset(again, 0, sizeof(again));
	} else {
		rc = read_line(stdin, pw, cap);
	}
	if (rc == -2 || strlen(pw) > PW_MAX)
		return cli_fail(EXIT_USAGE, "password: at most %d bytes", PW_MAX);
	if (rc || !pw[0])
		return cli_fail(EXIT_USAGE, "no password given");
	return 0;
}

static int user_add(struct api *a, struct aopts *o)
{
	if (o->npos != 2 || !o->role)
		return cli_fail(EXIT_USAGE, "usage: roost user add NAME --role admin|operator|viewer "
		                            "[--password-file F]");
	if (strcmp(o->role, "admin") && strcmp(o->role, "operator") && strcmp(o->role, "viewer"))
		return cli_fail(EXIT_USAGE, "--role: admin, operator or viewer");
	char pw[PW_MAX + 2];
	int rc = read_password(o, pw, sizeof(pw));
	if (rc) {
		memset(pw, 0, sizeof(pw));
		return rc;
	}
	json_t *b = json_pack("{s:s, s:s, s:s}", "name", o->pos[1], "password", pw, "role", o->role);
	memset(pw, 0, sizeof(pw));
	if (!b)
		return cli_fail(EXIT_USAGE, "name and password must be UTF-8 text");
	json_t *r;
	if ((rc = call(a, "POST", "/v1/users", b, &r)))
		return rc;
	show(a, r, "user %s (id %lld, %s) added\n", jstr(r, "name"), jint(r, "id"), jstr(r, "role"));
	json_decref(r);
	return 0;
}

static int user_list(struct api *a, struct aopts *o)
{
	if (o->npos != 1)
		return cli_fail(EXIT_USAGE, "usage: roost user list [--json]");
	json_t *r, *u;
	int rc;
	if ((rc = call(a, "GET", "/v1/users", NULL, &r)))
		return rc;
	if (a->json) {
		print_json(r);
	} else {
		printf("%-5s %-24s %-9s %-21s %s\n", "ID", "NAME", "ROLE", "CREATED", "LAST_LOGIN");
		size_t i;
		json_array_foreach(r, i, u)
			printf("%-5lld %-24s %-9s %-21s %s\n", jint(u, "id"), jstr(u, "name"),
			       jstr(u, "role"), jstr(u, "created_at"), jstr(u, "last_login_at"));
	}
	json_decref(r);
	return 0;
}

static int user_remove(struct api *a, struct aopts *o)
{
	if (o->npos != 2)
		return cli_fail(EXIT_USAGE, "usage: roost user remove NAME");
	json_t *r, *u;
	int rc;
	if ((rc = call(a, "GET", "/v1/users", NULL, &r)))
		return rc;
	long long id = 0;
	size_t i;
	json_array_foreach(r, i, u) if (!strcmp(jstr(u, "name"), o->pos[1])) id = jint(u, "id");
	json_decref(r);
	if (!id)
		return cli_fail(EXIT_USAGE, "no user named \"%s\"", o->pos[1]);
	char path[64];
	snprintf(path, sizeof(path), "/v1/users/%lld", id);
	if ((rc = call(a, "DELETE", path, NULL, &r)))
		return rc;
	show(a, r, "user %s removed (its sessions ended)\n", o->pos[1]);
	json_decref(r);
	return 0;
}

int user_cmd(struct api *a, struct aopts *o)
{
	const char *verb = o->npos ? o->pos[0] : "";
	if (!strcmp(verb, "add"))
		return user_add(a, o);
	if (!strcmp(verb, "list"))
		return user_list(a, o);
	if (!strcmp(verb, "remove"))
		return user_remove(a, o);
	fputs(user_usage, stderr);
	return EXIT_USAGE;
}
