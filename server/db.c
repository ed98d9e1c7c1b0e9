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

/* A statement of sql, from the store's cache when cached (give it back
 * with db_done). */
static struct db_stmt *prepare(const char *sql, int cached)
{
	struct store *s = g_srv->st;
	struct db_stmt *st = cached ? store_prepare_cached(s, sql) : store_prepare(s, sql);
	if (!st)
		log_error("store.error", "op=prepare msg=%s", roost_lq(store_errmsg(s)));
	return st;
}

void db_done(struct db_stmt *st)
{
	store_give_back(g_srv->st, st);
}

static struct db_stmt *vqc(const char *sql, int cached, const char *types, va_list ap)
{
	struct db_stmt *st = prepare(sql, cached);
	if (!st)
		return NULL;
	int want = db_param_count(st), given = types ? (int)strlen(types) : 0;
	if (want != given) { /* a broken invariant of the caller: fail loudly, bind nothing */
		log_error("store.error", "op=bind msg=\"%d parameters, %d given\" sql=%s", want, given,
		          roost_lq(sql));
		db_done(st);
		return NULL;
	}
	for (int i = 0; types && types[i]; i++) {
		if (types[i] == 'i') {
			db_bind_int(st, i + 1, va_arg(ap, int64_t));
		} else if (types[i] == 't') {
			db_bind_text(st, i + 1, va_arg(ap, const char *));
		} else if (types[i] == 'b') {
			const void *p = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);
			db_bind_blob(st, i + 1, p, n);
		}
	}
	return st;
}

/* every statement from the cache: prepared anew each time, SQLite's parser
 * was a third of roostd's CPU while fires ran at 200/s over 17,000 agents
 * (perf, bench/fleet_load); db_done and db_finalize give it back */
static struct db_stmt *vq(const char *sql, const char *types, va_list ap)
{
	return vqc(sql, 1, types, ap);
}

struct db_stmt *db_qc(const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	struct db_stmt *st = vqc(sql, 1, types, ap);
	va_end(ap);
	return st;
}

struct db_stmt *db_q(const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	struct db_stmt *st = vq(sql, types, ap);
	va_end(ap);
	return st;
}

int db_exec(const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	struct db_stmt *st = vq(sql, types, ap);
	va_end(ap);
	if (!st) {
		note_failure("the statement could not be prepared");
		return DB_ERROR;
	}
	if (fault_hit("store_write")) { /* tests: as a full disk answers */
		db_done(st);
		note_failure("database or disk is full (ROOST_FAULT)");
		log_error("store.error", "op=exec msg=%s", roost_lq(last_error));
		return DB_ERROR;
	}
	int rc = db_step(st);
	if (rc == DB_ERROR) {
		note_failure(store_errmsg(g_srv->st));
		log_error("store.error", "op=exec msg=%s", roost_lq(store_errmsg(g_srv->st)));
	}
	db_done(st);
	return rc == DB_ROW ? DB_DONE : rc;
}

int64_t db_returning(const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	struct db_stmt *st = vqc(sql, 1, types, ap);
	va_end(ap);
	if (!st) {
		note_failure("the statement could not be prepared");
		return -1;
	}
	int rc = db_step(st);
	int64_t v = rc == DB_ROW ? db_col_int(st, 0) : rc == DB_DONE ? 0 : -1;
	if (rc == DB_ERROR) {
		note_failure(store_errmsg(g_srv->st));
		log_error("store.error", "op=exec msg=%s", roost_lq(store_errmsg(g_srv->st)));
	}
	db_done(st);
	return v;
}

int64_t db_int(int64_t dflt, const char *sql, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	struct db_stmt *st = vqc(sql, 1, types, ap);
	va_end(ap);
	if (!st)
		return dflt;
	int64_t v = dflt;
	if (db_step(st) == DB_ROW && !db_col_is_null(st, 0))
		v = db_col_int(st, 0);
	db_done(st);
	return v;
}

int db_begin(void)
{
	failures = 0;
	last_error[0] = 0;
	if (store_begin(g_srv->st)) {
		note_failure(store_errmsg(g_srv->st));
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
	if (store_exec(g_srv->st, "COMMIT")) {
		note_failure(store_errmsg(g_srv->st));
		log_error("store.error", "op=commit msg=%s", roost_lq(last_error));
		db_rollback();
		return -1;
	}
	return 0;
}

void db_rollback(void)
{
	store_exec(g_srv->st, "ROLLBACK");
}

int64_t db_changes(void)
{
	return store_changes(g_srv->st);
}

int64_t db_last_id(void)
{
	return store_last_id(g_srv->st);
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
	struct db_stmt *st = db_qc("SELECT tz FROM hosts WHERE id=?", "i", host_id);
	char *tz = NULL;
	if (st && db_step(st) == DB_ROW && db_col_text(st, 0))
		tz = strdup(db_col_text(st, 0));
	db_done(st);
	return tz;
}

int db_host_mode(int64_t host_id, char *mode, size_t cap)
{
	struct db_stmt *st = db_q("SELECT mode FROM hosts WHERE id=?", "i", host_id);
	int found = st && db_step(st) == DB_ROW;
	if (found)
		snprintf(mode, cap, "%s", db_col_text(st, 0));
	else if (cap)
		mode[0] = 0;
	db_done(st);
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
	struct db_stmt *st = db_q("SELECT group_id FROM schedule_groups WHERE schedule_id=? "
	                        "ORDER BY group_id", "i", schedule_id);
	while (st && db_step(st) == DB_ROW && n < cap)
		out[n++] = db_col_int(st, 0);
	db_done(st);
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
	struct db_stmt *st = db_q("SELECT name, paths, excludes, host_id, dedup, pre_hook, post_hook, "
	                        "hook_timeout_s FROM source_groups WHERE id=?", "i", group_id);
	int rc = -1;
	if (st && db_step(st) == DB_ROW) {
		g->id = group_id;
		g->host_id = db_col_int(st, 3);
		g->dedup_host = !strcmp(db_col_text(st, 4), "host");
		snprintf(g->name, sizeof(g->name), "%s", db_col_text(st, 0));
		snprintf(g->pre_hook, sizeof(g->pre_hook), "%s", db_col_text(st, 5));
		snprintf(g->post_hook, sizeof(g->post_hook), "%s", db_col_text(st, 6));
		g->hook_timeout_s = db_col_int(st, 7);
		rc = strv_from_json(db_col_text(st, 1), &g->paths, &g->npaths) ||
		     strv_from_json(db_col_text(st, 2), &g->excludes,
		                    &g->nexcludes) ? -1 : 0;
		if (rc)
			proto_group_release(g);
	}
	db_done(st);
	return rc;
}
