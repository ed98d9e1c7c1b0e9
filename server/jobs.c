/* SPDX-License-Identifier: MIT */
/*
 * The job lifecycle (DESIGN.md, "Jobs"): queued -> running -> succeeded |
 * failed | canceled | interrupted. A job is created in the store, sent to
 * its host's agent as job.start, moved to running by job.accepted, ended by
 * job.finished (or by the hello that says what became of it while the agent
 * was away), and canceled on request. On a backup's success the (schedule,
 * group) success that catch-up reads is recorded here.
 *
 * What starts next when a job ends (pending runs) is the caller's to ask
 * (server/agents.c, server/api.c): this file never dispatches on its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "metrics.h"
#include "roost/log.h"
#include "roostd.h"
#include "route.h"

/* The job.start message of a job (new reference), or NULL if it is gone. */
static json_t *start_message(int64_t job_id)
{
	struct proto_job_start m;
	memset(&m, 0, sizeof(m));
	json_t *out = NULL, *p = NULL;
	struct roost_errbuf eb = {{0}};
	struct db_stmt *st = db_q("SELECT j.kind, j.trigger, j.params, j.group_id, s.name FROM jobs j "
	                        "LEFT JOIN schedules s ON s.id = j.schedule_id WHERE j.id=?", "i",
	                        job_id);
	if (!st || db_step(st) != DB_ROW)
		goto done;
	m.job_id = job_id;
	snprintf(m.kind, sizeof(m.kind), "%s", db_col_text(st, 0));
	snprintf(m.trigger, sizeof(m.trigger), "%s", db_col_text(st, 1));
	if (!db_col_is_null(st, 4))
		snprintf(m.schedule, sizeof(m.schedule), "%s", db_col_text(st, 4));
	if (!db_col_is_null(st, 3))
		m.has_group = db_group_load(db_col_int(st, 3), &m.group) == 0;
	const char *params = db_col_text(st, 2);
	p = params ? json_loads(params, 0, NULL) : NULL;
	if (json_is_object(p)) { /* a restore's parameters, as the API stored them */
		const char *sn = json_string_value(json_object_get(p, "snapshot_id"));
		const char *tg = json_string_value(json_object_get(p, "target"));
		size_t i;
		json_t *e;
		m.has_restore = 1;
		snprintf(m.restore.snapshot_id, sizeof(m.restore.snapshot_id), "%s", sn ? sn : "");
		snprintf(m.restore.target, sizeof(m.restore.target), "%s", tg ? tg : "");
		json_array_foreach(json_object_get(p, "include"), i, e)
			if (json_is_string(e))
				proto_strv_push(&m.restore.include, &m.restore.ninclude, json_string_value(e));
	}
	if (proto_encode_job_start(&m, &out, &eb) != ROOST_OK)
		log_error("job.unsendable", "job=%lld msg=%s", (long long)job_id, roost_lq(eb.msg));
done:
	json_decref(p);
	db_done(st);
	proto_job_start_release(&m);
	return out;
}

int jobs_send_start_here(int64_t host_id, int64_t job_id)
{
	json_t *m = start_message(job_id);
	int rc = m ? hub_send(host_id, m) : -1;
	json_decref(m);
	return rc;
}

int jobs_send_start(int64_t host_id, int64_t job_id)
{
	/* here, or a poke to the host's owner */
	return route_host(host_id, ROUTE_JOB, job_id, jobs_send_start_here);
}

int jobs_send_cancel_here(int64_t host_id, int64_t job_id)
{
	struct proto_job_cancel c = {.job_id = job_id};
	json_t *m = NULL;
	struct roost_errbuf eb = {{0}};
	int rc = proto_encode_job_cancel(&c, &m, &eb) == ROOST_OK ? hub_send(host_id, m) : -1;
	json_decref(m);
	return rc;
}

int64_t jobs_create(int64_t host_id, int64_t schedule_id, int64_t group_id, const char *kind,
                    const char *trigger, const char *params)
{
	/* RETURNING, not the last insert's id: on PostgreSQL lastval() is the last
	 * sequence drawn, and a job's insert also draws roost_order (order_seq) */
	int64_t id = db_returning("INSERT INTO jobs (host_id, schedule_id, group_id, kind, trigger, "
	                          "status, created_at, params) VALUES (?, NULLIF(?, 0), NULLIF(?, 0),"
	                          " ?, ?, 'queued', ?, ?) RETURNING id", "iiittit", host_id,
	                          schedule_id, group_id, kind, trigger, srv_now(), params);
	if (id <= 0)
		return 0;
	db_exec("UPDATE hosts SET current_job_id = COALESCE(current_job_id, ?) WHERE id=?", "ii", id,
	        host_id);
	return id;
}

int jobs_claim_host(int64_t host_id)
{
	/* docs/scale-out.md 2.3: the one statement that makes an idle host busy. 0
	 * holds the place until the batch's first queued job (jobs_insert) names it,
	 * in the same transaction, so no other connection ever reads the 0. */
	if (db_exec("UPDATE hosts SET current_job_id = 0 WHERE id=? AND current_job_id IS NULL",
	            "i", host_id) != DB_DONE)
		return -1;
	return db_changes() == 1;
}

int64_t jobs_insert(int64_t host_id, int64_t schedule_id, int64_t group_id, const char *trigger)
{
	int64_t id = db_returning("INSERT INTO jobs (host_id, schedule_id, group_id, kind, trigger, "
	                          "status, created_at) VALUES (?, NULLIF(?, 0), NULLIF(?, 0), "
	                          "'backup', ?, 'queued', ?) RETURNING id", "iiiti", host_id,
	                          schedule_id, group_id, trigger, srv_now());
	if (id <= 0)
		return 0;
	db_exec("UPDATE hosts SET current_job_id=? WHERE id=? AND current_job_id = 0", "ii", id,
	        host_id);
	return id;
}

int64_t jobs_insert_deferred(int64_t host_id, int64_t schedule_id, int64_t group_id,
                             const char *trigger, const char *reason)
{
	/* at most one deferred job per (host, schedule, group): the index jobs_one_deferred */
	return db_returning("INSERT INTO jobs (host_id, schedule_id, group_id, kind, trigger, "
	                    "status, created_at, error) VALUES (?, NULLIF(?, 0), NULLIF(?, 0), "
	                    "'backup', ?, 'deferred', ?, ?) ON CONFLICT DO NOTHING RETURNING id",
	                    "iiitit", host_id, schedule_id, group_id, trigger, srv_now(), reason);
}

int jobs_requeue_deferred(int64_t host_id, int64_t job_id)
{
	if (db_exec("UPDATE jobs SET status='queued', error=NULL WHERE id=? AND host_id=? AND "
	            "status='deferred'", "ii", job_id, host_id) != DB_DONE)
		return -1;
	if (db_changes() != 1)
		return 0;
	db_exec("UPDATE hosts SET current_job_id=? WHERE id=? AND current_job_id = 0", "ii", job_id,
	        host_id);
	return 1;
}

int jobs_send_logged(int64_t host_id, int64_t schedule_id, int64_t group_id, int64_t job_id,
                     const char *trigger, const char *why, int must_send)
{
	int sent = jobs_send_start(host_id, job_id) == 0;
	if (!sent && must_send)
		return -1;
	events_live("job.queued", host_id, job_id);
	log_info("dispatch", "host=%lld schedule=%lld group=%lld kind=backup trigger=%s job=%lld "
	                     "why=%s sent=%s", (long long)host_id, (long long)schedule_id,
	         (long long)group_id, trigger, (long long)job_id, roost_lq(why),
	         sent ? "yes" : "no(agent offline; on its next hello)");
	return sent ? 0 : -1;
}

void jobs_announce_queued(int64_t host_id, int64_t job_id)
{
	events_live("job.queued", host_id, job_id);
}

void jobs_withdraw(int64_t host_id, int64_t job_id)
{
	db_exec("DELETE FROM jobs WHERE id=? AND host_id=?", "ii", job_id, host_id);
	db_host_refresh_current(host_id);
}

int64_t jobs_dispatch(int64_t host_id, int64_t schedule_id, int64_t group_id, const char *kind,
                      const char *trigger, const char *params, const char *why)
{
	int64_t id = jobs_create(host_id, schedule_id, group_id, kind, trigger, params);
	if (!id) {
		log_error("dispatch.failed", "host=%lld schedule=%lld group=%lld trigger=%s why=store",
		          (long long)host_id, (long long)schedule_id, (long long)group_id, trigger);
		return 0;
	}
	events_live("job.queued", host_id, id);
	int sent = jobs_send_start(host_id, id) == 0;
	log_info("dispatch", "host=%lld schedule=%lld group=%lld kind=%s trigger=%s job=%lld why=%s "
	                     "sent=%s", (long long)host_id, (long long)schedule_id,
	         (long long)group_id, kind, trigger, (long long)id, roost_lq(why),
	         sent ? "yes" : "no(agent offline; on its next hello)");
	return id;
}

static void record_success(int64_t host_id, int64_t schedule_id, int64_t group_id,
                           int64_t started)
{
	db_exec("UPDATE hosts SET last_backup_at=? WHERE id=?", "ii", srv_now(), host_id);
	if (!group_id)
		return;
	const char *up = "INSERT INTO group_success (schedule_id, group_id, last_success_at) "
	                 "VALUES (?, ?, ?) ON CONFLICT (schedule_id, group_id) DO UPDATE SET "
	                 "last_success_at = GREATEST(group_success.last_success_at, "
	                 "excluded.last_success_at)";
	if (schedule_id) {
		db_exec(up, "iii", schedule_id, group_id, started);
		return;
	}
	/* a manual backup of a group counts for every schedule that holds it */
	struct db_stmt *st = db_q("SELECT schedule_id FROM schedule_groups WHERE group_id=?", "i",
	                        group_id);
	while (st && db_step(st) == DB_ROW)
		db_exec(up, "iii", db_col_int(st, 0), group_id, started);
	db_done(st);
}

/*
 * Reports of an end that the store could not record (full disk, I/O error):
 * kept here and retried by jobs_retry_unrecorded, so a job's terminal state
 * is never lost and its host does not stay busy once the store recovers.
 * Bounded: one entry per job, at most UNRECORDED_MAX.
 */
#define UNRECORDED_MAX 4096

struct unrecorded {
	int64_t host_id;
	struct proto_job job;
	char how[48];
};

static struct unrecorded *unrec;
static size_t nunrec, capunrec;

static void keep_unrecorded(int64_t host_id, const struct proto_job *pj, const char *how)
{
	for (size_t i = 0; i < nunrec; i++)
		if (unrec[i].job.job_id == pj->job_id && unrec[i].host_id == host_id)
			return; /* already kept: the first report wins, as it would have */
	if (nunrec == capunrec) {
		size_t nc = capunrec ? capunrec * 2 : 16;
		struct unrecorded *n = nc <= UNRECORDED_MAX ? realloc(unrec, nc * sizeof(*n)) : NULL;
		if (!n) {
			log_error("job.report_lost", "host=%lld job=%lld why=\"retry queue full\"",
			          (long long)host_id, (long long)pj->job_id);
			return;
		}
		unrec = n;
		capunrec = nc;
	}
	unrec[nunrec].host_id = host_id;
	unrec[nunrec].job = *pj;
	snprintf(unrec[nunrec].how, sizeof(unrec[nunrec].how), "%s", how);
	nunrec++;
	log_error("job.unrecorded", "host=%lld job=%lld status=%s msg=%s why=\"kept; retried "
	                            "until the store records it\"", (long long)host_id,
	          (long long)pj->job_id, pj->status, roost_lq(db_last_error()));
}

/* Records a final state in one transaction; 0, or -1 if the store failed. */
static int record_end(int64_t host_id, const struct proto_job *pj, const char *how)
{
	struct db_stmt *st = db_q("SELECT status, schedule_id, group_id, kind, started_at, created_at, "
	                        "trigger FROM jobs WHERE id=? AND host_id=?", "ii", pj->job_id,
	                        host_id);
	if (!st)
		return -1;
	if (db_step(st) != DB_ROW) {
		db_done(st);
		log_warn("job.unknown", "host=%lld job=%lld", (long long)host_id,
		         (long long)pj->job_id);
		return 0;
	}
	char status[16], kind[16], trigger[16];
	snprintf(status, sizeof(status), "%s", db_col_text(st, 0));
	int64_t sid = db_col_int(st, 1), gid = db_col_int(st, 2);
	snprintf(kind, sizeof(kind), "%s", db_col_text(st, 3));
	snprintf(trigger, sizeof(trigger), "%s", db_col_text(st, 6));
	int backup = !strcmp(kind, "backup");
	int64_t started = !db_col_is_null(st, 4) ? db_col_int(st, 4)
	                                                             : 0;
	int64_t created = db_col_int(st, 5);
	db_done(st);
	if (proto_status_final(status)) {
		log_debug("job.already_final", "host=%lld job=%lld", (long long)host_id,
		          (long long)pj->job_id);
		return 0;
	}
	if (!started)
		started = pj->started_at ? pj->started_at : created;
	if (db_begin() == 0) {
		/* docs/scale-out.md 3.2: only a job still current ends, so two recorders of
		 * one end (a stale owner's late job.finished and the new owner's hello, or
		 * two reports here) can not both apply it or emit two events */
		if (db_exec("UPDATE jobs SET status=?, finished_at=?, started_at=?, "
		            "snapshot_id=NULLIF(?, ''), files=?, bytes=?, bytes_new=?, "
		            "error=NULLIF(?, ''), hook_output=NULLIF(?, '') WHERE id=? AND status IN "
		            "('queued','running')", "tiitiiit" "ti", pj->status, srv_now(), started,
		            pj->snapshot_id, (int64_t)pj->files, (int64_t)pj->bytes,
		            (int64_t)pj->bytes_new, pj->error, pj->hook_output, pj->job_id) == DB_DONE &&
		    db_changes() == 0) {
			db_rollback();
			log_debug("job.already_final", "host=%lld job=%lld why=\"recorded elsewhere\"",
			          (long long)host_id, (long long)pj->job_id);
			return 0;
		}
		if (backup && !strcmp(pj->status, "succeeded"))
			record_success(host_id, sid, gid, started);
		db_host_refresh_current(host_id);
		/* its event in the same transaction: one commit per job end */
		events_tx_begin();
		if (!strcmp(pj->status, "succeeded") || !strcmp(pj->status, "failed") ||
		    !strcmp(pj->status, "interrupted")) {
			char type[32];
			snprintf(type, sizeof(type), "job.%s", pj->status);
			events_emit(type, host_id, pj->job_id, NULL);
		}
	}
	int failed = db_commit() != 0;
	events_tx_end(!failed);
	if (failed)
		return -1;
	int64_t ended = srv_now();
	metrics_job_ended(kind, trigger, pj->status, ended > started ? ended - started : 0);
	log_info("job.finished", "host=%lld job=%lld status=%s how=%s snapshot=%s files=%llu "
	                         "bytes=%llu bytes_new=%llu error=%s",
	         (long long)host_id, (long long)pj->job_id, pj->status, how,
	         pj->snapshot_id[0] ? pj->snapshot_id : "-", (unsigned long long)pj->files,
	         (unsigned long long)pj->bytes, (unsigned long long)pj->bytes_new,
	         roost_lq(pj->error[0] ? pj->error : NULL));
	return 0;
}

int jobs_finish(int64_t host_id, const struct proto_job *pj, const char *how)
{
	if (record_end(host_id, pj, how) == 0)
		return 0;
	keep_unrecorded(host_id, pj, how);
	return -1;
}

size_t jobs_retry_unrecorded(int64_t *hosts, size_t cap)
{
	size_t n = 0, i = 0;
	while (i < nunrec) {
		struct unrecorded u = unrec[i];
		if (record_end(u.host_id, &u.job, u.how)) {
			i++;
			continue;
		}
		log_info("job.recorded", "host=%lld job=%lld why=\"the store recovered\"",
		         (long long)u.host_id, (long long)u.job.job_id);
		unrec[i] = unrec[--nunrec];
		if (n < cap)
			hosts[n++] = u.host_id;
	}
	if (!nunrec) {
		free(unrec);
		unrec = NULL;
		capunrec = 0;
	}
	return n;
}

size_t jobs_unrecorded(void)
{
	return nunrec;
}

static void mark_running(int64_t host_id, const struct proto_job *j, int64_t started)
{
	if (db_exec("UPDATE jobs SET status='running', started_at=COALESCE(started_at, ?) WHERE "
	            "id=? AND host_id=? AND status='queued'", "iii", started, j->job_id,
	            host_id) == DB_DONE &&
	    db_changes() > 0) {
		db_host_refresh_current(host_id);
		log_info("job.running", "host=%lld job=%lld", (long long)host_id, (long long)j->job_id);
		events_live("job.running", host_id, j->job_id);
	}
}

int jobs_on_report(int64_t host_id, const struct proto_msg *m)
{
	const struct proto_job *j = &m->job;
	switch (m->type) {
	case PROTO_JOB_ACCEPTED:
		mark_running(host_id, j, j->started_at ? j->started_at : srv_now());
		return 0;
	case PROTO_JOB_PROGRESS:
		/* the agent reports at most about once a second per job */
		if (db_exec("UPDATE jobs SET files=?, bytes=?, bytes_new=? WHERE id=? AND host_id=? AND "
		            "status='running'", "iiiii", (int64_t)j->files, (int64_t)j->bytes,
		            (int64_t)j->bytes_new, j->job_id, host_id) == DB_DONE &&
		    db_changes() > 0)
			events_live("job.progress", host_id, j->job_id);
		return 0;
	case PROTO_JOB_FINISHED:
		jobs_finish(host_id, j, "reported");
		return 1;
	default:
		return 0;
	}
}

void jobs_resolve_hello(int64_t host_id, const struct proto_msg *m, int64_t now)
{
	/* the jobs the server thinks are current, before the report changes them */
	struct db_stmt *st = db_q("SELECT id, status FROM jobs WHERE host_id=? AND status IN "
	                        "('queued','running') ORDER BY id", "i", host_id);
	int64_t ids[256];
	int running[256];
	size_t n = 0;
	while (st && db_step(st) == DB_ROW && n < 256) {
		ids[n] = db_col_int(st, 0);
		running[n] = !strcmp(db_col_text(st, 1), "running");
		n++;
	}
	db_done(st);
	for (size_t i = 0; i < m->njobs; i++) {
		const struct proto_job *j = &m->jobs[i];
		if (proto_status_final(j->status))
			jobs_finish(host_id, j, "finished while offline");
		else if (!strcmp(j->status, "running")) /* its job.accepted was lost */
			mark_running(host_id, j, j->started_at ? j->started_at : now);
	}
	for (size_t i = 0; i < n; i++) {
		int reported = 0;
		for (size_t k = 0; k < m->njobs; k++)
			reported |= m->jobs[k].job_id == ids[i];
		if (reported || !running[i])
			continue;
		struct proto_job lost = {.job_id = ids[i]};
		snprintf(lost.status, sizeof(lost.status), "interrupted");
		snprintf(lost.error, sizeof(lost.error),
		         "the agent no longer has this job (it restarted or crashed)");
		jobs_finish(host_id, &lost, "lost by the agent");
	}
}

void jobs_resend_queued(int64_t host_id)
{
	struct db_stmt *st = db_q("SELECT id FROM jobs WHERE host_id=? AND status='queued' ORDER BY id",
	                        "i", host_id);
	while (st && db_step(st) == DB_ROW) {
		int64_t id = db_col_int(st, 0);
		if (jobs_send_start(host_id, id) == 0)
			log_info("job.sent", "host=%lld job=%lld why=\"queued while the agent was away\"",
			         (long long)host_id, (long long)id);
	}
	db_done(st);
}

int jobs_cancel(int64_t job_id, int64_t *host_id)
{
	struct db_stmt *st = db_q("SELECT host_id, status FROM jobs WHERE id=?", "i", job_id);
	int64_t hid = 0;
	char status[16] = "";
	if (st && db_step(st) == DB_ROW) {
		hid = db_col_int(st, 0);
		snprintf(status, sizeof(status), "%s", db_col_text(st, 1));
	}
	db_done(st);
	*host_id = hid;
	if (!hid)
		return JOBS_CANCEL_UNKNOWN;
	if (proto_status_final(status))
		return JOBS_CANCEL_ENDED;
	int deferred = !strcmp(status, "deferred"); /* never sent: the agent does not know it */
	int sent = !deferred && route_host(hid, ROUTE_CANCEL, job_id, jobs_send_cancel_here) == 0;
	int here = !sent || !strcmp(status, "queued");
	if (here) {
		/* nobody is running it: it ends here */
		if (db_begin() == 0) {
			db_exec("UPDATE jobs SET status='canceled', finished_at=?, error='canceled' "
			        "WHERE id=? AND status IN ('deferred','queued','running')", "ii", srv_now(),
			        job_id);
			db_host_refresh_current(hid);
		}
		if (db_commit())
			return JOBS_CANCEL_STORE_FAILED;
	}
	log_info("job.cancel", "host=%lld job=%lld sent=%s", (long long)hid, (long long)job_id,
	         sent ? "yes" : "no");
	return here ? JOBS_CANCEL_ENDED_HERE : JOBS_CANCEL_SENT;
}
