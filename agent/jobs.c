/* SPDX-License-Identifier: MIT */
/*
 * The job queue and the job thread. job.start messages from the server are
 * queued and run one at a time, a backup or a restore written through the
 * server's object API; job.accepted, job.progress (at most 1/s) and
 * job.finished go to an outbox that the main thread drains and sends. The
 * queue, the running job and the last final states are kept in jobs.json,
 * so a job the agent died in is reported "interrupted" after a restart.
 * Every message and every entry of jobs.json is encoded and decoded by
 * lib/proto: the queue holds decoded job.start messages, the final states
 * are the job entries a hello carries.
 *
 * Threads: struct jobs is shared by the main thread (jobs_enqueue,
 * jobs_reject, jobs_cancel_job, jobs_report, jobs_take_outbox,
 * jobs_set_config) and the job thread (job_main); everything in it that
 * changes is under mu. The job
 * thread reads `current` without mu while it runs the job: only the job
 * thread changes it, under mu, so the main thread's reads (under mu) never
 * race with a write.
 */
#include <pthread.h>
#include <sodium.h>
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
#include "roost/ratelimit.h"
#include "roost/repo.h"

#define DONE_KEEP 20
/* a hello carries the running job, the queue and the final states */
#define QUEUE_MAX (PROTO_MAX_JOBS - DONE_KEEP - 1)

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
	struct proto_job_start *queue; /* job.start messages waiting, nqueue <= QUEUE_MAX */
	size_t nqueue, capqueue;
	struct proto_job_start current; /* the running job when has_current */
	int has_current;
	int64_t current_started;
	struct proto_job done[DONE_KEEP]; /* final states of the last ndone jobs, oldest first */
	size_t ndone;
	json_t *outbox;  /* encoded messages for the main thread to send */
	/* repository access from the config: the put-only material (base64), or
	 * from a server before format 2 the password; "": none yet */
	char repo_password[sizeof(((struct proto_config *)0)->repo_password)];
	char repo_put_key[sizeof(((struct proto_config *)0)->repo_put_key)];
	/* the host-dedup material: this host's own blob-id key (groups with dedup host) */
	char repo_put_key_host[sizeof(((struct proto_config *)0)->repo_put_key_host)];
	char name[sizeof(((struct proto_config *)0)->name)]; /* the host's name, for snapshots */
	/* the host's upload limit (config upload_limit_kbps): every request a
	 * job sends is paced through it, whatever thread of the engine sends
	 * it; thread-safe itself, a new config changes its rate at once */
	struct roost_ratelimit *rl;
	struct roost_progress prog;
	int prog_dirty;
	/* the running job's first warning (a file not read or not restored,
	 * and why): named in the job's error, which otherwise only counts */
	char first_warn[512];
	int64_t last_progress_ms;
	/* set without mu too (signal handler, job.cancel); read by the backup */
	volatile int cancel;
	volatile int stop;
};

/* ---- jobs.json and the outbox (callers hold mu) ---- */

/* A job.start for jobs.json, or NULL after a log line. */
static json_t *encode_start(const struct proto_job_start *s)
{
	json_t *o;
	struct roost_errbuf eb = {{0}};
	if (proto_encode_job_start(s, &o, &eb)) {
		log_error("agent.encode", "type=job.start job=%lld msg=%s", (long long)s->job_id,
		          roost_lq(eb.msg));
		return NULL;
	}
	return o;
}

static void save_jobs_locked(struct jobs *j)
{
	json_t *queue = json_array(), *done = json_array(), *o, *e;
	struct roost_errbuf eb = {{0}};
	for (size_t i = 0; queue && i < j->nqueue; i++)
		if ((e = encode_start(&j->queue[i])))
			json_array_append_new(queue, e);
	for (size_t i = 0; done && i < j->ndone; i++) {
		if (proto_encode_job_entry(&j->done[i], &e, &eb))
			log_error("agent.encode", "type=job job=%lld msg=%s", (long long)j->done[i].job_id,
			          roost_lq(eb.msg));
		else
			json_array_append_new(done, e);
	}
	json_t *cur = j->has_current ? encode_start(&j->current) : NULL;
	o = json_pack("{s:o*, s:o, s:o*}", "queue", queue, "current", cur ? cur : json_null(),
	              "done", done);
	if (!o || state_write(j->state, "jobs.json", o))
		log_error("agent.state", "file=jobs.json msg=\"could not write\"");
	json_decref(o);
}

/* Queues m (encoded; NULL, when the encoder refused it, is skipped). */
static void outbox_push_locked(struct jobs *j, json_t *m)
{
	if (!m)
		return;
	json_array_append_new(j->outbox, m);
	if (j->wake)
		j->wake(j->wake_ctx);
}

static void done_push_locked(struct jobs *j, const struct proto_job *st)
{
	if (j->ndone == DONE_KEEP) {
		memmove(j->done, j->done + 1, (DONE_KEEP - 1) * sizeof(j->done[0]));
		j->ndone--;
	}
	j->done[j->ndone++] = *st;
}

/* A job ends without running: its final state is kept, saved and sent. */
static void finish_locked(struct jobs *j, int64_t job_id, const char *status, const char *error)
{
	struct proto_job st;
	msg_job_state(&st, job_id, status, error);
	done_push_locked(j, &st);
	save_jobs_locked(j);
	outbox_push_locked(j, msg_job(PROTO_JOB_FINISHED, &st));
}

static int job_known_locked(struct jobs *j, int64_t id)
{
	if (j->has_current && j->current.job_id == id)
		return 1;
	for (size_t i = 0; i < j->nqueue; i++)
		if (j->queue[i].job_id == id)
			return 1;
	for (size_t i = 0; i < j->ndone; i++)
		if (j->done[i].job_id == id)
			return 1;
	return 0;
}

/* Appends *s (its contents move; *s is left zeroed). -1 when out of memory. */
static int queue_push_locked(struct jobs *j, struct proto_job_start *s)
{
	if (j->nqueue == j->capqueue) {
		size_t cap = j->capqueue ? 2 * j->capqueue : 8;
		struct proto_job_start *q = realloc(j->queue, cap * sizeof(*q));
		if (!q)
			return -1;
		j->queue = q;
		j->capqueue = cap;
	}
	j->queue[j->nqueue++] = *s;
	memset(s, 0, sizeof(*s));
	return 0;
}

/* Removes queue entry i into *s (the caller owns it then). */
static void queue_take_locked(struct jobs *j, size_t i, struct proto_job_start *s)
{
	*s = j->queue[i];
	memmove(j->queue + i, j->queue + i + 1, (j->nqueue - i - 1) * sizeof(*j->queue));
	j->nqueue--;
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
	struct jobs *j = ctx;
	log_warn("job.warning", "msg=%s", roost_lq(msg));
	pthread_mutex_lock(&j->mu);
	if (!j->first_warn[0])
		snprintf(j->first_warn, sizeof(j->first_warn), "%s", msg);
	pthread_mutex_unlock(&j->mu);
}

/* "N files could not be <what>", and the first of them with its reason
 * (a restore through roostd: which blob, in which pack, and why). */
static void count_error(struct jobs *j, char *err, size_t cap, unsigned long long n,
                        const char *what)
{
	pthread_mutex_lock(&j->mu);
	if (j->first_warn[0])
		snprintf(err, cap, "%llu files could not be %s; first: %s", n, what, j->first_warn);
	else
		snprintf(err, cap, "%llu files could not be %s", n, what);
	pthread_mutex_unlock(&j->mu);
}

#define POST_HOOK_STOPPING_S 10 /* the post-hook's bound while the agent stops */

/* Appends "; " and msg to the error in err (cap bytes), cut at cap. */
static void append_error(char *err, size_t cap, const char *msg)
{
	size_t n = strlen(err);
	if (n && n + 2 < cap) {
		memcpy(err + n, "; ", 2);
		n += 2;
	}
	size_t m = strlen(msg);
	if (m > cap - 1 - n)
		m = cap - 1 - n;
	memcpy(err + n, msg, m);
	err[n + m] = 0;
}

/* The post-hook after the backup ended with *status: a failing one fails a
 * job that succeeded (its snapshot is kept, and named in the error). A job
 * already canceled runs it without the cancel (it is the cleanup), for at
 * most POST_HOOK_STOPPING_S when the agent is stopping; a cancel that comes
 * while it runs kills it. */
static void post_hook(struct jobs *j, const struct proto_job_start *js, const char *host,
                      const char **status, const char *snap, char *err_msg, size_t cap,
                      char *hook_out)
{
	int ok = !strcmp(*status, "succeeded"), hc;
	int was_canceled = __atomic_load_n(&j->cancel, __ATOMIC_RELAXED);
	struct proto_job_start bounded = *js; /* shares js's arrays: never released */
	pthread_mutex_lock(&j->mu);
	int stopping = j->stop;
	pthread_mutex_unlock(&j->mu);
	if (stopping && bounded.group.hook_timeout_s > POST_HOOK_STOPPING_S)
		bounded.group.hook_timeout_s = POST_HOOK_STOPPING_S;
	char perr[600];
	if (!hook_run_for_job("post-hook", &bounded, host, ok ? "succeeded" : "failed", snap,
	                      was_canceled ? NULL : &j->cancel, &hc, perr, sizeof(perr), hook_out,
	                      PROTO_MAX_HOOK_OUTPUT + 1))
		return;
	char tail[sizeof(perr) + 80];
	if (ok) {
		*status = "failed";
		snprintf(tail, sizeof(tail), "%s; the backup succeeded and its snapshot %.12s was kept",
		         perr, snap);
	} else {
		snprintf(tail, sizeof(tail), "%s", perr);
	}
	append_error(err_msg, cap, tail);
}

/* Runs js (job thread, without mu) and fills *st with its final state. */
/*
 * Worker threads of a restore. Through roostd (served: it decrypts), each
 * worker waits a round trip for every blob it asks for, so the engine's
 * default of one per CPU left both CPUs idle much of the time; more
 * workers keep more requests in flight. Local decryption: the engine's
 * default.
 */
static int restore_threads(int served)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (!served)
		return 0;
	n = n < 1 ? 4 : 3 * n;
	return n < 4 ? 4 : n > 16 ? 16 : (int)n;
}


/* The job's object API starts on the server in use and, when that one dies
 * mid-job, moves on through the others in the agent's order. */
static enum roost_err add_other_servers(struct roost_http *http, const struct agent_identity *id,
                                        const struct agent_server *cur, struct roost_errbuf *eb)
{
	int at = (int)(cur - id->servers);
	for (int k = 1; k < id->nservers && k < ROOST_HTTP_SERVERS; k++) {
		enum roost_err err =
			roost_http_add_server(http, id->servers[(at + k) % id->nservers].url, eb);
		if (err)
			return err;
	}
	return ROOST_OK;
}

static void run_job(struct jobs *j, const struct proto_job_start *js, int64_t started,
                    struct proto_job *st)
{
	int64_t id = js->job_id;
	const char *kind = js->kind;
	char err_msg[600] = "";
	const char *status = "failed";
	char snap[65] = "";
	uint64_t files = 0, bytes = 0, bytes_new = 0;
	struct roost_errbuf eb = {{0}};
	struct roost_http *http = NULL;
	struct roost_backend *be = NULL;
	struct roost_repo *repo = NULL;
	char pw[sizeof(j->repo_password)], putk[sizeof(j->repo_put_key)];
	char putkh[sizeof(j->repo_put_key_host)];
	uint8_t material[ROOST_PUT_MATERIAL_LEN], hmat[ROOST_PUT_HOST_LEN];
	size_t mlen = 0, hlen = 0;
	char hostname[sizeof(j->name)];
	int run_post = 0;
	char hook_out[PROTO_MAX_HOOK_OUTPUT + 1] = "";
	pthread_mutex_lock(&j->mu);
	memcpy(pw, j->repo_password, sizeof(pw));
	memcpy(putk, j->repo_put_key, sizeof(putk));
	memcpy(putkh, j->repo_put_key_host, sizeof(putkh));
	memcpy(hostname, j->name, sizeof(hostname));
	pthread_mutex_unlock(&j->mu);
	enum roost_err err;
	for (int waited = 0; waited < j->test_delay_ms && !__atomic_load_n(&j->cancel, __ATOMIC_RELAXED);
	     waited += 20)
		usleep(20 * 1000);
	if (__atomic_load_n(&j->cancel, __ATOMIC_RELAXED)) {
		status = "canceled";
		snprintf(err_msg, sizeof(err_msg), "canceled");
		goto out;
	}
	/* hooks: pre -> backup -> post; the post-hook runs once the pre-hook has
	 * been tried, whatever happens after (docs/policies.md, "Hooks") */
	const struct proto_group *hg = &js->group;
	int hooks = !strcmp(kind, "backup") && js->has_group && (hg->pre_hook[0] || hg->post_hook[0]);
	if (hooks && !j->id->allow_hooks) {
		snprintf(err_msg, sizeof(err_msg), "hooks are disabled on this host: enroll with "
		         "--allow-hooks to run group %s's hooks (nothing was run)", hg->name);
		goto out;
	}
	run_post = hooks && hg->post_hook[0];
	int hook_canceled;
	if (hooks && hg->pre_hook[0] &&
	    hook_run_for_job("pre-hook", js, hostname, NULL, NULL, &j->cancel, &hook_canceled,
	                     err_msg, sizeof(err_msg), hook_out, sizeof(hook_out))) {
		status = hook_canceled ? "canceled" : "failed";
		goto out;
	}
	if (putk[0] && (sodium_base642bin(material, sizeof(material), putk, strlen(putk), NULL,
	                                  &mlen, NULL, sodium_base64_VARIANT_ORIGINAL) ||
	                mlen != sizeof(material))) {
		snprintf(err_msg, sizeof(err_msg), "the config's repository key is malformed");
		goto out;
	}
	if (putkh[0] && (sodium_base642bin(hmat, sizeof(hmat), putkh, strlen(putkh), NULL, &hlen,
	                                   NULL, sodium_base64_VARIANT_ORIGINAL) ||
	                 hlen != sizeof(hmat))) {
		snprintf(err_msg, sizeof(err_msg), "the config's host repository key is malformed");
		goto out;
	}
	/* a backup of a dedup host group makes its ids with this host's own key */
	int host_ids = !strcmp(kind, "backup") && js->has_group && js->group.dedup_host;
	if (host_ids ? !putkh[0] : !putk[0] && !pw[0] && !putkh[0]) {
		snprintf(err_msg, sizeof(err_msg), "no repository access in the config yet%s",
		         host_ids ? " (this group's dedup is host)" : "");
		goto out;
	}
	if (!strcmp(kind, "backup") && !host_ids && !putk[0] && !pw[0]) {
		snprintf(err_msg, sizeof(err_msg), "no repository access in the config yet");
		goto out;
	}
	int use_host = host_ids || (!putk[0] && !pw[0]);
	/* write-only: with the put-only material a restore is decrypted by roostd */
	const struct agent_server *sv = agent_server(j->id); /* the one in use now */
	if ((err = roost_http_new(sv->url, j->id->fp, j->id->auth, 120, &http, &eb)) ||
	    (err = add_other_servers(http, j->id, sv, &eb)) ||
	    (err = roost_backend_http_open(http, sv->url, &be, &eb)) ||
	    (roost_backend_http_set_job(be, (long long)id), 0) ||
	    (roost_http_set_ratelimit(http, j->rl, &j->cancel), 0) ||
	    (err = use_host  ? roost_repo_open_put(be, hmat, hlen, &repo, &eb)
	           : putk[0] ? roost_repo_open_put(be, material, mlen, &repo, &eb)
	                     : roost_repo_open(be, pw, &repo, &eb)) ||
	    (!use_host && putk[0] && hlen &&
	     (err = roost_repo_add_host_material(repo, hmat, hlen, &eb))) ||
	    ((putk[0] || use_host) && (roost_repo_set_served(repo, 1), 0))) {
		snprintf(err_msg, sizeof(err_msg), "repository: %s", eb.msg);
		goto out;
	}
	if (!strcmp(kind, "backup")) {
		const struct proto_group *g = &js->group;
		char tag_group[sizeof(g->name) + 8], tag_job[40];
		snprintf(tag_group, sizeof(tag_group), "group:%s",
		         js->has_group && g->name[0] ? g->name : "?");
		snprintf(tag_job, sizeof(tag_job), "job:%lld", (long long)id);
		const char *tags[] = {tag_group, tag_job};
		char cache[4200];
		snprintf(cache, sizeof(cache), "%s/cache", j->state);
		struct roost_backup_opts o = {
			.paths = (const char *const *)g->paths,
			.npaths = g->npaths,
			.excludes = (const char *const *)g->excludes,
			.nexcludes = g->nexcludes,
			.tags = tags,
			.ntags = 2,
			.hostname = hostname[0] ? hostname : NULL,
			.cache_dir = cache,
			.progress = on_progress,
			.progress_ctx = j,
			.warn = on_warn,
			.warn_ctx = j,
			.cancel = &j->cancel,
		};
		struct roost_backup_result res;
		if (!js->has_group || g->npaths == 0) {
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
				count_error(j, err_msg, sizeof(err_msg), (unsigned long long)res.errors,
				            "read");
		}
	} else if (!strcmp(kind, "restore")) {
		const struct proto_restore *r = &js->restore;
		struct roost_snapshot s;
		memset(&s, 0, sizeof(s));
		if (!js->has_restore || !r->snapshot_id[0] || r->target[0] != '/') {
			snprintf(err_msg, sizeof(err_msg), "restore needs a snapshot and an absolute target");
		} else if ((err = roost_repo_find_snapshot(repo, r->snapshot_id, &s, &eb))) {
			snprintf(err_msg, sizeof(err_msg), "%s", eb.msg);
		} else {
			struct roost_restore_opts o = {
				.threads = restore_threads(putk[0] || use_host),
				.target = r->target,
				.includes = (const char *const *)r->include,
				.nincludes = r->ninclude,
				.progress = on_progress,
				.progress_ctx = j,
				.warn = on_warn,
				.warn_ctx = j,
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
				count_error(j, err_msg, sizeof(err_msg), (unsigned long long)res.errors,
				            "restored");
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
	if (run_post)
		post_hook(j, js, hostname, &status, snap, err_msg, sizeof(err_msg), hook_out);
	sodium_memzero(pw, sizeof(pw));
	sodium_memzero(putk, sizeof(putk));
	sodium_memzero(material, sizeof(material));
	sodium_memzero(hmat, sizeof(hmat));
	msg_job_state(st, id, status, err_msg);
	st->started_at = started;
	st->has_stats = 1;
	st->files = files;
	st->bytes = bytes;
	st->bytes_new = bytes_new;
	snprintf(st->snapshot_id, sizeof(st->snapshot_id), "%s", snap);
	memcpy(st->hook_output, hook_out, sizeof(hook_out));
	log_info("job.finished", "job=%lld kind=%s status=%s snapshot=%s files=%llu bytes=%llu "
	                         "bytes_new=%llu error=%s", (long long)id, kind, status,
	         snap[0] ? snap : "-", (unsigned long long)files, (unsigned long long)bytes,
	         (unsigned long long)bytes_new, roost_lq(err_msg[0] ? err_msg : NULL));
}

static void *job_main(void *arg)
{
	struct jobs *j = arg;
	pthread_mutex_lock(&j->mu);
	for (;;) {
		while (!j->stop && j->nqueue == 0)
			pthread_cond_wait(&j->cv, &j->mu);
		if (j->stop)
			break;
		queue_take_locked(j, 0, &j->current);
		j->has_current = 1;
		j->current_started = (int64_t)time(NULL);
		__atomic_store_n(&j->cancel, 0, __ATOMIC_RELAXED);
		memset(&j->prog, 0, sizeof(j->prog));
		j->first_warn[0] = 0;
		save_jobs_locked(j);
		struct proto_job acc = {.job_id = j->current.job_id,
		                        .started_at = j->current_started};
		outbox_push_locked(j, msg_job(PROTO_JOB_ACCEPTED, &acc));
		int64_t started = j->current_started;
		pthread_mutex_unlock(&j->mu);
		log_info("job.start", "job=%lld kind=%s", (long long)j->current.job_id,
		         j->current.kind);
		struct proto_job st;
		run_job(j, &j->current, started, &st);
		pthread_mutex_lock(&j->mu);
		proto_job_start_release(&j->current);
		j->has_current = 0;
		j->prog_dirty = 0;
		done_push_locked(j, &st);
		save_jobs_locked(j);
		outbox_push_locked(j, msg_job(PROTO_JOB_FINISHED, &st));
	}
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

/* ---- the queue's life ---- */

/* A job.start kept in jobs.json: 0, or -1 when lib/proto refuses it (then
 * *job_id is its id when that was readable, else 0). */
static int decode_start(const json_t *o, struct proto_job_start *s, int64_t *job_id,
                        struct roost_errbuf *eb)
{
	struct proto_server_msg m;
	enum roost_err err = proto_decode_server_json(o, &m, eb);
	*job_id = m.type == PROTO_JOB_START ? m.start.job_id : 0;
	if (!err && m.type != PROTO_JOB_START)
		err = roost_errf(eb, ROOST_EINVAL, "type: expected job.start");
	if (err) {
		proto_server_msg_release(&m);
		return -1;
	}
	*s = m.start; /* the contents move to *s */
	return 0;
}

/* jobs.json into the queue and the final states (before the job thread).
 * An entry lib/proto refuses is dropped, or failed when its id is known;
 * the job that was running when the agent died is "interrupted". -1 when
 * out of memory. */
static int load_jobs(struct jobs *j)
{
	json_t *saved = state_read(j->state, "jobs.json");
	json_t *queue = json_object_get(saved, "queue"), *done = json_object_get(saved, "done");
	json_t *was = json_object_get(saved, "current");
	struct roost_errbuf eb = {{0}};
	int64_t id;
	int rc = 0;
	size_t n = json_array_size(done);
	for (size_t i = n > DONE_KEEP ? n - DONE_KEEP : 0; i < n; i++) {
		if (proto_decode_job_entry(json_array_get(done, i), &j->done[j->ndone], &eb))
			log_warn("agent.state", "file=jobs.json entry=done[%zu] msg=%s why=dropped", i,
			         roost_lq(eb.msg));
		else
			j->ndone++;
	}
	if (was && !json_is_null(was)) {
		/* we died while running it: it is lost */
		struct proto_job_start s = {0};
		decode_start(was, &s, &id, &eb);
		proto_job_start_release(&s);
		if (id > 0) {
			struct proto_job st;
			msg_job_state(&st, id, "interrupted", "the agent stopped while running this job");
			done_push_locked(j, &st);
			log_warn("job.interrupted", "job=%lld why=\"agent restarted during the job\"",
			         (long long)id);
		}
	}
	for (size_t i = 0; i < json_array_size(queue) && !rc; i++) {
		struct proto_job_start s = {0};
		if (decode_start(json_array_get(queue, i), &s, &id, &eb) == 0) {
			rc = queue_push_locked(j, &s);
			proto_job_start_release(&s);
			continue;
		}
		log_warn("agent.state", "file=jobs.json entry=queue[%zu] msg=%s why=%s", i,
		         roost_lq(eb.msg), id > 0 ? "failed" : "dropped");
		if (id > 0) {
			char why[sizeof(eb.msg) + 32];
			snprintf(why, sizeof(why), "job.start: %s", eb.msg);
			struct proto_job st;
			msg_job_state(&st, id, "failed", why);
			done_push_locked(j, &st);
		}
	}
	json_decref(saved);
	return rc;
}

struct jobs *jobs_open(const char *state, const struct agent_identity *id,
                       const struct proto_config *config)
{
	struct jobs *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->state = state;
	j->id = id;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	snprintf(j->name, sizeof(j->name), "%s", id->name);
	snprintf(j->repo_password, sizeof(j->repo_password), "%s", config->repo_password);
	snprintf(j->repo_put_key, sizeof(j->repo_put_key), "%s", config->repo_put_key);
	snprintf(j->repo_put_key_host, sizeof(j->repo_put_key_host), "%s",
	         config->repo_put_key_host);
	const char *d = getenv("ROOST_AGENT_TEST_JOB_DELAY_MS");
	j->test_delay_ms = d ? atoi(d) : 0;
	j->outbox = json_array();
	j->rl = roost_ratelimit_new((uint64_t)config->upload_limit_kbps * 1024, NULL);
	if (!j->outbox || !j->rl || load_jobs(j)) {
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
	__atomic_store_n(&j->cancel, 1, __ATOMIC_RELAXED);
}

void jobs_stop(struct jobs *j)
{
	pthread_mutex_lock(&j->mu);
	j->stop = 1;
	__atomic_store_n(&j->cancel, 1, __ATOMIC_RELAXED);
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
	for (size_t i = 0; i < j->nqueue; i++)
		proto_job_start_release(&j->queue[i]);
	free(j->queue);
	proto_job_start_release(&j->current);
	json_decref(j->outbox);
	roost_ratelimit_free(j->rl);
	sodium_memzero(j->repo_password, sizeof(j->repo_password));
	sodium_memzero(j->repo_put_key, sizeof(j->repo_put_key));
	sodium_memzero(j->repo_put_key_host, sizeof(j->repo_put_key_host));
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

/* ---- the main thread's side ---- */

void jobs_set_config(struct jobs *j, const struct proto_config *config)
{
	pthread_mutex_lock(&j->mu);
	snprintf(j->repo_password, sizeof(j->repo_password), "%s", config->repo_password);
	snprintf(j->repo_put_key, sizeof(j->repo_put_key), "%s", config->repo_put_key);
	snprintf(j->repo_put_key_host, sizeof(j->repo_put_key_host), "%s",
	         config->repo_put_key_host);
	if (config->name[0])
		snprintf(j->name, sizeof(j->name), "%s", config->name);
	pthread_mutex_unlock(&j->mu);
	uint64_t rate = (uint64_t)config->upload_limit_kbps * 1024;
	if (roost_ratelimit_rate(j->rl) != rate) {
		/* a running job's uploads take the new rate at once */
		roost_ratelimit_set_rate(j->rl, rate);
		log_info("agent.upload_limit", "kib_per_s=%lld", (long long)config->upload_limit_kbps);
	}
}

void jobs_enqueue(struct jobs *j, struct proto_job_start *start)
{
	int64_t id = start->job_id;
	pthread_mutex_lock(&j->mu);
	if (job_known_locked(j, id)) {
		/* the server sent it again (a reconnect): it is queued, running or done */
	} else if (j->nqueue >= QUEUE_MAX || queue_push_locked(j, start)) {
		log_warn("job.refused", "job=%lld queued=%zu why=\"queue full\"", (long long)id,
		         j->nqueue);
		finish_locked(j, id, "failed", "the agent's job queue is full");
	} else {
		save_jobs_locked(j);
		pthread_cond_signal(&j->cv);
		log_info("job.queued", "job=%lld", (long long)id);
	}
	pthread_mutex_unlock(&j->mu);
	proto_job_start_release(start);
}

void jobs_reject(struct jobs *j, int64_t job_id, const char *why)
{
	char err[1024];
	snprintf(err, sizeof(err), "job.start: %s", why);
	pthread_mutex_lock(&j->mu);
	if (!job_known_locked(j, job_id)) {
		log_warn("job.refused", "job=%lld msg=%s", (long long)job_id, roost_lq(err));
		finish_locked(j, job_id, "failed", err);
	}
	pthread_mutex_unlock(&j->mu);
}

void jobs_cancel_job(struct jobs *j, int64_t job_id)
{
	pthread_mutex_lock(&j->mu);
	if (j->has_current && j->current.job_id == job_id) {
		__atomic_store_n(&j->cancel, 1, __ATOMIC_RELAXED);
		log_info("job.cancel", "job=%lld state=running", (long long)job_id);
	}
	for (size_t i = 0; i < j->nqueue; i++) {
		if (j->queue[i].job_id == job_id) {
			struct proto_job_start s;
			queue_take_locked(j, i, &s);
			proto_job_start_release(&s);
			finish_locked(j, job_id, "canceled", "canceled before it started");
			log_info("job.cancel", "job=%lld state=queued", (long long)job_id);
			break;
		}
	}
	pthread_mutex_unlock(&j->mu);
}

int jobs_report(struct jobs *j, struct proto_msg *h)
{
	pthread_mutex_lock(&j->mu);
	size_t n = 0, cap = (size_t)j->has_current + j->nqueue + j->ndone;
	struct proto_job *v = calloc(cap ? cap : 1, sizeof(*v));
	if (v) {
		if (j->has_current)
			msg_job_state(&v[n++], j->current.job_id, "running", NULL);
		for (size_t i = 0; i < j->nqueue; i++)
			msg_job_state(&v[n++], j->queue[i].job_id, "queued", NULL);
		for (size_t i = 0; i < j->ndone; i++)
			v[n++] = j->done[i];
	}
	pthread_mutex_unlock(&j->mu);
	if (!v)
		return -1;
	free(h->jobs);
	h->jobs = v;
	h->njobs = n;
	return 0;
}

json_t *jobs_take_outbox(struct jobs *j, int64_t now_ms, json_t **progress)
{
	*progress = NULL;
	pthread_mutex_lock(&j->mu);
	json_t *box = j->outbox;
	j->outbox = json_array();
	if (j->prog_dirty && j->has_current && now_ms - j->last_progress_ms >= 1000) {
		struct proto_job p = {
			.job_id = j->current.job_id,
			.has_stats = 1,
			.files = j->prog.files_done,
			.bytes = j->prog.bytes_done,
			.bytes_new = j->prog.bytes_new,
		};
		*progress = msg_job(PROTO_JOB_PROGRESS, &p);
		j->prog_dirty = 0;
		j->last_progress_ms = now_ms;
	}
	pthread_mutex_unlock(&j->mu);
	return box;
}
