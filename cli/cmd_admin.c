/* SPDX-License-Identifier: MIT */
/*
 * The fleet admin command groups over hosts and their work: token, host,
 * group, schedule, backup, restore, job, snapshot (DESIGN.md, "Admin
 * client"). Plumbing and option parsing are in admin_client.c.
 */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"

/* ---- printing ---- */

static void print_host_row(json_t *h)
{
	json_t *cj = json_object_get(h, "current_job_id");
	char cur[24] = "-";
	if (json_is_integer(cj))
		snprintf(cur, sizeof(cur), "%lld", (long long)json_integer_value(cj));
	char why[300];
	health_why(h, why, sizeof(why));
	printf("%-5lld %-20s %-12s %-7s %-21s %-8s %-7s %s\n", jint(h, "id"), jstr(h, "name"),
	       jstr(h, "mode"), jstr(h, "online"), jstr(h, "last_backup_at"), cur,
	       jstr(h, "overdue"), why);
}

static void print_job_row(json_t *j)
{
	json_t *st = json_object_get(j, "stats");
	printf("%-6lld %-5lld %-8s %-9s %-11s %-21s %-21s %8lld %12lld %12lld %s\n", jint(j, "id"),
	       jint(j, "host_id"), jstr(j, "kind"), jstr(j, "trigger"), jstr(j, "status"),
	       jstr(j, "created_at"), jstr(j, "finished_at"), jint(st, "files"), jint(st, "bytes"),
	       jint(st, "bytes_new"), jstr(j, "error"));
}

static const char job_hdr[] = "JOB    HOST  KIND     TRIGGER   STATUS      CREATED               "
                              "FINISHED                 FILES        BYTES    BYTES_NEW ERROR/REASON\n";


/* ---- usage of the commands that wait ---- */

#define WAIT_HELP                                                                            \
	"\n"                                                                                      \
	"Waiting: when stdout is a terminal the command waits for its job. It prints the\n"      \
	"job id, keeps one progress line on stderr (queued, waiting for the host to come\n"     \
	"online, deferred and why, or running with files, bytes and rate), and ends with\n"     \
	"one line that says how the job ended. When stdout is not a terminal (J=$(roost\n"     \
	"backup ...) in a script) it prints the job id and returns at once.\n"                 \
	"  --wait             wait also when stdout is not a terminal\n"                        \
	"  --no-wait          do not wait: print the job id and return\n"                       \
	"  --timeout SECONDS  stop waiting after that long (exit 1; the job goes on)\n"        \
	"  --json             print the job: the final one when waiting\n"                      \
	"Exit status when waiting: 0 the job succeeded; 1 it failed, was canceled or was\n"     \
	"interrupted, or --timeout passed; 130 Ctrl-C, which stops the waiting and not the\n"  \
	"job (roost job wait JOB follows it again, roost job cancel JOB stops it).\n"          \
	"Common options: --server URL, --token-file F, --fingerprint HEX (roost host --help).\n"

const char backup_usage[] =
	"usage: roost backup HOST --group NAME [--wait|--no-wait] [--timeout SECONDS] [--json]\n"
	"\n"
	"Queues a manual backup of one of HOST's groups; the host's agent runs it (now, or\n"
	"when it comes online).\n" WAIT_HELP;

const char restore_usage[] =
	"usage: roost restore HOST SNAPSHOT --target DIR [--include PATH]... [--from-host OTHER]\n"
	"                     [--wait|--no-wait] [--timeout SECONDS] [--json]\n"
	"\n"
	"Queues a restore of SNAPSHOT (an id, a unique prefix of one, or latest) into DIR\n"
	"(absolute, on HOST); HOST's agent runs it. --include restores only those paths;\n"
	"--from-host names the snapshot's host for a cross-host restore (admins).\n" WAIT_HELP;

const char job_usage[] =
	"usage: roost job list [--host HOST] [--status S] [--limit N] | show JOB | cancel JOB\n"
	"       roost job wait JOB [--timeout SECONDS] [--json]\n"
	"\n"
	"job wait follows JOB until it ends (default --timeout 3600): a progress line on\n"
	"stderr when that is a terminal, then one line on stdout that says how it ended\n"
	"(the final job with --json). Exit 0 if it succeeded, 1 if it failed, was canceled\n"
	"or interrupted, or the timeout passed (the job goes on), 130 on Ctrl-C (the job\n"
	"goes on). Common options: roost host --help.\n";

/* Does this backup or restore wait for its job (and how long: *timeout)?
 * *rc: a usage error. Checked before the job is created. */
static int waits(const struct aopts *o, long long *timeout, int *rc)
{
	*rc = 0;
	*timeout = 0;
	if (o->wait && o->no_wait)
		*rc = cli_fail(EXIT_USAGE, "--wait and --no-wait: give one of them");
	else if (o->timeout && o->no_wait)
		*rc = cli_fail(EXIT_USAGE, "--timeout is how long to wait: not with --no-wait");
	else if (o->timeout && cli_parse_int(o->timeout, 1, 86400 * 365, timeout))
		*rc = cli_fail(EXIT_USAGE, "--timeout: seconds, 1 or more");
	if (*rc || o->no_wait)
		return 0;
	return o->wait || isatty(STDOUT_FILENO);
}

/* After a backup or restore created job r: its id, then the waiting
 * (timeout < 0: do not wait). */
static int after_create(struct api *a, json_t *r, long long timeout)
{
	long long id = jint(r, "id");
	if (timeout < 0) {
		show(a, r, "%lld\n", id);
		json_decref(r);
		return 0;
	}
	json_decref(r);
	if (!a->json) {
		printf("%lld\n", id);
		fflush(stdout);
	}
	struct wait_opts w = {.progress = isatty(STDERR_FILENO), .timeout = timeout, .created = 1};
	return job_follow(a, id, &w);
}

/* ---- commands ---- */

int token_cmd(struct api *a, struct aopts *o)
{
	if (o->npos != 1 || strcmp(o->pos[0], "create"))
		return cli_fail(EXIT_USAGE, "usage: roost token create [--ttl SECONDS] [--uses N]");
	json_t *b = json_object();
	long long v;
	if (o->ttl) {
		if (cli_parse_int(o->ttl, 1, 365LL * 86400, &v))
			return cli_fail(EXIT_USAGE, "--ttl: seconds between 1 and 31536000");
		json_object_set_new(b, "ttl", json_integer(v));
	}
	if (o->uses) {
		if (cli_parse_int(o->uses, 1, 100000, &v))
			return cli_fail(EXIT_USAGE, "--uses: between 1 and 100000");
		json_object_set_new(b, "uses", json_integer(v));
	}
	json_t *r;
	int rc;
	if ((rc = call(a, "POST", "/v1/enroll-tokens", b, &r)))
		return rc;
	show(a, r, "%s\n", jstr(r, "token"));
	json_decref(r);
	return 0;
}

int host_cmd(struct api *a, struct aopts *o)
{
	const char *verb = o->npos ? o->pos[0] : "";
	json_t *r;
	int rc;
	if (!strcmp(verb, "list")) {
		if ((rc = need(o, 1, "host list")) || (rc = call(a, "GET", "/v1/hosts", NULL, &r)))
			return rc;
		if (a->json) {
			print_json(r);
		} else {
			printf("ID    NAME                 MODE         ONLINE  LAST_BACKUP           "
			       "CUR_JOB  OVERDUE HEALTH\n");
			size_t i;
			json_t *h;
			json_array_foreach(r, i, h) print_host_row(h);
			warn_failed_check(a);
		}
		json_decref(r);
		return 0;
	}
	if (o->npos < 2)
		return cli_fail(EXIT_USAGE, "usage: roost host list | show HOST | set HOST [--mode M] "
		                            "[--upload-limit KIB] | remove HOST");
	char *h = esc(o->pos[1]);
	char path[600];
	snprintf(path, sizeof(path), "/v1/hosts/%s", h);
	free(h);
	if (!strcmp(verb, "show")) {
		if ((rc = need(o, 2, "host show HOST")) || (rc = call(a, "GET", path, NULL, &r)))
			return rc;
		if (a->json) {
			print_json(r);
		} else {
			const char *keys[] = {"name", "hostname", "os", "mode", "online", "tz",
			                      "last_seen_at", "last_backup_at", "overdue",
			                      "skip_on_battery", "skip_on_metered", "on_battery",
			                      "metered", NULL};
			printf("id: %lld\n", jint(r, "id"));
			for (int i = 0; keys[i]; i++)
				printf("%s: %s\n", keys[i], jstr(r, keys[i]));
			if (jint(r, "upload_limit_kbps") > 0)
				printf("upload_limit: %lld KiB/s\n", jint(r, "upload_limit_kbps"));
			else
				printf("upload_limit: none\n");
			json_t *cj = json_object_get(r, "current_job_id");
			if (json_is_integer(cj))
				printf("current_job_id: %lld\n", (long long)json_integer_value(cj));
			else
				printf("current_job_id: -\n");
			char why[300];
			health_why(r, why, sizeof(why));
			printf("health: %s\n", why);
			print_backups(r);
		}
	} else if (!strcmp(verb, "set")) {
		if ((rc = need(o, 2, "host set HOST [--mode always-on|intermittent] "
		                     "[--upload-limit KIB] [--skip-on-battery yes|no] "
		                     "[--skip-on-metered yes|no]")))
			return rc;
		if (o->mode && strcmp(o->mode, "always-on") && strcmp(o->mode, "intermittent"))
			return cli_fail(EXIT_USAGE, "--mode: always-on or intermittent");
		json_t *b = json_object();
		if (o->mode)
			json_object_set_new(b, "mode", json_string(o->mode));
		if (o->upload_limit) {
			char *e;
			errno = 0;
			long long v = strtoll(o->upload_limit, &e, 10);
			if (errno || e == o->upload_limit || *e || v < 0 || v > 10000000) {
				json_decref(b);
				return cli_fail(EXIT_USAGE, "--upload-limit: KiB/s from 0 (none) to 10000000");
			}
			json_object_set_new(b, "upload_limit_kbps", json_integer(v));
		}
		const char *yn[2] = {o->skip_battery, o->skip_metered};
		static const char *const yk[2] = {"skip_on_battery", "skip_on_metered"};
		for (int i = 0; i < 2; i++) {
			if (!yn[i])
				continue;
			if (strcmp(yn[i], "yes") && strcmp(yn[i], "no")) {
				json_decref(b);
				return cli_fail(EXIT_USAGE, "--skip-on-%s: yes or no", i ? "metered" : "battery");
			}
			json_object_set_new(b, yk[i], json_boolean(!strcmp(yn[i], "yes")));
		}
		if (!json_object_size(b)) {
			json_decref(b);
			return cli_fail(EXIT_USAGE, "host set: give --mode, --upload-limit, "
			                            "--skip-on-battery or --skip-on-metered");
		}
		if ((rc = call(a, "PATCH", path, b, &r)))
			return rc;
		char lim[48] = "uploads not limited";
		if (jint(r, "upload_limit_kbps") > 0)
			snprintf(lim, sizeof(lim), "uploads limited to %lld KiB/s",
			         jint(r, "upload_limit_kbps"));
		show(a, r, "host %s is now %s, %s, skip on battery %s, skip on metered %s\n",
		     jstr(r, "name"), jstr(r, "mode"), lim, jstr(r, "skip_on_battery"),
		     jstr(r, "skip_on_metered"));
	} else if (!strcmp(verb, "remove")) {
		if ((rc = need(o, 2, "host remove HOST")) || (rc = call(a, "DELETE", path, NULL, &r)))
			return rc;
		show(a, r, "host %s removed\n", o->pos[1]);
	} else {
		return cli_fail(EXIT_USAGE, "host: unknown verb \"%s\"", verb);
	}
	json_decref(r);
	return 0;
}

/* The hook options into b; 0, or a usage error. */
static int hook_fields(const struct aopts *o, json_t *b, const char *cmd)
{
	if (o->pre_hook)
		json_object_set_new(b, "pre_hook", json_string(o->pre_hook));
	if (o->post_hook)
		json_object_set_new(b, "post_hook", json_string(o->post_hook));
	if (o->hook_timeout) {
		char *e;
		long long s = strtoll(o->hook_timeout, &e, 10);
		if (e == o->hook_timeout || *e || s < 1 || s > 86400)
			return cli_fail(EXIT_USAGE, "%s: --hook-timeout is 1 to 86400 seconds", cmd);
		json_object_set_new(b, "hook_timeout_s", json_integer(s));
	}
	return 0;
}

int group_cmd(struct api *a, struct aopts *o)
{
	const char *verb = o->npos ? o->pos[0] : "";
	json_t *r;
	int rc;
	char path[600];
	if (o->npos >= 2) {
		char *h = esc(o->pos[1]);
		snprintf(path, sizeof(path), "/v1/hosts/%s/groups", h);
		free(h);
	}
	if (!strcmp(verb, "add")) {
		if ((rc = need(o, 3, "group add HOST NAME --path P [--path P]... [--exclude GLOB]... "
		                     "[--dedup fleet|host] [--pre-hook CMD] [--post-hook CMD] "
		                     "[--hook-timeout SECONDS]")))
			return rc;
		if (!o->npaths)
			return cli_fail(EXIT_USAGE, "group add: at least one --path");
		if (o->dedup && strcmp(o->dedup, "fleet") && strcmp(o->dedup, "host"))
			return cli_fail(EXIT_USAGE, "group add: --dedup is fleet or host");
		json_t *b = json_pack("{s:s, s:o, s:o}", "name", o->pos[2], "paths",
		                      strarr(o->paths, o->npaths), "excludes",
		                      strarr(o->excludes, o->nexcludes));
		if (o->dedup)
			json_object_set_new(b, "dedup", json_string(o->dedup));
		if ((rc = hook_fields(o, b, "group add"))) {
			json_decref(b);
			return rc;
		}
		if ((rc = call(a, "POST", path, b, &r)))
			return rc;
		show(a, r, "group %s created (id %lld)\n", jstr(r, "name"), jint(r, "id"));
	} else if (!strcmp(verb, "set")) {
		if ((rc = need(o, 3, "group set HOST NAME [--path P]... [--exclude GLOB]... "
		                     "[--dedup fleet|host] [--pre-hook CMD] [--post-hook CMD] "
		                     "[--hook-timeout SECONDS]")))
			return rc;
		if (o->dedup && strcmp(o->dedup, "fleet") && strcmp(o->dedup, "host"))
			return cli_fail(EXIT_USAGE, "group set: --dedup is fleet or host");
		json_t *b = json_object();
		if (o->npaths)
			json_object_set_new(b, "paths", strarr(o->paths, o->npaths));
		if (o->nexcludes)
			json_object_set_new(b, "excludes", strarr(o->excludes, o->nexcludes));
		if (o->dedup)
			json_object_set_new(b, "dedup", json_string(o->dedup));
		if ((rc = hook_fields(o, b, "group set"))) {
			json_decref(b);
			return rc;
		}
		if (!json_object_size(b)) {
			json_decref(b);
			return cli_fail(EXIT_USAGE, "group set: nothing to change (give --path, --exclude, "
			                            "--dedup, --pre-hook, --post-hook or --hook-timeout)");
		}
		long long id;
		if ((rc = find_named(a, path, o->pos[2], "group", &id))) {
			json_decref(b);
			return rc;
		}
		char gp[700];
		snprintf(gp, sizeof(gp), "%s/%lld", path, id);
		if ((rc = call(a, "PATCH", gp, b, &r)))
			return rc;
		show(a, r, "group %s saved (hook timeout %lld s)\n", jstr(r, "name"),
		     jint(r, "hook_timeout_s"));
	} else if (!strcmp(verb, "list")) {
		if ((rc = need(o, 2, "group list HOST")) || (rc = call(a, "GET", path, NULL, &r)))
			return rc;
		if (a->json) {
			print_json(r);
		} else {
			printf("ID    NAME                 PATHS / EXCLUDES\n");
			size_t i, k;
			json_t *g, *p;
			json_array_foreach(r, i, g) {
				printf("%-5lld %-20s", jint(g, "id"), jstr(g, "name"));
				json_array_foreach(json_object_get(g, "paths"), k, p)
					printf(" %s", json_string_value(p));
				json_array_foreach(json_object_get(g, "excludes"), k, p)
					printf(" !%s", json_string_value(p));
				if (!strcmp(jstr(g, "dedup"), "host"))
					printf(" (dedup host)");
				if (*jstr(g, "pre_hook") || *jstr(g, "post_hook"))
					printf(" (hooks:%s%s, timeout %lld s)", *jstr(g, "pre_hook") ? " pre" : "",
					       *jstr(g, "post_hook") ? " post" : "", jint(g, "hook_timeout_s"));
				printf("\n");
			}
		}
	} else {
		return cli_fail(EXIT_USAGE, "usage: roost group add|set|list HOST ...");
	}
	json_decref(r);
	return 0;
}

int schedule_cmd(struct api *a, struct aopts *o)
{
	const char *verb = o->npos ? o->pos[0] : "";
	json_t *r = NULL;
	int rc;
	if (o->npos < 2)
		return cli_fail(EXIT_USAGE,
		                "usage: roost schedule add|set|list|next|enable|disable HOST ...");
	char *h = esc(o->pos[1]);
	char base[600], gpath[600], path[700];
	snprintf(base, sizeof(base), "/v1/hosts/%s/schedules", h);
	snprintf(gpath, sizeof(gpath), "/v1/hosts/%s/groups", h);
	free(h);
	if (!strcmp(verb, "add")) {
		if ((rc = need(o, 3, "schedule add HOST NAME --cron EXPR --group NAME [--group NAME]... "
		                     "[--disabled]")))
			return rc;
		if (!o->cron || !o->ngroups)
			return cli_fail(EXIT_USAGE, "schedule add: --cron and at least one --group");
		json_t *ids = json_array();
		for (int i = 0; i < o->ngroups; i++) {
			long long id;
			if ((rc = find_named(a, gpath, o->groups[i], "group", &id))) {
				json_decref(ids);
				return rc;
			}
			json_array_append_new(ids, json_integer(id));
		}
		json_t *ret = retention_body(o, &rc);
		if (rc) {
			json_decref(ids);
			return rc;
		}
		json_t *b = json_pack("{s:s, s:s, s:o, s:b}", "name", o->pos[2], "cron", o->cron,
		                      "group_ids", ids, "enabled", !o->disabled);
		if (ret)
			json_object_set_new(b, "retention", ret);
		if (o->window)
			json_object_set_new(b, "window", json_string(o->window));
		if ((rc = call(a, "POST", base, b, &r)))
			return rc;
		show(a, r, "schedule %s created (id %lld), next run %s\n", jstr(r, "name"),
			       jint(r, "id"), jstr(r, "next_at"));
	} else if (!strcmp(verb, "list")) {
		if ((rc = need(o, 2, "schedule list HOST")) || (rc = call(a, "GET", base, NULL, &r)))
			return rc;
		if (a->json) {
			print_json(r);
		} else {
			printf("ID    NAME                 ENABLED  NEXT                  GROUPS  "
			       "WINDOW       RETENTION                      CRON\n");
			size_t i, k;
			json_t *s, *g;
			json_array_foreach(r, i, s) {
				char groups[128] = "";
				size_t gl = 0;
				json_array_foreach(json_object_get(s, "group_ids"), k, g)
					if (gl < sizeof(groups) - 24)
						gl += (size_t)snprintf(groups + gl, sizeof(groups) - gl, "%s%lld",
						                       k ? "," : "", (long long)json_integer_value(g));
				char ret[160];
				retention_text(json_object_get(s, "retention"), ret, sizeof(ret));
				printf("%-5lld %-20s %-8s %-21s %-7s %-12s %-30s %s\n", jint(s, "id"),
				       jstr(s, "name"), jstr(s, "enabled"), jstr(s, "next_at"), groups,
				       *jstr(s, "window") ? jstr(s, "window") : "always", ret, jstr(s, "cron"));
			}
		}
	} else if (!strcmp(verb, "set")) {
		if ((rc = need(o, 3, "schedule set HOST NAME [--cron EXPR] [--group NAME]... "
		                     "[--keep-last N] ... [--keep-yearly N]")))
			return rc;
		long long id;
		json_t *b = retention_body(o, &rc);
		if (rc)
			return rc;
		b = b ? json_pack("{s:o}", "retention", b) : json_object();
		if (o->cron)
			json_object_set_new(b, "cron", json_string(o->cron));
		if (o->window)
			json_object_set_new(b, "window", json_string(o->window));
		if (o->ngroups) {
			json_t *ids = json_array();
			json_object_set_new(b, "group_ids", ids);
			for (int i = 0; i < o->ngroups; i++) {
				long long gid;
				if ((rc = find_named(a, gpath, o->groups[i], "group", &gid))) {
					json_decref(b);
					return rc;
				}
				json_array_append_new(ids, json_integer(gid));
			}
		}
		if (!json_object_size(b)) {
			json_decref(b);
			return cli_fail(EXIT_USAGE, "schedule set: nothing to change (give --cron, --group, "
			                            "--window or --keep-*)");
		}
		if ((rc = find_named(a, base, o->pos[2], "schedule", &id))) {
			json_decref(b);
			return rc;
		}
		snprintf(path, sizeof(path), "%s/%lld", base, id);
		if ((rc = call(a, "PATCH", path, b, &r)))
			return rc;
		char ret[160];
		retention_text(json_object_get(r, "retention"), ret, sizeof(ret));
		show(a, r, "schedule %s saved: cron %s, window %s, retention %s, next run %s\n",
		     jstr(r, "name"), jstr(r, "cron"), *jstr(r, "window") ? jstr(r, "window") : "always",
		     ret, jstr(r, "next_at"));
	} else if (!strcmp(verb, "next") || !strcmp(verb, "enable") || !strcmp(verb, "disable")) {
		if ((rc = need(o, 3, "schedule next|enable|disable HOST NAME")))
			return rc;
		long long id;
		if ((rc = find_named(a, base, o->pos[2], "schedule", &id)))
			return rc;
		if (!strcmp(verb, "next")) {
			long long n = 5;
			if (o->count && cli_parse_int(o->count, 1, 1000, &n))
				return cli_fail(EXIT_USAGE, "--count: between 1 and 1000");
			snprintf(path, sizeof(path), "%s/%lld/next?count=%lld", base, id, n);
			if ((rc = call(a, "GET", path, NULL, &r)))
				return rc;
			if (a->json) {
				print_json(r);
			} else {
				size_t i;
				json_t *t;
				json_array_foreach(json_object_get(r, "next"), i, t)
					printf("%s\n", json_string_value(t));
			}
		} else {
			snprintf(path, sizeof(path), "%s/%lld", base, id);
			json_t *b = json_pack("{s:b}", "enabled", !strcmp(verb, "enable"));
			if ((rc = call(a, "PATCH", path, b, &r)))
				return rc;
			show(a, r, "schedule %s %sd\n", jstr(r, "name"), verb);
		}
	} else {
		return cli_fail(EXIT_USAGE, "schedule: unknown verb \"%s\"", verb);
	}
	json_decref(r);
	return 0;
}

int backup_cmd(struct api *a, struct aopts *o)
{
	int rc;
	if ((rc = need(o, 1, "backup HOST --group NAME")))
		return rc;
	if (o->ngroups != 1)
		return cli_fail(EXIT_USAGE, "backup: exactly one --group");
	long long timeout;
	if (!waits(o, &timeout, &rc))
		timeout = -1;
	if (rc)
		return rc;
	char *h = esc(o->pos[0]);
	char gpath[600], path[600];
	snprintf(gpath, sizeof(gpath), "/v1/hosts/%s/groups", h);
	snprintf(path, sizeof(path), "/v1/hosts/%s/backup", h);
	free(h);
	long long gid;
	if ((rc = find_named(a, gpath, o->groups[0], "group", &gid)))
		return rc;
	json_t *b = json_pack("{s:I}", "group_id", (json_int_t)gid), *r;
	if ((rc = call(a, "POST", path, b, &r)))
		return rc;
	return after_create(a, r, timeout);
}

int restore_cmd(struct api *a, struct aopts *o)
{
	int rc;
	if ((rc = need(o, 2, "restore HOST SNAPSHOT --target DIR [--include PATH]...")))
		return rc;
	if (!o->target || o->target[0] != '/')
		return cli_fail(EXIT_USAGE, "restore: --target must be an absolute directory on the host");
	long long timeout;
	if (!waits(o, &timeout, &rc))
		timeout = -1;
	if (rc)
		return rc;
	char *h = esc(o->pos[0]);
	char path[600];
	snprintf(path, sizeof(path), "/v1/hosts/%s/restore", h);
	free(h);
	json_t *b = json_pack("{s:s, s:s, s:o}", "snapshot_id", o->pos[1], "target", o->target,
	                      "include", strarr(o->includes, o->nincludes)),
	       *r;
	if (o->from_host) /* a cross-host restore: the admin names the snapshot's host */
		json_object_set_new(b, "from_host", json_string(o->from_host));
	if ((rc = call(a, "POST", path, b, &r)))
		return rc;
	return after_create(a, r, timeout);
}

int job_cmd(struct api *a, struct aopts *o)
{
	const char *verb = o->npos ? o->pos[0] : "";
	json_t *r;
	int rc;
	if (!strcmp(verb, "list")) {
		if ((rc = need(o, 1, "job list [--host HOST] [--status S] [--limit N]")))
			return rc;
		char path[800] = "/v1/jobs?";
		const char *keys[] = {"host", "status", "limit"};
		const char *vals[] = {o->host, o->status, o->limit};
		for (int i = 0; i < 3; i++) {
			if (!vals[i])
				continue;
			char *e = esc(vals[i]);
			size_t l = strlen(path);
			snprintf(path + l, sizeof(path) - l, "%s=%s&", keys[i], e);
			free(e);
		}
		path[strlen(path) - 1] = 0;
		if ((rc = call(a, "GET", path, NULL, &r)))
			return rc;
		if (a->json) {
			print_json(r);
		} else {
			fputs(job_hdr, stdout);
			size_t i;
			json_t *j;
			json_array_foreach(r, i, j) print_job_row(j);
		}
		json_decref(r);
		return 0;
	}
	if ((rc = need(o, 2, "job show|cancel|wait JOB")))
		return rc;
	long long id;
	if (cli_parse_int(o->pos[1], 1, INT64_MAX, &id))
		return cli_fail(EXIT_USAGE, "JOB: expected a job id, got \"%s\"", o->pos[1]);
	char path[128];
	if (!strcmp(verb, "show")) {
		snprintf(path, sizeof(path), "/v1/jobs/%lld", id);
		if ((rc = call(a, "GET", path, NULL, &r)))
			return rc;
	} else if (!strcmp(verb, "cancel")) {
		snprintf(path, sizeof(path), "/v1/jobs/%lld/cancel", id);
		if ((rc = call(a, "POST", path, NULL, &r)))
			return rc;
	} else if (!strcmp(verb, "wait")) {
		struct wait_opts w = {.progress = isatty(STDERR_FILENO), .timeout = 3600};
		if (o->timeout && cli_parse_int(o->timeout, 1, 86400 * 7, &w.timeout))
			return cli_fail(EXIT_USAGE, "--timeout: seconds");
		return job_follow(a, id, &w);
	} else {
		return cli_fail(EXIT_USAGE, "job: unknown verb \"%s\"", verb);
	}
	if (a->json) {
		print_json(r);
	} else {
		fputs(job_hdr, stdout);
		print_job_row(r);
		if (json_is_string(json_object_get(r, "hook_output")))
			printf("\nhooks' output (its end):\n%s\n", jstr(r, "hook_output"));
	}
	json_decref(r);
	return 0;
}

/* forget HOST SNAPSHOT: the snapshot (an id or a unique prefix of one) must
 * be one of that host's */
static int snapshot_forget(struct api *a, struct aopts *o)
{
	int rc;
	if ((rc = need(o, 3, "snapshot forget HOST SNAPSHOT")))
		return rc;
	char *h = esc(o->pos[1]);
	char path[700];
	snprintf(path, sizeof(path), "/v1/snapshots?host=%s", h);
	free(h);
	json_t *r;
	if ((rc = call(a, "GET", path, NULL, &r)))
		return rc;
	const char *ref = o->pos[2], *found = NULL;
	int matches = 0;
	size_t i;
	json_t *s;
	json_array_foreach(r, i, s) if (!strncmp(jstr(s, "id"), ref, strlen(ref))) {
		found = jstr(s, "id");
		matches++;
	}
	if (!*ref || matches != 1) {
		if (matches > 1)
			rc = cli_fail(EXIT_USAGE, "\"%s\" names %d snapshots of %s; give more of the id",
			              ref, matches, o->pos[1]);
		else
			rc = cli_fail(EXIT_USAGE, "%s has no snapshot \"%s\"", o->pos[1], ref);
		json_decref(r);
		return rc;
	}
	char *e = esc(found);
	snprintf(path, sizeof(path), "/v1/snapshots/%s", e);
	free(e);
	json_t *d;
	rc = call(a, "DELETE", path, NULL, &d);
	if (!rc)
		show(a, d, "snapshot %.8s of %s forgotten; its data goes with the next maintenance\n",
		     found, o->pos[1]);
	json_decref(d);
	json_decref(r);
	return rc;
}

int snapshot_cmd(struct api *a, struct aopts *o)
{
	int rc;
	if (o->npos >= 1 && !strcmp(o->pos[0], "forget"))
		return snapshot_forget(a, o);
	if (o->npos != 1 || strcmp(o->pos[0], "list"))
		return cli_fail(EXIT_USAGE, "usage: roost snapshot list [--host HOST] | forget HOST "
		                            "SNAPSHOT");
	char path[600] = "/v1/snapshots";
	if (o->host) {
		char *e = esc(o->host);
		snprintf(path, sizeof(path), "/v1/snapshots?host=%s", e);
		free(e);
	}
	json_t *r;
	if ((rc = call(a, "GET", path, NULL, &r)))
		return rc;
	if (a->json) {
		print_json(r);
	} else {
		printf("ID        TIME                  HOST                 FILES        BYTES    "
		       "BYTES_NEW PATHS\n");
		size_t i, k;
		json_t *s, *p;
		json_array_foreach(r, i, s) {
			json_t *sum = json_object_get(s, "summary");
			printf("%.8s  %-21s %-20s %5lld %12lld %12lld", jstr(s, "id"), jstr(s, "time"),
			       jstr(s, "hostname"), jint(sum, "files"), jint(sum, "bytes"),
			       jint(sum, "bytes_new"));
			json_array_foreach(json_object_get(s, "paths"), k, p)
				printf(" %s", json_string_value(p));
			printf("\n");
		}
	}
	json_decref(r);
	return 0;
}
