/* SPDX-License-Identifier: MIT */
/*
 * The SQLite engine of the store (store_drv.h): a file in WAL mode with
 * foreign keys, private (0600, its -wal and -shm too), the schema version
 * in PRAGMA user_version.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_drv.h"

struct sq_store {
	struct store base;
	sqlite3 *db;
};

struct sq_stmt {
	struct db_stmt base;
	sqlite3_stmt *st;
};

static sqlite3 *db_of(struct store *s)
{
	return ((struct sq_store *)s)->db;
}

static sqlite3_stmt *st_of(struct db_stmt *st)
{
	return ((struct sq_stmt *)st)->st;
}

static const char *sq_errmsg(struct store *s)
{
	return sqlite3_errmsg(db_of(s));
}

static int sq_exec(struct store *s, const char *sql)
{
	return sqlite3_exec(db_of(s), sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static int64_t sq_changes(struct store *s)
{
	return sqlite3_changes(db_of(s));
}

static int64_t sq_last_id(struct store *s)
{
	return sqlite3_last_insert_rowid(db_of(s));
}

static int sq_get_version(struct store *s, int *v)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db_of(s), "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(st);
	*v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

static int sq_set_version(struct store *s, int v)
{
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d;", v);
	return sq_exec(s, sql);
}

/* roost_now(): the database's clock in seconds, as store_pg.c's function
 * of that name (leases and heartbeats compare times of one clock). */
static void fn_now(sqlite3_context *cx, int n, sqlite3_value **v)
{
	(void)n;
	(void)v;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	sqlite3_result_int64(cx, (sqlite3_int64)ts.tv_sec);
}

/* GREATEST and LEAST as PostgreSQL has them (nulls ignored; null when all
 * are), so that one SQL text serves both engines. */
static void extreme(sqlite3_context *cx, int n, sqlite3_value **v, int sign)
{
	sqlite3_value *best = NULL;
	for (int i = 0; i < n; i++) {
		if (sqlite3_value_type(v[i]) == SQLITE_NULL)
			continue;
		if (!best) {
			best = v[i];
			continue;
		}
		int cmp;
		if (sqlite3_value_type(v[i]) == SQLITE_INTEGER &&
		    sqlite3_value_type(best) == SQLITE_INTEGER) {
			sqlite3_int64 x = sqlite3_value_int64(v[i]), y = sqlite3_value_int64(best);
			cmp = (x > y) - (x < y);
		} else {
			double x = sqlite3_value_double(v[i]), y = sqlite3_value_double(best);
			cmp = (x > y) - (x < y);
		}
		if (cmp * sign > 0)
			best = v[i];
	}
	if (best)
		sqlite3_result_value(cx, best);
	else
		sqlite3_result_null(cx);
}

static void fn_greatest(sqlite3_context *cx, int n, sqlite3_value **v)
{
	extreme(cx, n, v, 1);
}

static void fn_least(sqlite3_context *cx, int n, sqlite3_value **v)
{
	extreme(cx, n, v, -1);
}

static void sq_close(struct store *s)
{
	sqlite3_close(db_of(s));
	free(s);
}

/* Private: hashes of credentials live here. SQLite gives the -wal and -shm
 * files the mode of the database file, so it is made 0600 first; files of
 * older versions (0644) are narrowed. */
static enum roost_err make_private(const char *path, struct roost_errbuf *eb)
{
	int on_disk = *path && strcmp(path, ":memory:") != 0;
	int fd = on_disk ? open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600) : -2;
	if (fd == -1)
		return roost_errf(eb, ROOST_EIO, "store: open %s: %s", path, strerror(errno));
	int narrowed = fd >= 0 ? fchmod(fd, 0600) : 0;
	if (fd >= 0)
		close(fd);
	for (const char *const *sfx = (const char *const[]){"-wal", "-shm", NULL};
	     on_disk && *sfx; sfx++) {
		char side[4200];
		snprintf(side, sizeof(side), "%s%s", path, *sfx);
		if (chmod(side, 0600) && errno != ENOENT)
			narrowed = -1;
	}
	if (narrowed)
		return roost_errf(eb, ROOST_EIO, "store: chmod 0600 %s: %s", path, strerror(errno));
	return ROOST_OK;
}

static enum roost_err sq_open(const char *path, int migrate, struct store **out,
                              struct roost_errbuf *eb)
{
	*out = NULL;
	sqlite3 *db = NULL;
	enum roost_err err;
	if (migrate && (err = make_private(path, eb)))
		return err;
	/* no memory statistics: they take a global mutex on every allocation
	 * SQLite makes (a view of the whole fleet makes many); only possible
	 * before SQLite's first use, later calls fail harmlessly */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	int flags = migrate ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX
	                    : SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		err = roost_errf(eb, ROOST_EIO, "store: open %s: %s", path,
		                 db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return err;
	}
	sqlite3_busy_timeout(db, 5000);
	struct sq_store *s = calloc(1, sizeof(*s));
	if (!s) {
		sqlite3_close(db);
		return roost_errf(eb, ROOST_ENOMEM, "store: out of memory");
	}
	s->base.ops = &store_sqlite_ops;
	s->db = db;
	if (migrate) {
		/* the version first: a store of a newer roostd is refused before
		 * anything (WAL mode included) is written to it */
		int v;
		if (sq_get_version(&s->base, &v)) {
			err = roost_errf(eb, ROOST_EIO, "store: read schema version: %s",
			                 sqlite3_errmsg(db));
			goto fail;
		}
		if (v > store_schema_latest()) {
			err = roost_errf(eb, ROOST_ENOTSUP,
			                 "store: %s has schema version %d, newer than this roostd knows "
			                 "(%d); refusing to touch it", path, v, store_schema_latest());
			goto fail;
		}
		if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
		                 NULL) != SQLITE_OK) {
			err = roost_errf(eb, ROOST_EIO, "store: configure: %s", sqlite3_errmsg(db));
			goto fail;
		}
	}
	int fl = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
	if (sqlite3_exec(db, "PRAGMA foreign_keys=ON;", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_create_function(db, "greatest", -1, fl, NULL, fn_greatest, NULL, NULL) ||
	    sqlite3_create_function(db, "least", -1, fl, NULL, fn_least, NULL, NULL) ||
	    sqlite3_create_function(db, "roost_now", 0, SQLITE_UTF8, NULL, fn_now, NULL, NULL)) {
		err = roost_errf(eb, ROOST_EIO, "store: configure: %s", sqlite3_errmsg(db));
		goto fail;
	}
	*out = &s->base;
	return ROOST_OK;
fail:
	sq_close(&s->base);
	return err;
}

static struct db_stmt *sq_prepare(struct store *s, const char *sql)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db_of(s), sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	struct sq_stmt *q = calloc(1, sizeof(*q));
	if (!q) {
		sqlite3_finalize(st);
		return NULL;
	}
	q->base.s = s;
	q->st = st;
	return &q->base;
}

static int sq_param_count(struct db_stmt *st)
{
	return sqlite3_bind_parameter_count(st_of(st));
}

static void sq_bind_int(struct db_stmt *st, int i, int64_t v)
{
	sqlite3_bind_int64(st_of(st), i, v);
}

static void sq_bind_text(struct db_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st_of(st), i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st_of(st), i);
}

static void sq_bind_blob(struct db_stmt *st, int i, const void *p, size_t n)
{
	sqlite3_bind_blob(st_of(st), i, p, (int)n, SQLITE_TRANSIENT);
}

static void sq_bind_null(struct db_stmt *st, int i)
{
	sqlite3_bind_null(st_of(st), i);
}

static int sq_step(struct db_stmt *st)
{
	int rc = sqlite3_step(st_of(st));
	return rc == SQLITE_ROW ? DB_ROW : rc == SQLITE_DONE ? DB_DONE : DB_ERROR;
}

static int64_t sq_col_int(struct db_stmt *st, int i)
{
	return sqlite3_column_int64(st_of(st), i);
}

static const char *sq_col_text(struct db_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st_of(st), i);
}

static const void *sq_col_blob(struct db_stmt *st, int i)
{
	return sqlite3_column_blob(st_of(st), i);
}

static size_t sq_col_bytes(struct db_stmt *st, int i)
{
	return (size_t)sqlite3_column_bytes(st_of(st), i);
}

static int sq_col_is_null(struct db_stmt *st, int i)
{
	return sqlite3_column_type(st_of(st), i) == SQLITE_NULL;
}

static void sq_reset(struct db_stmt *st)
{
	sqlite3_reset(st_of(st));
	sqlite3_clear_bindings(st_of(st));
}

static void sq_finalize(struct db_stmt *st)
{
	sqlite3_finalize(st_of(st));
	free(st);
}

static const char *sq_sql(struct db_stmt *st)
{
	return sqlite3_sql(st_of(st));
}

static int sq_in_tx(struct store *s)
{
	return !sqlite3_get_autocommit(((struct sq_store *)s)->db);
}

const struct store_ops store_sqlite_ops = {
	.engine = STORE_SQLITE,
	.open = sq_open,
	.close = sq_close,
	.errmsg = sq_errmsg,
	.exec = sq_exec,
	.changes = sq_changes,
	.last_id = sq_last_id,
	.get_version = sq_get_version,
	.set_version = sq_set_version,
	.begin = "BEGIN IMMEDIATE",
	.begin_read = "BEGIN",
	.events_seq_sql = "SELECT seq FROM sqlite_sequence WHERE name='events'",
	.migration = NULL,
	.prepare = sq_prepare,
	.param_count = sq_param_count,
	.bind_int = sq_bind_int,
	.bind_text = sq_bind_text,
	.bind_blob = sq_bind_blob,
	.bind_null = sq_bind_null,
	.step = sq_step,
	.col_int = sq_col_int,
	.col_text = sq_col_text,
	.col_blob = sq_col_blob,
	.col_bytes = sq_col_bytes,
	.col_is_null = sq_col_is_null,
	.reset = sq_reset,
	.finalize = sq_finalize,
	.sql = sq_sql,
	.in_tx = sq_in_tx,
};
