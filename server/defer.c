/* SPDX-License-Identifier: MIT */
/*
 * Deferred jobs (defer.h; docs/policies.md). A deferred job is in the store
 * (status `deferred`, reason in `error`), is not its host's current job and
 * was never sent; at most one waits per (host, schedule, group), so further
 * fires add nothing. Hosts with window-deferred jobs sit on a due-time heap
 * at their earliest opening; its timer, a status report, a hello and the end
 * of the host's current job all lead to defer_release. At start every host
 * with deferred jobs is armed again, so a restart loses none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defer.h"
#include "events.h"
#include "roost/log.h"
#include "roost/timeutil.h"
#include "roost/tz.h"
#include "roost/window.h"
#include "roostd.h"

#define DEFER_MAX_GROUPS 64
#define DEFER_MAX_JOBS 256 /* deferred jobs of one host looked at by one release */

int defer_decide(const struct defer_facts *f, int64_t now, char *why, size_t cap,
                 int64_t *opens)
{
	*opens = 0;
	struct roost_window w;
	if (f->window && f->window[0] && window_parse(f->window, &w, NULL) == ROOST_OK) {
		const struct roost_tz *tz = NULL;
		if (!f->tz || roost_tz_get(f->tz, &tz, NULL) != ROOST_OK)
			tz = roost_tz_utc();
		if (!window_contains(&w, tz, now)) {
			char wb[16];
			snprintf(why, cap, "outside window %s", window_format(&w, wb, sizeof(wb)));
			*opens = window_next_open(&w, tz, now);
			return 1;
		}
	}
	if (f->skip_on_battery && f->on_battery) {
		snprintf(why, cap, "host on battery");
		return 1;
	}
	if (f->skip_on_metered && f->metered) {
		snprintf(why, cap, "host on a metered network");
		return 1;
	}
	if (cap)
		why[0] = 0;
	return 0;
}

/* ---- the facts ---- */

static int facts_decide(int64_t host_id, int64_t schedule_id, int64_t now, char *why,
                        size_t cap, int64_t *opens)
{
	struct db_stmt *st = db_qc("SELECT COALESCE(s.\"window\", ''), h.tz, h.skip_on_battery,"
	                        " h.on_battery, h.skip_on_metered, h.metered FROM hosts h"
	                        " LEFT JOIN schedules s ON s.id=? AND s.host_id=h.id WHERE h.id=?",
	                        "ii", schedule_id, host_id);
	int r = 0;
	*opens = 0;
	if (cap)
		why[0] = 0;
	if (st && db_step(st) == DB_ROW) {
		struct defer_facts f = {
			.window = db_col_text(st, 0),
			.tz = db_col_text(st, 1),
			.skip_on_battery = (int)db_col_int(st, 2),
			.on_battery = (int)db_col_int(st, 3),
			.skip_on_metered = (int)db_col_int(st, 4),
			.metered = (int)db_col_int(st, 5),
		};
		r = defer_decide(&f, now, why, cap, opens);
	}
	db_done(st);
	return r;
}

/* ---- the timer ---- */

static void timer_rearm(void)
{
	struct srv *s = g_srv;
	if (!s->lws)
		return; /* unit tests call defer_timer_cb themselves */
	int64_t next = dueheap_next(s->deferrals);
	if (next == INT64_MAX) {
		lws_sul_cancel(&s->sul_defer);
		s->sul_defer_armed = 0;
		return;
	}
	if (s->sul_defer_armed && s->sul_defer_due == next)
		return;
	int64_t delay = next - srv_now();
	if (delay < 0)
		delay = 0;
	/* +50 ms so the opening's second has surely begun when it fires */
	lws_sul_schedule(s->lws, 0, &s->sul_defer, defer_timer_cb,
	                 (lws_usec_t)delay * LWS_US_PER_SEC + 50 * LWS_US_PER_MS);
	s->sul_defer_armed = 1;
	s->sul_defer_due = next;
}

static void arm(int64_t host_id, int64_t due)
{
	if (!g_srv->deferrals)
		return;
	if (dueheap_arm(g_srv->deferrals, host_id, due) != ROOST_OK)
		log_error("defer.arm_failed", "host=%lld", (long long)host_id);
	timer_rearm();
}

void defer_timer_cb(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	struct srv *s = g_srv;
	s->sul_defer_armed = 0;
	int64_t now = srv_now(), host;
	while (s->deferrals && dueheap_pop_due(s->deferrals, now, &host) == 0)
		defer_release(host, now);
	timer_rearm();
}

/* ---- create ---- */

int defer_batch_build(struct defer_batch *b, int64_t host_id, const int64_t *schedules,
                      const int64_t *groups, size_t n, const char *trigger, int64_t now)
{
	memset(b, 0, sizeof(*b));
	b->host_id = host_id;
	snprintf(b->trigger, sizeof(b->trigger), "%s", trigger);
	if (n > DEFER_BATCH_MAX)
		n = DEFER_BATCH_MAX;
	/* the rule first (reads only): which pairs may start now */
	size_t nstart = 0;
	for (size_t i = 0; i < n; i++) {
		struct defer_entry *e = &b->e[i];
		e->schedule_id = schedules[i];
		e->group_id = groups[i];
		e->deferred = facts_decide(host_id, e->schedule_id, now, e->why, sizeof(e->why),
		                           &e->opens);
		nstart += !e->deferred;
	}
	/* docs/scale-out.md 2.3: jobs that start now claim the host first; busy (another
	 * dispatch, here or on another roostd, won it): nothing is created */
	if (nstart) {
		int c = jobs_claim_host(host_id);
		if (c <= 0)
			return c < 0 ? -1 : 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct defer_entry *e = &b->e[i];
		e->job = e->deferred ? jobs_insert_deferred(host_id, e->schedule_id, e->group_id,
		                                            trigger, e->why)
		                     : jobs_insert(host_id, e->schedule_id, e->group_id, trigger);
		if (e->job < 0 || (!e->deferred && !e->job))
			return -1;
	}
	b->n = n;
	return 1;
}

int defer_batch_schedule(struct defer_batch *b, int64_t host_id, int64_t schedule_id,
                         const char *trigger, int64_t now)
{
	int64_t groups[DEFER_MAX_GROUPS], sids[DEFER_MAX_GROUPS];
	int enabled;
	size_t n = db_schedule_groups(host_id, schedule_id, groups, DEFER_MAX_GROUPS, &enabled);
	for (size_t i = 0; i < n; i++)
		sids[i] = schedule_id;
	return defer_batch_build(b, host_id, sids, groups, n, trigger, now);
}

void defer_batch_done(const struct defer_batch *b, const char *why, size_t *fail_at)
{
	if (fail_at)
		*fail_at = b->n;
	char tb[40];
	for (size_t i = 0; i < b->n; i++) {
		const struct defer_entry *e = &b->e[i];
		if (!e->deferred) {
			if (jobs_send_logged(b->host_id, e->schedule_id, e->group_id, e->job, b->trigger,
			                     why, fail_at != NULL) && fail_at) {
				*fail_at = i; /* not sent: the caller withdraws it and what follows */
				return;
			}
			continue;
		}
		if (!e->job) { /* the index jobs_one_deferred: one waits already */
			log_info("defer.coalesced", "host=%lld schedule=%lld group=%lld why=\"a "
			                            "deferred job of this (schedule, group) already waits\"",
			         (long long)b->host_id, (long long)e->schedule_id, (long long)e->group_id);
			continue;
		}
		events_live("job.deferred", b->host_id, e->job);
		snprintf(tb, sizeof(tb), "-");
		if (e->opens)
			roost_time_format(e->opens, tb, sizeof(tb));
		log_info("defer", "host=%lld schedule=%lld group=%lld trigger=%s job=%lld why=%s "
		                  "opens=%s", (long long)b->host_id, (long long)e->schedule_id,
		         (long long)e->group_id, b->trigger, (long long)e->job, roost_lq(e->why), tb);
		if (e->opens)
			arm(b->host_id, e->opens);
	}
}

/* ---- release ---- */

void defer_release(int64_t host_id, int64_t now)
{
	int64_t ids[DEFER_MAX_JOBS], sids[DEFER_MAX_JOBS];
	size_t n = 0;
	struct db_stmt *st = db_q("SELECT id, COALESCE(schedule_id, 0) FROM jobs WHERE host_id=? AND "
	                        "status='deferred' ORDER BY id LIMIT ?", "ii", host_id,
	                        (int64_t)DEFER_MAX_JOBS);
	while (st && db_step(st) == DB_ROW) {
		ids[n] = db_col_int(st, 0);
		sids[n++] = db_col_int(st, 1);
	}
	db_done(st);
	int64_t earliest = INT64_MAX;
	int64_t start[DEFER_MAX_JOBS], ssid[DEFER_MAX_JOBS];
	size_t nstart = 0;
	for (size_t i = 0; i < n; i++) {
		char why[64];
		int64_t opens;
		int64_t groups[1];
		int enabled = -1;
		if (sids[i])
			db_schedule_groups(host_id, sids[i], groups, 1, &enabled);
		if (enabled <= 0) { /* its schedule was disabled or removed meanwhile */
			db_exec("UPDATE jobs SET status='canceled', finished_at=?, error='schedule "
			        "disabled or removed while deferred' WHERE id=? AND status='deferred'",
			        "ii", now, ids[i]);
			log_info("defer.drop", "host=%lld job=%lld why=\"schedule disabled or removed\"",
			         (long long)host_id, (long long)ids[i]);
			continue;
		}
		if (facts_decide(host_id, sids[i], now, why, sizeof(why), &opens)) {
			db_exec("UPDATE jobs SET error=? WHERE id=? AND status='deferred'", "ti", why,
			        ids[i]);
			if (opens && opens < earliest)
				earliest = opens;
			continue;
		}
		start[nstart] = ids[i];
		ssid[nstart++] = sids[i];
	}
	/* as a fire dispatches every group at once, an idle host gets every job whose
	 * reason cleared, in one transaction that claims it (docs/scale-out.md 2.12:
	 * each job by deferred -> queued, the host by 2.3's claim); a busy one gets
	 * them when its current job ends */
	int started[DEFER_MAX_JOBS] = {0}, k = 0;
	if (nstart && !db_host_busy(host_id) && db_begin() == 0) {
		int claimed = jobs_claim_host(host_id) == 1;
		for (size_t i = 0; claimed && i < nstart; i++)
			if ((started[i] = jobs_requeue_deferred(host_id, start[i]) == 1))
				k++;
		if (!claimed || !k || db_commit()) {
			db_rollback(); /* busy, or every one was released elsewhere: nothing to undo */
			k = 0;
		}
	}
	for (size_t i = 0; k && i < nstart; i++) {
		if (!started[i])
			continue;
		events_live("job.queued", host_id, start[i]);
		int rc = jobs_send_start(host_id, start[i]);
		log_info("defer.start", "host=%lld schedule=%lld job=%lld why=\"reason cleared\" "
		                        "sent=%s", (long long)host_id, (long long)ssid[i],
		         (long long)start[i], rc == 0 ? "yes" : "no(agent offline)");
	}
	if (earliest != INT64_MAX)
		arm(host_id, earliest);
	else if (g_srv->deferrals)
		dueheap_disarm(g_srv->deferrals, host_id);
}

void defer_rearm_all(void)
{
	int64_t hosts[1024];
	size_t n = 0;
	int64_t after = 0;
	for (;;) { /* in pages, so any number of hosts is re-armed */
		n = 0;
		struct db_stmt *st = db_q("SELECT DISTINCT host_id FROM jobs WHERE status='deferred' AND "
		                        "host_id > ? ORDER BY host_id LIMIT 1024", "i", after);
		while (st && db_step(st) == DB_ROW)
			hosts[n++] = db_col_int(st, 0);
		db_done(st);
		for (size_t i = 0; i < n; i++)
			defer_release(hosts[i], srv_now());
		if (n < 1024)
			break;
		after = hosts[n - 1];
	}
	log_info("defer.rearmed", "hosts=%zu",
	         g_srv->deferrals ? dueheap_size(g_srv->deferrals) : (size_t)0);
}
