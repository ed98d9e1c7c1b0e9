/* SPDX-License-Identifier: MIT */
/*
 * Host health. The scheduler's rule says a (schedule, group) is due once
 * next(last success) has passed (catchup.c); health asks the further question
 * whether the host had the chance to run it:
 *
 *   always-on     the window is overdue_grace behind it (default 1 h): the host
 *                 was expected to be up and fire it itself
 *   intermittent  the host has been *online* overdue_grace in total since the
 *                 window (presence.c sums its sessions): a laptop closed in a
 *                 bag for a week is not overdue, it is unseen
 *
 * A pair that never succeeded misses the first window after its schedule was
 * made. Then, by precedence: unseen (no connection for unseen_after, default
 * 7 d), failing (the last 3 backups failed), overdue, never (no backup yet and
 * no window missed), ok.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "presence.h"
#include "route.h"
#include "roost/cron.h"
#include "roostd.h"

#define MAX_PAIRS 256

static const char *const names[] = {"ok", "never", "overdue", "unseen", "failing"};

const char *health_name(enum health h)
{
	return (unsigned)h < sizeof(names) / sizeof(names[0]) ? names[h] : "?";
}

int health_parse(const char *name)
{
	for (size_t i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(names[i], name))
			return (int)i;
	return -1;
}

enum health health_eval(struct health_facts *f, struct health_verdict *v)
{
	memset(v, 0, sizeof(*v));
	int64_t seen = f->last_seen ? f->last_seen : f->created_at;
	if (!f->online && f->now - seen >= f->unseen_after_s) {
		v->state = HEALTH_UNSEEN;
		v->since = seen + f->unseen_after_s;
	} else if (f->failed_streak >= HEALTH_FAILING_STREAK) {
		v->state = HEALTH_FAILING;
		v->since = f->failing_since;
	}
	for (size_t i = 0; i < f->npairs; i++) {
		struct health_pair *p = &f->pairs[i];
		p->overdue = p->missed && (f->intermittent ? p->online_s >= f->grace_s
		                                            : f->now - p->missed >= f->grace_s);
		if (p->overdue && !v->pair)
			v->pair = p;
	}
	if (v->state)
		return v->state;
	if (v->pair) {
		v->state = HEALTH_OVERDUE;
		v->since = f->intermittent ? 0 : v->pair->missed + f->grace_s;
	} else if (f->deferred_since && f->now - f->deferred_since >= HEALTH_DEFERRED_MAX_S) {
		v->state = HEALTH_OVERDUE;
		v->since = f->deferred_since + HEALTH_DEFERRED_MAX_S;
	} else if (!f->last_backup) {
		v->state = HEALTH_NEVER;
		v->since = f->created_at;
	}
	return v->state;
}

/* ---- the facts ---- */

struct pair_rows {
	struct health_pair p[MAX_PAIRS];
	int64_t next_due[MAX_PAIRS];
	char *names[2 * MAX_PAIRS];
	size_t n, nnames;
};

static const char *keep(struct pair_rows *r, const char *s)
{
	char *d = strdup(s ? s : "");
	if (d)
		r->names[r->nnames++] = d;
	return d ? d : "";
}

static void load_pairs(int64_t host_id, int64_t now, int intermittent, int64_t created,
                       struct pair_rows *r)
{
	char *tz = db_host_tz(host_id);
	struct db_stmt *st = db_qc(
		"SELECT s.id, s.name, s.cron, COALESCE(s.created_at, ?), g.id, g.name,"
		" gs.last_success_at FROM schedules s JOIN schedule_groups sg ON sg.schedule_id = s.id"
		" JOIN source_groups g ON g.id = sg.group_id LEFT JOIN group_success gs ON"
		" gs.schedule_id = s.id AND gs.group_id = g.id WHERE s.host_id=? AND s.enabled <> 0"
		" ORDER BY s.id, g.id", "ii", created, host_id);
	while (st && db_step(st) == DB_ROW && r->n < MAX_PAIRS) {
		struct cron *c;
		if (cron_parse(db_col_text(st, 2), tz, &c, NULL) != ROOST_OK)
			continue; /* as catch-up: a bad expression never makes anything due */
		struct health_pair *p = &r->p[r->n];
		memset(p, 0, sizeof(*p));
		p->schedule_id = db_col_int(st, 0);
		p->group_id = db_col_int(st, 4);
		p->schedule = keep(r, db_col_text(st, 1));
		p->group = keep(r, db_col_text(st, 5));
		p->last_success = db_col_is_null(st, 6) ? 0
		                                                           : db_col_int(st, 6);
		int64_t base = p->last_success ? p->last_success : db_col_int(st, 3), next;
		if (cron_next(c, base, &next) == ROOST_OK && next <= now) {
			p->missed = next;
			if (intermittent)
				p->online_s = presence_online_within(host_id, next, now);
		}
		if (cron_next(c, now, &r->next_due[r->n]) != ROOST_OK)
			r->next_due[r->n] = 0;
		cron_free(c);
		r->n++;
	}
	db_done(st);
	free(tz);
}

static json_t *reason(const struct health_verdict *v, const struct health_facts *f)
{
	if (v->state == HEALTH_OK)
		return json_null();
	json_t *r = json_pack("{s:s, s:o}", "why", health_name(v->state), "since", json_time(v->since));
	if (v->state == HEALTH_OVERDUE && v->pair)
		json_object_update_new(r, json_pack("{s:I, s:s, s:I, s:s, s:o, s:I}", "schedule_id",
		                                    (json_int_t)v->pair->schedule_id, "schedule",
		                                    v->pair->schedule, "group_id",
		                                    (json_int_t)v->pair->group_id, "group", v->pair->group,
		                                    "missed_at", json_time(v->pair->missed), "online_s",
		                                    (json_int_t)v->pair->online_s));
	if (v->state == HEALTH_OVERDUE && f->deferred_since &&
	    f->now - f->deferred_since >= HEALTH_DEFERRED_MAX_S)
		json_object_update_new(r, json_pack("{s:I, s:s, s:o}", "deferred_job_id",
		                                    (json_int_t)f->deferred_job, "deferred_reason",
		                                    f->deferred_reason ? f->deferred_reason : "",
		                                    "deferred_since", json_time(f->deferred_since)));
	else if (v->state == HEALTH_UNSEEN)
		json_object_set_new(r, "last_seen_at", json_time(f->last_seen));
	else if (v->state == HEALTH_FAILING)
		json_object_set_new(r, "failed_in_a_row", json_integer(f->failed_streak));
	return r;
}

int health_of(int64_t host_id, int64_t now, struct health_verdict *v, json_t **detail)
{
	struct health_facts f = {.now = now, .grace_s = g_srv->overdue_grace_s,
	                         .unseen_after_s = g_srv->unseen_after_s};
	if (detail)
		*detail = NULL;
	if (f.grace_s <= 0)
		f.grace_s = 3600;
	if (f.unseen_after_s <= 0)
		f.unseen_after_s = 7 * 86400;
	struct db_stmt *st = db_qc("SELECT mode, created_at, last_backup_at FROM hosts WHERE id=?", "i",
	                        host_id);
	if (!st || db_step(st) != DB_ROW) {
		db_done(st);
		return -1;
	}
	f.intermittent = !strcmp(db_col_text(st, 0), "intermittent");
	f.created_at = db_col_int(st, 1);
	f.last_backup = db_col_int(st, 2);
	db_done(st);
	f.online = route_online(host_id); /* connected here, or to another live instance */
	f.last_seen = presence_last_seen(host_id);
	st = db_qc("SELECT status, finished_at FROM jobs WHERE host_id=? AND kind='backup' AND status"
	          " IN ('succeeded', 'failed') ORDER BY id DESC LIMIT ?", "ii", host_id,
	          (int64_t)HEALTH_FAILING_STREAK);
	while (st && db_step(st) == DB_ROW &&
	       !strcmp(db_col_text(st, 0), "failed")) {
		f.failed_streak++;
		f.failing_since = db_col_int(st, 1);
	}
	db_done(st);
	char dreason[64] = "";
	st = db_qc("SELECT id, created_at, COALESCE(error, '') FROM jobs WHERE host_id=? AND "
	          "status='deferred' ORDER BY created_at, id LIMIT 1", "i", host_id);
	if (st && db_step(st) == DB_ROW) {
		f.deferred_job = db_col_int(st, 0);
		f.deferred_since = db_col_int(st, 1);
		snprintf(dreason, sizeof(dreason), "%s", db_col_text(st, 2));
		f.deferred_reason = dreason;
	}
	db_done(st);
	struct pair_rows *r = calloc(1, sizeof(*r));
	if (!r)
		return -1;
	load_pairs(host_id, now, f.intermittent, f.created_at, r);
	f.pairs = r->p;
	f.npairs = r->n;
	health_eval(&f, v);
	if (detail) {
		json_t *b = json_array();
		for (size_t i = 0; i < r->n; i++) {
			const struct health_pair *p = &r->p[i];
			json_array_append_new(
				b, json_pack("{s:I, s:s, s:I, s:s, s:o, s:o, s:o, s:b}", "schedule_id",
				             (json_int_t)p->schedule_id, "schedule", p->schedule, "group_id",
				             (json_int_t)p->group_id, "group", p->group, "last_success_at",
				             json_time(p->last_success), "missed_at", json_time(p->missed),
				             "next_due_at", json_time(r->next_due[i]), "overdue", p->overdue));
		}
		*detail = json_pack("{s:o, s:o}", "health_reason", reason(v, &f), "backups", b);
	}
	v->pair = NULL; /* it pointed into r */
	for (size_t i = 0; i < r->nnames; i++)
		free(r->names[i]);
	free(r);
	return 0;
}
