/* SPDX-License-Identifier: MIT */
/*
 * The REST API's JSON objects (DESIGN.md, "REST API"): a host, a group, a
 * schedule and a job as the API shows them, each built in one place.
 * A host's `overdue` is the catch-up rule itself (catchup_overdue), not a
 * second evaluation of it; its `online` is the hub's; its `health` (with
 * why, and each (schedule, group)'s last success and next due) is health.c's,
 * and `last_seen_at` is the hub's live time while it is connected.
 */
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "presence.h"
#include "roost/cron.h"
#include "roostd.h"
#include "route.h"

static json_t *col_time(struct db_stmt *st, int i)
{
	return db_col_is_null(st, i) ? json_null()
	                                                 : json_time(db_col_int(st, i));
}

static json_t *col_id(struct db_stmt *st, int i)
{
	return db_col_is_null(st, i) ? json_null()
	                                                 : json_integer(db_col_int(st, i));
}

static json_t *col_text(struct db_stmt *st, int i)
{
	const char *s = db_col_text(st, i);
	return s ? json_string(s) : json_null();
}

static json_t *col_json(struct db_stmt *st, int i)
{
	const char *s = db_col_text(st, i);
	json_t *j = s ? json_loads(s, 0, NULL) : NULL;
	return j ? j : json_array();
}

json_t *view_host(int64_t host_id)
{
	struct db_stmt *st = db_qc("SELECT id, name, hostname, os, mode, last_seen_at, last_backup_at,"
	                        " tz, created_at, upload_limit_kbps, skip_on_battery, skip_on_metered,"
	                        " on_battery, metered FROM hosts WHERE id=?", "i", host_id);
	json_t *h = NULL;
	if (st && db_step(st) == DB_ROW) {
		int64_t cur = db_int(0, "SELECT id FROM jobs WHERE host_id=? AND status IN "
		                        "('queued','running') ORDER BY (status='running') DESC, id LIMIT 1",
		                     "i", host_id);
		struct catchup_due d;
		int64_t now = srv_now(), seen = presence_last_seen(host_id);
		h = json_pack("{s:I, s:o, s:o, s:o, s:o, s:b, s:o, s:o, s:o, s:b, s:o, s:o}",
		              "id", (json_int_t)host_id, "name", col_text(st, 1), "hostname",
		              col_text(st, 2), "os", col_text(st, 3), "mode", col_text(st, 4),
		              "online", route_online(host_id), "last_seen_at", json_time(seen),
		              "last_backup_at", col_time(st, 6), "current_job_id",
		              cur ? json_integer(cur) : json_null(), "overdue",
		              catchup_overdue(host_id, now, &d, 1) > 0, "tz", col_text(st, 7),
		              "created_at", col_time(st, 8));
		if (h)
			json_object_set_new(h, "upload_limit_kbps",
			                    json_integer(db_col_int(st, 9)));
		static const char *const pol[] = {"skip_on_battery", "skip_on_metered", "on_battery",
		                                  "metered"};
		for (int i = 0; h && i < 4; i++)
			json_object_set_new(h, pol[i], json_boolean((int)db_col_int(st, 10 + i)));
		struct health_verdict v;
		json_t *detail = NULL;
		if (h && health_of(host_id, now, &v, &detail) == 0) {
			json_object_set_new(h, "health", json_string(health_name(v.state)));
			json_object_update(h, detail);
		}
		json_decref(detail);
	}
	db_done(st);
	return h;
}

json_t *view_group(int64_t group_id)
{
	struct db_stmt *st =
		db_q("SELECT id, name, paths, excludes, host_id, dedup, pre_hook, post_hook, "
		     "hook_timeout_s FROM source_groups WHERE id=?", "i", group_id);
	json_t *g = NULL;
	if (st && db_step(st) == DB_ROW)
		g = json_pack("{s:I, s:o, s:o, s:o, s:I, s:o, s:o, s:o, s:I}", "id",
		              (json_int_t)group_id, "name", col_text(st, 1), "paths", col_json(st, 2),
		              "excludes", col_json(st, 3), "host_id",
		              (json_int_t)db_col_int(st, 4), "dedup", col_text(st, 5),
		              "pre_hook", col_text(st, 6), "post_hook", col_text(st, 7),
		              "hook_timeout_s", (json_int_t)db_col_int(st, 8));
	db_done(st);
	return g;
}

static json_t *schedule_group_ids(int64_t schedule_id)
{
	json_t *a = json_array();
	struct db_stmt *st = db_q("SELECT group_id FROM schedule_groups WHERE schedule_id=? "
	                        "ORDER BY group_id", "i", schedule_id);
	while (st && db_step(st) == DB_ROW)
		json_array_append_new(a, json_integer(db_col_int(st, 0)));
	db_done(st);
	return a;
}

json_t *view_schedule(int64_t schedule_id)
{
	struct db_stmt *st = db_q("SELECT s.id, s.name, s.cron, s.enabled, s.host_id, h.tz, "
	                        "s.keep_last, s.keep_hourly, s.keep_daily, s.keep_weekly, "
	                        "s.keep_monthly, s.keep_yearly, s.\"window\" FROM "
	                        "schedules s JOIN hosts h ON h.id = s.host_id WHERE s.id=?",
	                        "i", schedule_id);
	json_t *s = NULL;
	if (st && db_step(st) == DB_ROW) {
		struct cron *c = NULL;
		int64_t next = 0;
		if ((int)db_col_int(st, 3) &&
		    cron_parse(db_col_text(st, 2),
		               db_col_text(st, 5), &c, NULL) == ROOST_OK &&
		    cron_next(c, srv_now(), &next) != ROOST_OK)
			next = 0;
		cron_free(c);
		s = json_pack("{s:I, s:o, s:o, s:b, s:o, s:o, s:I}", "id", (json_int_t)schedule_id,
		              "name", col_text(st, 1), "cron", col_text(st, 2), "enabled",
		              (int)db_col_int(st, 3), "group_ids", schedule_group_ids(schedule_id),
		              "next_at", json_time(next), "host_id",
		              (json_int_t)db_col_int(st, 4));
		json_t *ret = json_object();
		for (int r = 0; r < BODY_KEEP_RULES; r++)
			json_object_set_new(ret, body_keep_names[r],
			                    json_integer((int)db_col_int(st, 6 + r)));
		json_object_set_new(s, "retention", ret);
		json_object_set_new(s, "window", col_text(st, 12));
	}
	db_done(st);
	return s;
}

json_t *view_job(int64_t job_id)
{
	struct db_stmt *st = db_q("SELECT id, host_id, schedule_id, group_id, kind, trigger, status,"
	                        " created_at, started_at, finished_at, snapshot_id, files, bytes,"
	                        " bytes_new, error, params, hook_output FROM jobs WHERE id=?", "i",
	                        job_id);
	json_t *j = NULL;
	if (st && db_step(st) == DB_ROW) {
		j = json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
		              " s:{s:I, s:I, s:I}, s:o}",
		              "id", (json_int_t)job_id, "host_id",
		              (json_int_t)db_col_int(st, 1), "schedule_id", col_id(st, 2),
		              "group_id", col_id(st, 3), "kind", col_text(st, 4), "trigger",
		              col_text(st, 5), "status", col_text(st, 6), "created_at",
		              col_time(st, 7), "started_at", col_time(st, 8), "finished_at",
		              col_time(st, 9), "snapshot_id", col_text(st, 10), "stats", "files",
		              (json_int_t)db_col_int(st, 11), "bytes",
		              (json_int_t)db_col_int(st, 12), "bytes_new",
		              (json_int_t)db_col_int(st, 13), "error", col_text(st, 14));
		const char *params = db_col_text(st, 15);
		json_t *p = params ? json_loads(params, 0, NULL) : NULL;
		if (p)
			json_object_set_new(j, "params", p);
		/* only a job whose hooks said something has it */
		if (!db_col_is_null(st, 16))
			json_object_set_new(j, "hook_output", col_text(st, 16));
	}
	db_done(st);
	return j;
}
