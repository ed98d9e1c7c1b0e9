/* SPDX-License-Identifier: MIT */
/*
 * Queries on roostd's store: bound-parameter helpers over the one SQLite
 * connection of the event loop, and the small facts about hosts and
 * schedules that the scheduling files share. Knows nothing of agents,
 * sockets or JSON views (those are hub.c and views.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "roost/log.h"
#include "roost/proto.h"
#include "roostd.h"

/* Failed writes since the last db_begin(), and the last one's message. A
 * write outside a transaction counts too (the caller reads it at once). */
static int failures;
static char last_error[256];

static void note_failure(const char *msg)
{
	failures++;
	snprintf(last_error, sizeof(last_error), "%s", msg ? msg : "unknown store error");
}

/* A statement of sql from the store's cache (marked busy), or a new one
 * kept there when there is room, else a new one the caller finalizes. */
static sqlite3_stmt *prepare(const char *sql, int cached)
{
	struct store *s = g_srv->st;
	sqlite3_stmt *st;
	for (size_t i = 0; cached && i < s->ncache; i++)
		if (!s->cache[i].busy && !strcmp(sqlite3_sql(s->cache[i].st), sql)) {
			s->cache[i].busy = 1;
			return s->cache[i].st;
		}
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_error("store.error", "op=prepare msg=%s", roost_lq(sqlite3_errmsg(s->db)));
		return NULL;
	}
	if (cached && s->ncache < STORE_CACHE) {
		s->cache[s->ncache].st = st;
		s->cache[s->ncache++].busy = 1;
	}
	return st;
}

void db_done(sqlite3_stmt *st)
{
	struct store *s = g_srv->st;
	for (size_t i = 0; st && i < s->ncache; i++)
		if (s->cache[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			s->cache[i].busy = 0;
			return;
		}
	sqlite3_finalize(st);
}

static sqlite3_stmt *vqc(const char *sql, int cached, const char *types, va_list ap)
{
	sqlite3_stmt *st = prepare(sql, cached);
	if (!st)
		return NULL;
	int want = sqlite3_bind_parameter_count(st), given = types ? (int)strlen(types) : 0;
	if (want != given) { /* a broken invariant of the caller: fail loudly, bind nothing */
		log_error("store.error", "op=bind msg=\"%d parameters, %d given\" sql=%s", want, given,
		          roost_lq(sql));
		db_done(st);
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

static sqlite3_stmt *vq(const char *sql, const char *types, va_list ap)
{
	return vqc(sql, 0, types, ap);
}

sqlite3_stmt *db_qc(const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	sqlite3_stmt *st = vqc(sql, 1, types, ap);
	va_end(ap);
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
	if (!st) {
		note_failure("the statement could not be prepared");
		return SQLITE_ERROR;
	}
	if (fault_hit("store_write")) { /* tests: as a full disk answers */
		sqlite3_finalize(st);
		note_failure("database or disk is full (ROOST_FAULT)");
		log_error("store.error", "op=exec msg=%s", roost_lq(last_error));
		return SQLITE_FULL;
	}
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		note_failure(sqlite3_errmsg(g_srv->st->db));
		log_error("store.error", "op=exec msg=%s", roost_lq(sqlite3_errmsg(g_srv->st->db)));
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}

int64_t db_int(int64_t dflt, const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	sqlite3_stmt *st = vqc(sql, 1, types, ap);
	va_end(ap);
	if (!st)
		return dflt;
	int64_t v = dflt;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	db_done(st);
	return v;
}

int db_begin(void)
{
	failures = 0;
	last_error[0] = 0;
	if (sqlite3_exec(g_srv->st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		note_failure(sqlite3_errmsg(g_srv->st->db));
		return -1;
	}
	return 0;
}

int db_commit(void)
{
	if (failures) { /* one write of the transaction failed: none of it happened */
		db_rollback();
		return -1;
	}
	if (fault_hit("store_write")) {
		note_failure("database or disk is full (ROOST_FAULT)");
		db_rollback();
		return -1;
	}
	if (sqlite3_exec(g_srv->st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		note_failure(sqlite3_errmsg(g_srv->st->db));
		log_error("store.error", "op=commit msg=%s", roost_lq(last_error));
		db_rollback();
		return -1;
	}
	return 0;
}

void db_rollback(void)
{
	sqlite3_exec(g_srv->st->db, "ROLLBACK", NULL, NULL, NULL);
}

int db_failures(void)
{
	return failures;
}

const char *db_last_error(void)
{
	return last_error[0] ? last_error : "unknown store error";
}

int64_t db_host_resolve(const char *ref)
{
	char *e;
	long long id = strtoll(ref, &e, 10);
	if (*ref && !*e && id > 0 && db_int(0, "SELECT id FROM hosts WHERE id=?", "i", (int64_t)id))
		return id;
	return db_int(0, "SELECT id FROM hosts WHERE name=?", "t", ref);
}

char *db_host_tz(int64_t host_id)
{
	sqlite3_stmt *st = db_qc("SELECT tz FROM hosts WHERE id=?", "i", host_id);
	char *tz = NULL;
	if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		tz = strdup((const char *)sqlite3_column_text(st, 0));
	db_done(st);
	return tz;
}

int db_host_mode(int64_t host_id, char *mode, size_t cap)
{
	sqlite3_stmt *st = db_q("SELECT mode FROM hosts WHERE id=?", "i", host_id);
	int found = st && sqlite3_step(st) == SQLITE_ROW;
	if (found)
		snprintf(mode, cap, "%s", sqlite3_column_text(st, 0));
	else if (cap)
		mode[0] = 0;
	sqlite3_finalize(st);
	return found ? 0 : -1;
}

int db_host_busy(int64_t host_id)
{
	return db_int(0, "SELECT COUNT(*) FROM jobs WHERE host_id=? AND status IN "
	                 "('queued','running')", "i", host_id) > 0;
}

void db_host_refresh_current(int64_t host_id)
{
	db_exec("UPDATE hosts SET current_job_id = (SELECT id FROM jobs WHERE host_id=? AND status "
	        "IN ('queued','running') ORDER BY (status='running') DESC, id LIMIT 1) WHERE id=?",
	        "ii", host_id, host_id);
}

size_t db_schedule_groups(int64_t host_id, int64_t schedule_id, int64_t *out, size_t cap,
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

/* A stored JSON array of strings into a string vector; -1 on a bad row or no memory. */
static int strv_from_json(const char *text, char ***v, size_t *n)
{
	json_t *a = text ? json_loads(text, 0, NULL) : NULL;
	size_t i;
	json_t *e;
	int rc = json_is_array(a) ? 0 : -1;
	json_array_foreach(a, i, e) {
		if (rc || !json_is_string(e) || proto_strv_push(v, n, json_string_value(e)) != ROOST_OK)
			rc = -1;
	}
	json_decref(a);
	return rc;
}

int db_group_load(int64_t group_id, struct proto_group *g)
{
	sqlite3_stmt *st = db_q("SELECT name, paths, excludes, host_id, dedup FROM source_groups "
	                        "WHERE id=?", "i", group_id);
	int rc = -1;
	if (st && sqlite3_step(st) == SQLITE_ROW) {
		g->id = group_id;
		g->host_id = sqlite3_column_int64(st, 3);
		g->dedup_host = !strcmp((const char *)sqlite3_column_text(st, 4), "host");
		snprintf(g->name, sizeof(g->name), "%s", sqlite3_column_text(st, 0));
		rc = strv_from_json((const char *)sqlite3_column_text(st, 1), &g->paths, &g->npaths) ||
		     strv_from_json((const char *)sqlite3_column_text(st, 2), &g->excludes,
		                    &g->nexcludes) ? -1 : 0;
		if (rc)
			proto_group_release(g);
	}
	sqlite3_finalize(st);
	return rc;
}
