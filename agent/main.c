/* SPDX-License-Identifier: MIT */
/*
 * roost-agent: enrolls with a one-time token, then holds a WebSocket to
 * roostd, fires the host's schedules from its own clock, and runs the jobs
 * the server sends, one at a time, writing into the shared repository
 * through the server's object API.
 *
 * Threads: the main thread owns the libwebsockets client, the cron ticks
 * and every file of the state directory except jobs.json; the job thread
 * runs backups and restores. They share the job queue, the current job,
 * the finished-job list and an outbox of messages under one mutex; the job
 * thread wakes the main thread with lws_cancel_service().
 *
 * What survives a restart (state directory): identity.json (host id,
 * secret, pinned fingerprint), config.json (the last config), cursor.json
 * (per schedule, the time up to which it was evaluated), fires.json (recent
 * fires, re-sent with every hello; the server drops those it has seen) and
 * jobs.json (queued jobs, the running one, the last finished ones, all
 * reported with every hello so nothing stays running on the server).
 */
#include <errno.h>
#include <getopt.h>
#include <libwebsockets.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "roost/backend.h"
#include "roost/buf.h"
#include "roost/cron.h"
#include "roost/http.h"
#include "roost/log.h"
#include "roost/proto.h"
#include "roost/repo.h"
#include "roost/timeutil.h"
#include "roost/tz.h"

#define DONE_KEEP 20
#define FIRES_KEEP 200
#define FIRES_MAX_AGE (7 * 86400)
#define TICK_MS 250
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS (5 * 60 * 1000)

struct outmsg {
	struct outmsg *next;
	size_t len;
	unsigned char data[];
};

struct sched_rt {
	int64_t id;
	struct cron *cron;
	int enabled;
};

static struct agent {
	char *state;
	/* identity */
	char url[512], host[256], fp[65], auth[160], name[160];
	int port;
	int64_t host_id;
	char tz[64];
	/* connection (main thread) */
	struct lws_context *ctx;
	struct lws *wsi;
	int connected, configured;
	int backoff_ms;
	lws_sorted_usec_list_t sul_tick, sul_reconnect;
	struct outmsg *ohead, *otail;
	char *rx;
	size_t rxlen, rxcap;
	int64_t last_progress_ms;
	int64_t last_rx_ms;  /* any frame or pong from the server */
	int64_t timeout_ms;  /* silent this long: the server is gone (config timeout_s) */
	int want_ping;
	/* config (main thread) */
	json_t *config;
	struct sched_rt *scheds;
	size_t nscheds;
	json_t *cursor; /* {"<schedule id>": seconds} */
	json_t *fires;  /* [{schedule_id, slot}] */
	/* shared with the job thread, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	json_t *queue;   /* job.start messages waiting */
	json_t *current; /* the running job.start, or NULL */
	int64_t current_started;
	json_t *done;    /* final states of the last jobs */
	json_t *outbox;  /* messages for the main thread to send */
	volatile int cancel;
	struct roost_progress prog;
	int prog_dirty;
	volatile int stop;
	pthread_t job_thread;
	int test_delay_ms; /* tests only: each job first waits this long (cancelable) */
} A;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- jobs.json (callers hold mu) ---- */

static void save_jobs_locked(void)
{
	json_t *j = json_pack("{s:O, s:O, s:O}", "queue", A.queue, "current",
	                      A.current ? A.current : json_null(), "done", A.done);
	if (state_write(A.state, "jobs.json", j))
		log_error("agent.state", "file=jobs.json msg=\"could not write\"");
	json_decref(j);
}

static void outbox_push_locked(json_t *m)
{
	json_array_append_new(A.outbox, m);
	if (A.ctx)
		lws_cancel_service(A.ctx);
}

static void done_push_locked(json_t *st)
{
	json_array_append_new(A.done, st);
	while (json_array_size(A.done) > DONE_KEEP)
		json_array_remove(A.done, 0);
}

/* ---- sending (main thread) ---- */

static void send_json(json_t *m)
{
	if (!A.wsi || !A.connected)
		return;
	char *t = json_dumps(m, JSON_COMPACT);
	if (!t)
		return;
	size_t n = strlen(t);
	struct outmsg *o = malloc(sizeof(*o) + LWS_PRE + n);
	if (!o) {
		free(t);
		return;
	}
	o->next = NULL;
	o->len = n;
	memcpy(o->data + LWS_PRE, t, n);
	free(t);
	if (A.otail)
		A.otail->next = o;
	else
		A.ohead = o;
	A.otail = o;
	lws_callback_on_writable(A.wsi);
}

static void drop_outq(void)
{
	while (A.ohead) {
		struct outmsg *o = A.ohead;
		A.ohead = o->next;
		free(o);
	}
	A.otail = NULL;
}

static void drain_outbox(void)
{
	pthread_mutex_lock(&A.mu);
	json_t *box = A.outbox;
	A.outbox = json_array();
	int send_prog = A.prog_dirty && A.current && now_ms() - A.last_progress_ms >= 1000;
	json_t *prog = NULL;
	if (send_prog) {
		prog = json_pack("{s:s, s:I, s:{s:I, s:I, s:I}}", "type", "job.progress", "job_id",
		                 json_integer_value(json_object_get(A.current, "job_id")), "stats",
		                 "files",
		                 (json_int_t)A.prog.files_done, "bytes", (json_int_t)A.prog.bytes_done,
		                 "bytes_new", (json_int_t)A.prog.bytes_new);
		A.prog_dirty = 0;
		A.last_progress_ms = now_ms();
	}
	pthread_mutex_unlock(&A.mu);
	size_t i;
	json_t *m;
	if (A.configured) {
		json_array_foreach(box, i, m) send_json(m);
		if (prog)
			send_json(prog);
	}
	/* when not connected, finals are in `done` and go with the next hello */
	json_decref(box);
	json_decref(prog);
}

/* ---- local cron ---- */

static void free_scheds(void)
{
	for (size_t i = 0; i < A.nscheds; i++)
		cron_free(A.scheds[i].cron);
	free(A.scheds);
	A.scheds = NULL;
	A.nscheds = 0;
}

static int intermittent(void)
{
	const char *m = json_string_value(json_object_get(A.config, "mode"));
	return m && !strcmp(m, "intermittent");
}

static void load_scheds(void)
{
	free_scheds();
	json_t *arr = json_object_get(A.config, "schedules");
	A.scheds = calloc(json_array_size(arr) + 1, sizeof(*A.scheds));
	if (!A.scheds)
		return;
	size_t i;
	json_t *s;
	int64_t now = (int64_t)time(NULL);
	json_array_foreach(arr, i, s) {
		struct sched_rt *r = &A.scheds[A.nscheds];
		r->id = json_integer_value(json_object_get(s, "id"));
		r->enabled = json_is_true(json_object_get(s, "enabled")) &&
		             json_array_size(json_object_get(s, "group_ids")) > 0;
		const char *expr = json_string_value(json_object_get(s, "cron"));
		struct roost_errbuf eb = {{0}};
		if (!expr || cron_parse(expr, A.tz[0] ? A.tz : NULL, &r->cron, &eb)) {
			log_warn("cron.invalid", "schedule=%lld msg=%s", (long long)r->id, roost_lq(eb.msg));
			continue;
		}
		char key[32];
		snprintf(key, sizeof(key), "%lld", (long long)r->id);
		if (!json_object_get(A.cursor, key))
			json_object_set_new(A.cursor, key, json_integer(now));
		A.nscheds++;
	}
	state_write(A.state, "cursor.json", A.cursor);
}

static void prune_fires(int64_t now)
{
	while (json_array_size(A.fires) > FIRES_KEEP)
		json_array_remove(A.fires, 0);
	for (size_t i = 0; i < json_array_size(A.fires);) {
		int64_t slot = 0;
		roost_time_parse(json_string_value(json_object_get(json_array_get(A.fires, i), "slot")),
		                 &slot, NULL);
		if (now - slot > FIRES_MAX_AGE)
			json_array_remove(A.fires, i);
		else
			i++;
	}
}

static void cron_tick(void)
{
	int64_t now = (int64_t)time(NULL);
	int changed = 0;
	for (size_t i = 0; i < A.nscheds; i++) {
		struct sched_rt *r = &A.scheds[i];
		char key[32];
		snprintf(key, sizeof(key), "%lld", (long long)r->id);
		int64_t cur = json_integer_value(json_object_get(A.cursor, key));
		if (cur >= now)
			continue;
		int64_t slot = 0, t = cur, n;
		int k = 0;
		while (k++ < 100000 && cron_next(r->cron, t, &n) == ROOST_OK && n <= now)
			slot = t = n;
		json_object_set_new(A.cursor, key, json_integer(now));
		if (!slot || !r->enabled)
			continue;
		changed = 1;
		/* an intermittent host that slept through its window leaves it to catch-up */
		if (intermittent() && now - slot > 5) {
			log_info("fire.skipped", "schedule=%lld why=\"slept through the window; the "
			                         "server catches up\"", (long long)r->id);
			continue;
		}
		char sb[40];
		roost_time_format(slot, sb, sizeof(sb));
		json_t *f = json_pack("{s:I, s:s}", "schedule_id", (json_int_t)r->id, "slot", sb);
		json_array_append(A.fires, f);
		prune_fires(now);
		state_write(A.state, "fires.json", A.fires);
		int live = A.connected && A.configured;
		log_info("fire", "schedule=%lld slot=%s sent=%s", (long long)r->id, sb,
		         live ? "yes" : "later(persisted)");
		if (live) {
			json_t *m = json_pack("{s:s, s:I, s:s}", "type", "fire", "schedule_id",
			                      (json_int_t)r->id, "slot", sb);
			send_json(m);
			json_decref(m);
		}
		json_decref(f);
	}
	if (changed)
		state_write(A.state, "cursor.json", A.cursor);
}

/* ---- jobs (job thread) ---- */

static void on_progress(void *ctx, const struct roost_progress *p)
{
	(void)ctx;
	pthread_mutex_lock(&A.mu);
	A.prog = *p;
	A.prog.current = NULL;
	A.prog_dirty = 1;
	pthread_mutex_unlock(&A.mu);
}

static void on_warn(void *ctx, const char *msg)
{
	(void)ctx;
	log_warn("job.warning", "msg=%s", roost_lq(msg));
}

static const char **strv(json_t *arr, size_t *n)
{
	*n = json_array_size(arr);
	const char **v = calloc(*n + 1, sizeof(*v));
	for (size_t i = 0; v && i < *n; i++)
		v[i] = json_string_value(json_array_get(arr, i));
	return v;
}

static json_t *run_job(json_t *start, int64_t started)
{
	int64_t id = json_integer_value(json_object_get(start, "job_id"));
	const char *kind = json_string_value(json_object_get(start, "kind"));
	char err_msg[600] = "";
	const char *status = "failed";
	char snap[65] = "";
	uint64_t files = 0, bytes = 0, bytes_new = 0;
	struct roost_errbuf eb = {{0}};
	struct roost_http *http = NULL;
	struct roost_backend *be = NULL;
	struct roost_repo *repo = NULL;
	const char *pw;
	char hostname[sizeof(A.name)];
	pthread_mutex_lock(&A.mu);
	json_t *repo_cfg = json_deep_copy(json_object_get(A.config, "repository"));
	memcpy(hostname, A.name, sizeof(hostname));
	pthread_mutex_unlock(&A.mu);
	pw = json_string_value(json_object_get(repo_cfg, "password"));
	enum roost_err err;
	for (int waited = 0; waited < A.test_delay_ms && !A.cancel; waited += 20)
		usleep(20 * 1000);
	if (A.cancel) {
		status = "canceled";
		snprintf(err_msg, sizeof(err_msg), "canceled");
		goto out;
	}
	if (!pw) {
		snprintf(err_msg, sizeof(err_msg), "no repository access in the config yet");
		goto out;
	}
	if ((err = roost_http_new(A.url, A.fp, A.auth, 120, &http, &eb)) ||
	    (err = roost_backend_http_open(http, A.url, &be, &eb)) ||
	    (err = roost_repo_open(be, pw, &repo, &eb))) {
		snprintf(err_msg, sizeof(err_msg), "repository: %s", eb.msg);
		goto out;
	}
	if (kind && !strcmp(kind, "backup")) {
		json_t *g = json_object_get(start, "group");
		size_t np, nx;
		const char **paths = strv(json_object_get(g, "paths"), &np);
		const char **ex = strv(json_object_get(g, "excludes"), &nx);
		char tag_group[200], tag_job[40];
		snprintf(tag_group, sizeof(tag_group), "group:%s",
		         json_string_value(json_object_get(g, "name")) ?: "?");
		snprintf(tag_job, sizeof(tag_job), "job:%lld", (long long)id);
		const char *tags[] = {tag_group, tag_job};
		char cache[4200];
		snprintf(cache, sizeof(cache), "%s/cache", A.state);
		struct roost_backup_opts o = {
			.paths = paths,
			.npaths = np,
			.excludes = ex,
			.nexcludes = nx,
			.tags = tags,
			.ntags = 2,
			.hostname = hostname[0] ? hostname : NULL,
			.cache_dir = cache,
			.progress = on_progress,
			.warn = on_warn,
			.cancel = &A.cancel,
		};
		struct roost_backup_result res;
		if (!paths || !ex || np == 0) {
			snprintf(err_msg, sizeof(err_msg), "the job names no group paths");
		} else if ((err = roost_repo_backup(repo, &o, &res, &eb))) {
			status = err == ROOST_ECANCELED ? "canceled" : "failed";
			snprintf(err_msg, sizeof(err_msg), "%s", eb.msg);
		} else {
			status = "succeeded";
			snprintf(snap, sizeof(snap), "%s", res.snapshot_id);
			files = res.summary.files;
			bytes = res.summary.bytes;
			bytes_new = res.summary.bytes_new;
			if (res.errors)
				snprintf(err_msg, sizeof(err_msg), "%llu files could not be read",
				         (unsigned long long)res.errors);
		}
		free(paths);
		free(ex);
	} else if (kind && !strcmp(kind, "restore")) {
		const char *ref = json_string_value(json_object_get(start, "snapshot_id"));
		const char *target = json_string_value(json_object_get(start, "target"));
		size_t ni;
		const char **inc = strv(json_object_get(start, "include"), &ni);
		struct roost_snapshot s;
		memset(&s, 0, sizeof(s));
		if (!ref || !target || target[0] != '/') {
			snprintf(err_msg, sizeof(err_msg), "restore needs a snapshot and an absolute target");
		} else if ((err = roost_repo_find_snapshot(repo, ref, &s, &eb))) {
			snprintf(err_msg, sizeof(err_msg), "%s", eb.msg);
		} else {
			struct roost_restore_opts o = {
				.target = target,
				.includes = inc,
				.nincludes = ni,
				.progress = on_progress,
				.warn = on_warn,
				.cancel = &A.cancel,
			};
			struct roost_restore_result res;
			err = roost_repo_restore(repo, &s, &o, &res, &eb);
			snprintf(snap, sizeof(snap), "%s", s.id);
			files = res.files;
			bytes = res.bytes;
			if (err) {
				status = err == ROOST_ECANCELED ? "canceled" : "failed";
				snprintf(err_msg, sizeof(err_msg), "%s", eb.msg);
			} else if (res.errors) {
				snprintf(err_msg, sizeof(err_msg), "%llu files could not be restored",
				         (unsigned long long)res.errors);
			} else {
				status = "succeeded";
			}
			roost_snapshot_release(&s);
		}
		free(inc);
	} else {
		snprintf(err_msg, sizeof(err_msg), "unknown job kind");
	}
out:
	roost_repo_close(repo);
	roost_backend_close(be);
	roost_http_free(http);
	json_decref(repo_cfg);
	char sb[40];
	json_t *st = json_pack("{s:I, s:s, s:s, s:{s:I, s:I, s:I}, s:s}", "job_id", (json_int_t)id,
	                       "status", status, "started_at",
	                       roost_time_format(started, sb, sizeof(sb)), "stats", "files",
	                       (json_int_t)files, "bytes", (json_int_t)bytes, "bytes_new",
	                       (json_int_t)bytes_new, "snapshot_id", snap);
	if (err_msg[0])
		json_object_set_new(st, "error", json_string(err_msg));
	log_info("job.finished", "job=%lld kind=%s status=%s snapshot=%s files=%llu bytes=%llu "
	                         "bytes_new=%llu error=%s", (long long)id, kind ? kind : "-", status,
	         snap[0] ? snap : "-", (unsigned long long)files, (unsigned long long)bytes,
	         (unsigned long long)bytes_new, roost_lq(err_msg[0] ? err_msg : NULL));
	return st;
}

static void *job_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&A.mu);
	for (;;) {
		while (!A.stop && json_array_size(A.queue) == 0)
			pthread_cond_wait(&A.cv, &A.mu);
		if (A.stop)
			break;
		A.current = json_incref(json_array_get(A.queue, 0));
		json_array_remove(A.queue, 0);
		A.current_started = (int64_t)time(NULL);
		A.cancel = 0;
		memset(&A.prog, 0, sizeof(A.prog));
		save_jobs_locked();
		char sb[40];
		json_int_t jid = json_integer_value(json_object_get(A.current, "job_id"));
		outbox_push_locked(json_pack("{s:s, s:I, s:s}", "type", "job.accepted", "job_id", jid,
		                             "started_at",
		                             roost_time_format(A.current_started, sb, sizeof(sb))));
		json_t *start = json_deep_copy(A.current);
		int64_t started = A.current_started;
		pthread_mutex_unlock(&A.mu);
		log_info("job.start", "job=%lld kind=%s", (long long)json_integer_value(
		                                              json_object_get(start, "job_id")),
		         json_string_value(json_object_get(start, "kind")));
		json_t *st = run_job(start, started);
		json_decref(start);
		pthread_mutex_lock(&A.mu);
		json_decref(A.current);
		A.current = NULL;
		A.prog_dirty = 0;
		done_push_locked(json_deep_copy(st));
		save_jobs_locked();
		json_t *fin = json_deep_copy(st);
		json_object_set_new(fin, "type", json_string("job.finished"));
		outbox_push_locked(fin);
		json_decref(st);
	}
	pthread_mutex_unlock(&A.mu);
	return NULL;
}

/* ---- messages from the server (main thread) ---- */

static int job_known_locked(int64_t id)
{
	size_t i;
	json_t *j;
	if (A.current && json_integer_value(json_object_get(A.current, "job_id")) == id)
		return 1;
	json_array_foreach(A.queue, i, j) if (json_integer_value(json_object_get(j, "job_id")) == id)
		return 1;
	json_array_foreach(A.done, i, j) if (json_integer_value(json_object_get(j, "job_id")) == id)
		return 1;
	return 0;
}

static void on_config(json_t *m)
{
	/* the job thread reads the config and the name under mu */
	pthread_mutex_lock(&A.mu);
	json_decref(A.config);
	A.config = json_incref(m);
	const char *name = json_string_value(json_object_get(m, "name"));
	if (name)
		snprintf(A.name, sizeof(A.name), "%s", name);
	pthread_mutex_unlock(&A.mu);
	json_t *to = json_object_get(m, "timeout_s");
	if (json_is_integer(to) && json_integer_value(to) >= 3 && json_integer_value(to) <= 3600)
		A.timeout_ms = json_integer_value(to) * 1000;
	if (state_write(A.state, "config.json", m))
		log_error("agent.state", "file=config.json msg=\"could not write\"");
	load_scheds();
	if (!A.configured) {
		A.configured = 1;
		A.backoff_ms = BACKOFF_MIN_MS;
	}
	log_info("agent.config", "schedules=%zu groups=%zu mode=%s",
	         json_array_size(json_object_get(m, "schedules")),
	         json_array_size(json_object_get(m, "groups")),
	         json_string_value(json_object_get(m, "mode")) ?: "-");
}

static void on_message(const char *buf, size_t len)
{
	json_error_t je;
	json_t *m = json_loadb(buf, len, 0, &je);
	const char *type = json_string_value(json_object_get(m, "type"));
	if (!json_is_object(m) || !type) {
		log_warn("agent.bad_message", "msg=%s", roost_lq(je.text));
		json_decref(m);
		return;
	}
	if (!strcmp(type, "config")) {
		on_config(m);
	} else if (!strcmp(type, "job.start")) {
		json_t *jid = json_object_get(m, "job_id");
		if (!json_is_integer(jid)) {
			json_decref(m);
			return;
		}
		pthread_mutex_lock(&A.mu);
		if (!job_known_locked(json_integer_value(jid))) {
			/* objects crossing to the job thread are copies: jansson's
			 * reference counts are not for sharing between threads */
			json_array_append_new(A.queue, json_deep_copy(m));
			save_jobs_locked();
			pthread_cond_signal(&A.cv);
			log_info("job.queued", "job=%lld", (long long)json_integer_value(jid));
		}
		pthread_mutex_unlock(&A.mu);
	} else if (!strcmp(type, "job.cancel")) {
		int64_t id = json_integer_value(json_object_get(m, "job_id"));
		pthread_mutex_lock(&A.mu);
		if (A.current && json_integer_value(json_object_get(A.current, "job_id")) == id) {
			A.cancel = 1;
			log_info("job.cancel", "job=%lld state=running", (long long)id);
		}
		size_t i;
		json_t *j;
		json_array_foreach(A.queue, i, j) {
			if (json_integer_value(json_object_get(j, "job_id")) == id) {
				json_array_remove(A.queue, i);
				json_t *st = json_pack("{s:I, s:s, s:s}", "job_id", (json_int_t)id, "status",
				                       "canceled", "error", "canceled before it started");
				done_push_locked(json_deep_copy(st));
				json_object_set_new(st, "type", json_string("job.finished"));
				outbox_push_locked(st);
				save_jobs_locked();
				log_info("job.cancel", "job=%lld state=queued", (long long)id);
				break;
			}
		}
		pthread_mutex_unlock(&A.mu);
	}
	json_decref(m);
}

static json_t *hello_msg(void)
{
	struct utsname u;
	char os[200] = "unknown", hn[256] = "", clk[40];
	if (uname(&u) == 0)
		snprintf(os, sizeof(os), "%s %s", u.sysname, u.release);
	gethostname(hn, sizeof(hn) - 1);
	json_t *jobs = json_array();
	pthread_mutex_lock(&A.mu);
	if (A.current)
		json_array_append_new(jobs, json_pack("{s:I, s:s}", "job_id",
		                                      json_integer_value(json_object_get(A.current,
		                                                                         "job_id")),
		                                      "status", "running"));
	size_t i;
	json_t *j;
	json_array_foreach(A.queue, i, j)
		json_array_append_new(jobs, json_pack("{s:I, s:s}", "job_id",
		                                      json_integer_value(json_object_get(j, "job_id")),
		                                      "status", "queued"));
	json_array_foreach(A.done, i, j) json_array_append_new(jobs, json_deep_copy(j));
	pthread_mutex_unlock(&A.mu);
	return json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:o, s:O}", "type", "hello", "protocol",
	                 PROTO_VERSION, "agent_version", ROOST_VERSION, "hostname", hn, "os", os, "tz",
	                 A.tz, "clock", roost_time_format((int64_t)time(NULL), clk, sizeof(clk)),
	                 "jobs", jobs, "fires", A.fires);
}

/* ---- connection ---- */

static void connect_now(lws_sorted_usec_list_t *sul);

static void schedule_reconnect(void)
{
	if (A.stop)
		return;
	uint32_t jitter;
	randombytes_buf(&jitter, sizeof(jitter));
	/* full delay between half and all of the backoff */
	int64_t d = A.backoff_ms / 2 + (int64_t)(jitter % (uint32_t)(A.backoff_ms / 2 + 1));
	log_info("agent.reconnect", "in_ms=%lld", (long long)d);
	lws_sul_schedule(A.ctx, 0, &A.sul_reconnect, connect_now, (lws_usec_t)d * LWS_US_PER_MS);
	A.backoff_ms *= 2;
	if (A.backoff_ms > BACKOFF_MAX_MS)
		A.backoff_ms = BACKOFF_MAX_MS;
}

static int pin_check(X509_STORE_CTX *xctx, int preverify_ok)
{
	int depth = X509_STORE_CTX_get_error_depth(xctx);
	if (depth > 0) {
		/* the chain above the leaf does not matter: the leaf is pinned */
		X509_STORE_CTX_set_error(xctx, X509_V_OK);
		return 0;
	}
	char got[65] = "";
	if (roost_cert_sha256_hex(X509_STORE_CTX_get_current_cert(xctx), got) ||
	    strcmp(got, A.fp) != 0) {
		log_error("agent.pin_mismatch", "got=%s pinned=%s msg=\"the server's certificate "
		                                "changed; refusing to connect (enroll again if this is "
		                                "expected)\"", got, A.fp);
		return 1;
	}
	(void)preverify_ok;
	X509_STORE_CTX_set_error(xctx, X509_V_OK);
	return 0;
}

static int client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
	(void)user;
	switch (reason) {
	case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
		return pin_check((X509_STORE_CTX *)user, (int)len);
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		unsigned char **p = (unsigned char **)in, *end = *p + len;
		if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
		                                 (const unsigned char *)A.auth, (int)strlen(A.auth), p,
		                                 end))
			return -1;
		return 0;
	}
	case LWS_CALLBACK_CLIENT_ESTABLISHED: {
		A.connected = 1;
		A.last_rx_ms = now_ms();
		A.configured = 0;
		log_info("agent.connected", "server=%s", roost_lq(A.url));
		json_t *h = hello_msg();
		send_json(h);
		json_decref(h);
		return 0;
	}
	case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
		A.last_rx_ms = now_ms();
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE: {
		A.last_rx_ms = now_ms();
		if (A.rxlen + len > PROTO_MAX_FRAME * 4) {
			log_warn("agent.frame_too_large", "bytes=%zu", A.rxlen + len);
			return -1;
		}
		if (roost_buf_append(&A.rx, &A.rxlen, &A.rxcap, in, len))
			return -1;
		if (lws_is_final_fragment(wsi)) {
			size_t n = A.rxlen;
			A.rxlen = 0;
			int first_config = !A.configured;
			on_message(A.rx, n);
			if (first_config && A.configured) {
				/* the server has processed our hello (fires included) */
				drain_outbox();
			}
		}
		return 0;
	}
	case LWS_CALLBACK_CLIENT_WRITEABLE: {
		if (A.want_ping) {
			uint8_t ping[LWS_PRE + 4];
			memcpy(ping + LWS_PRE, "ping", 4);
			A.want_ping = 0;
			if (lws_write(wsi, ping + LWS_PRE, 4, LWS_WRITE_PING) < 4)
				return -1;
			if (A.ohead)
				lws_callback_on_writable(wsi);
			return 0;
		}
		struct outmsg *o = A.ohead;
		if (!o)
			return 0;
		if (lws_write(wsi, o->data + LWS_PRE, o->len, LWS_WRITE_TEXT) < (int)o->len)
			return -1;
		A.ohead = o->next;
		if (!A.ohead)
			A.otail = NULL;
		free(o);
		if (A.ohead)
			lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		log_warn("agent.connect_failed", "server=%s msg=%s", roost_lq(A.url),
		         roost_lq(in ? (const char *)in : "unknown"));
		A.wsi = NULL;
		A.connected = A.configured = 0;
		drop_outq();
		schedule_reconnect();
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		log_warn("agent.disconnected", "server=%s", roost_lq(A.url));
		A.wsi = NULL;
		A.connected = A.configured = 0;
		A.rxlen = 0;
		drop_outq();
		schedule_reconnect();
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		drain_outbox();
		return 0;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols client_protocols[] = {
	{"roost", client_cb, 0, 65536, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

static void connect_now(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	if (A.stop || A.wsi)
		return;
	struct lws_client_connect_info ci;
	memset(&ci, 0, sizeof(ci));
	ci.context = A.ctx;
	ci.address = A.host;
	ci.port = A.port;
	ci.path = "/v1/agent";
	ci.host = A.host;
	ci.origin = A.host;
	ci.ssl_connection = LCCSCF_USE_SSL | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
	ci.protocol = "roost";
	ci.local_protocol_name = "roost";
	ci.pwsi = &A.wsi;
	ci.alpn = "http/1.1";
	if (!lws_client_connect_via_info(&ci)) {
		A.wsi = NULL;
		schedule_reconnect();
	}
}

/* Dead-server detection: ping after a third of the timeout, give up after all of it. */
static void keepalive(void)
{
	if (!A.wsi || !A.connected)
		return;
	int64_t idle = now_ms() - A.last_rx_ms;
	if (idle >= A.timeout_ms) {
		log_warn("agent.server_timeout", "silent_ms=%lld msg=\"no answer from the server; "
		                                 "reconnecting\"", (long long)idle);
		A.connected = A.configured = 0;
		lws_set_timeout(A.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	} else if (idle >= A.timeout_ms / 3 && !A.want_ping) {
		A.want_ping = 1;
		lws_callback_on_writable(A.wsi);
	}
}

static void tick(lws_sorted_usec_list_t *sul)
{
	keepalive();
	cron_tick();
	drain_outbox();
	lws_sul_schedule(A.ctx, 0, sul, tick, TICK_MS * LWS_US_PER_MS);
}

static void on_signal(int sig)
{
	(void)sig;
	A.stop = 1;
	A.cancel = 1;
	if (A.ctx)
		lws_cancel_service(A.ctx);
}

static void lws_log_emit(int level, const char *line)
{
	roost_log_foreign(level == LLL_ERR ? ROOST_LOG_ERROR : ROOST_LOG_WARN, "lws", line);
}

/* The host's zone: $TZ, /etc/timezone or the /etc/localtime link; "" for UTC. */
static void detect_tz(char *out, size_t cap)
{
	const struct roost_tz *tz;
	const char *env = getenv("TZ");
	char buf[256] = "";
	if (env && *env) {
		snprintf(buf, sizeof(buf), "%s", env[0] == ':' ? env + 1 : env);
	} else {
		FILE *f = fopen("/etc/timezone", "re");
		if (f) {
			if (!fgets(buf, sizeof(buf), f))
				buf[0] = 0;
			fclose(f);
			buf[strcspn(buf, "\n ")] = 0;
		}
		if (!buf[0]) {
			char link[512];
			ssize_t n = readlink("/etc/localtime", link, sizeof(link) - 1);
			if (n > 0) {
				link[n] = 0;
				const char *z = strstr(link, "zoneinfo/");
				if (z)
					snprintf(buf, sizeof(buf), "%s", z + 9);
			}
		}
	}
	out[0] = 0;
	if (buf[0] && roost_tz_get(buf, &tz, NULL) == ROOST_OK)
		snprintf(out, cap, "%s", buf);
}

/* ---- identity ---- */

static int load_identity(void)
{
	json_t *id = state_read(A.state, "identity.json");
	if (!id) {
		fprintf(stderr, "roost-agent: %s/identity.json: not enrolled (run `roost-agent enroll` "
		                "first)\n", A.state);
		return 2;
	}
	const char *url = json_string_value(json_object_get(id, "server"));
	const char *sec = json_string_value(json_object_get(id, "secret"));
	const char *fp = json_string_value(json_object_get(id, "fingerprint"));
	A.host_id = json_integer_value(json_object_get(id, "host_id"));
	if (!url || !sec || !fp || A.host_id <= 0 || roost_fingerprint_normalize(fp, A.fp)) {
		json_decref(id);
		fprintf(stderr, "roost-agent: %s/identity.json: incomplete; enroll again\n", A.state);
		return 2;
	}
	snprintf(A.url, sizeof(A.url), "%s", url);
	snprintf(A.auth, sizeof(A.auth), "Bearer %lld.%s", (long long)A.host_id, sec);
	const char *name = json_string_value(json_object_get(id, "name"));
	if (name)
		snprintf(A.name, sizeof(A.name), "%s", name);
	json_decref(id);
	/* host and port from the URL */
	const char *h = A.url + strlen("https://");
	size_t hl = strcspn(h, ":/");
	if (strncmp(A.url, "https://", 8) || hl == 0 || hl >= sizeof(A.host)) {
		fprintf(stderr, "roost-agent: server URL %s: expected https://HOST:PORT\n", A.url);
		return 2;
	}
	memcpy(A.host, h, hl);
	A.host[hl] = 0;
	A.port = h[hl] == ':' ? atoi(h + hl + 1) : 443;
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option lo[] = {
		{"state", required_argument, 0, 's'},
		{"log-level", required_argument, 0, 'L'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 's') {
			A.state = optarg;
		} else if (c == 'L') {
			int lv = roost_log_level_parse(optarg);
			if (lv < 0) {
				fprintf(stderr, "roost-agent: --log-level: debug, info, warn, error or off\n");
				return 2;
			}
			roost_log_set_level((enum roost_log_level)lv);
		} else if (c == 'h') {
			printf("usage: roost-agent run --state DIR [--log-level LEVEL]\n\n"
			       "Connects to the server this agent enrolled with, fires the host's\n"
			       "schedules and runs its jobs until SIGTERM or SIGINT.\n");
			return 0;
		} else {
			fprintf(stderr, "usage: roost-agent run --state DIR\n");
			return 2;
		}
	}
	if (!A.state || optind < argc) {
		fprintf(stderr, "usage: roost-agent run --state DIR\n");
		return 2;
	}
	int rc = load_identity();
	if (rc)
		return rc;
	detect_tz(A.tz, sizeof(A.tz));
	A.config = state_read(A.state, "config.json");
	if (!A.config)
		A.config = json_object();
	A.cursor = state_read(A.state, "cursor.json");
	if (!json_is_object(A.cursor)) {
		json_decref(A.cursor);
		A.cursor = json_object();
	}
	A.fires = state_read(A.state, "fires.json");
	if (!json_is_array(A.fires)) {
		json_decref(A.fires);
		A.fires = json_array();
	}
	json_t *jobs = state_read(A.state, "jobs.json");
	A.queue = json_incref(json_object_get(jobs, "queue"));
	A.done = json_incref(json_object_get(jobs, "done"));
	if (!json_is_array(A.queue)) {
		json_decref(A.queue);
		A.queue = json_array();
	}
	if (!json_is_array(A.done)) {
		json_decref(A.done);
		A.done = json_array();
	}
	json_t *was = json_object_get(jobs, "current");
	if (json_is_object(was)) {
		/* we died while running it: it is lost */
		json_t *st = json_pack("{s:O, s:s, s:s}", "job_id", json_object_get(was, "job_id"),
		                       "status", "interrupted", "error",
		                       "the agent stopped while running this job");
		done_push_locked(st);
		log_warn("job.interrupted", "job=%lld why=\"agent restarted during the job\"",
		         (long long)json_integer_value(json_object_get(was, "job_id")));
	}
	json_decref(jobs);
	A.outbox = json_array();
	save_jobs_locked();
	char cache[4200];
	snprintf(cache, sizeof(cache), "%s/cache", A.state);
	mkdir(cache, 0700);
	if (intermittent()) {
		/* a laptop that was off missed its windows: the server catches them up */
		const char *k;
		json_t *v;
		json_object_foreach(A.cursor, k, v) json_object_set_new(A.cursor, k,
		                                                        json_integer((int64_t)time(NULL)));
	}
	load_scheds();
	A.backoff_ms = BACKOFF_MIN_MS;
	A.timeout_ms = 60000;
	json_t *to = json_object_get(A.config, "timeout_s");
	if (json_is_integer(to) && json_integer_value(to) >= 3 && json_integer_value(to) <= 3600)
		A.timeout_ms = json_integer_value(to) * 1000;
	const char *d = getenv("ROOST_AGENT_TEST_JOB_DELAY_MS");
	A.test_delay_ms = d ? atoi(d) : 0;

	lws_set_log_level(LLL_ERR, lws_log_emit);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = client_protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.timeout_secs = 30;
	A.ctx = lws_create_context(&info);
	if (!A.ctx) {
		fprintf(stderr, "roost-agent: could not create the connection context\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (pthread_create(&A.job_thread, NULL, job_main, NULL)) {
		fprintf(stderr, "roost-agent: could not start the job thread\n");
		return 1;
	}
	log_info("agent.start", "host=%lld name=%s server=%s tz=%s", (long long)A.host_id,
	         roost_lq(A.name), roost_lq(A.url), A.tz[0] ? A.tz : "UTC");
	connect_now(NULL);
	lws_sul_schedule(A.ctx, 0, &A.sul_tick, tick, TICK_MS * LWS_US_PER_MS);
	while (!A.stop)
		if (lws_service(A.ctx, 0) < 0)
			break;
	log_info("agent.stop", "why=signal");
	pthread_mutex_lock(&A.mu);
	A.stop = 1;
	A.cancel = 1;
	pthread_cond_broadcast(&A.cv);
	pthread_mutex_unlock(&A.mu);
	pthread_join(A.job_thread, NULL);
	lws_context_destroy(A.ctx);
	drop_outq();
	free_scheds();
	json_decref(A.config);
	json_decref(A.cursor);
	json_decref(A.fires);
	json_decref(A.queue);
	json_decref(A.done);
	json_decref(A.outbox);
	json_decref(A.current);
	free(A.rx);
	return 0;
}

static int cmd_enroll(int argc, char **argv)
{
	static const struct option lo[] = {
		{"server", required_argument, 0, 'S'},   {"token", required_argument, 0, 't'},
		{"fingerprint", required_argument, 0, 'f'}, {"mode", required_argument, 0, 'm'},
		{"state", required_argument, 0, 's'},    {"hostname", required_argument, 0, 'n'},
		{"help", no_argument, 0, 'h'},           {0, 0, 0, 0},
	};
	const char *server = NULL, *token = NULL, *fp = NULL, *mode = "always-on", *state = NULL;
	char hn[256] = "";
	gethostname(hn, sizeof(hn) - 1);
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'S': server = optarg; break;
		case 't': token = optarg; break;
		case 'f': fp = optarg; break;
		case 'm': mode = optarg; break;
		case 's': state = optarg; break;
		case 'n': snprintf(hn, sizeof(hn), "%s", optarg); break;
		case 'h':
			printf("usage: roost-agent enroll --server URL --token TOKEN [--fingerprint SHA256]\n"
			       "                          [--mode always-on|intermittent] [--hostname NAME]\n"
			       "                          --state DIR\n\n"
			       "Registers this host with roostd using a one-time enrollment token\n"
			       "(`roost token create`). Without --fingerprint the server's certificate\n"
			       "is trusted on first use and pinned from then on.\n");
			return 0;
		default:
			fprintf(stderr, "roost-agent: enroll: bad option (see --help)\n");
			return 2;
		}
	}
	if (!server || !token || !state || optind < argc) {
		fprintf(stderr, "usage: roost-agent enroll --server URL --token TOKEN "
		                "[--fingerprint SHA256] [--mode always-on|intermittent] --state DIR\n");
		return 2;
	}
	if (strcmp(mode, "always-on") && strcmp(mode, "intermittent")) {
		fprintf(stderr, "roost-agent: --mode: always-on or intermittent\n");
		return 2;
	}
	char pin[65];
	struct roost_errbuf eb = {{0}};
	if (fp) {
		if (roost_fingerprint_normalize(fp, pin)) {
			fprintf(stderr, "roost-agent: --fingerprint: expected 64 hex digits (SHA-256)\n");
			return 2;
		}
	} else {
		if (roost_http_fetch_fingerprint(server, pin, &eb)) {
			fprintf(stderr, "roost-agent: %s\n", eb.msg);
			return eb.msg[0] && strstr(eb.msg, "must start") ? 2 : 1;
		}
		printf("trusting the server's certificate on first use: SHA-256 %s\n", pin);
	}
	if (mkdir(state, 0700) && errno != EEXIST) {
		fprintf(stderr, "roost-agent: create %s: %s\n", state, strerror(errno));
		return 1;
	}
	char idp[4200];
	snprintf(idp, sizeof(idp), "%s/identity.json", state);
	if (access(idp, F_OK) == 0) {
		fprintf(stderr, "roost-agent: %s is already enrolled (remove %s to enroll again)\n",
		        state, idp);
		return 1;
	}
	struct roost_http *h;
	if (roost_http_new(server, pin, NULL, 30, &h, &eb)) {
		fprintf(stderr, "roost-agent: %s\n", eb.msg);
		return 2;
	}
	struct utsname u;
	char os[200] = "unknown";
	if (uname(&u) == 0)
		snprintf(os, sizeof(os), "%s %s", u.sysname, u.release);
	json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "token", token, "hostname", hn, "os", os,
	                         "mode", mode);
	char *b = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	struct roost_http_resp r;
	const char *hdrs[] = {"Content-Type: application/json", NULL};
	enum roost_err err = roost_http_request(h, "POST", "/v1/enroll", hdrs, b, strlen(b), 1 << 20,
	                                        &r, &eb);
	free(b);
	roost_http_free(h);
	if (err) {
		fprintf(stderr, "roost-agent: %s\n", eb.msg);
		return 1;
	}
	json_t *j = r.body ? json_loadb((const char *)r.body, r.len, 0, NULL) : NULL;
	int status = r.status;
	roost_http_resp_free(&r);
	if (status != 201) {
		const char *msg = json_string_value(json_object_get(json_object_get(j, "error"),
		                                                    "message"));
		fprintf(stderr, "roost-agent: enrollment refused: %s (HTTP %d)\n",
		        msg ? msg : "no reason given", status);
		json_decref(j);
		return status == 400 ? 2 : 1;
	}
	json_t *id = json_pack("{s:s, s:O, s:O, s:s, s:O, s:O}", "server", server, "host_id",
	                       json_object_get(j, "host_id"), "secret", json_object_get(j, "secret"),
	                       "fingerprint", pin, "name", json_object_get(j, "name"), "mode",
	                       json_object_get(j, "mode"));
	int wr = state_write(state, "identity.json", id);
	json_decref(id);
	if (wr) {
		fprintf(stderr, "roost-agent: could not write %s\n", idp);
		json_decref(j);
		return 1;
	}
	printf("enrolled as host %lld (%s); start it with: roost-agent run --state %s\n",
	       (long long)json_integer_value(json_object_get(j, "host_id")),
	       json_string_value(json_object_get(j, "name")), state);
	json_decref(j);
	return 0;
}

int main(int argc, char **argv)
{
	static const char usage[] =
		"usage: roost-agent enroll --server URL --token TOKEN [--fingerprint SHA256]\n"
		"                          [--mode always-on|intermittent] --state DIR\n"
		"       roost-agent run --state DIR\n";
	if (sodium_init() < 0)
		return 1;
	pthread_mutex_init(&A.mu, NULL);
	pthread_cond_init(&A.cv, NULL);
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("roost-agent %s\n", ROOST_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "enroll"))
		return cmd_enroll(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	fprintf(stderr, "roost-agent: unknown command \"%s\"\n%s", argv[1], usage);
	return 2;
}
