/* SPDX-License-Identifier: MIT */
/* Store queries and the API's JSON objects (DESIGN.md, REST API). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roost/cron.h"
#include "roost/log.h"
#include "roost/timeutil.h"
#include "roostd.h"

struct srv *g_srv;

int64_t srv_now(void)
{
	if (g_srv && g_srv->fake_now)
		return g_srv->fake_now;
	return (int64_t)time(NULL);
}

json_t *json_time(int64_t t)
{
	if (!t)
		return json_null();
	char buf[40];
	return json_string(roost_time_format(t, buf, sizeof(buf)));
}

static sqlite3_stmt *vq(const char *sql, const char *types, va_list ap)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(g_srv->st->db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_error("store.error", "op=prepare msg=%s", roost_lq(sqlite3_errmsg(g_srv->st->db)));
		return NULL;
	}
	for (int i = 0; types && types[i]; i++) {
		if (types[i] == 'i') {
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
		} else if (types[i] == 't') {
			const char *s = va_arg(ap, const char *);
			if (s)
				sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT);
			else
				sqlite3_bind_null(st, i + 1);
		} else if (types[i] == 'b') {
			const void *p = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);
			sqlite3_bind_blob(st, i + 1, p, (int)n, SQLITE_TRANSIENT);
		}
	}
	return st;
}

sqlite3_stmt *db_q(const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	sqlite3_stmt *st = vq(sql, types, ap);
	va_end(ap);
	return st;
}

int db_exec(const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	sqlite3_stmt *st = vq(sql, types, ap);
	va_end(ap);
	if (!st)
		return SQLITE_ERROR;
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW && rc != SQLITE_CONSTRAINT)
		log_error("store.error", "op=exec msg=%s", roost_lq(sqlite3_errmsg(g_srv->st->db)));
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}

int64_t db_int(int64_t dflt, const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	sqlite3_stmt *st = vq(sql, types, ap);
	va_end(ap);
	if (!st)
		return dflt;
	int64_t v = dflt;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int db_begin(void)
{
	return sqlite3_exec(g_srv->st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int db_commit(void)
{
	return sqlite3_exec(g_srv->st->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

void db_rollback(void)
{
	sqlite3_exec(g_srv->st->db, "ROLLBACK", NULL, NULL, NULL);
}

static json_t *col_time(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null()
	                                                 : json_time(sqlite3_column_int64(st, i));
}

static json_t *col_id(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null()
	                                                 : json_integer(sqlite3_column_int64(st, i));
}

static json_t *col_text(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	return s ? json_string(s) : json_null();
}

static json_t *col_json(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	json_t *j = s ? json_loads(s, 0, NULL) : NULL;
	return j ? j : json_array();
}

char *db_host_tz(int64_t host_id)
{
	sqlite3_stmt *st = db_q("SELECT tz FROM hosts WHERE id=?", "i", host_id);
	char *tz = NULL;
	if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		tz = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return tz;
}

json_t *db_host_json(int64_t host_id)
{
	sqlite3_stmt *st = db_q("SELECT id, name, hostname, os, mode, last_seen_at, last_backup_at,"
	                        " tz, created_at FROM hosts WHERE id=?", "i", host_id);
	json_t *h = NULL;
	if (st && sqlite3_step(st) == SQLITE_ROW) {
		int64_t cur = db_int(0, "SELECT id FROM jobs WHERE host_id=? AND status IN "
		                        "('queued','running') ORDER BY (status='running') DESC, id LIMIT 1",
		                     "i", host_id);
		struct catchup_due d;
		h = json_pack("{s:I, s:o, s:o, s:o, s:o, s:b, s:o, s:o, s:o, s:b, s:o, s:o}",
		              "id", (json_int_t)host_id, "name", col_text(st, 1), "hostname",
		              col_text(st, 2), "os", col_text(st, 3), "mode", col_text(st, 4),
		              "online", hub_online(host_id), "last_seen_at", col_time(st, 5),
		              "last_backup_at", col_time(st, 6), "current_job_id",
		              cur ? json_integer(cur) : json_null(), "overdue",
		              db_overdue(host_id, srv_now(), &d, 1) > 0, "tz", col_text(st, 7),
		              "created_at", col_time(st, 8));
	}
	sqlite3_finalize(st);
	return h;
}

int64_t db_host_resolve(const char *ref)
{
	char *e;
	long long id = strtoll(ref, &e, 10);
	if (*ref && !*e && id > 0 && db_int(0, "SELECT id FROM hosts WHERE id=?", "i", (int64_t)id))
		return id;
	return db_int(0, "SELECT id FROM hosts WHERE name=?", "t", ref);
}

json_t *db_group_json(int64_t group_id)
{
	sqlite3_stmt *st =
		db_q("SELECT id, name, paths, excludes, host_id FROM source_groups WHERE id=?", "i",
		     group_id);
	json_t *g = NULL;
	if (st && sqlite3_step(st) == SQLITE_ROW)
		g = json_pack("{s:I, s:o, s:o, s:o, s:I}", "id", (json_int_t)group_id, "name",
		              col_text(st, 1), "paths", col_json(st, 2), "excludes", col_json(st, 3),
		              "host_id", (json_int_t)sqlite3_column_int64(st, 4));
	sqlite3_finalize(st);
	return g;
}

static json_t *schedule_group_ids(int64_t schedule_id)
{
	json_t *a = json_array();
	sqlite3_stmt *st = db_q("SELECT group_id FROM schedule_groups WHERE schedule_id=? "
	                        "ORDER BY group_id", "i", schedule_id);
	while (st && sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(a, json_integer(sqlite3_column_int64(st, 0)));
	sqlite3_finalize(st);
	return a;
}

json_t *db_schedule_json(int64_t schedule_id)
{
	sqlite3_stmt *st = db_q("SELECT s.id, s.name, s.cron, s.enabled, s.host_id, h.tz FROM "
	                        "schedules s JOIN hosts h ON h.id = s.host_id WHERE s.id=?",
	                        "i", schedule_id);
	json_t *s = NULL;
	if (st && sqlite3_step(st) == SQLITE_ROW) {
		struct cron *c = NULL;
		int64_t next = 0;
		if (sqlite3_column_int(st, 3) &&
		    cron_parse((const char *)sqlite3_column_text(st, 2),
		               (const char *)sqlite3_column_text(st, 5), &c, NULL) == ROOST_OK &&
		    cron_next(c, srv_now(), &next) != ROOST_OK)
			next = 0;
		cron_free(c);
		s = json_pack("{s:I, s:o, s:o, s:b, s:o, s:o, s:I}", "id", (json_int_t)schedule_id,
		              "name", col_text(st, 1), "cron", col_text(st, 2), "enabled",
		              sqlite3_column_int(st, 3), "group_ids", schedule_group_ids(schedule_id),
		              "next_at", json_time(next), "host_id",
		              (json_int_t)sqlite3_column_int64(st, 4));
	}
	sqlite3_finalize(st);
	return s;
}

json_t *db_job_json(int64_t job_id)
{
	sqlite3_stmt *st = db_q("SELECT id, host_id, schedule_id, group_id, kind, trigger, status,"
	                        " created_at, started_at, finished_at, snapshot_id, files, bytes,"
	                        " bytes_new, error, params FROM jobs WHERE id=?", "i", job_id);
	json_t *j = NULL;
	if (st && sqlite3_step(st) == SQLITE_ROW) {
		j = json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
		              " s:{s:I, s:I, s:I}, s:o}",
		              "id", (json_int_t)job_id, "host_id",
		              (json_int_t)sqlite3_column_int64(st, 1), "schedule_id", col_id(st, 2),
		              "group_id", col_id(st, 3), "kind", col_text(st, 4), "trigger",
		              col_text(st, 5), "status", col_text(st, 6), "created_at",
		              col_time(st, 7), "started_at", col_time(st, 8), "finished_at",
		              col_time(st, 9), "snapshot_id", col_text(st, 10), "stats", "files",
		              (json_int_t)sqlite3_column_int64(st, 11), "bytes",
		              (json_int_t)sqlite3_column_int64(st, 12), "bytes_new",
		              (json_int_t)sqlite3_column_int64(st, 13), "error", col_text(st, 14));
		const char *params = (const char *)sqlite3_column_text(st, 15);
		json_t *p = params ? json_loads(params, 0, NULL) : NULL;
		if (p)
			json_object_set_new(j, "params", p);
	}
	sqlite3_finalize(st);
	return j;
}

size_t db_overdue(int64_t host_id, int64_t now, struct catchup_due *out, size_t cap)
{
	char *tz = db_host_tz(host_id);
	size_t total = 0;
	sqlite3_stmt *ss = db_q("SELECT id, cron, enabled FROM schedules WHERE host_id=? ORDER BY id",
	                        "i", host_id);
	while (ss && sqlite3_step(ss) == SQLITE_ROW) {
		struct catchup_group groups[64];
		size_t ng = 0;
		int64_t sid = sqlite3_column_int64(ss, 0);
		sqlite3_stmt *gs = db_q("SELECT sg.group_id, gs.last_success_at FROM schedule_groups sg"
		                        " LEFT JOIN group_success gs ON gs.schedule_id = sg.schedule_id"
		                        " AND gs.group_id = sg.group_id WHERE sg.schedule_id=?"
		                        " ORDER BY sg.group_id", "i", sid);
		while (gs && sqlite3_step(gs) == SQLITE_ROW && ng < 64) {
			groups[ng].group_id = sqlite3_column_int64(gs, 0);
			groups[ng].succeeded = sqlite3_column_type(gs, 1) != SQLITE_NULL;
			groups[ng].last_success = sqlite3_column_int64(gs, 1);
			ng++;
		}
		sqlite3_finalize(gs);
		struct catchup_schedule cs = {
			.schedule_id = sid,
			.cron = (const char *)sqlite3_column_text(ss, 1),
			.tz = tz,
			.enabled = sqlite3_column_int(ss, 2),
			.groups = groups,
			.ngroups = ng,
		};
		struct catchup_host h = {.connected = 1, .intermittent = 1, .busy = 0};
		size_t n = 0;
		sched_catchup_eval(&h, &cs, 1, now, total < cap ? out + total : NULL,
		                   total < cap ? cap - total : 0, &n);
		total += n;
	}
	sqlite3_finalize(ss);
	free(tz);
	return total;
}

json_t *db_config_json(int64_t host_id)
{
	json_t *groups = json_array(), *scheds = json_array();
	sqlite3_stmt *st = db_q("SELECT id FROM source_groups WHERE host_id=? ORDER BY id", "i",
	                        host_id);
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		json_t *g = db_group_json(sqlite3_column_int64(st, 0));
		if (g)
			json_array_append_new(groups, g);
	}
	sqlite3_finalize(st);
	st = db_q("SELECT id FROM schedules WHERE host_id=? ORDER BY id", "i", host_id);
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		json_t *s = db_schedule_json(sqlite3_column_int64(st, 0));
		if (s)
			json_array_append_new(scheds, s);
	}
	sqlite3_finalize(st);
	json_t *h = db_host_json(host_id);
	json_t *c = json_pack("{s:s, s:I, s:O, s:O, s:o, s:o, s:{s:s, s:s}, s:I}", "type", "config",
	                      "host_id", (json_int_t)host_id, "name",
	                      h ? json_object_get(h, "name") : json_null(), "mode",
	                      h ? json_object_get(h, "mode") : json_null(), "groups", groups,
	                      "schedules", scheds, "repository", "url", "/v1/repo", "password",
	                      g_srv->repo_password, "timeout_s", (json_int_t)g_srv->agent_timeout_s);
	json_decref(h);
	return c;
}
