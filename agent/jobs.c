/* SPDX-License-Identifier: MIT */
/*
 * The job queue and the job thread. job.start messages from the server are
 * queued and run one at a time, a backup or a restore written through the
 * server's object API; job.accepted, job.progress (at most 1/s) and
 * job.finished go to an outbox that the main thread drains and sends. The
 * queue, the running job and the last final states are kept in jobs.json,
 * so a job the agent died in is reported "interrupted" after a restart.
 *
 * Threads: struct jobs is shared by the main thread (jobs_enqueue,
 * jobs_cancel, jobs_report, jobs_take_outbox, jobs_set_config) and the job
 * thread (job_main); everything in it that changes is under mu. The job
 * thread works on deep copies: jansson's reference counts are not for
 * sharing between threads.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "roost/backend.h"
#include "roost/http.h"
#include "roost/log.h"
#include "roost/repo.h"

#define DONE_KEEP 20

struct jobs {
	/* immutable once jobs_start has run */
	const char *state;                 /* borrowed */
	const struct agent_identity *id;   /* borrowed */
	int test_delay_ms; /* tests only: each job first waits this long (cancelable) */
	void (*wake)(void *ctx);
	void *wake_ctx;
	pthread_t thread;
	int started;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu */
	json_t *queue;   /* job.start messages waiting */
	json_t *current; /* the running job.start, or NULL */
	int64_t current_started;
	json_t *done;    /* final states of the last DONE_KEEP jobs */
	json_t *outbox;  /* messages for the main thread to send */
	json_t *repo;    /* the config's repository access, or NULL */
	char name[160];  /* the host's name, for snapshots */
	struct roost_progress prog;
	int prog_dirty;
	int64_t last_progress_ms;
	/* set without mu too (signal handler, job.cancel); read by the backup */
	volatile int cancel;
	volatile int stop;
};

/* ---- jobs.json and the outbox (callers hold mu) ---- */

static void save_jobs_locked(struct jobs *j)
{
	json_t *o = json_pack("{s:O, s:O, s:O}", "queue", j->queue, "current",
	                      j->current ? j->current : json_null(), "done", j->done);
	if (state_write(j->state, "jobs.json", o))
		log_error("agent.state", "file=jobs.json msg=\"could not write\"");
	json_decref(o);
}

static void outbox_push_locked(struct jobs *j, json_t *m)
{
	json_array_append_new(j->outbox, m);
	if (j->wake)
		j->wake(j->wake_ctx);
}

static void done_push_locked(struct jobs *j, json_t *st)
{
	json_array_append_new(j->done, st);
	while (json_array_size(j->done) > DONE_KEEP)
		json_array_remove(j->done, 0);
}

static int job_known_locked(struct jobs *j, int64_t id)
{
	size_t i;
	json_t *e;
	if (j->current && msg_job_id(j->current) == id)
		return 1;
	json_array_foreach(j->queue, i, e) if (msg_job_id(e) == id)
		return 1;
	json_array_foreach(j->done, i, e) if (msg_job_id(e) == id)
		return 1;
	return 0;
}

/* ---- running one job (job thread) ---- */

static void on_progress(void *ctx, const struct roost_progress *p)
{
	struct jobs *j = ctx;
	pthread_mutex_lock(&j->mu);
	j->prog = *p;
	j->prog.current = NULL;
	j->prog_dirty = 1;
	pthread_mutex_unlock(&j->mu);
}

static void on_warn(void *ctx, const char *msg)
{
	(void)ctx;
	log_warn("job.warning", "msg=%s", roost_lq(msg));
}

static json_t *run_job(struct jobs *j, json_t *start, int64_t started)
{
	struct msg_job_start js;
	int js_ok = msg_job_start_read(start, &js) == 0;
	int64_t id = js.job_id;
	const char *kind = js.kind;
	char err_msg[600] = "";
	const char *status = "failed";
	char snap[65] = "";
	uint64_t files = 0, bytes = 0, bytes_new = 0;
	struct roost_errbuf eb = {{0}};
	struct roost_http *http = NULL;
	struct roost_backend *be = NULL;
	struct roost_repo *repo = NULL;
	const char *pw;
	char hostname[sizeof(j->name)];
	pthread_mutex_lock(&j->mu);
	json_t *repo_cfg = json_deep_copy(j->repo);
	memcpy(hostname, j->name, sizeof(hostname));
	pthread_mutex_unlock(&j->mu);
	pw = json_string_value(json_object_get(repo_cfg, "password"));
	enum roost_err err;
	for (int waited = 0; waited < j->test_delay_ms && !j->cancel; waited += 20)
		usleep(20 * 1000);
	if (j->cancel) {
		status = "canceled";
		snprintf(err_msg, sizeof(err_msg), "canceled");
		goto out;
	}
	if (!pw) {
		snprintf(err_msg, sizeof(err_msg), "no repository access in the config yet");
		goto out;
	}
	if ((err = roost_http_new(j->id->url, j->id->fp, j->id->auth, 120, &http, &eb)) ||
	    (err = roost_backend_http_open(http, j->id->url, &be, &eb)) ||
	    (err = roost_repo_open(be, pw, &repo, &eb))) {
		snprintf(err_msg, sizeof(err_msg), "repository: %s", eb.msg);
		goto out;
	}
	if (kind && !strcmp(kind, "backup")) {
		char tag_group[200], tag_job[40];
		snprintf(tag_group, sizeof(tag_group), "group:%s", js.group_name ?: "?");
		snprintf(tag_job, sizeof(tag_job), "job:%lld", (long long)id);
		const char *tags[] = {tag_group, tag_job};
		char cache[4200];
		snprintf(cache, sizeof(cache), "%s/cache", j->state);
		struct roost_backup_opts o = {
			.paths = js.paths,
			.npaths = js.npaths,
			.excludes = js.excludes,
			.nexcludes = js.nexcludes,
			.tags = tags,
			.ntags = 2,
			.hostname = hostname[0] ? hostname : NULL,
			.cache_dir = cache,
			.progress = on_progress,
			.progress_ctx = j,
			.warn = on_warn,
			.cancel = &j->cancel,
		};
		struct roost_backup_result res;
		if (!js.paths || !js.excludes || js.npaths == 0) {
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
	} else if (kind && !strcmp(kind, "restore")) {
		struct roost_snapshot s;
		memset(&s, 0, sizeof(s));
		if (!js.snapshot_id || !js.target || js.target[0] != '/') {
			snprintf(err_msg, sizeof(err_msg), "restore needs a snapshot and an absolute target");
		} else if (!js_ok) {
			snprintf(err_msg, sizeof(err_msg), "out of memory");
		} else if ((err = roost_repo_find_snapshot(repo, js.snapshot_id, &s, &eb))) {
			snprintf(err_msg, sizeof(err_msg), "%s", eb.msg);
		} else {
			struct roost_restore_opts o = {
				.target = js.target,
				.includes = js.includes,
				.nincludes = js.nincludes,
				.progress = on_progress,
				.progress_ctx = j,
				.warn = on_warn,
				.cancel = &j->cancel,
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
	} else {
		snprintf(err_msg, sizeof(err_msg), "unknown job kind");
	}
out:
	roost_repo_close(repo);
	roost_backend_close(be);
	roost_http_free(http);
	json_decref(repo_cfg);
	json_t *st = msg_job_final(id, status, started, files, bytes, bytes_new, snap, err_msg);
	log_info("job.finished", "job=%lld kind=%s status=%s snapshot=%s files=%llu bytes=%llu "
	                         "bytes_new=%llu error=%s", (long long)id, kind ? kind : "-", status,
	         snap[0] ? snap : "-", (unsigned long long)files, (unsigned long long)bytes,
	         (unsigned long long)bytes_new, roost_lq(err_msg[0] ? err_msg : NULL));
	msg_job_start_release(&js);
	return st;
}

static void *job_main(void *arg)
{
	struct jobs *j = arg;
	pthread_mutex_lock(&j->mu);
	for (;;) {
		while (!j->stop && json_array_size(j->queue) == 0)
			pthread_cond_wait(&j->cv, &j->mu);
		if (j->stop)
			break;
		j->current = json_incref(json_array_get(j->queue, 0));
		json_array_remove(j->queue, 0);
		j->current_started = (int64_t)time(NULL);
		j->cancel = 0;
		memset(&j->prog, 0, sizeof(j->prog));
		save_jobs_locked(j);
		outbox_push_locked(j, msg_job_accepted(msg_job_id(j->current), j->current_started));
		json_t *start = json_deep_copy(j->current);
		int64_t started = j->current_started;
		pthread_mutex_unlock(&j->mu);
		log_info("job.start", "job=%lld kind=%s", (long long)msg_job_id(start),
		         json_string_value(json_object_get(start, "kind")));
		json_t *st = run_job(j, start, started);
		json_decref(start);
		pthread_mutex_lock(&j->mu);
		json_decref(j->current);
		j->current = NULL;
		j->prog_dirty = 0;
		done_push_locked(j, json_deep_copy(st));
		save_jobs_locked(j);
		outbox_push_locked(j, msg_job_finished(st));
		json_decref(st);
	}
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

/* ---- the queue's life ---- */

struct jobs *jobs_open(const char *state, const struct agent_identity *id,
                       const json_t *config)
{
	struct jobs *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->state = state;
	j->id = id;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	snprintf(j->name, sizeof(j->name), "%s", id->name);
	j->repo = json_deep_copy(msg_config_repository(config));
	const char *d = getenv("ROOST_AGENT_TEST_JOB_DELAY_MS");
	j->test_delay_ms = d ? atoi(d) : 0;
	json_t *saved = state_read(state, "jobs.json");
	j->queue = json_incref(json_object_get(saved, "queue"));
	j->done = json_incref(json_object_get(saved, "done"));
	if (!json_is_array(j->queue)) {
		json_decref(j->queue);
		j->queue = json_array();
	}
	if (!json_is_array(j->done)) {
		json_decref(j->done);
		j->done = json_array();
	}
	j->outbox = json_array();
	json_t *was = json_object_get(saved, "current");
	if (json_is_object(was)) {
		/* we died while running it: it is lost */
		done_push_locked(j, msg_job_final_short(msg_job_id(was), "interrupted",
		                                        "the agent stopped while running this job"));
		log_warn("job.interrupted", "job=%lld why=\"agent restarted during the job\"",
		         (long long)msg_job_id(was));
	}
	json_decref(saved);
	if (!j->queue || !j->done || !j->outbox) {
		jobs_free(j);
		return NULL;
	}
	save_jobs_locked(j);
	char cache[4200];
	snprintf(cache, sizeof(cache), "%s/cache", state);
	mkdir(cache, 0700);
	return j;
}

int jobs_start(struct jobs *j, void (*wake)(void *ctx), void *ctx)
{
	j->wake = wake;
	j->wake_ctx = ctx;
	if (pthread_create(&j->thread, NULL, job_main, j))
		return -1;
	j->started = 1;
	return 0;
}

void jobs_interrupt(struct jobs *j)
{
	j->stop = 1;
	j->cancel = 1;
}

void jobs_stop(struct jobs *j)
{
	pthread_mutex_lock(&j->mu);
	j->stop = 1;
	j->cancel = 1;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
	if (j->started)
		pthread_join(j->thread, NULL);
	j->started = 0;
}

void jobs_free(struct jobs *j)
{
	if (!j)
		return;
	json_decref(j->queue);
	json_decref(j->current);
	json_decref(j->done);
	json_decref(j->outbox);
	json_decref(j->repo);
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

/* ---- the main thread's side ---- */

void jobs_set_config(struct jobs *j, const json_t *repository, const char *name)
{
	json_t *copy = json_deep_copy(repository);
	pthread_mutex_lock(&j->mu);
	json_decref(j->repo);
	j->repo = copy;
	if (name)
		snprintf(j->name, sizeof(j->name), "%s", name);
	pthread_mutex_unlock(&j->mu);
}

void jobs_enqueue(struct jobs *j, const json_t *start, int64_t job_id)
{
	pthread_mutex_lock(&j->mu);
	if (!job_known_locked(j, job_id)) {
		json_array_append_new(j->queue, json_deep_copy(start));
		save_jobs_locked(j);
		pthread_cond_signal(&j->cv);
		log_info("job.queued", "job=%lld", (long long)job_id);
	}
	pthread_mutex_unlock(&j->mu);
}

void jobs_cancel(struct jobs *j, int64_t job_id)
{
	pthread_mutex_lock(&j->mu);
	if (j->current && msg_job_id(j->current) == job_id) {
		j->cancel = 1;
		log_info("job.cancel", "job=%lld state=running", (long long)job_id);
	}
	size_t i;
	json_t *e;
	json_array_foreach(j->queue, i, e) {
		if (msg_job_id(e) == job_id) {
			json_array_remove(j->queue, i);
			json_t *st = msg_job_final_short(job_id, "canceled", "canceled before it started");
			done_push_locked(j, json_deep_copy(st));
			outbox_push_locked(j, msg_job_finished(st));
			json_decref(st);
			save_jobs_locked(j);
			log_info("job.cancel", "job=%lld state=queued", (long long)job_id);
			break;
		}
	}
	pthread_mutex_unlock(&j->mu);
}

json_t *jobs_report(struct jobs *j)
{
	json_t *out = json_array();
	pthread_mutex_lock(&j->mu);
	if (j->current)
		json_array_append_new(out, msg_hello_job(msg_job_id(j->current), "running"));
	size_t i;
	json_t *e;
	json_array_foreach(j->queue, i, e)
		json_array_append_new(out, msg_hello_job(msg_job_id(e), "queued"));
	json_array_foreach(j->done, i, e) json_array_append_new(out, json_deep_copy(e));
	pthread_mutex_unlock(&j->mu);
	return out;
}

json_t *jobs_take_outbox(struct jobs *j, int64_t now_ms, json_t **progress)
{
	*progress = NULL;
	pthread_mutex_lock(&j->mu);
	json_t *box = j->outbox;
	j->outbox = json_array();
	if (j->prog_dirty && j->current && now_ms - j->last_progress_ms >= 1000) {
		*progress = msg_job_progress(msg_job_id(j->current), &j->prog);
		j->prog_dirty = 0;
		j->last_progress_ms = now_ms;
	}
	pthread_mutex_unlock(&j->mu);
	return box;
}
