/* SPDX-License-Identifier: MIT */
/*
 * Repository maintenance, run by roostd alone (DESIGN.md, "Retention and
 * repository maintenance"): apply retention, prune, check a sample of packs
 * and the whole structure, and keep a record of what was done.
 *
 * One run at a time, on a thread of its own: the event loop gathers what
 * the run needs from the store (maintenance_start), the thread works on the
 * repository through a backend of its own, and hands its result back
 * through the event loop (maintenance_poll), which records it. The thread
 * never touches the store or the hub.
 *
 * Why prune can not delete what a backup in progress needs
 * (docs/maintenance.md has the whole argument): a pack unused by every
 * snapshot is first only marked; backups whose index was loaded after the
 * mark was visible do not deduplicate against it. A marked pack is deleted
 * by a later run only when its grace is over and no job (of any host,
 * connected or not) that was created before the mark became visible is
 * still live: such a job may have loaded its index earlier. "Before" is
 * one database order, never two clocks (docs/scale-out.md 2.5): a job's
 * jobs.order_seq is drawn from roost_order at its insert, a run's
 * maintenance.visible_seq when it is recorded, after its marks were
 * written, so a roostd whose clock runs ahead (or behind) can not make a
 * job look younger than the marks it may not have seen. repo_api.c
 * completes the argument: a snapshot is accepted only from a live backup
 * job, so a job that ended can not write one later.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "instances.h"
#include "leases.h"
#include "maintenance.h"
#include "retention.h"
#include "roost/cron.h"
#include "roost/log.h"

struct mark_src {
	int64_t started_at, visible_seq; /* a run's mark time; roost_order when its marks were visible */
};

/* One run: its inputs (event loop), its work (thread), its result. */
struct run {
	int64_t id, started_at;
	int dry_run;
	struct roost_backend *be; /* the run's own, opened by the event loop */
	struct roost_repo *repo;  /* on be, sharing roostd's keys */
	int64_t grace_s;
	unsigned check_sample;
	struct ret_owner *owners;
	size_t nowners;
	int64_t live_min_order, live_job; /* the oldest live job by roost_order (INT64_MAX: none) */
	struct mark_src *marks;
	size_t nmarks;
	/* results */
	int failed;
	char error[1024];
	uint64_t snapshots_removed, packs_removed, bytes_freed, packs_marked, packs_repacked;
	uint64_t packs_waiting;
	int check_ran, check_failed;
	json_t *check_errors; /* array of strings, the first few */
	json_t *decisions;
	struct roost_repo_stats stats;
	uint64_t logical_bytes;
	int stats_ok;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t th;
static struct run *current; /* the run in progress (event loop's view) */
static struct run *done;    /* finished, not yet recorded */
static int thread_live;
static lws_sorted_usec_list_t sul_cron;
static struct cron *cron;
static int64_t cron_due; /* the slot cron_fire runs */
/* several instances (docs/scale-out.md 2.5): a run holds the lease
 * `maintenance`, renewed by the loop while it runs; the run's thread reads
 * the lease's local deadline before letting prune delete */
static struct lease lease = {.name = "maintenance"};
static lws_sorted_usec_list_t sul_lease;
static _Atomic int64_t lease_until_ms; /* 0: alone (no lease needed) */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the thread ---- */

static int may_delete(void *ctx, int64_t marked_at)
{
	struct run *r = ctx;
	/* when (in roost_order) did the marks of the run that marked at marked_at
	 * become visible? Unknown (marked by `roost repo prune`, say): after every
	 * job there is, the latest it can be */
	int64_t visible = INT64_MAX - 1;
	int found = 0;
	for (size_t i = 0; i < r->nmarks; i++)
		if (r->marks[i].started_at == marked_at &&
		    (!found || r->marks[i].visible_seq > visible)) {
			visible = r->marks[i].visible_seq;
			found = 1;
		}
	/* several instances: past the lease's local deadline another instance
	 * may be running maintenance; S3 has no fencing token, so nothing is deleted */
	int64_t until = atomic_load(&lease_until_ms);
	if (until && mono_ms() >= until)
		return 0;
	return r->live_min_order > visible;
}

static void check_report(void *ctx, int is_error, const char *msg)
{
	struct run *r = ctx;
	if (is_error && json_array_size(r->check_errors) < 20)
		json_array_append_new(r->check_errors, json_string(msg));
}

static void fail(struct run *r, const char *what, const char *msg)
{
	r->failed = 1;
	snprintf(r->error, sizeof(r->error), "%s: %s", what, msg);
}

/* 1. retention: decide, then remove the snapshots no rule keeps */
static void run_retention(struct run *r, struct roost_repo *repo, struct roost_backend *be)
{
	struct roost_errbuf eb = {{0}};
	struct roost_snapshot *v = NULL;
	size_t n = 0;
	if (roost_repo_snapshots(repo, &v, &n, NULL, NULL, &eb)) {
		fail(r, "listing snapshots", eb.msg);
		return;
	}
	struct ret_snap *rs = calloc(n ? n : 1, sizeof(*rs));
	struct ret_decision *d = calloc(n ? n : 1, sizeof(*d));
	if (!rs || !d || !(r->decisions = json_array())) {
		fail(r, "retention", "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		rs[i] = (struct ret_snap){v[i].id, v[i].time_s};
	if (retention_plan(rs, n, r->owners, r->nowners, d)) {
		fail(r, "retention", "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ret_owner *o = d[i].owner;
		json_t *e = json_pack("{s:s, s:o, s:s, s:s, s:s}", "snapshot_id", v[i].id, "time",
		                      json_time(v[i].time_s), "hostname", v[i].hostname, "action",
		                      d[i].keep ? "keep" : "remove", "reason", d[i].reason);
		if (e && o) {
			json_object_set_new(e, "host_id", json_integer(o->host_id));
			json_object_set_new(e, "group", json_string(o->group));
			if (o->schedule_id)
				json_object_set_new(e, "schedule", json_string(o->schedule));
		}
		json_array_append_new(r->decisions, e);
		if (d[i].keep) {
			r->logical_bytes += v[i].summary.bytes;
			continue;
		}
		if (r->dry_run) {
			r->snapshots_removed++;
			continue;
		}
		char name[16 + 65];
		snprintf(name, sizeof(name), "snapshots/%s", v[i].id);
		enum roost_err err = be->ops->remove(be, name, &eb);
		if (err && err != ROOST_ENOENT) {
			fail(r, "removing a snapshot", eb.msg);
			break;
		}
		r->snapshots_removed++;
		log_info("maintenance.forget", "run=%lld snapshot=%.12s why=%s", (long long)r->id,
		         v[i].id, roost_lq(d[i].reason));
	}
out:
	free(rs);
	free(d);
	roost_snapshots_free(v, n);
}

static void prune_say(void *ctx, const char *msg)
{
	struct run *r = ctx;
	log_info("maintenance.prune", "run=%lld msg=%s", (long long)r->id, roost_lq(msg));
}

static void *run_main(void *arg)
{
	struct run *r = arg;
	struct roost_errbuf eb = {{0}};
	struct roost_backend *be = r->be;
	struct roost_repo *repo = r->repo;
	run_retention(r, repo, be);
	/* tests: hold the run between its steps, to kill roostd midway */
	const char *pause = getenv("ROOST_MAINT_TEST_PAUSE_MS");
	if (pause && !r->dry_run) {
		log_info("maintenance.test_pause", "run=%lld ms=%s step=before_prune", (long long)r->id,
		         pause);
		usleep((useconds_t)atoi(pause) * 1000);
	}
	if (!r->failed && !r->dry_run) {
		struct roost_prune_opts po = {.grace_s = r->grace_s,
		                              .now = r->started_at,
		                              .report = prune_say,
		                              .ctx = r,
		                              .may_delete = may_delete};
		struct roost_prune_result pres;
		if (roost_repo_prune(repo, &po, &pres, &eb))
			fail(r, "prune", eb.msg);
		r->packs_removed = pres.packs_deleted;
		r->bytes_freed = pres.bytes_deleted;
		r->packs_marked = pres.packs_marked;
		r->packs_repacked = pres.packs_repacked;
		r->packs_waiting = pres.packs_waiting;
	}
	/* the check runs even when prune refused: a prune that stops at damage
	 * is exactly when the user must hear what the check finds */
	if (!r->dry_run) {
		struct roost_check_opts co = {.sample_packs = r->check_sample,
		                              .report = check_report,
		                              .ctx = r};
		struct roost_check_result cres;
		r->check_errors = json_array();
		enum roost_err err = roost_repo_check(repo, &co, &cres, &eb);
		r->check_ran = 1;
		if (err)
			check_report(r, 1, eb.msg);
		r->check_failed = err || cres.errors;
	}
	if (!r->failed && roost_repo_stats(repo, &r->stats, &eb) == ROOST_OK)
		r->stats_ok = 1;
	roost_repo_close(repo);
	be->ops->close(be);
	r->repo = NULL;
	r->be = NULL;
	pthread_mutex_lock(&mu);
	done = r;
	if (g_srv->lws)
		lws_cancel_service(g_srv->lws);
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* ---- the event loop's side ---- */

static int gather_live(struct run *r);

/* What the run needs from the store: who made each snapshot, the oldest
 * live job, when earlier runs' marks became visible. */
static int gather(struct run *r)
{
	struct db_stmt *st = db_q(
		"SELECT j.snapshot_id, j.host_id, COALESCE(j.group_id, 0), COALESCE(s.id, 0), "
		"j.trigger='manual', h.name, COALESCE(g.name, '?'), COALESCE(s.name, ''), "
		"COALESCE(s.keep_last, 0), COALESCE(s.keep_hourly, 0), COALESCE(s.keep_daily, 0), "
		"COALESCE(s.keep_weekly, 0), COALESCE(s.keep_monthly, 0), COALESCE(s.keep_yearly, 0) "
		"FROM jobs j JOIN hosts h ON h.id = j.host_id "
		"LEFT JOIN source_groups g ON g.id = j.group_id "
		"LEFT JOIN schedules s ON s.id = j.schedule_id "
		"WHERE j.kind='backup' AND j.status='succeeded' AND j.snapshot_id IS NOT NULL",
		NULL);
	if (!st)
		return -1;
	size_t cap = 0;
	while (db_step(st) == DB_ROW) {
		if (r->nowners == cap) {
			cap = cap ? cap * 2 : 256;
			struct ret_owner *nv = realloc(r->owners, cap * sizeof(*nv));
			if (!nv) {
				db_done(st);
				return -1;
			}
			r->owners = nv;
		}
		struct ret_owner *o = &r->owners[r->nowners++];
		memset(o, 0, sizeof(*o));
		snprintf(o->snapshot_id, sizeof(o->snapshot_id), "%s", db_col_text(st, 0));
		o->host_id = db_col_int(st, 1);
		o->group_id = db_col_int(st, 2);
		o->schedule_id = db_col_int(st, 3);
		o->manual = (int)db_col_int(st, 4);
		snprintf(o->host, sizeof(o->host), "%s", db_col_text(st, 5));
		snprintf(o->group, sizeof(o->group), "%s", db_col_text(st, 6));
		snprintf(o->schedule, sizeof(o->schedule), "%s", db_col_text(st, 7));
		int *k[] = {&o->keep.last,   &o->keep.hourly,  &o->keep.daily,
		            &o->keep.weekly, &o->keep.monthly, &o->keep.yearly};
		for (int i = 0; i < 6; i++)
			*k[i] = (int)db_col_int(st, 8 + i);
	}
	db_done(st);
	return gather_live(r);
}

/* The live-job rule's facts: the oldest live job by roost_order, and in that
 * order when earlier runs' marks became visible. */
static int gather_live(struct run *r)
{
	r->live_min_order = INT64_MAX;
	struct db_stmt *st = db_q("SELECT order_seq, id FROM jobs WHERE status IN "
	                          "('queued','running') ORDER BY order_seq, id LIMIT 1", NULL);
	if (st && db_step(st) == DB_ROW) {
		r->live_min_order = db_col_int(st, 0);
		r->live_job = db_col_int(st, 1);
	}
	db_done(st);
	st = db_q("SELECT started_at, visible_seq FROM maintenance WHERE dry_run=0 AND "
	          "finished_at IS NOT NULL AND id<>?", "i", r->id);
	size_t cap = 0;
	while (st && db_step(st) == DB_ROW) {
		if (r->nmarks == cap) {
			cap = cap ? cap * 2 : 64;
			struct mark_src *nv = realloc(r->marks, cap * sizeof(*nv));
			if (!nv) {
				db_done(st);
				return -1;
			}
			r->marks = nv;
		}
		r->marks[r->nmarks++] =
			(struct mark_src){db_col_int(st, 0), db_col_int(st, 1)};
	}
	db_done(st);
	return 0;
}

/* The next value of roost_order (a sequence on PostgreSQL, a counter row on
 * SQLite), or -1. */
static int64_t order_next(void)
{
	return db_returning(store_engine(g_srv->st) == STORE_PG
	                    ? "SELECT nextval('roost_order')"
	                    : "UPDATE roost_order SET value = value + 1 WHERE id = 1 RETURNING value",
	                    NULL);
}

int maintenance_live_rule(int64_t marked_at, int64_t *live_job)
{
	struct run r;
	memset(&r, 0, sizeof(r));
	int ok = gather_live(&r) == 0;
	int may = ok && may_delete(&r, marked_at);
	*live_job = r.live_job;
	free(r.marks);
	return ok ? may : -1;
}

static void run_free(struct run *r)
{
	if (!r)
		return;
	free(r->owners);
	free(r->marks);
	json_decref(r->decisions);
	json_decref(r->check_errors);
	roost_repo_close(r->repo);
	if (r->be)
		r->be->ops->close(r->be);
	free(r);
}

int maintenance_running(void)
{
	if (current)
		return 1;
	/* several instances: a run elsewhere holds the lease until its end */
	return instances_shared() &&
	       db_int(0, "SELECT COUNT(*) FROM leases WHERE name='maintenance' AND "
	                 "expires_at >= roost_now()", NULL) > 0;
}

static void lease_renew(lws_sorted_usec_list_t *sul)
{
	int64_t me = instances_me();
	if (!current || !atomic_load(&lease_until_ms))
		return;
	if (lease_hold(&lease, me, leases_ttl(), mono_ms()))
		atomic_store(&lease_until_ms, lease.deadline_ms);
	else
		log_error("maintenance.lease_lost", "run=%lld why=\"no deletes from now\"",
		          (long long)current->id);
	lws_sul_schedule(g_srv->lws, 0, sul, lease_renew,
	                 (lws_usec_t)leases_ttl() * LWS_US_PER_SEC / 4);
}

/* Several instances: the lease, or why not. 0 taken (or alone), else MAINT_*. */
static int lease_take(char *why, size_t wlen)
{
	if (!instances_shared())
		return 0;
	int64_t me = instances_me(), now = mono_ms();
	if (!me || !lease_hold(&lease, me, leases_ttl(), now)) {
		snprintf(why, wlen, "a maintenance run holds the lease on another instance");
		return MAINT_BUSY;
	}
	atomic_store(&lease_until_ms, lease.deadline_ms);
	if (g_srv->lws)
		lws_sul_schedule(g_srv->lws, 0, &sul_lease, lease_renew,
		                 (lws_usec_t)leases_ttl() * LWS_US_PER_SEC / 4);
	return 0;
}

static void lease_give_back(void)
{
	if (!atomic_load(&lease_until_ms))
		return;
	lws_sul_cancel(&sul_lease);
	leases_release("maintenance", instances_me(), lease.epoch);
	lease.epoch = 0;
	atomic_store(&lease_until_ms, 0);
}

static int start_run(int dry_run, const char *trigger, int64_t slot, int64_t *id, char *why,
                     size_t wlen);

int maintenance_start(int dry_run, const char *trigger, int64_t *id, char *why, size_t wlen)
{
	return start_run(dry_run, trigger, 0, id, why, wlen);
}

static int start_run(int dry_run, const char *trigger, int64_t slot, int64_t *id, char *why,
                     size_t wlen)
{
	if (current) {
		snprintf(why, wlen, "maintenance run %lld is running", (long long)current->id);
		return MAINT_BUSY;
	}
	int busy = lease_take(why, wlen);
	if (busy)
		return busy;
	struct run *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(why, wlen, "out of memory");
		lease_give_back();
		return MAINT_FAILED;
	}
	/* one run per second at most: a run's start is its mark time, which
	 * must name one run */
	int64_t now = srv_now();
	int64_t last = db_int(0, "SELECT MAX(started_at) FROM maintenance", NULL);
	r->started_at = now > last ? now : last + 1;
	r->dry_run = dry_run;
	/* the run's own backend and a handle sharing roostd's keys: the key is
	 * derived (Argon2id) once per roostd, not once per run */
	struct roost_errbuf eb = {{0}};
	if ((!g_srv->repo &&
	     roost_repo_open(g_srv->repo_be, g_srv->repo_password, &g_srv->repo, &eb)) ||
	    roost_backend_open(g_srv->repo_dir, 0, &r->be, &eb) ||
	    roost_repo_open_same(r->be, g_srv->repo, &r->repo, &eb)) {
		snprintf(why, wlen, "opening the repository: %s", eb.msg);
		run_free(r);
		lease_give_back();
		return MAINT_REPO_FAILED;
	}
	r->grace_s = g_srv->prune_grace_s;
	r->check_sample = g_srv->check_sample;
	/* a cron slot runs once, whichever instance fires it first (cron_slot
	 * is unique); lease_epoch tells a live run from a dead holder's */
	int64_t n = 0;
	if (db_begin() == 0) {
		db_exec("INSERT INTO maintenance (trigger, dry_run, status, started_at, cron_slot, "
		        "lease_epoch) VALUES (?, ?, 'running', ?, NULLIF(?, 0), NULLIF(?, 0)) "
		        "ON CONFLICT DO NOTHING", "tiiii", trigger, (int64_t)dry_run, r->started_at,
		        slot, lease.epoch);
		n = db_changes();
		r->id = n ? db_last_id() : 0;
	}
	if (db_commit() || !n) {
		if (n)
			snprintf(why, wlen, "the store did not keep the run: %s", db_last_error());
		else
			snprintf(why, wlen, "the slot's run was started by another instance");
		run_free(r);
		lease_give_back();
		return n ? MAINT_FAILED : MAINT_BUSY;
	}
	if (gather(r)) {
		snprintf(why, wlen, "reading the store failed");
		db_exec("UPDATE maintenance SET status='failed', finished_at=?, error=? WHERE id=?",
		        "iti", srv_now(), why, r->id);
		run_free(r);
		lease_give_back();
		return MAINT_FAILED;
	}
	if (thread_live) { /* the previous run's thread has ended (done is recorded) */
		pthread_join(th, NULL);
		thread_live = 0;
	}
	if (pthread_create(&th, NULL, run_main, r)) {
		snprintf(why, wlen, "could not start a thread");
		db_exec("UPDATE maintenance SET status='failed', finished_at=?, error=? WHERE id=?",
		        "iti", srv_now(), why, r->id);
		run_free(r);
		lease_give_back();
		return MAINT_FAILED;
	}
	thread_live = 1;
	current = r;
	*id = r->id;
	log_info("maintenance.started", "run=%lld trigger=%s dry_run=%d live_jobs_since_order=%lld",
	         (long long)r->id, trigger, dry_run,
	         (long long)(r->live_min_order == INT64_MAX ? 0 : r->live_min_order));
	return MAINT_STARTED;
}

static void record(struct run *r)
{
	char *dec = r->decisions ? json_dumps(r->decisions, JSON_COMPACT) : NULL;
	char *cerr = r->check_errors && json_array_size(r->check_errors)
	                     ? json_dumps(r->check_errors, JSON_COMPACT)
	                     : NULL;
	const char *cs = r->check_ran ? (r->check_failed ? "failed" : "ok") : NULL;
	if (r->packs_waiting && !r->failed)
		log_info("maintenance.waiting", "run=%lld packs=%llu job=%lld why=\"a job created "
		         "before their marks were visible is still live\"", (long long)r->id,
		         (unsigned long long)r->packs_waiting, (long long)r->live_job);
	if (db_begin() == 0) {
		/* its marks are written: from here on, jobs are ordered after them */
		db_exec("UPDATE maintenance SET status=?, finished_at=?, visible_seq=?, "
		        "snapshots_removed=?, packs_removed=?, bytes_freed=?, packs_marked=?, "
		        "packs_repacked=?, packs_waiting=?, check_status=?, check_errors=?, error=?, "
		        "decisions=? WHERE id=?", "tiiiiiiiitttti", r->failed ? "failed" : "succeeded",
		        srv_now(), order_next(),
		        (int64_t)r->snapshots_removed, (int64_t)r->packs_removed,
		        (int64_t)r->bytes_freed, (int64_t)r->packs_marked, (int64_t)r->packs_repacked,
		        (int64_t)r->packs_waiting, cs, cerr, r->failed ? r->error : NULL, dec, r->id);
		if (r->stats_ok)
			db_exec("UPDATE maintenance SET snapshots=?, packs=?, blobs=?, size_bytes=?, "
			        "raw_bytes=?, logical_bytes=? WHERE id=?", "iiiiiii",
			        (int64_t)r->stats.snapshots, (int64_t)r->stats.packs,
			        (int64_t)r->stats.blobs, (int64_t)r->stats.pack_bytes,
			        (int64_t)r->stats.raw_bytes, (int64_t)r->logical_bytes, r->id);
	}
	if (db_commit())
		log_error("maintenance.unrecorded", "run=%lld why=%s", (long long)r->id,
		          roost_lq(db_last_error()));
	if (r->failed)
		log_error("maintenance.failed", "run=%lld error=%s", (long long)r->id,
		          roost_lq(r->error));
	else
		log_info("maintenance.finished",
		         "run=%lld dry_run=%d snapshots_removed=%llu packs_removed=%llu "
		         "bytes_freed=%llu packs_marked=%llu packs_waiting=%llu check=%s",
		         (long long)r->id, r->dry_run, (unsigned long long)r->snapshots_removed,
		         (unsigned long long)r->packs_removed, (unsigned long long)r->bytes_freed,
		         (unsigned long long)r->packs_marked, (unsigned long long)r->packs_waiting,
		         cs ? cs : "skipped");
	if (r->check_failed)
		log_error("maintenance.check_failed", "run=%lld errors=%s", (long long)r->id,
		          roost_lq(cerr));
	/* events (webhooks, mail, the dashboard's stream); a dry run is a
	 * preview, not maintenance */
	if (!r->dry_run || r->failed) {
		json_t *d = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "maintenance_id",
		                      (json_int_t)r->id, "snapshots_removed",
		                      (json_int_t)r->snapshots_removed, "packs_removed",
		                      (json_int_t)r->packs_removed, "bytes_freed",
		                      (json_int_t)r->bytes_freed, "packs_marked",
		                      (json_int_t)r->packs_marked, "packs_waiting",
		                      (json_int_t)r->packs_waiting);
		if (r->failed)
			json_object_set_new(d, "error", json_string(r->error));
		events_emit(r->failed ? "maintenance.failed" : "maintenance.finished", 0, 0, d);
	}
	if (r->check_failed)
		events_emit("check.failed", 0, 0,
		            json_pack("{s:I, s:O}", "maintenance_id", (json_int_t)r->id, "errors",
		                      r->check_errors));
	free(dec);
	free(cerr);
}

static void finish(struct run *r)
{
	current = NULL;
	record(r);
	if (r->packs_removed && instances_shared()) {
		/* other instances' readers drop their index naming deleted packs */
		leases_packs_gen_bump();
		db_exec("SELECT pg_notify('roost_repo', '')", "");
	}
	lease_give_back();
	run_free(r);
}

void maintenance_poll(void)
{
	pthread_mutex_lock(&mu);
	struct run *r = done;
	done = NULL;
	pthread_mutex_unlock(&mu);
	if (!r)
		return;
	pthread_join(th, NULL);
	thread_live = 0;
	finish(r);
}

void maintenance_recover(void)
{
	if (store_engine(g_srv->st) == STORE_PG && !instances_shared())
		return; /* not yet: cluster.c asks again once it knows the instances */
	/* several instances: only runs whose holder's lease is gone (another
	 * instance may be running one now); at start, and by the sweeper */
	const char *live = instances_shared()
	                           ? " AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.name="
	                             "'maintenance' AND l.epoch = maintenance.lease_epoch AND "
	                             "l.expires_at >= roost_now())"
	                           : "";
	char sql[400];
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM maintenance WHERE status='running'%s",
	         live);
	int64_t n = db_int(0, sql, NULL);
	if (!n)
		return;
	/* visible_seq stands for when its marks became visible: now is the latest */
	snprintf(sql, sizeof(sql), "UPDATE maintenance SET status='interrupted', finished_at=?, "
	         "visible_seq=?, error='roostd stopped during the run; the next run takes up its "
	         "work' WHERE status='running'%s", live);
	db_exec(sql, "ii", srv_now(), order_next());
	log_warn("maintenance.interrupted", "runs=%lld", (long long)n);
}

void maintenance_stop(void)
{
	lws_sul_cancel(&sul_cron);
	if (current) {
		log_info("maintenance.stopping", "run=%lld why=\"waiting for the run to end\"",
		         (long long)current->id);
		pthread_join(th, NULL);
		thread_live = 0;
		pthread_mutex_lock(&mu);
		struct run *r = done;
		done = NULL;
		pthread_mutex_unlock(&mu);
		if (r)
			finish(r);
	}
	cron_free(cron);
	cron = NULL;
}

/* ---- the schedule ---- */

static void cron_arm(void);

static void cron_fire(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	int64_t id;
	char why[256];
	if (start_run(0, "cron", cron_due, &id, why, sizeof(why)) != MAINT_STARTED)
		log_warn("maintenance.skipped", "trigger=cron why=%s", roost_lq(why));
	cron_arm();
}

static void cron_arm(void)
{
	int64_t now = srv_now(), next;
	if (!cron || !g_srv->lws || cron_next(cron, now, &next) != ROOST_OK)
		return;
	cron_due = next;
	lws_sul_schedule(g_srv->lws, 0, &sul_cron, cron_fire,
	                 (lws_usec_t)(next - now) * LWS_US_PER_SEC);
}

int maintenance_schedule(const char *expr, struct roost_errbuf *eb)
{
	if (!expr || !strcmp(expr, "off"))
		return 0;
	if (cron_parse(expr, NULL, &cron, eb) != ROOST_OK)
		return -1;
	cron_arm();
	return 0;
}
