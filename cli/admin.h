/* SPDX-License-Identifier: MIT */
/*
 * What the fleet admin commands share: their options, the connection to
 * roostd's REST API, and printing. admin_client.c implements it and
 * dispatches `roost GROUP ...` to the command group's file (cmd_admin.c
 * for hosts, groups, schedules, jobs and snapshots; cmd_maintenance.c for
 * retention, maintenance and the repository; cmd_user.c for users).
 */
#ifndef ROOST_CLI_ADMIN_H
#define ROOST_CLI_ADMIN_H

#include <jansson.h>
#include <stdint.h>

#include "cli.h"

struct roost_http;

#define MAXV 64

struct aopts {
	const char *server, *token_file, *fingerprint;
	int json;
	const char *ttl, *uses, *mode, *cron, *count, *host, *status, *limit, *target, *timeout,
	           *from_host, *dedup;
	int disabled;
	const char *paths[MAXV], *excludes[MAXV], *groups[MAXV], *includes[MAXV];
	int npaths, nexcludes, ngroups, nincludes;
	char *pos[8];
	int npos;
	const char *keep[6]; /* --keep-last ... --keep-yearly, NULL: not given */
	int wait, no_wait, dry_run; /* backup|restore --wait|--no-wait; maintenance run --wait */
	const char *events[MAXV], *format, *after; /* webhook add --event, --format; events --after */
	int nevents, follow;
	const char *role, *password_file; /* user add */
	const char *upload_limit;         /* host set --upload-limit KIB */
	const char *pre_hook, *post_hook, *hook_timeout; /* group add|set; "" clears a hook */
	const char *window;                   /* schedule add|set --window */
	const char *skip_battery, *skip_metered; /* host set --skip-on-battery|--skip-on-metered */
};

struct api {
	struct roost_http *h;
	int json;
};

/* Makes a request with body (taken over; may be NULL); on success *out holds
 * the JSON (caller frees). Returns an exit code (0 ok) after printing any error. */
int call(struct api *a, const char *method, const char *path, json_t *body, json_t **out);
void print_json(json_t *j);
/* Prints r as JSON with --json, else the formatted text. */
void show(const struct api *a, json_t *r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A member as text ("-" when absent or null; booleans as yes/no), or as an integer (0). */
const char *jstr(json_t *o, const char *k);
long long jint(json_t *o, const char *k);
/* URL-escaped copy (caller frees). */
char *esc(const char *s);
/* Exit 2 with "usage: roost USAGE" unless there are exactly n positional arguments. */
int need(const struct aopts *o, int n, const char *usage);
json_t *strarr(const char **v, int n);
/* Finds a named object's id in a JSON list from path (or takes a numeric name as the id). */
int find_named(struct api *a, const char *path, const char *name, const char *what,
               long long *id);

/* cmd_admin.c */
extern const char backup_usage[], restore_usage[], job_usage[];
int token_cmd(struct api *a, struct aopts *o);
int host_cmd(struct api *a, struct aopts *o);
int group_cmd(struct api *a, struct aopts *o);
int schedule_cmd(struct api *a, struct aopts *o);
int backup_cmd(struct api *a, struct aopts *o);
int restore_cmd(struct api *a, struct aopts *o);
int job_cmd(struct api *a, struct aopts *o);
int snapshot_cmd(struct api *a, struct aopts *o);

/* jobwait.c: waiting for a job (backup, restore, job wait) */
struct wait_opts {
	int progress;       /* draw the progress line on stderr (it is a terminal) */
	long long timeout;  /* give up waiting after this many seconds; 0: never */
	int created;        /* the command created the job: time it from the start */
};
/* Follows job id until it ends, on roostd's event stream (polling if that
 * breaks). Prints how it ended on stdout (the final job with --json) and
 * returns 0 succeeded, 1 failed, canceled, interrupted, or the wait timed
 * out or lost roostd, 130 Ctrl-C; the job itself is never canceled. */
int job_follow(struct api *a, long long id, const struct wait_opts *w);

/* cmd_maintenance.c */
int maintenance_cmd(struct api *a, struct aopts *o);
int repository_cmd(struct api *a, struct aopts *o);
/* The "retention" object the --keep-* options give, or NULL (none given,
 * or invalid: *rc then holds the exit code). */
json_t *retention_body(const struct aopts *o, int *rc);
/* "last 3, daily 7" or "keep all" into buf. */
void retention_text(json_t *retention, char *buf, size_t len);
/* Prints a warning on stderr when the repository's last check failed. */
void warn_failed_check(struct api *a);
/* cmd_user.c: the dashboard's users */
extern const char user_usage[];
int user_cmd(struct api *a, struct aopts *o);
/* cmd_events.c */
int events_cmd(struct api *a, struct aopts *o);
int webhook_cmd(struct api *a, struct aopts *o);
/* A host's health and why, one line ("overdue: schedule nightly, group etc, since T"). */
void health_why(json_t *host, char *buf, size_t cap);
/* Each (schedule, group) of a host: last success, next due. */
void print_backups(json_t *host);

#endif
