/* SPDX-License-Identifier: MIT */
/*
 * The fleet admin commands' plumbing (DESIGN.md, "Admin client"): the
 * options every command takes (--server or ROOST_SERVER, the admin token
 * from ROOST_TOKEN or --token-file, --fingerprint or ROOST_FINGERPRINT,
 * --json), the REST calls, printing, and the dispatch to each command
 * group. HTTP 400/404 answers are exit 2 (the input named something wrong
 * or absent), other failures exit 1.
 */
#include <getopt.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "roost/http.h"

static const char admin_usage[] =
	"Fleet admin commands (talk to roostd):\n"
	"  roost token create [--ttl SECONDS] [--uses N]\n"
	"  roost host list | show HOST | remove HOST\n"
	"  roost host set HOST [--mode always-on|intermittent] [--upload-limit KIB]\n"
	"                      [--skip-on-battery yes|no] [--skip-on-metered yes|no]\n"
	"                      (--upload-limit: KiB/s for all the host's uploads, 0: none)\n"
	"  roost group add HOST NAME --path P [--path P]... [--exclude GLOB]... [--dedup fleet|host]\n"
	"                  [--pre-hook CMD] [--post-hook CMD] [--hook-timeout SECONDS]\n"
	"  roost group set HOST NAME [--path P]... [--exclude GLOB]... [--dedup fleet|host]\n"
	"                  [--pre-hook CMD] [--post-hook CMD] [--hook-timeout SECONDS]\n"
	"                  (--pre-hook '' removes a hook; hooks run only on agents enrolled\n"
	"                  with --allow-hooks)\n"
	"  roost group list HOST\n"
	"  roost schedule add HOST NAME --cron EXPR --group NAME [--group NAME]... [--disabled]\n"
	"                     [--window HH:MM-HH:MM] [--keep-last N] [--keep-hourly N]\n"
	"                     [--keep-daily N] [--keep-weekly N] [--keep-monthly N] [--keep-yearly N]\n"
	"  roost schedule set HOST NAME [--cron EXPR] [--group NAME]... [--window HH:MM-HH:MM|\"\"]\n"
	"                     [--keep-... N]...\n"
	"  roost schedule list HOST | next HOST NAME [--count N] | enable|disable HOST NAME\n"
	"  roost backup HOST --group NAME [--wait|--no-wait] [--timeout SECONDS]\n"
	"  roost job list [--host HOST] [--status S] [--limit N] | show JOB | cancel JOB\n"
	"  roost job wait JOB [--timeout SECONDS]\n"
	"  roost snapshot list [--host HOST] | forget HOST SNAPSHOT\n"
	"  roost restore HOST SNAPSHOT --target DIR [--include PATH]... [--from-host OTHER]\n"
	"                [--wait|--no-wait] [--timeout SECONDS]\n"
	"  roost maintenance run [--wait] [--dry-run] [--timeout SECONDS] | list | show ID\n"
	"  roost repository show\n"
	"  roost events [--after ID] [--limit N] [--follow]\n"
	"  roost webhook add URL --event TYPE... [--format standard|ntfy|healthchecks]\n"
	"                      (URL http(s)://... or mailto:ADDRESS; --event '*' for all)\n"
	"  roost webhook list | remove ID | test ID\n"
	"  roost user add NAME --role admin|operator|viewer [--password-file F]\n"
	"  roost user list | remove NAME                  (dashboard users; roost user --help)\n"
	"\n"
	"backup and restore wait for their job when stdout is a terminal (job id, a progress\n"
	"line, how it ended; exit 0 only if it succeeded), else print the job id and return;\n"
	"see roost backup --help.\n"
	"\n"
	"Retention (--keep-*, restic's meaning) applies per host and group to the snapshots\n"
	"a schedule's jobs made; 0 or absent: that rule unused; no rule: keep all. Manual\n"
	"backups stay until forgotten by hand. roostd applies it during maintenance\n"
	"(nightly by default); `maintenance run --dry-run` shows what it would remove, why.\n"
	"\n"
	"Common options:\n"
	"  --server URL        roostd's address, https://HOST:PORT (or ROOST_SERVER)\n"
	"  --token-file F      file holding the admin token (or ROOST_TOKEN)\n"
	"  --fingerprint HEX   the server certificate's SHA-256 (or ROOST_FINGERPRINT);\n"
	"                      without it the certificate must be trusted by the system\n"
	"  --json              print the API's JSON\n"
	"HOST is a host id or its unique name.\n";

static int parse(int argc, char **argv, struct aopts *o, const char *usage)
{
	static const struct option lo[] = {
		{"server", required_argument, 0, 'S'},      {"token-file", required_argument, 0, 'T'},
		{"fingerprint", required_argument, 0, 'F'}, {"json", no_argument, 0, 'j'},
		{"ttl", required_argument, 0, 't'},         {"uses", required_argument, 0, 'u'},
		{"mode", required_argument, 0, 'm'},        {"path", required_argument, 0, 'p'},
		{"exclude", required_argument, 0, 'e'},     {"cron", required_argument, 0, 'c'},
		{"group", required_argument, 0, 'g'},       {"disabled", no_argument, 0, 'd'},
		{"count", required_argument, 0, 'n'},       {"host", required_argument, 0, 'H'},
		{"status", required_argument, 0, 's'},      {"limit", required_argument, 0, 'l'},
		{"target", required_argument, 0, 'R'},      {"include", required_argument, 0, 'i'},
		{"timeout", required_argument, 0, 'w'},     {"help", no_argument, 0, 'h'},
		{"keep-last", required_argument, 0, 1000},  {"keep-hourly", required_argument, 0, 1001},
		{"keep-daily", required_argument, 0, 1002}, {"keep-weekly", required_argument, 0, 1003},
		{"keep-monthly", required_argument, 0, 1004},
		{"keep-yearly", required_argument, 0, 1005},
		{"wait", no_argument, 0, 1010},             {"dry-run", no_argument, 0, 1011},
		{"no-wait", no_argument, 0, 1017},
		{"event", required_argument, 0, 'E'},       {"follow", no_argument, 0, 'f'},
		{"format", required_argument, 0, 'o'},      {"after", required_argument, 0, 'a'},
		{"from-host", required_argument, 0, 1012},  {"dedup", required_argument, 0, 1013},
		{"role", required_argument, 0, 1014},       {"password-file", required_argument, 0, 1015},
		{"upload-limit", required_argument, 0, 1016},
		{"pre-hook", required_argument, 0, 1030},   {"post-hook", required_argument, 0, 1031},
		{"hook-timeout", required_argument, 0, 1032},
		{"window", required_argument, 0, 1020},
		{"skip-on-battery", required_argument, 0, 1021},
		{"skip-on-metered", required_argument, 0, 1022},
		{0, 0, 0, 0},
	};
	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "-h", lo, NULL)) != -1) {
		switch (c) {
		case 1:
			if (o->npos == 8)
				return cli_fail(EXIT_USAGE, "too many arguments");
			o->pos[o->npos++] = optarg;
			break;
		case 'S': o->server = optarg; break;
		case 'T': o->token_file = optarg; break;
		case 'F': o->fingerprint = optarg; break;
		case 'j': o->json = 1; break;
		case 't': o->ttl = optarg; break;
		case 'u': o->uses = optarg; break;
		case 'm': o->mode = optarg; break;
		case 'c': o->cron = optarg; break;
		case 'd': o->disabled = 1; break;
		case 'n': o->count = optarg; break;
		case 'H': o->host = optarg; break;
		case 's': o->status = optarg; break;
		case 'l': o->limit = optarg; break;
		case 'R': o->target = optarg; break;
		case 1012: o->from_host = optarg; break;
		case 1013: o->dedup = optarg; break;
		case 1014: o->role = optarg; break;
		case 1015: o->password_file = optarg; break;
		case 1016: o->upload_limit = optarg; break;
		case 1030: o->pre_hook = optarg; break;
		case 1031: o->post_hook = optarg; break;
		case 1032: o->hook_timeout = optarg; break;
		case 1020: o->window = optarg; break;
		case 1021: o->skip_battery = optarg; break;
		case 1022: o->skip_metered = optarg; break;
		case 'w': o->timeout = optarg; break;
		case 1000: case 1001: case 1002: case 1003: case 1004: case 1005:
			o->keep[c - 1000] = optarg;
			break;
		case 1010: o->wait = 1; break;
		case 1017: o->no_wait = 1; break;
		case 1011: o->dry_run = 1; break;
		case 'E':
			if (o->nevents == MAXV)
				return cli_fail(EXIT_USAGE, "too many --event");
			o->events[o->nevents++] = optarg;
			break;
		case 'f': o->follow = 1; break;
		case 'o': o->format = optarg; break;
		case 'a': o->after = optarg; break;
		case 'p':
		case 'e':
		case 'g':
		case 'i': {
			const char **arr = c == 'p' ? o->paths : c == 'e' ? o->excludes
			                                    : c == 'g' ? o->groups : o->includes;
			int *n = c == 'p' ? &o->npaths : c == 'e' ? &o->nexcludes
			                          : c == 'g' ? &o->ngroups : &o->nincludes;
			if (*n == MAXV)
				return cli_fail(EXIT_USAGE, "at most %d of each repeated option", MAXV);
			arr[(*n)++] = optarg;
			break;
		}
		case 'h':
			fputs(usage, stdout);
			return -1;
		default:
			return cli_fail(EXIT_USAGE, "unknown or incomplete option %s",
			                argv[optind - 1]);
		}
	}
	return 0;
}

/* ---- connection ---- */

static int api_open(const struct aopts *o, struct api *a)
{
	const char *server = o->server ? o->server : getenv("ROOST_SERVER");
	const char *fp = o->fingerprint ? o->fingerprint : getenv("ROOST_FINGERPRINT");
	if (!server || !*server)
		return cli_fail(EXIT_USAGE, "no server: give --server https://HOST:PORT or set "
		                            "ROOST_SERVER");
	char tok[512] = "";
	if (o->token_file) {
		FILE *f = fopen(o->token_file, "re");
		if (!f)
			return cli_fail(EXIT_USAGE, "--token-file %s: cannot read it", o->token_file);
		size_t n = fread(tok, 1, sizeof(tok) - 1, f);
		fclose(f);
		tok[n] = 0;
	} else if (getenv("ROOST_TOKEN")) {
		snprintf(tok, sizeof(tok), "%s", getenv("ROOST_TOKEN"));
	}
	tok[strcspn(tok, "\r\n ")] = 0;
	if (!tok[0])
		return cli_fail(EXIT_USAGE, "no admin token: set ROOST_TOKEN or give --token-file "
		                            "(roostd wrote it to DATA/admin.token)");
	char auth[600];
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	struct roost_errbuf eb = {{0}};
	enum roost_err err = roost_http_new(server, fp, auth, 30, &a->h, &eb);
	if (err)
		return cli_fail(err == ROOST_EINVAL ? EXIT_USAGE : EXIT_FAIL, "%s", eb.msg);
	a->json = o->json;
	return 0;
}

int call(struct api *a, const char *method, const char *path, json_t *body,
                json_t **out)
{
	*out = NULL;
	char *b = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	struct roost_http_resp r;
	struct roost_errbuf eb = {{0}};
	const char *hdrs[] = {"Content-Type: application/json", NULL};
	enum roost_err err = roost_http_request(a->h, method, path, b ? hdrs : NULL, b,
	                                        b ? strlen(b) : 0, 64u << 20, &r, &eb);
	free(b);
	if (err)
		return cli_fail(EXIT_FAIL, "%s", eb.msg);
	json_t *j = r.body ? json_loadb((const char *)r.body, r.len, 0, NULL) : NULL;
	int status = r.status;
	roost_http_resp_free(&r);
	if (status / 100 != 2) {
		json_t *e = json_object_get(j, "error");
		const char *msg = json_string_value(json_object_get(e, "message"));
		const char *code = json_string_value(json_object_get(e, "code"));
		int rc = status == 400 || status == 404 ? EXIT_USAGE : EXIT_FAIL;
		if (status == 401)
			cli_fail(rc, "the server refused the admin token (HTTP 401)");
		else
			cli_fail(rc, "%s (HTTP %d%s%s)", msg ? msg : "request failed", status,
			         code ? ", " : "", code ? code : "");
		json_decref(j);
		return rc;
	}
	*out = j ? j : json_null();
	return 0;
}

void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
	if (s)
		puts(s);
	free(s);
}

void show(const struct api *a, json_t *r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void show(const struct api *a, json_t *r, const char *fmt, ...)
{
	if (a->json) {
		print_json(r);
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_true(v))
		return "yes";
	if (json_is_false(v))
		return "no";
	return "-";
}

long long jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

char *esc(const char *s)
{
	return roost_url_escape(s);
}

int need(const struct aopts *o, int n, const char *usage)
{
	if (o->npos != n)
		return cli_fail(EXIT_USAGE, "usage: roost %s", usage);
	return 0;
}

json_t *strarr(const char **v, int n)
{
	json_t *a = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

int find_named(struct api *a, const char *path, const char *name, const char *what,
                      long long *id)
{
	json_t *r;
	int rc;
	if ((rc = call(a, "GET", path, NULL, &r)))
		return rc;
	size_t i;
	json_t *e;
	*id = 0;
	json_array_foreach(r, i, e) if (!strcmp(jstr(e, "name"), name)) *id = jint(e, "id");
	json_decref(r);
	if (!*id) {
		char *e2;
		long long v = strtoll(name, &e2, 10);
		if (*name && !*e2 && v > 0) {
			*id = v;
			return 0;
		}
		return cli_fail(EXIT_USAGE, "no %s named \"%s\" on that host", what, name);
	}
	return 0;
}

/* Every command group and the function that runs it (and its own --help, when it
 * has one); a new group is a line here and a file of its own. */
static const struct {
	const char *name;
	int (*run)(struct api *a, struct aopts *o);
	const char *usage;
} groups[] = {
	{"token", token_cmd, NULL},
	{"host", host_cmd, NULL},
	{"group", group_cmd, NULL},
	{"schedule", schedule_cmd, NULL},
	{"backup", backup_cmd, backup_usage},
	{"restore", restore_cmd, restore_usage},
	{"job", job_cmd, job_usage},
	{"snapshot", snapshot_cmd, NULL},
	{"maintenance", maintenance_cmd, NULL},
	{"repository", repository_cmd, NULL},
	{"events", events_cmd, NULL},
	{"webhook", webhook_cmd, NULL},
	{"user", user_cmd, user_usage},
};

int cmd_admin(const char *group, int argc, char **argv)
{
	size_t g = 0;
	while (g < sizeof(groups) / sizeof(groups[0]) && strcmp(groups[g].name, group))
		g++;
	if (g == sizeof(groups) / sizeof(groups[0]))
		return cli_fail(EXIT_USAGE, "unknown command \"%s\"", group);
	struct aopts o;
	int rc = parse(argc, argv, &o, groups[g].usage ? groups[g].usage : admin_usage);
	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	struct api a = {0};
	if ((rc = api_open(&o, &a)))
		return rc;
	rc = groups[g].run(&a, &o);
	roost_http_free(a.h);
	return rc;
}

int cmd_admin_known(const char *group)
{
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
		if (!strcmp(group, groups[g].name))
			return 1;
	return 0;
}
