/* SPDX-License-Identifier: MIT */
/*
 * `roost maintenance` and `roost repository` (DESIGN.md, "Retention and
 * repository maintenance"), and the retention options the schedule
 * commands share: thin clients of roostd's REST API.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"

static const char *const keep_names[6] = {"keep_last",   "keep_hourly",  "keep_daily",
                                          "keep_weekly", "keep_monthly", "keep_yearly"};

json_t *retention_body(const struct aopts *o, int *rc)
{
	*rc = 0;
	json_t *r = NULL;
	for (int i = 0; i < 6; i++) {
		if (!o->keep[i])
			continue;
		long long v;
		if (cli_parse_int(o->keep[i], 0, 1000000, &v)) {
			json_decref(r);
			*rc = cli_fail(EXIT_USAGE, "--keep-%s: a count between 0 (rule unused) and 1000000",
			               keep_names[i] + 5);
			return NULL;
		}
		if (!r)
			r = json_object();
		json_object_set_new(r, keep_names[i], json_integer(v));
	}
	return r;
}

void retention_text(json_t *ret, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = 0;
	for (int i = 0; i < 6; i++) {
		long long v = jint(ret, keep_names[i]);
		if (v > 0 && o < len)
			o += (size_t)snprintf(buf + o, len - o, "%s%s %lld", o ? ", " : "",
			                      keep_names[i] + 5, v);
	}
	if (!o)
		snprintf(buf, len, "keep all");
}

void warn_failed_check(struct api *a)
{
	json_t *r;
	int json = a->json;
	a->json = 1; /* no error printing changes: call() only prints failures */
	int rc = call(a, "GET", "/v1/repository", NULL, &r);
	a->json = json;
	if (rc)
		return;
	json_t *c = json_object_get(r, "last_check");
	if (!strcmp(jstr(c, "status"), "failed"))
		fprintf(stderr, "warning: the repository check of %s failed (maintenance %lld): %s\n",
		        jstr(c, "at"), jint(c, "maintenance_id"),
		        json_string_value(json_array_get(json_object_get(c, "errors"), 0))
		                ? json_string_value(json_array_get(json_object_get(c, "errors"), 0))
		                : "see `roost repository show`");
	json_decref(r);
}

static void print_run(json_t *m)
{
	json_t *c = json_object_get(m, "check");
	printf("%-5lld %-8s %-11s %-21s %-21s %9lld %6lld %14lld %6lld %-7s %s\n", jint(m, "id"),
	       jstr(m, "trigger"), jstr(m, "status"), jstr(m, "started_at"), jstr(m, "finished_at"),
	       jint(m, "snapshots_removed"), jint(m, "packs_removed"), jint(m, "bytes_freed"),
	       jint(m, "packs_waiting"), jstr(c, "status"),
	       json_is_true(json_object_get(m, "dry_run")) ? "(dry run)" : jstr(m, "error"));
}

static const char run_hdr[] = "ID    TRIGGER  STATUS      STARTED               FINISHED     "
                              "         SNAPS_DEL PACKS_DEL    BYTES_FREED WAIT   CHECK   "
                              "ERROR\n";

static void print_decisions(json_t *m, int all)
{
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(m, "decisions"), i, d) {
		int remove = !strcmp(jstr(d, "action"), "remove");
		if (!remove && !all)
			continue;
		printf("%-6s %.8s  %-20s %-20s %-16s %s\n", remove ? "remove" : "keep",
		       jstr(d, "snapshot_id"), jstr(d, "time"), jstr(d, "hostname"), jstr(d, "group"),
		       jstr(d, "reason"));
	}
}

/* Polls the run until it has ended; its record in *out. */
static int wait_run(struct api *a, long long id, long long timeout, json_t **out)
{
	char path[64];
	snprintf(path, sizeof(path), "/v1/maintenance/%lld", id);
	time_t t0 = time(NULL);
	for (;;) {
		json_t *r;
		int rc = call(a, "GET", path, NULL, &r);
		if (rc)
			return rc;
		if (strcmp(jstr(r, "status"), "running")) {
			*out = r;
			return 0;
		}
		json_decref(r);
		if (timeout && time(NULL) - t0 >= timeout)
			return cli_fail(EXIT_FAIL, "maintenance %lld still running after %lld s", id,
			                timeout);
		usleep(100 * 1000);
	}
}

int maintenance_cmd(struct api *a, struct aopts *o)
{
	const char *verb = o->npos ? o->pos[0] : "";
	json_t *r = NULL;
	int rc;
	if (!strcmp(verb, "run")) {
		if ((rc = need(o, 1, "maintenance run [--wait] [--dry-run] [--timeout SECONDS]")))
			return rc;
		long long timeout = 0;
		if (o->timeout && cli_parse_int(o->timeout, 1, 30LL * 86400, &timeout))
			return cli_fail(EXIT_USAGE, "--timeout: seconds between 1 and 2592000");
		json_t *b = json_pack("{s:b}", "dry_run", o->dry_run);
		if ((rc = call(a, "POST", "/v1/maintenance", b, &r)))
			return rc;
		long long id = jint(r, "id");
		if (!o->wait && !o->dry_run) {
			show(a, r, "maintenance %lld started; `roost maintenance show %lld` follows it\n", id,
			     id);
			json_decref(r);
			return 0;
		}
		json_decref(r);
		if (!a->json)
			fprintf(stderr, "maintenance %lld running...\n", id);
		if ((rc = wait_run(a, id, timeout, &r)))
			return rc;
		if (a->json) {
			print_json(r);
		} else if (o->dry_run) {
			printf("ACTION SNAPSHOT  TIME                 HOST                 GROUP            "
			       "WHY\n");
			print_decisions(r, 1);
			printf("%lld snapshots would be removed (dry run: nothing was)\n",
			       jint(r, "snapshots_removed"));
		} else {
			printf("maintenance %lld %s: %lld snapshots removed, %lld packs deleted, %lld bytes "
			       "freed, %lld packs marked, %lld repacked, %lld waiting; check %s\n",
			       id, jstr(r, "status"), jint(r, "snapshots_removed"), jint(r, "packs_removed"),
			       jint(r, "bytes_freed"), jint(r, "packs_marked"), jint(r, "packs_repacked"),
			       jint(r, "packs_waiting"), jstr(json_object_get(r, "check"), "status"));
			if (json_is_string(json_object_get(r, "error")))
				fprintf(stderr, "roost: maintenance failed: %s\n", jstr(r, "error"));
		}
		json_t *c = json_object_get(r, "check");
		/* damage found outranks a failed run (a prune refuses damage too) */
		rc = !strcmp(jstr(c, "status"), "failed")     ? EXIT_INTEGRITY
		     : strcmp(jstr(r, "status"), "succeeded") ? EXIT_FAIL
		                                              : 0;
		if (rc == EXIT_INTEGRITY && !a->json)
			fprintf(stderr, "roost: the repository check found errors: %s\n",
			        json_string_value(json_array_get(json_object_get(c, "errors"), 0)));
		json_decref(r);
		return rc;
	} else if (!strcmp(verb, "list")) {
		if ((rc = need(o, 1, "maintenance list")) ||
		    (rc = call(a, "GET", "/v1/maintenance", NULL, &r)))
			return rc;
		if (a->json) {
			print_json(r);
		} else {
			fputs(run_hdr, stdout);
			size_t i;
			json_t *m;
			json_array_foreach(r, i, m) print_run(m);
		}
	} else if (!strcmp(verb, "show")) {
		long long id;
		if ((rc = need(o, 2, "maintenance show ID")))
			return rc;
		if (cli_parse_int(o->pos[1], 1, INT64_MAX, &id))
			return cli_fail(EXIT_USAGE, "maintenance show: \"%s\" is not a run id", o->pos[1]);
		char path[64];
		snprintf(path, sizeof(path), "/v1/maintenance/%lld", id);
		if ((rc = call(a, "GET", path, NULL, &r)))
			return rc;
		if (a->json) {
			print_json(r);
		} else {
			fputs(run_hdr, stdout);
			print_run(r);
			size_t i;
			json_t *e;
			json_array_foreach(json_object_get(json_object_get(r, "check"), "errors"), i, e)
				printf("check error: %s\n", json_string_value(e));
			printf("\nACTION SNAPSHOT  TIME                 HOST                 GROUP            "
			       "WHY\n");
			print_decisions(r, 1);
		}
	} else {
		return cli_fail(EXIT_USAGE, "usage: roost maintenance run [--wait] [--dry-run] | list | "
		                            "show ID");
	}
	json_decref(r);
	return 0;
}

int repository_cmd(struct api *a, struct aopts *o)
{
	int rc;
	json_t *r;
	if (o->npos != 1 || strcmp(o->pos[0], "show"))
		return cli_fail(EXIT_USAGE, "usage: roost repository show [--json]");
	if ((rc = call(a, "GET", "/v1/repository", NULL, &r)))
		return rc;
	if (a->json) {
		print_json(r);
		json_decref(r);
		return 0;
	}
	json_t *m = json_object_get(r, "last_maintenance"), *c = json_object_get(r, "last_check");
	json_t *dr = json_object_get(r, "dedup_ratio");
	printf("location          %s\n", jstr(r, "location"));
	printf("size              %lld bytes\n", jint(r, "size_bytes"));
	printf("snapshots         %lld\n", jint(r, "snapshots"));
	printf("packs             %lld\n", jint(r, "packs"));
	if (json_is_integer(json_object_get(r, "blobs")))
		printf("blobs             %lld (as of %s)\n", jint(r, "blobs"), jstr(r, "measured_at"));
	if (json_is_number(dr))
		printf("deduplication     %.2fx (%lld bytes in snapshots, %lld stored before "
		       "compression)\n", json_number_value(dr), jint(r, "logical_bytes"),
		       jint(r, "raw_bytes"));
	if (json_is_object(m))
		printf("last maintenance  %lld, %s at %s: %lld snapshots removed, %lld bytes freed%s%s\n",
		       jint(m, "id"), jstr(m, "status"), jstr(m, "finished_at"),
		       jint(m, "snapshots_removed"), jint(m, "bytes_freed"),
		       json_is_string(json_object_get(m, "error")) ? "; error: " : "",
		       json_is_string(json_object_get(m, "error")) ? jstr(m, "error") : "");
	else
		printf("last maintenance  never\n");
	if (json_is_object(c)) {
		printf("last check        %s at %s\n", jstr(c, "status"), jstr(c, "at"));
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(c, "errors"), i, e)
			printf("  error: %s\n", json_string_value(e));
	} else {
		printf("last check        never\n");
	}
	rc = json_is_object(c) && !strcmp(jstr(c, "status"), "failed") ? EXIT_INTEGRITY : 0;
	json_decref(r);
	return rc;
}
