/* SPDX-License-Identifier: MIT */
/*
 * Waiting for a job: `roost backup`, `roost restore` (at a terminal, or with
 * --wait) and `roost job wait`. The job's changes come from roostd's event
 * stream (GET /v1/events/stream: job.queued, job.deferred, job.running,
 * job.progress, then job.succeeded|failed|interrupted), the same the
 * dashboard reads; if the stream can not be had or breaks, GET /v1/jobs/{id}
 * twice a second instead. On a terminal stderr carries one progress line,
 * rewritten in place at most 4 times a second; stdout gets the line that
 * says how the job ended (or, with --json, the final job).
 *
 * Ctrl-C and --timeout leave the job alone: they only stop the waiting. Both
 * are signals whose handlers are installed without SA_RESTART, so a blocked
 * read on the stream returns at once and the loop sees the flag.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "progress.h"
#include "roost/http.h"

#define REDRAW_MS 250   /* the progress line at most 4 times a second */
#define POLL_MS 500     /* GET /v1/jobs/{id} when the stream is gone */
#define LOST_S 30       /* roostd unreachable this long while polling: give up */

static volatile sig_atomic_t interrupted, timed_out;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct follow {
	struct api *a;
	const struct wait_opts *w;
	long long id;
	json_t *job;           /* the newest view of the job */
	char host[128];
	int host_offline;
	long long host_id;
	double t0;             /* the wait began */
	double tb;             /* first progress seen: rate baseline ... */
	uint64_t bb;           /* ... and its bytes */
	int have_base;
	double last_draw;
	char drawn[512];       /* what the line shows now */
	int line_up;           /* a progress line is on the terminal */
	struct sse_parser sse;
};

/* GET path without printing anything: 0 and *out; -1 roostd not reached, or
 * the HTTP status it answered (the reason in why). */
static int get_quiet(struct api *a, const char *path, json_t **out, char *why, size_t cap)
{
	*out = NULL;
	struct roost_http_resp r;
	struct roost_errbuf eb = {{0}};
	if (roost_http_request(a->h, "GET", path, NULL, NULL, 0, 16u << 20, &r, &eb)) {
		snprintf(why, cap, "%s", eb.msg);
		return -1;
	}
	json_t *j = r.body ? json_loadb((const char *)r.body, r.len, 0, NULL) : NULL;
	int status = r.status;
	roost_http_resp_free(&r);
	if (status != 200 || !json_is_object(j)) {
		json_t *e = json_object_get(json_object_get(j, "error"), "message");
		snprintf(why, cap, "%s (HTTP %d)",
		         json_is_string(e) ? json_string_value(e) : "unexpected answer", status);
		json_decref(j);
		return status == 200 ? 500 : status;
	}
	*out = j;
	return 0;
}

static int over(const struct follow *f)
{
	return f->job && !job_status_pending(jstr(f->job, "status"));
}

static void clear_line(struct follow *f)
{
	if (!f->line_up)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	f->line_up = 0;
	f->drawn[0] = 0;
}

static void draw(struct follow *f, int force)
{
	if (!f->w->progress || !f->job || over(f)) /* the outcome line says the end */
		return;
	double t = now_s();
	if (!force && t - f->last_draw < REDRAW_MS / 1000.0)
		return;
	json_t *st = json_object_get(f->job, "stats");
	uint64_t bytes = (uint64_t)jint(st, "bytes");
	const char *status = jstr(f->job, "status");
	struct progress_view v = {
		.id = f->id,
		.status = status,
		.host = f->host[0] ? f->host : NULL,
		.host_offline = f->host_offline,
		.reason = json_string_value(json_object_get(f->job, "error")),
		.files = (uint64_t)jint(st, "files"),
		.bytes = bytes,
		.rate_seconds = f->have_base ? t - f->tb : 0,
		.rate_bytes = f->have_base && bytes > f->bb ? bytes - f->bb : 0,
		.elapsed = t - f->t0,
	};
	char line[512];
	progress_line(&v, line, sizeof(line));
	if (f->line_up && !strcmp(line, f->drawn))
		return;
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
	snprintf(f->drawn, sizeof(f->drawn), "%s", line);
	f->line_up = 1;
	f->last_draw = t;
}

/* The host's name and whether it is online (once, and again when the job is
 * queued anew). */
static void look_at_host(struct follow *f)
{
	long long hid = jint(f->job, "host_id");
	if (!hid || !f->w->progress)
		return;
	char path[64], why[600];
	snprintf(path, sizeof(path), "/v1/hosts/%lld", hid);
	json_t *h;
	if (get_quiet(f->a, path, &h, why, sizeof(why)))
		return;
	snprintf(f->host, sizeof(f->host), "%s", jstr(h, "name"));
	f->host_offline = json_is_false(json_object_get(h, "online"));
	f->host_id = hid;
	json_decref(h);
}

/* Takes the newest view of the job; 1 when its status changed. */
static int take_job(struct follow *f, json_t *job)
{
	const char *before = f->job ? jstr(f->job, "status") : "";
	const char *status = jstr(job, "status");
	int changed = strcmp(before, status) != 0;
	int queued_anew = !strcmp(status, "queued") && changed;
	if (!strcmp(status, "running") && !f->have_base) {
		/* the rate counts from the first running view: bytes since, over time since */
		f->have_base = 1;
		f->tb = now_s();
		f->bb = (uint64_t)jint(json_object_get(job, "stats"), "bytes");
	}
	json_incref(job);
	json_decref(f->job);
	f->job = job;
	if (queued_anew || !f->host_id)
		look_at_host(f);
	return changed;
}

/* 0, -1 roostd not reached, or the HTTP status of a refusal (as get_quiet) */
static int refresh(struct follow *f, char *why, size_t cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/v1/jobs/%lld", f->id);
	json_t *j;
	int rc = get_quiet(f->a, path, &j, why, cap);
	if (rc)
		return rc;
	if (take_job(f, j))
		f->last_draw = 0; /* a new state is drawn at once */
	json_decref(j);
	return 0;
}

/* ---- the event stream ---- */

static int on_event(void *ctx, const char *type, const char *data)
{
	struct follow *f = ctx;
	if (strncmp(type, "job.", 4))
		return 0;
	json_t *e = json_loads(data, 0, NULL);
	json_t *job = json_object_get(e, "job");
	if (jint(job, "id") == f->id && json_is_string(json_object_get(job, "status"))) {
		draw(f, take_job(f, job)); /* a new state is shown at once */
	}
	json_decref(e);
	return over(f) || interrupted || timed_out;
}

static int on_body(void *ctx, int status, const uint8_t *p, size_t n)
{
	struct follow *f = ctx;
	if (interrupted || timed_out)
		return 1;
	if (!p) { /* the headers are in: from now on no change is missed */
		if (status != 200)
			return 1;
		char why[600];
		if (refresh(f, why, sizeof(why)))
			return 1;
		draw(f, 1);
		return over(f);
	}
	return sse_parser_feed(&f->sse, (const char *)p, n, on_event, f) != 0;
}

/* ---- waiting ---- */

/* 0, or the exit code of a refusal or of roostd lost (said on stderr) */
static int poll_until_over(struct follow *f)
{
	double lost_since = 0;
	while (!over(f) && !interrupted && !timed_out) {
		char why[600];
		int rc = refresh(f, why, sizeof(why));
		if (rc > 0) { /* an answer, not a lost connection: no use asking again */
			clear_line(f);
			fprintf(stderr, "roost: job %lld: %s\n", f->id, why);
			return rc == 400 || rc == 404 ? EXIT_USAGE : EXIT_FAIL;
		}
		if (rc < 0) {
			double t = now_s();
			if (!lost_since)
				lost_since = t;
			if (t - lost_since > LOST_S) {
				clear_line(f);
				fprintf(stderr, "roost: %s\n", why);
				return EXIT_FAIL;
			}
		} else {
			lost_since = 0;
			draw(f, 0);
			if (over(f))
				return 0;
		}
		usleep(POLL_MS * 1000); /* a signal ends it early */
	}
	return 0;
}

int job_follow(struct api *a, long long id, const struct wait_opts *w)
{
	struct follow f = {.a = a, .w = w, .id = id, .t0 = now_s()};
	sse_parser_init(&f.sse);
	interrupted = timed_out = 0;
	struct sigaction sa = {0}, old_int, old_alrm;
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_sigint; /* no SA_RESTART: a blocked read returns */
	sigaction(SIGINT, &sa, &old_int);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, &old_alrm);
	if (w->timeout > 0)
		alarm((unsigned)w->timeout);

	struct roost_errbuf eb = {{0}};
	const char *const hdrs[] = {"Accept: text/event-stream", NULL};
	roost_http_stream(a->h, "/v1/events/stream", hdrs, on_body, &f, &eb);
	sse_parser_release(&f.sse);
	int rc = 0;
	if (!over(&f) && !interrupted && !timed_out)
		rc = poll_until_over(&f); /* the stream was refused or broke */
	alarm(0);
	char why[600];
	if (over(&f)) /* the final job as stored (an event's view is what the event saw) */
		refresh(&f, why, sizeof(why));
	clear_line(&f);
	const char *status = f.job ? jstr(f.job, "status") : "unknown";
	if (over(&f)) {
		char line[1024];
		rc = job_outcome(f.job, w->created ? now_s() - f.t0 : -1, line, sizeof(line));
		if (a->json)
			print_json(f.job);
		else
			printf("%s\n", line);
	} else if (interrupted) {
		fprintf(stderr, "job %lld is still %s; roost job wait %lld to follow it, roost job "
		                "cancel %lld to stop it\n", id, status, id, id);
		rc = 130;
	} else if (timed_out) {
		fprintf(stderr, "roost: job %lld still not finished after %lld s (it is %s); roost job "
		                "wait %lld to follow it, roost job cancel %lld to stop it\n", id,
		        w->timeout, status, id, id);
		rc = EXIT_FAIL;
	} else {
		if (f.job)
			fprintf(stderr, "roost: lost track of job %lld (it was %s); roost job wait %lld "
			                "to follow it\n", id, status, id);
		if (!rc)
			rc = EXIT_FAIL;
	}
	fflush(stdout);
	json_decref(f.job);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGALRM, &old_alrm, NULL);
	return rc;
}
