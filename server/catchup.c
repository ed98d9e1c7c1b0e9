/* SPDX-License-Identifier: MIT */
/*
 * Catch-up for intermittent hosts (DESIGN.md, "Intermittent hosts"; the
 * semantics of the seed module in shared/seed): a laptop asleep at its
 * schedules' times never fired them, so on every hello the server arms a
 * catch-up at now + settle; when the settle window has passed and the host
 * is still connected, still intermittent and idle, it gets one backup for
 * every (schedule, group) that is overdue.
 *
 *   the rule      catchup_gate (the host) and catchup_eval_overdue (each
 *                 pair): pure, time passed in, unit-tested on its own
 *   the facts     catchup_overdue: the rule over the store's rows, also what
 *                 a host's `overdue` in the API shows
 *   arm and run   catchup_arm / catchup_disarm on the due-time heap, the
 *                 event loop's timer (catchup_timer_cb) and catchup_run
 *
 * Beyond the seed, where its v1 stops: success is tracked per (schedule,
 * group), so an hourly schedule's successes can not hide a missed daily one.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "roost/cron.h"
#include "roost/log.h"
#include "roost/timeutil.h"
#include "defer.h"
#include "roostd.h"

#define CATCHUP_MAX_PAIRS 256   /* (schedule, group) pairs dispatched by one catch-up */
#define CATCHUP_MAX_GROUPS 64   /* groups of one schedule considered */

/* ---- the rule ---- */

enum catchup_skip catchup_gate(const struct catchup_host *h)
{
	if (!h->connected)
		return CATCHUP_SKIP_OFFLINE;
	if (!h->intermittent)
		return CATCHUP_SKIP_ALWAYS_ON;
	if (h->busy)
		return CATCHUP_SKIP_BUSY;
	return CATCHUP_RUN;
}

size_t catchup_eval_overdue(const struct catchup_schedule *s, size_t ns, int64_t now,
                            struct catchup_due *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < ns; i++) {
		if (!s[i].enabled || !s[i].ngroups)
			continue;
		struct cron *c;
		if (cron_parse(s[i].cron, s[i].tz, &c, NULL) != ROOST_OK)
			continue; /* a bad expression never causes a surprise backup */
		for (size_t g = 0; g < s[i].ngroups; g++) {
			const struct catchup_group *gr = &s[i].groups[g];
			int64_t next;
			int overdue = !gr->succeeded ||
			              (cron_next(c, gr->last_success, &next) == ROOST_OK && next <= now);
			if (!overdue)
				continue;
			if (n < cap)
				out[n] = (struct catchup_due){s[i].schedule_id, gr->group_id};
			n++;
		}
		cron_free(c);
	}
	return n;
}

enum catchup_skip catchup_eval(const struct catchup_host *h, const struct catchup_schedule *s,
                               size_t ns, int64_t now, struct catchup_due *out, size_t cap,
                               size_t *n)
{
	*n = 0;
	enum catchup_skip skip = catchup_gate(h);
	if (skip == CATCHUP_RUN)
		*n = catchup_eval_overdue(s, ns, now, out, cap);
	return skip;
}

const char *catchup_skip_name(enum catchup_skip s)
{
	switch (s) {
	case CATCHUP_RUN: return "run";
	case CATCHUP_SKIP_OFFLINE: return "host_offline";
	case CATCHUP_SKIP_ALWAYS_ON: return "host_always_on";
	case CATCHUP_SKIP_BUSY: return "host_busy";
	}
	return "?";
}

/* ---- the facts: the rule over the store ---- */

size_t catchup_overdue(int64_t host_id, int64_t now, struct catchup_due *out, size_t cap)
{
	char *tz = db_host_tz(host_id);
	size_t total = 0;
	struct db_stmt *ss = db_qc("SELECT id, cron, enabled FROM schedules WHERE host_id=? ORDER BY id",
	                        "i", host_id);
	while (ss && db_step(ss) == DB_ROW) {
		struct catchup_group groups[CATCHUP_MAX_GROUPS];
		size_t ng = 0;
		int64_t sid = db_col_int(ss, 0);
		struct db_stmt *gs = db_qc("SELECT sg.group_id, gs.last_success_at FROM schedule_groups sg"
		                        " LEFT JOIN group_success gs ON gs.schedule_id = sg.schedule_id"
		                        " AND gs.group_id = sg.group_id WHERE sg.schedule_id=?"
		                        " ORDER BY sg.group_id", "i", sid);
		while (gs && db_step(gs) == DB_ROW && ng < CATCHUP_MAX_GROUPS) {
			groups[ng].group_id = db_col_int(gs, 0);
			groups[ng].succeeded = !db_col_is_null(gs, 1);
			groups[ng].last_success = db_col_int(gs, 1);
			ng++;
		}
		db_done(gs);
		struct catchup_schedule cs = {
			.schedule_id = sid,
			.cron = db_col_text(ss, 1),
			.tz = tz,
			.enabled = (int)db_col_int(ss, 2),
			.groups = groups,
			.ngroups = ng,
		};
		total += catchup_eval_overdue(&cs, 1, now, total < cap ? out + total : NULL,
		                              total < cap ? cap - total : 0);
	}
	db_done(ss);
	free(tz);
	return total;
}

/* ---- arm and run ---- */

static void timer_rearm(void)
{
	struct srv *s = g_srv;
	if (!s->lws)
		return; /* unit tests call catchup_timer_cb themselves */
	int64_t next = dueheap_next(s->catchups);
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

void catchup_arm(int64_t host_id, int64_t due, int64_t epoch)
{
	if (dueheap_arm_tag(g_srv->catchups, host_id, due, epoch) != ROOST_OK) {
		log_error("catchup.arm_failed", "host=%lld", (long long)host_id);
		return;
	}
	char tb[40];
	log_info("catchup.armed", "host=%lld due=%s epoch=%lld", (long long)host_id,
	         roost_time_format(due, tb, sizeof(tb)), (long long)epoch);
	timer_rearm();
}

int64_t catchup_hello_epoch(int64_t host_id)
{
	/* docs/scale-out.md 2.2: every hello, on any roostd, makes a new connection
	 * epoch; one statement, so two hellos never share one */
	int64_t e = db_returning("UPDATE hosts SET conn_epoch = conn_epoch + 1 WHERE id=? "
	                         "RETURNING conn_epoch", "i", host_id);
	return e > 0 ? e : 0;
}

int64_t catchup_jitter(const uint8_t key[16], int64_t host_id, int64_t jitter_s)
{
	if (jitter_s <= 0)
		return 0;
	/* A golden-ratio (Weyl) sequence over the host ids, rotated by a keyed phase:
	 * hosts numbered one after another (ids are) land evenly over the window,
	 * which a plain hash does only on average, and each host keeps its place. */
	static const uint8_t what[] = "catchup-jitter phase";
	uint8_t h[crypto_shorthash_BYTES];
	crypto_shorthash(h, what, sizeof(what) - 1, key);
	uint64_t phase = 0;
	for (int i = 0; i < 8; i++)
		phase |= (uint64_t)h[i] << (8 * i);
	uint64_t x = (uint64_t)host_id * UINT64_C(0x9E3779B97F4A7C15) + phase;
	return (int64_t)(((x >> 32) * (uint64_t)jitter_s) >> 32);
}

void catchup_arm_hello(int64_t host_id, int64_t now, int64_t epoch)
{
	catchup_arm(host_id, now + g_srv->settle_s +
	                     catchup_jitter(g_srv->jitter_key, host_id, g_srv->catchup_jitter_s),
	            epoch);
}

void catchup_disarm(int64_t host_id)
{
	dueheap_disarm(g_srv->catchups, host_id);
}

/* docs/scale-out.md 2.2: the catch-up of the connection epoch it was armed
 * for is claimed once, whoever (which timer, which roostd) runs it: 1 this
 * one won, 0 the host reconnected since (its new hello armed its own) or this
 * epoch's catch-up ran, -1 failed. In the caller's transaction. */
static int claim_epoch(int64_t host_id, int64_t epoch)
{
	if (db_exec("UPDATE hosts SET catchup_epoch=? WHERE id=? AND conn_epoch=? AND "
	            "catchup_epoch < ?", "iiii", epoch, host_id, epoch, epoch) != DB_DONE)
		return -1;
	return db_changes() == 1;
}

void catchup_run(int64_t host_id, int64_t now, int64_t epoch)
{
	char mode[32];
	if (db_host_mode(host_id, mode, sizeof(mode)))
		return; /* removed meanwhile */
	struct catchup_host h = {
		.connected = hub_online(host_id),
		.intermittent = !strcmp(mode, "intermittent"),
		.busy = db_host_busy(host_id),
	};
	enum catchup_skip skip = catchup_gate(&h);
	if (skip != CATCHUP_RUN) {
		log_info("catchup.skip", "host=%lld why=%s", (long long)host_id,
		         catchup_skip_name(skip));
		return;
	}
	struct catchup_due due[CATCHUP_MAX_PAIRS];
	size_t n = catchup_overdue(host_id, now, due, CATCHUP_MAX_PAIRS);
	if (n == 0) {
		log_info("catchup.none", "host=%lld why=\"no (schedule, group) overdue\"",
		         (long long)host_id);
		return;
	}
	if (n > CATCHUP_MAX_PAIRS)
		n = CATCHUP_MAX_PAIRS;
	int64_t sids[CATCHUP_MAX_PAIRS], gids[CATCHUP_MAX_PAIRS];
	for (size_t i = 0; i < n; i++) {
		sids[i] = due[i].schedule_id;
		gids[i] = due[i].group_id;
	}
	/* one transaction: this epoch's claim, the host's (2.3), the jobs */
	struct defer_batch *b = malloc(sizeof(*b));
	int claimed = -1, rc = -1;
	if (b && db_begin() == 0) {
		claimed = claim_epoch(host_id, epoch);
		if (claimed == 1)
			rc = defer_batch_build(b, host_id, sids, gids, n, "catchup", now);
		if (claimed != 1 || rc != 1 || db_commit()) {
			db_rollback();
			if (claimed == 1 && rc == 1)
				claimed = rc = -1;
		}
	}
	if (claimed != 1 || rc != 1) {
		if (claimed < 0 || (claimed == 1 && rc < 0))
			log_error("catchup.unrecorded", "host=%lld why=%s", (long long)host_id,
			          roost_lq(db_last_error()));
		else
			log_info("catchup.skip", "host=%lld why=%s epoch=%lld", (long long)host_id,
			         claimed ? catchup_skip_name(CATCHUP_SKIP_BUSY) : "stale_epoch",
			         (long long)epoch);
		free(b);
		return;
	}
	metrics_catchup_run();
	size_t fail_at;
	defer_batch_done(b, "overdue after the settle window", &fail_at);
	if (fail_at < b->n) {
		/* the groups already sent stay sent; the rest are withdrawn, this epoch's
		 * claim given back, and the catch-up retried */
		for (size_t i = fail_at; i < b->n; i++)
			if (!b->e[i].deferred)
				jobs_withdraw(host_id, b->e[i].job);
		db_exec("UPDATE hosts SET catchup_epoch=? WHERE id=? AND catchup_epoch=?", "iii",
		        epoch - 1, host_id, epoch);
		log_warn("catchup.send_failed", "host=%lld schedule=%lld group=%lld why=\"send "
		                                "failed; re-armed\"", (long long)host_id,
		         (long long)b->e[fail_at].schedule_id, (long long)b->e[fail_at].group_id);
		catchup_arm(host_id, now + g_srv->settle_s, epoch);
	}
	free(b);
}

void catchup_timer_cb(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	struct srv *s = g_srv;
	s->sul_armed = 0;
	int64_t now = srv_now(), host, epoch;
	while (dueheap_pop_due_tag(s->catchups, now, &host, &epoch) == 0)
		catchup_run(host, now, epoch);
	timer_rearm();
}
