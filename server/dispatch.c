/* SPDX-License-Identifier: MIT */
/*
 * Scheduling wired to the store and the hub (DESIGN.md, "Scheduling
 * semantics"). The decisions themselves are sched.c's pure functions; this
 * file gathers their facts, applies them, and logs every decision with its
 * reason: one event per dispatch or non-dispatch.
 */
#include <stdlib.h>
#include <string.h>

#include "roost/log.h"
#include "roost/timeutil.h"
#include "roost/tz.h"
#include "roostd.h"

int host_busy(int64_t host_id)
{
	return db_int(0, "SELECT COUNT(*) FROM jobs WHERE host_id=? AND status IN "
	                 "('queued','running')", "i", host_id) > 0;
}

static json_t *job_start_msg(int64_t job_id)
{
	json_t *j = db_job_json(job_id);
	if (!j)
		return NULL;
	json_t *m = json_pack("{s:s, s:I, s:O}", "type", "job.start", "job_id",
	                      (json_int_t)job_id, "kind", json_object_get(j, "kind"));
	json_t *gid = json_object_get(j, "group_id");
	if (json_is_integer(gid)) {
		json_t *g = db_group_json(json_integer_value(gid));
		if (g)
			json_object_set_new(m, "group", g);
	}
	json_t *p = json_object_get(j, "params");
	if (json_is_object(p))
		json_object_update(m, p);
	json_object_set(m, "trigger", json_object_get(j, "trigger"));
	json_decref(j);
	return m;
}

static int send_job(int64_t host_id, int64_t job_id)
{
	json_t *m = job_start_msg(job_id);
	int rc = m ? hub_send(host_id, m) : -1;
	json_decref(m);
	return rc;
}

static int64_t create_job(int64_t host_id, int64_t schedule_id, int64_t group_id,
                          const char *kind, const char *trigger, const char *params)
{
	if (db_exec("INSERT INTO jobs (host_id, schedule_id, group_id, kind, trigger, status,"
	            " created_at, params) VALUES (?, NULLIF(?, 0), NULLIF(?, 0), ?, ?, 'queued', ?, ?)",
	            "iiittit", host_id, schedule_id, group_id, kind, trigger, srv_now(),
	            params) != SQLITE_DONE)
		return 0;
	int64_t id = sqlite3_last_insert_rowid(g_srv->st->db);
	db_exec("UPDATE hosts SET current_job_id = COALESCE(current_job_id, ?) WHERE id=?", "ii", id,
	        host_id);
	return id;
}

int64_t dispatch_job(int64_t host_id, int64_t schedule_id, int64_t group_id, const char *kind,
                     const char *trigger, const char *params, const char *why)
{
	int64_t id = create_job(host_id, schedule_id, group_id, kind, trigger, params);
	if (!id) {
		log_error("dispatch.failed", "host=%lld schedule=%lld group=%lld trigger=%s why=store",
		          (long long)host_id, (long long)schedule_id, (long long)group_id, trigger);
		return 0;
	}
	int sent = send_job(host_id, id) == 0;
	log_info("dispatch", "host=%lld schedule=%lld group=%lld kind=%s trigger=%s job=%lld why=%s "
	                     "sent=%s", (long long)host_id, (long long)schedule_id,
	         (long long)group_id, kind, trigger, (long long)id, roost_lq(why),
	         sent ? "yes" : "no(agent offline; on its next hello)");
	return id;
}

/* The groups of a schedule of this host (enabled or not); count. */
static size_t schedule_groups(int64_t host_id, int64_t schedule_id, int64_t *out, size_t cap,
                              int *enabled)
{
	*enabled = (int)db_int(-1, "SELECT enabled FROM schedules WHERE id=? AND host_id=?", "ii",
	                       schedule_id, host_id);
	if (*enabled < 0)
		return 0;
	size_t n = 0;
	sqlite3_stmt *st = db_q("SELECT group_id FROM schedule_groups WHERE schedule_id=? "
	                        "ORDER BY group_id", "i", schedule_id);
	while (st && sqlite3_step(st) == SQLITE_ROW && n < cap)
		out[n++] = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void dispatch_schedule(int64_t host_id, int64_t schedule_id, const char *trigger,
                              const char *why)
{
	int64_t groups[64];
	int enabled;
	size_t n = schedule_groups(host_id, schedule_id, groups, 64, &enabled);
	for (size_t i = 0; i < n; i++)
		dispatch_job(host_id, schedule_id, groups[i], "backup", trigger, NULL, why);
}

void dispatch_fire(int64_t host_id, int64_t schedule_id, int64_t slot, const char *via)
{
	int64_t groups[64];
	int enabled;
	size_t ng = schedule_groups(host_id, schedule_id, groups, 64, &enabled);
	struct fire_facts f = {
		.seen = db_int(0, "SELECT 1 FROM fires WHERE host_id=? AND schedule_id=? AND slot=?",
		               "iii", host_id, schedule_id, slot) != 0,
		.schedule_usable = enabled > 0 && ng > 0,
		.last_job_created = db_int(INT64_MIN, "SELECT MAX(created_at) FROM jobs WHERE "
		                                      "host_id=? AND schedule_id=?", "ii", host_id,
		                           schedule_id),
		.host_busy = host_busy(host_id),
	};
	enum fire_action a = sched_fire_decide(&f, slot);
	char slotbuf[40];
	roost_time_format(slot, slotbuf, sizeof(slotbuf));
	log_info("fire", "host=%lld schedule=%lld slot=%s via=%s action=%s", (long long)host_id,
	         (long long)schedule_id, slotbuf, via, sched_fire_action_name(a));
	if (a == FIRE_DROP_SEEN)
		return;
	if (enabled >= 0)
		db_exec("INSERT OR IGNORE INTO fires (host_id, schedule_id, slot, seen_at) "
		        "VALUES (?, ?, ?, ?)", "iiii", host_id, schedule_id, slot, srv_now());
	if (a == FIRE_DISPATCH) {
		dispatch_schedule(host_id, schedule_id, "schedule", "fire while idle");
	} else if (a == FIRE_COALESCE) {
		db_exec("INSERT INTO pending_runs (host_id, schedule_id, first_fire, last_fire) "
		        "VALUES (?, ?, ?, ?) ON CONFLICT (host_id, schedule_id) DO UPDATE SET "
		        "last_fire = MAX(last_fire, excluded.last_fire)",
		        "iiii", host_id, schedule_id, slot, slot);
		log_info("pending.upsert", "host=%lld schedule=%lld slot=%s why=\"host busy\"",
		         (long long)host_id, (long long)schedule_id, slotbuf);
	}
}

void dispatch_pending(int64_t host_id)
{
	while (!host_busy(host_id)) {
		sqlite3_stmt *st = db_q("SELECT schedule_id, first_fire FROM pending_runs WHERE "
		                        "host_id=? ORDER BY first_fire, schedule_id LIMIT 1", "i", host_id);
		int64_t sid = 0, first = 0;
		if (st && sqlite3_step(st) == SQLITE_ROW) {
			sid = sqlite3_column_int64(st, 0);
			first = sqlite3_column_int64(st, 1);
		}
		sqlite3_finalize(st);
		if (!sid)
			return;
		db_exec("DELETE FROM pending_runs WHERE host_id=? AND schedule_id=?", "ii", host_id, sid);
		int64_t groups[64];
		int enabled;
		if (schedule_groups(host_id, sid, groups, 64, &enabled) == 0 || enabled <= 0) {
			log_info("pending.drop", "host=%lld schedule=%lld why=\"schedule disabled, gone "
			                         "or without groups\"", (long long)host_id, (long long)sid);
			continue;
		}
		char why[96], tb[40];
		snprintf(why, sizeof(why), "pending run (first fire %s) after the host's job ended",
		         roost_time_format(first, tb, sizeof(tb)));
		dispatch_schedule(host_id, sid, "pending", why);
	}
}

static void record_success(int64_t host_id, int64_t schedule_id, int64_t group_id,
                           int64_t started)
{
	db_exec("UPDATE hosts SET last_backup_at=? WHERE id=?", "ii", srv_now(), host_id);
	if (!group_id)
		return;
	const char *up = "INSERT INTO group_success (schedule_id, group_id, last_success_at) "
	                 "VALUES (?, ?, ?) ON CONFLICT (schedule_id, group_id) DO UPDATE SET "
	                 "last_success_at = MAX(last_success_at, excluded.last_success_at)";
	if (schedule_id) {
		db_exec(up, "iii", schedule_id, group_id, started);
		return;
	}
	/* a manual backup of a group counts for every schedule that holds it */
	sqlite3_stmt *st = db_q("SELECT schedule_id FROM schedule_groups WHERE group_id=?", "i",
	                        group_id);
	while (st && sqlite3_step(st) == SQLITE_ROW)
		db_exec(up, "iii", sqlite3_column_int64(st, 0), group_id, started);
	sqlite3_finalize(st);
}

static void refresh_current(int64_t host_id)
{
	db_exec("UPDATE hosts SET current_job_id = (SELECT id FROM jobs WHERE host_id=? AND status "
	        "IN ('queued','running') ORDER BY (status='running') DESC, id LIMIT 1) WHERE id=?",
	        "ii", host_id, host_id);
}

/* Applies a final state to a job of this host (once). */
static void finish_job(int64_t host_id, const struct proto_job *pj, const char *how)
{
	sqlite3_stmt *st = db_q("SELECT status, schedule_id, group_id, kind, started_at, created_at "
	                        "FROM jobs WHERE id=? AND host_id=?", "ii", pj->job_id, host_id);
	if (!st || sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		log_warn("job.unknown", "host=%lld job=%lld", (long long)host_id,
		         (long long)pj->job_id);
		return;
	}
	char status[16];
	snprintf(status, sizeof(status), "%s", sqlite3_column_text(st, 0));
	int64_t sid = sqlite3_column_int64(st, 1), gid = sqlite3_column_int64(st, 2);
	int backup = !strcmp((const char *)sqlite3_column_text(st, 3), "backup");
	int64_t started = sqlite3_column_type(st, 4) != SQLITE_NULL ? sqlite3_column_int64(st, 4)
	                                                             : 0;
	int64_t created = sqlite3_column_int64(st, 5);
	sqlite3_finalize(st);
	if (proto_status_final(status)) {
		log_debug("job.already_final", "host=%lld job=%lld", (long long)host_id,
		          (long long)pj->job_id);
		return;
	}
	if (!started)
		started = pj->started_at ? pj->started_at : created;
	db_exec("UPDATE jobs SET status=?, finished_at=?, started_at=?, snapshot_id=NULLIF(?, ''),"
	        " files=?, bytes=?, bytes_new=?, error=NULLIF(?, '') WHERE id=?",
	        "tiitiiiti", pj->status, srv_now(), started, pj->snapshot_id, (int64_t)pj->files,
	        (int64_t)pj->bytes, (int64_t)pj->bytes_new, pj->error, pj->job_id);
	if (backup && !strcmp(pj->status, "succeeded"))
		record_success(host_id, sid, gid, started);
	refresh_current(host_id);
	log_info("job.finished", "host=%lld job=%lld status=%s how=%s snapshot=%s files=%llu "
	                         "bytes=%llu bytes_new=%llu error=%s",
	         (long long)host_id, (long long)pj->job_id, pj->status, how,
	         pj->snapshot_id[0] ? pj->snapshot_id : "-", (unsigned long long)pj->files,
	         (unsigned long long)pj->bytes, (unsigned long long)pj->bytes_new,
	         roost_lq(pj->error[0] ? pj->error : NULL));
}

void dispatch_job_msg(int64_t host_id, const struct proto_msg *m)
{
	const struct proto_job *j = &m->job;
	if (m->type == PROTO_JOB_ACCEPTED) {
		int64_t st = j->started_at ? j->started_at : srv_now();
		if (db_exec("UPDATE jobs SET status='running', started_at=? WHERE id=? AND host_id=? "
		            "AND status='queued'", "iii", st, j->job_id, host_id) == SQLITE_DONE &&
		    sqlite3_changes(g_srv->st->db) > 0) {
			refresh_current(host_id);
			log_info("job.running", "host=%lld job=%lld", (long long)host_id,
			         (long long)j->job_id);
		}
	} else if (m->type == PROTO_JOB_PROGRESS) {
		db_exec("UPDATE jobs SET files=?, bytes=?, bytes_new=? WHERE id=? AND host_id=? AND "
		        "status='running'", "iiiii", (int64_t)j->files, (int64_t)j->bytes,
		        (int64_t)j->bytes_new, j->job_id, host_id);
	} else if (m->type == PROTO_JOB_FINISHED) {
		finish_job(host_id, j, "reported");
		if (!host_busy(host_id))
			dispatch_pending(host_id);
	}
}

void dispatch_resend_queued(int64_t host_id)
{
	sqlite3_stmt *st = db_q("SELECT id FROM jobs WHERE host_id=? AND status='queued' ORDER BY id",
	                        "i", host_id);
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		if (send_job(host_id, id) == 0)
			log_info("job.sent", "host=%lld job=%lld why=\"queued while the agent was away\"",
			         (long long)host_id, (long long)id);
	}
	sqlite3_finalize(st);
}

void dispatch_hello(int64_t host_id, const struct proto_msg *m)
{
	int64_t now = srv_now();
	const struct roost_tz *tz = NULL;
	const char *zone = m->tz[0] && roost_tz_get(m->tz, &tz, NULL) == ROOST_OK ? m->tz : NULL;
	db_exec("UPDATE hosts SET hostname=COALESCE(NULLIF(?, ''), hostname), os=?, tz=?, "
	        "last_seen_at=? WHERE id=?", "ttti", m->hostname, m->os, zone, now, host_id);
	if (m->clock && (m->clock - now > 300 || now - m->clock > 300))
		log_warn("agent.clock_skew", "host=%lld skew_s=%lld", (long long)host_id,
		         (long long)(m->clock - now));
	log_info("agent.hello", "host=%lld version=%s hostname=%s tz=%s jobs=%zu fires=%zu",
	         (long long)host_id, roost_lq(m->agent_version), roost_lq(m->hostname),
	         roost_lq(zone), m->njobs, m->nfires);
	/* resolve the jobs the server thinks are current */
	sqlite3_stmt *st = db_q("SELECT id, status FROM jobs WHERE host_id=? AND status IN "
	                        "('queued','running') ORDER BY id", "i", host_id);
	int64_t ids[256];
	int running[256];
	size_t n = 0;
	while (st && sqlite3_step(st) == SQLITE_ROW && n < 256) {
		ids[n] = sqlite3_column_int64(st, 0);
		running[n] = !strcmp((const char *)sqlite3_column_text(st, 1), "running");
		n++;
	}
	sqlite3_finalize(st);
	for (size_t i = 0; i < m->njobs; i++) {
		const struct proto_job *j = &m->jobs[i];
		if (proto_status_final(j->status))
			finish_job(host_id, j, "finished while offline");
		else if (!strcmp(j->status, "running")) /* its job.accepted was lost */
			db_exec("UPDATE jobs SET status='running', started_at=COALESCE(started_at, ?) "
			        "WHERE id=? AND host_id=? AND status='queued'", "iii",
			        j->started_at ? j->started_at : now, j->job_id, host_id);
	}
	for (size_t i = 0; i < n; i++) {
		const struct proto_job *rep = NULL;
		for (size_t k = 0; k < m->njobs; k++)
			if (m->jobs[k].job_id == ids[i])
				rep = &m->jobs[k];
		if (rep)
			continue;
		if (running[i]) {
			struct proto_job lost = {.job_id = ids[i]};
			snprintf(lost.status, sizeof(lost.status), "interrupted");
			snprintf(lost.error, sizeof(lost.error),
			         "the agent no longer has this job (it restarted or crashed)");
			finish_job(host_id, &lost, "lost by the agent");
		}
	}
	json_t *cfg = db_config_json(host_id);
	hub_send(host_id, cfg);
	json_decref(cfg);
	dispatch_resend_queued(host_id);
	for (size_t i = 0; i < m->nfires; i++)
		dispatch_fire(host_id, m->fires[i].schedule_id, m->fires[i].slot, "persisted");
	char mode[32] = "";
	st = db_q("SELECT mode FROM hosts WHERE id=?", "i", host_id);
	if (st && sqlite3_step(st) == SQLITE_ROW)
		snprintf(mode, sizeof(mode), "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (!strcmp(mode, "intermittent"))
		catchup_arm(host_id, now + g_srv->settle_s);
	if (!host_busy(host_id))
		dispatch_pending(host_id);
}

void dispatch_disconnected(int64_t host_id)
{
	db_exec("UPDATE hosts SET last_seen_at=? WHERE id=?", "ii", srv_now(), host_id);
}

/* ---- catch-up timer ---- */

static void timer_rearm(void)
{
	struct srv *s = g_srv;
	if (!s->lws)
		return; /* unit tests call catchup_timer_cb themselves */
	int64_t next = catchup_heap_next(s->heap);
	if (next == INT64_MAX) {
		lws_sul_cancel(&s->sul_catchup);
		s->sul_armed = 0;
		return;
	}
	if (s->sul_armed && s->sul_due == next)
		return;
	int64_t delay = next - srv_now();
	if (delay < 0)
		delay = 0;
	/* +50 ms so the second has surely begun when it fires */
	lws_sul_schedule(s->lws, 0, &s->sul_catchup, catchup_timer_cb,
	                 (lws_usec_t)delay * LWS_US_PER_SEC + 50 * LWS_US_PER_MS);
	s->sul_armed = 1;
	s->sul_due = next;
}

void catchup_arm(int64_t host_id, int64_t due)
{
	if (catchup_heap_arm(g_srv->heap, host_id, due) != ROOST_OK) {
		log_error("catchup.arm_failed", "host=%lld", (long long)host_id);
		return;
	}
	char tb[40];
	log_info("catchup.armed", "host=%lld due=%s", (long long)host_id,
	         roost_time_format(due, tb, sizeof(tb)));
	timer_rearm();
}

static void catchup_run(int64_t host_id, int64_t now)
{
	char mode[32] = "";
	sqlite3_stmt *st = db_q("SELECT mode FROM hosts WHERE id=?", "i", host_id);
	int exists = st && sqlite3_step(st) == SQLITE_ROW;
	if (exists)
		snprintf(mode, sizeof(mode), "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (!exists)
		return;
	struct catchup_host h = {
		.connected = hub_online(host_id),
		.intermittent = !strcmp(mode, "intermittent"),
		.busy = host_busy(host_id),
	};
	struct catchup_due due[256];
	size_t n = 0;
	enum catchup_skip skip = sched_catchup_eval(&h, NULL, 0, now, NULL, 0, &n);
	if (skip == CATCHUP_RUN)
		n = db_overdue(host_id, now, due, 256);
	if (skip != CATCHUP_RUN) {
		log_info("catchup.skip", "host=%lld why=%s", (long long)host_id,
		         sched_catchup_skip_name(skip));
		return;
	}
	if (n == 0) {
		log_info("catchup.none", "host=%lld why=\"no (schedule, group) overdue\"",
		         (long long)host_id);
		return;
	}
	if (n > 256)
		n = 256;
	for (size_t i = 0; i < n; i++) {
		int64_t id = create_job(host_id, due[i].schedule_id, due[i].group_id, "backup",
		                        "catchup", NULL);
		if (!id)
			continue;
		if (send_job(host_id, id) != 0) {
			db_exec("DELETE FROM jobs WHERE id=?", "i", id);
			refresh_current(host_id);
			log_warn("catchup.send_failed", "host=%lld schedule=%lld group=%lld why=\"send "
			                                "failed; re-armed\"", (long long)host_id,
			         (long long)due[i].schedule_id, (long long)due[i].group_id);
			catchup_arm(host_id, now + g_srv->settle_s);
			return;
		}
		log_info("dispatch", "host=%lld schedule=%lld group=%lld kind=backup trigger=catchup "
		                     "job=%lld why=\"overdue after the settle window\" sent=yes",
		         (long long)host_id, (long long)due[i].schedule_id,
		         (long long)due[i].group_id, (long long)id);
	}
}

void catchup_timer_cb(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	struct srv *s = g_srv;
	s->sul_armed = 0;
	int64_t now = srv_now(), host;
	while (catchup_heap_pop_due(s->heap, now, &host) == 0)
		catchup_run(host, now);
	timer_rearm();
}
