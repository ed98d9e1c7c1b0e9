/* SPDX-License-Identifier: MIT */
/*
 * Serving an agent's restore (docs/server.md, "Restores through roostd";
 * format 2 agents hold no key that decrypts). A host asks, for its running
 * restore job only, for the job's snapshot (plain/snapshots/<id>) and then
 * for blobs (plain/blobs/<id>); roostd decrypts and verifies them and
 * answers the plaintext over TLS. A blob is served only when it is reachable
 * from the job's snapshot: the root tree first, then what each tree served
 * names (struct roost_reach, lib/repo/serve.c).
 *
 * The same threads read the repository for the dashboard's browsing
 * (browse.c): a request brings its own work and answer (struct serve_res).
 *
 * The checks against the store run on the event loop; reading, decrypting
 * and decompressing run on two threads of their own sharing one repository
 * handle, so a restore never stalls other agents. Results come back like
 * the committer's: a queue, lws_cancel_service(), the writeable callback.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "restore_serve.h"
#include "roost/log.h"
#include "roost/repo.h"

#define MAX_JOBS 16 /* reach sets kept, least recently used dropped first */
#define NTHREADS 2  /* serving threads */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct serve_res *todo_head, *todo_tail, *done_head;
static pthread_t th[NTHREADS];
static int nthreads, running, stopping;
static uint64_t next_id = 1;

/* Event loop only: requests waiting for their answer. */
struct waiting {
	uint64_t id;
	struct lws *wsi;
	struct pss *p;
};
static struct waiting *waiting;
static size_t nwaiting, capwaiting;

/* The serving threads': one repository handle (lib/repo/serve.c is
 * thread-safe), and the reach sets of recent jobs under reach_mu. An entry in
 * use (busy) is never dropped. */
static struct roost_repo *repo;
static pthread_mutex_t reach_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int64_t job;
	struct roost_reach *reach;
	uint64_t used;
	int busy;
} jobs[MAX_JOBS];
static uint64_t use_clock;

static void fail(struct serve_res *r, int status, const char *code, const char *msg);

/* The job's reach set (made from its snapshot's root on first use), marked
 * busy: give it back with reach_done. NULL with r failed. */
static struct roost_reach *reach_of(int64_t job, const char *snap, struct serve_res *r)
{
	pthread_mutex_lock(&reach_mu);
	int slot = -1, lru = -1;
	for (int i = 0; i < MAX_JOBS && slot < 0; i++) {
		if (jobs[i].reach && jobs[i].job == job)
			slot = i;
		else if (!jobs[i].busy && (lru < 0 || !jobs[i].reach ||
		                           (jobs[lru].reach && jobs[i].used < jobs[lru].used)))
			lru = i;
	}
	if (slot < 0 && lru >= 0) {
		char *json;
		size_t n;
		uint8_t root[32];
		struct roost_errbuf eb = {{0}};
		roost_reach_free(jobs[lru].reach);
		jobs[lru].reach = NULL;
		if (roost_repo_serve_snapshot(repo, snap, &json, &n, root, &eb)) {
			fail(r, 500, "repository", eb.msg);
		} else {
			free(json);
			if ((jobs[lru].reach = roost_reach_new(root))) {
				jobs[lru].job = job;
				slot = lru;
			} else {
				fail(r, 500, "repository", "out of memory");
			}
		}
	} else if (slot < 0) {
		fail(r, 503, "busy", "too many restores at once; try again");
	}
	struct roost_reach *h = NULL;
	if (slot >= 0) {
		jobs[slot].used = ++use_clock;
		jobs[slot].busy++;
		h = jobs[slot].reach;
	}
	pthread_mutex_unlock(&reach_mu);
	return h;
}

static void reach_done(struct roost_reach *h)
{
	pthread_mutex_lock(&reach_mu);
	for (int i = 0; i < MAX_JOBS; i++)
		if (jobs[i].reach == h)
			jobs[i].busy--;
	pthread_mutex_unlock(&reach_mu);
}

static void fail(struct serve_res *r, int status, const char *code, const char *msg)
{
	r->status = status;
	snprintf(r->code, sizeof(r->code), "%s", code);
	snprintf(r->msg, sizeof(r->msg), "%s", msg);
}

static void serve_one(struct serve_res *r)
{
	struct roost_errbuf eb = {{0}};
	if (r->work) {
		if (!repo)
			fail(r, 503, "repository", "the repository is not open");
		else
			r->work(repo, r);
		return;
	}
	if (!repo) {
		fail(r, 503, "repository", "the repository is not open");
		return;
	}
	if (r->is_snapshot) {
		char *json;
		size_t n;
		uint8_t root[32];
		if (roost_repo_serve_snapshot(repo, r->snap, &json, &n, root, &eb)) {
			fail(r, 500, "repository", eb.msg);
			return;
		}
		r->out = malloc(LWS_PRE + n);
		if (r->out)
			memcpy(r->out + LWS_PRE, json, n);
		free(json);
		if (!r->out) {
			fail(r, 500, "repository", "out of memory");
			return;
		}
		r->len = n;
		r->status = 200;
		struct roost_reach *h = reach_of(r->job, r->snap, r); /* the walk starts at its root */
		if (h)
			reach_done(h);
		if (r->status != 200) {
			free(r->out);
			r->out = NULL;
		}
		return;
	}
	struct roost_reach *h = reach_of(r->job, r->snap, r);
	if (!h)
		return;
	enum roost_err err = roost_repo_serve_blob(repo, h, r->blob, LWS_PRE, &r->out, &r->len, &eb);
	reach_done(h);
	if (err == ROOST_EPERM)
		fail(r, 403, "forbidden", "the blob is not part of the snapshot this job restores");
	else if (err == ROOST_ENOENT)
		fail(r, 404, "not_found", eb.msg);
	else if (err)
		fail(r, 500, "repository", eb.msg);
	else
		r->status = 200;
}

static void *serve_main(void *arg)
{
	if (arg == th) { /* the first thread reads the index while nothing waits yet */
		struct roost_errbuf eb = {{0}};
		if (roost_repo_serve_warm(repo, &eb))
			log_warn("restore.serve_warm", "msg=%s", roost_lq(eb.msg));
	}
	pthread_mutex_lock(&mu);
	for (;;) {
		while (!todo_head && !stopping)
			pthread_cond_wait(&cv, &mu);
		if (!todo_head)
			break;
		struct serve_res *r = todo_head;
		todo_head = r->next;
		if (!todo_head)
			todo_tail = NULL;
		pthread_mutex_unlock(&mu);
		serve_one(r);
		pthread_mutex_lock(&mu);
		r->next = done_head;
		done_head = r;
		if (g_srv->lws)
			lws_cancel_service(g_srv->lws);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

int restore_serve_start(void)
{
	/* the threads' own handle (its index, its blob contexts) with roostd's
	 * keys, made at start-up, before the event loop runs */
	struct roost_errbuf eb = {{0}};
	if (roost_repo_open_same(g_srv->repo_be, g_srv->repo, &repo, &eb)) {
		log_error("restore.serve_open", "msg=%s", roost_lq(eb.msg));
		return -1;
	}
	for (int i = 0; i < NTHREADS; i++) {
		if (pthread_create(&th[i], NULL, serve_main, i == 0 ? (void *)th : NULL)) {
			nthreads = i;
			restore_serve_stop();
			return -1;
		}
		nthreads = i + 1;
		running = 1;
	}
	return 0;
}

static struct serve_res *take_done(void)
{
	pthread_mutex_lock(&mu);
	struct serve_res *r = done_head;
	if (r)
		done_head = r->next;
	pthread_mutex_unlock(&mu);
	return r;
}

static void res_free(struct serve_res *r)
{
	if (!r)
		return;
	if (r->ctx_free)
		r->ctx_free(r->ctx);
	free(r->out);
	free(r);
}

void serve_res_free(struct serve_res *r)
{
	res_free(r);
}

void restore_serve_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&mu);
	stopping = 1;
	while (todo_head) { /* nobody waits for these any more */
		struct serve_res *r = todo_head;
		todo_head = r->next;
		res_free(r);
	}
	todo_tail = NULL;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	running = 0;
	stopping = 0;
	for (int i = 0; i < MAX_JOBS; i++) {
		roost_reach_free(jobs[i].reach);
		jobs[i].reach = NULL;
	}
	roost_repo_close(repo);
	repo = NULL;
	struct serve_res *r;
	while ((r = take_done()))
		res_free(r);
	free(waiting);
	waiting = NULL;
	nwaiting = capwaiting = 0;
}

int restore_serve_request(struct lws *wsi, struct pss *p, const char *rest)
{
	if (p->auth != AUTH_HOST)
		return respond_error(wsi, p, 403, "forbidden",
		                     "plain objects are served to a host's restore job only");
	if (strcmp(p->method, "GET"))
		return respond_error(wsi, p, 405, "method_not_allowed", "GET only");
	int is_snap = !strncmp(rest, "snapshots/", 10);
	const char *hex = is_snap ? rest + 10 : !strncmp(rest, "blobs/", 6) ? rest + 6 : NULL;
	uint8_t bin[32];
	if (!hex || strlen(hex) != 64 || sodium_hex2bin(bin, 32, hex, 64, NULL, NULL, NULL))
		return respond_error(wsi, p, 404, "not_found", "no such plain object");
	char jb[32];
	const char *js = query_get(p->query, "job", jb, sizeof(jb));
	char *e = NULL;
	long long job = js ? strtoll(js, &e, 10) : 0;
	if (!js || !*js || *e || job <= 0)
		return respond_error(wsi, p, 403, "forbidden",
		                     "plain objects are served only for a restore job (?job=N)");
	struct db_stmt *st = db_q("SELECT params FROM jobs WHERE id=? AND host_id=? AND "
	                        "kind='restore' AND status IN ('queued','running')",
	                        "ii", (int64_t)job, p->host_id);
	json_t *pj = st && db_step(st) == DB_ROW && db_col_text(st, 0)
	                     ? json_loads(db_col_text(st, 0), 0, NULL)
	                     : NULL;
	db_done(st);
	const char *snap = json_string_value(json_object_get(pj, "snapshot_id"));
	char snapid[65];
	snprintf(snapid, sizeof(snapid), "%s", snap ? snap : "");
	json_decref(pj);
	if (!snap) {
		log_warn("restore.refused", "host=%lld job=%lld why=\"not a running restore of "
		         "this host\"", (long long)p->host_id, job);
		return respond_error(wsi, p, 403, "forbidden",
		                     "that job is not a running restore job of this host");
	}
	if (strlen(snapid) != 64 || (is_snap && strcmp(snapid, hex))) {
		log_warn("restore.refused", "host=%lld job=%lld snapshot=%s why=\"not the job's "
		         "snapshot\"", (long long)p->host_id, job, roost_lq(hex));
		return respond_error(wsi, p, 403, "forbidden",
		                     "a host reads only the snapshot its restore job names");
	}
	if (!running)
		return respond_error(wsi, p, 503, "unavailable", "restores are not served");
	struct serve_res *r = calloc(1, sizeof(*r));
	if (!r)
		return respond_error(wsi, p, 500, "repository", "out of memory");
	r->job = job;
	r->is_snapshot = is_snap;
	memcpy(r->snap, snapid, sizeof(r->snap));
	memcpy(r->blob, bin, 32);
	if (restore_serve_submit(wsi, p, r))
		return respond_error(wsi, p, 500, "repository", "out of memory");
	return 0;
}

int restore_serve_submit(struct lws *wsi, struct pss *p, struct serve_res *r)
{
	if (!running) {
		res_free(r);
		return -1;
	}
	if (nwaiting == capwaiting) {
		size_t nc = capwaiting ? capwaiting * 2 : 16;
		struct waiting *nw = realloc(waiting, nc * sizeof(*nw));
		if (!nw) {
			res_free(r);
			return -1;
		}
		waiting = nw;
		capwaiting = nc;
	}
	r->id = next_id++;
	waiting[nwaiting++] = (struct waiting){r->id, wsi, p};
	p->serve_id = r->id;
	pthread_mutex_lock(&mu);
	if (todo_tail)
		todo_tail->next = r;
	else
		todo_head = r;
	todo_tail = r;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	return 0;
}

void restore_serve_forget(struct pss *p)
{
	for (size_t i = 0; i < nwaiting; i++)
		if (waiting[i].p == p) {
			waiting[i] = waiting[--nwaiting];
			break;
		}
	p->serve_id = 0;
	res_free(p->served);
	p->served = NULL;
}

void restore_serve_done(void)
{
	struct serve_res *r;
	while ((r = take_done())) {
		size_t i;
		for (i = 0; i < nwaiting && waiting[i].id != r->id; i++)
			;
		if (i == nwaiting) { /* the client went away */
			res_free(r);
			continue;
		}
		struct pss *p = waiting[i].p;
		struct lws *wsi = waiting[i].wsi;
		waiting[i] = waiting[--nwaiting];
		p->serve_id = 0;
		res_free(p->served);
		p->served = r;
		lws_callback_on_writable(wsi);
	}
}

int restore_serve_answer(struct lws *wsi, struct pss *p)
{
	struct serve_res *r = p->served;
	p->served = NULL;
	if (r->answer)
		return r->answer(wsi, p, r);
	if (r->status != 200) {
		log_warn("restore.serve_failed", "host=%lld job=%lld status=%d msg=%s",
		         (long long)p->host_id, (long long)r->job, r->status, roost_lq(r->msg));
		int rc = respond_error(wsi, p, r->status, r->code, r->msg);
		res_free(r);
		return rc;
	}
	free(p->out);
	p->out = r->out;
	p->outlen = r->len;
	p->outpos = 0;
	r->out = NULL;
	res_free(r);
	return start_response(wsi, p, 200, "application/octet-stream", p->outlen, NULL);
}
