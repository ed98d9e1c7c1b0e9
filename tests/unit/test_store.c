/* SPDX-License-Identifier: MIT */
/* Unit tests of server/store.c: migrations, WAL, persistence, constraints
 * (on SQLite, and on PostgreSQL when ROOST_TEST_PG names a database:
 * tests/pg/with_pg.sh; the tests of SQLite's files run on SQLite only);
 * the pending-run upsert is exercised through the production code path
 * (dispatch_fire on a store opened from a file), not a copy of its SQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "roostd.h"
#include "store.h"
#include "store_drv.h" /* the statement cache */
#include "store_url.h"

#include <sqlite3.h> /* the tests of SQLite files only */

static char dir[64];
static char path[128];
static const char *url; /* path, or the PostgreSQL database */

static int setup(void **st)
{
	(void)st;
	snprintf(dir, sizeof(dir), "/tmp/roost-store-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/roost.db", dir);
	url = test_store_url(path);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int64_t scalar(struct store *s, const char *sql)
{
	struct db_stmt *st = store_prepare(s, sql);
	if (!st)
		fail_msg("%s: %s", sql, store_errmsg(s));
	int64_t v = db_step(st) == DB_ROW ? db_col_int(st, 0) : -1;
	db_finalize(st);
	return v;
}

static void exec_ok(struct store *s, const char *sql)
{
	if (store_exec(s, sql))
		fail_msg("%s: %s", sql, store_errmsg(s));
}

/* the statement is refused */
static void exec_refused(struct store *s, const char *sql)
{
	assert_int_not_equal(store_exec(s, sql), 0);
}

static void test_fresh_store_is_migrated_wal(void **st)
{
	(void)st;
	struct store *s;
	struct roost_errbuf eb;
	assert_int_equal(store_open(url, &s, &eb), ROOST_OK);
	assert_int_equal(store_version(s), store_schema_latest());
	const char *tables[] = {"hosts", "enroll_tokens", "source_groups", "schedules",
	                        "schedule_groups", "jobs", "pending_runs", "fires",
	                        "group_success", "repos", "events", "users", "sessions"};
	if (store_engine(s) == STORE_PG) {
		assert_int_equal(scalar(s, "SELECT max(version) FROM roost_schema"),
		                 store_schema_latest());
		for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
			char sql[160];
			snprintf(sql, sizeof(sql), "SELECT count(*) FROM information_schema.tables WHERE "
			                           "table_schema='public' AND table_name='%s'", tables[i]);
			assert_int_equal(scalar(s, sql), 1);
		}
		store_close(s);
		return;
	}
	assert_int_equal(scalar(s, "PRAGMA user_version"), store_schema_latest());
	assert_int_equal(scalar(s, "PRAGMA foreign_keys"), 1);
	struct db_stmt *q = store_prepare(s, "PRAGMA journal_mode");
	assert_non_null(q);
	assert_int_equal(db_step(q), DB_ROW);
	assert_string_equal(db_col_text(q, 0), "wal");
	db_finalize(q);
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		char sql[128];
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM sqlite_master WHERE name='%s'",
		         tables[i]);
		assert_int_equal(scalar(s, sql), 1);
	}
	store_close(s);
}

static void test_restart_keeps_data_and_does_not_remigrate(void **st)
{
	(void)st;
	struct store *s;
	assert_int_equal(store_open(url, &s, NULL), ROOST_OK);
	exec_ok(s, "INSERT INTO hosts (name, hostname, mode, secret_hash, created_at) "
	           "VALUES ('laptop', 'laptop.local', 'intermittent', 'h0', 1)");
	store_close(s);
	assert_int_equal(store_open(url, &s, NULL), ROOST_OK);
	assert_int_equal(scalar(s, "SELECT count(*) FROM hosts WHERE name='laptop'"), 1);
	store_close(s);
}

static void test_constraints_and_cascades(void **st)
{
	(void)st;
	struct store *s;
	assert_int_equal(store_open(url, &s, NULL), ROOST_OK);
	exec_ok(s, "INSERT INTO hosts (id, name, hostname, mode, secret_hash, created_at) "
	           "VALUES (10, 'srv', 'srv', 'always-on', 'h1', 1)");
	exec_ok(s, "INSERT INTO source_groups (id, host_id, name, paths) VALUES (1, 10, 'etc', '[\"/etc\"]')");
	exec_ok(s, "INSERT INTO schedules (id, host_id, name, cron) VALUES (1, 10, 'nightly', '0 2 * * *')");
	exec_ok(s, "INSERT INTO schedule_groups VALUES (1, 1)");
	exec_ok(s, "INSERT INTO pending_runs VALUES (10, 1, 100, 200)");
	exec_ok(s, "INSERT INTO group_success VALUES (1, 1, 50)");
	/* the primary key allows one pending run per (host, schedule) */
	exec_refused(s, "INSERT INTO pending_runs VALUES (10, 1, 300, 300)");
	assert_int_equal(scalar(s, "SELECT count(*) FROM pending_runs"), 1);
	/* invalid values are refused by the schema */
	exec_refused(s, "INSERT INTO hosts (name, hostname, mode, "
	                "secret_hash, created_at) VALUES ('x', 'x', 'sometimes', 'h0', 1)");
	exec_refused(s, "INSERT INTO jobs (host_id, kind, trigger, status, "
	                "created_at) VALUES (10, 'backup', 'whim', 'queued', 1)");
	exec_refused(s, "INSERT INTO schedules (host_id, name, cron) "
	                "VALUES (999, 'orphan', '* * * * *')");
	/* a host's upload limit: 0 (none) unless set, KiB/s within bounds */
	assert_int_equal(scalar(s, "SELECT upload_limit_kbps FROM hosts WHERE id = 10"), 0);
	exec_ok(s, "UPDATE hosts SET upload_limit_kbps = 10000000 WHERE id = 10");
	exec_refused(s, "UPDATE hosts SET upload_limit_kbps = -1 WHERE id = 10");
	exec_refused(s, "UPDATE hosts SET upload_limit_kbps = 10000001 "
	                "WHERE id = 10");
	/* removing the host removes everything that hangs off it */
	exec_ok(s, "DELETE FROM hosts WHERE id = 10");
	assert_int_equal(scalar(s, "SELECT (SELECT count(*) FROM source_groups) + (SELECT count(*) "
	                           "FROM schedules) + (SELECT count(*) FROM schedule_groups) + "
	                           "(SELECT count(*) FROM pending_runs) + (SELECT count(*) FROM "
	                           "group_success)"), 0);
	store_close(s);
}

static int fake_online(int64_t h)
{
	return h == 10;
}

static int fake_send(int64_t h, json_t *m)
{
	(void)h;
	(void)m;
	return 0;
}

/* Fires while the host is busy go through the production statement
 * (dispatch_fire's pending_runs upsert), on a store opened from a file and
 * reopened: one row per (host, schedule), the first fire kept, the newest
 * fire kept as last_fire whatever order the fires arrive in. */
static void test_pending_upsert_production_path(void **st)
{
	(void)st;
	struct srv srv;
	memset(&srv, 0, sizeof(srv));
	assert_int_equal(store_open(url, &srv.st, NULL), ROOST_OK);
	srv.catchups = dueheap_new();
	srv.settle_s = 60;
	srv.fake_now = 1795000000;
	srv.send_hook = fake_send;
	srv.online_hook = fake_online;
	g_srv = &srv;
	exec_ok(srv.st, "INSERT INTO hosts (id, name, hostname, mode, secret_hash, created_at) "
	                "VALUES (10, 'srv', 'srv', 'always-on', 'h1', 1)");
	exec_ok(srv.st, "INSERT INTO source_groups (id, host_id, name, paths) VALUES (1, 10, 'etc', '[\"/etc\"]')");
	exec_ok(srv.st, "INSERT INTO schedules (id, host_id, name, cron) VALUES (1, 10, 'a', '0 * * * *'), "
	                "(2, 10, 'b', '0 * * * *')");
	exec_ok(srv.st, "INSERT INTO schedule_groups VALUES (1, 1), (2, 1)");
	const int64_t t = srv.fake_now;
	fires_handle(10, 2, t - 10, "live"); /* idle: a job; the host is busy from now on */
	assert_int_equal(scalar(srv.st, "SELECT count(*) FROM jobs"), 1);
	fires_handle(10, 1, t + 100, "live");
	fires_handle(10, 1, t + 300, "live");
	fires_handle(10, 1, t + 200, "persisted"); /* late, out of order */
	assert_int_equal(scalar(srv.st, "SELECT count(*) FROM jobs"), 1);
	store_close(srv.st);
	assert_int_equal(store_open(url, &srv.st, NULL), ROOST_OK);
	assert_int_equal(scalar(srv.st, "SELECT count(*) FROM pending_runs"), 1);
	assert_int_equal(scalar(srv.st, "SELECT first_fire - 1795000000 FROM pending_runs WHERE "
	                                "host_id=10 AND schedule_id=1"), 100);
	assert_int_equal(scalar(srv.st, "SELECT last_fire - 1795000000 FROM pending_runs WHERE "
	                                "host_id=10 AND schedule_id=1"), 300);
	g_srv = NULL;
	dueheap_free(srv.catchups);
	store_close(srv.st);
}

struct snap {
	char *bytes;
	size_t n;
	struct timespec mtime;
	off_t size;
};

static void snap_take(const char *p, struct snap *sn)
{
	struct stat sb;
	assert_int_equal(stat(p, &sb), 0);
	sn->mtime = sb.st_mtim;
	sn->size = sb.st_size;
	FILE *f = fopen(p, "rb");
	assert_non_null(f);
	sn->bytes = malloc((size_t)sb.st_size + 1);
	assert_non_null(sn->bytes);
	sn->n = fread(sn->bytes, 1, (size_t)sb.st_size, f);
	fclose(f);
	assert_int_equal(sn->n, (size_t)sb.st_size);
}

/* the file is as it was: same size, same bytes, same mtime */
static void snap_same(const char *p, struct snap *before)
{
	struct snap after;
	snap_take(p, &after);
	size_t first_diff = before->n;
	for (size_t i = 0; i < before->n && i < after.n; i++)
		if (after.bytes[i] != before->bytes[i]) {
			first_diff = i;
			break;
		}
	free(after.bytes);
	free(before->bytes);
	if (after.size != before->size || first_diff != before->n)
		fail_msg("%s changed: size %lld -> %lld, first differing byte at offset %zu", p,
		         (long long)before->size, (long long)after.size, first_diff);
	assert_int_equal(after.mtime.tv_sec, before->mtime.tv_sec);
	assert_int_equal(after.mtime.tv_nsec, before->mtime.tv_nsec);
}

static int exists(const char *p)
{
	struct stat sb;
	return stat(p, &sb) == 0;
}

/* PostgreSQL: a schema version newer than this roostd's is refused, and
 * nothing is changed (no migration ran: its table is not there). */
static void test_newer_database_refused_pg(void **st)
{
	(void)st;
	if (!test_on_pg())
		skip();
	struct store *s;
	assert_int_equal(store_open(url, &s, NULL), ROOST_OK);
	char sql[96];
	snprintf(sql, sizeof(sql), "UPDATE roost_schema SET version=%d; DROP TABLE users CASCADE",
	         store_schema_latest() + 5);
	exec_ok(s, sql);
	store_close(s);
	struct roost_errbuf eb = {{0}};
	assert_int_equal(store_open(url, &s, &eb), ROOST_ENOTSUP);
	assert_null(s);
	assert_non_null(strstr(eb.msg, "newer than this roostd knows"));
	assert_int_equal(store_connect(url, &s, NULL), ROOST_OK);
	assert_int_equal(scalar(s, "SELECT max(version) FROM roost_schema"), store_schema_latest() + 5);
	assert_int_equal(scalar(s, "SELECT count(*) FROM information_schema.tables WHERE "
	                           "table_name='users'"), 0);
	store_close(s);
}

/* PostgreSQL: several roostd starting at once on a new database (the
 * instances of one fleet): one migrates, the others wait for it and find the
 * schema current; none fails. */
static void *open_one(void *arg)
{
	struct store *s = NULL;
	struct roost_errbuf eb = {{0}};
	*(int *)arg = store_open(url, &s, &eb);
	if (*(int *)arg)
		fprintf(stderr, "store_open: %s\n", eb.msg);
	store_close(s);
	return NULL;
}

static void test_pg_concurrent_first_open(void **st)
{
	(void)st;
	if (!test_on_pg())
		skip();
	pthread_t th[4];
	int rc[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, open_one, &rc[i]), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(rc[i], ROOST_OK);
	}
	struct store *s;
	assert_int_equal(store_connect(url, &s, NULL), ROOST_OK);
	assert_int_equal(scalar(s, "SELECT max(version) FROM roost_schema"), store_schema_latest());
	assert_int_equal(scalar(s, "SELECT count(*) FROM roost_schema"), 1);
	store_close(s);
}

static void test_newer_database_refused_untouched(void **st)
{
	(void)st;
	if (test_on_pg())
		skip();
	struct store *s;
	assert_int_equal(store_open(url, &s, NULL), ROOST_OK);
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", store_schema_latest() + 5);
	exec_ok(s, sql);
	store_close(s);
	struct snap before;
	snap_take(path, &before);
	sleep(1); /* a write now would show in the mtime even on a coarse clock */
	struct roost_errbuf eb = {{0}};
	assert_int_equal(store_open(url, &s, &eb), ROOST_ENOTSUP);
	assert_null(s);
	assert_non_null(strstr(eb.msg, "newer than this roostd knows"));
	snap_same(path, &before);
	/* not a database at all */
	char junk[140];
	snprintf(junk, sizeof(junk), "%s/junk.db", dir);
	FILE *f = fopen(junk, "w");
	fputs("this is not sqlite, just text long enough to be read as a header.........", f);
	fclose(f);
	snap_take(junk, &before);
	assert_int_equal(store_open(junk, &s, &eb), ROOST_EIO);
	assert_non_null(strstr(eb.msg, "store:"));
	snap_same(junk, &before);
}

/* A newer database written by plain SQLite in its default (rollback journal)
 * mode: refusing it must not convert it to WAL or leave WAL files behind. */
static void test_newer_rollback_database_refused_untouched(void **st)
{
	(void)st;
	if (test_on_pg())
		skip();
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char sql[128];
	snprintf(sql, sizeof(sql), "CREATE TABLE future (x); PRAGMA user_version=%d;",
	         store_schema_latest() + 1);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	struct snap before;
	snap_take(path, &before);
	sleep(1);
	struct store *s;
	struct roost_errbuf eb = {{0}};
	assert_int_equal(store_open(url, &s, &eb), ROOST_ENOTSUP);
	assert_null(s);
	snap_same(path, &before);
	char wal[160];
	snprintf(wal, sizeof(wal), "%s-wal", path);
	assert_false(exists(wal));
}

/* The statement API on either engine: ?NNN and bare ? (not inside quotes),
 * nulls, booleans, blobs with zero bytes in them, changes and ids. */
static void test_statements(void **st)
{
	(void)st;
	struct store *s;
	assert_int_equal(store_open(url, &s, NULL), ROOST_OK);
	struct db_stmt *q = store_prepare(s, "SELECT CAST(?1 AS BIGINT) + CAST(?1 AS BIGINT), '?', "
	                                     "CAST(?2 AS TEXT), CAST(? AS TEXT), 1 = 1, 1 = 0");
	assert_non_null(q);
	assert_int_equal(db_param_count(q), 3);
	db_bind_int(q, 1, 20000000000);
	db_bind_text(q, 2, "x");
	db_bind_null(q, 3);
	assert_int_equal(db_step(q), DB_ROW);
	assert_int_equal(db_col_int(q, 0), 40000000000);
	assert_string_equal(db_col_text(q, 1), "?");
	assert_string_equal(db_col_text(q, 2), "x");
	assert_true(db_col_is_null(q, 3));
	assert_null(db_col_text(q, 3));
	assert_int_equal(db_col_int(q, 4), 1);
	assert_int_equal(db_col_int(q, 5), 0);
	assert_int_equal(db_step(q), DB_DONE);
	db_finalize(q);
	const uint8_t hash[5] = {0, 1, 0, 0xff, 0x5c};
	q = store_prepare(s, "INSERT INTO hosts (name, hostname, mode, secret_hash, created_at) "
	                     "VALUES (?, 'h', 'always-on', ?, 1)");
	assert_non_null(q);
	for (int i = 0; i < 2; i++) {
		db_reset(q);
		db_bind_text(q, 1, i ? "b" : "a");
		db_bind_blob(q, 2, hash, sizeof(hash));
		assert_int_equal(db_step(q), DB_DONE);
		assert_int_equal(store_changes(s), 1);
		assert_int_equal(store_last_id(s), i + 1);
	}
	db_finalize(q);
	exec_ok(s, "UPDATE hosts SET os = 'linux'");
	assert_int_equal(store_changes(s), 2);
	q = store_prepare(s, "SELECT secret_hash FROM hosts WHERE name = ?");
	db_bind_text(q, 1, "b");
	assert_int_equal(db_step(q), DB_ROW);
	assert_int_equal(db_col_bytes(q, 0), sizeof(hash));
	assert_memory_equal(db_col_blob(q, 0), hash, sizeof(hash));
	db_finalize(q);
	/* a statement the engine refuses: at prepare (SQLite) or step (PostgreSQL), and
	 * the engine says why */
	q = store_prepare(s, "SELEC nothing");
	assert_true(!q || db_step(q) == DB_ERROR);
	assert_non_null(strstr(store_errmsg(s), "syntax error"));
	db_finalize(q);
	store_close(s);
}

static int in_cache(const struct store *s, const struct db_stmt *q)
{
	for (size_t i = 0; i < s->ncache; i++)
		if (s->cache[i].st == q)
			return 1;
	return 0;
}

/* The statement cache (issue 17): once it is full of statements asked once
 * (start-up), one asked now still gets a place, taken from an idle one;
 * one held by a caller is never taken. */
static void test_statement_cache_full(void **st)
{
	(void)st;
	struct store *s;
	assert_int_equal(store_open(url, &s, NULL), ROOST_OK);
	struct db_stmt *held = store_prepare_cached(s, "SELECT 0");
	assert_non_null(held);
	char sql[32];
	for (int i = 1; i < 2 * STORE_CACHE; i++) {
		snprintf(sql, sizeof(sql), "SELECT %d", i);
		struct db_stmt *q = store_prepare_cached(s, sql);
		assert_non_null(q);
		store_give_back(s, q);
	}
	assert_int_equal(s->ncache, STORE_CACHE);
	assert_true(in_cache(s, held)); /* held: kept */
	struct db_stmt *q = store_prepare_cached(s, "SELECT 'now'");
	assert_true(in_cache(s, q));
	assert_int_equal(db_step(q), DB_ROW);
	store_give_back(s, q);
	struct db_stmt *again = store_prepare_cached(s, "SELECT 'now'");
	assert_ptr_equal(again, q); /* from the cache */
	assert_int_equal(db_step(again), DB_ROW);
	assert_string_equal(db_col_text(again, 0), "now");
	store_give_back(s, again);
	store_give_back(s, held);
	store_close(s);
}

/* PostgreSQL that can not be used: the message says which way, no password in it. */
static void test_pg_connect_errors(void **st)
{
	(void)st;
	const char *port = getenv("ROOST_TEST_PG_PORT"), *pw = getenv("ROOST_TEST_PG_PASSWORD");
	if (!test_on_pg() || !port || !pw)
		skip();
	struct store *s;
	struct roost_errbuf eb = {{0}};
	char u[256];
	snprintf(u, sizeof(u), "postgresql://roost:wrong-%s@127.0.0.1:%s/roost", pw, port);
	assert_int_not_equal(store_open(u, &s, &eb), ROOST_OK);
	assert_null(s);
	assert_non_null(strstr(eb.msg, "authentication failed"));
	assert_null(strstr(eb.msg, pw));
	snprintf(u, sizeof(u), "postgresql://roost:%s@127.0.0.1:%s/no_such_db", pw, port);
	assert_int_equal(store_open(u, &s, &eb), ROOST_EIO);
	assert_non_null(strstr(eb.msg, "database missing"));
	assert_null(strstr(eb.msg, pw));
	/* a port nobody listens on: the server's own, plus one, is taken by nothing we know of,
	 * so use port 1 (privileged, nothing serves PostgreSQL there) */
	snprintf(u, sizeof(u), "postgresql://roost:%s@127.0.0.1:1/roost?connect_timeout=5", pw);
	assert_int_equal(store_open(u, &s, &eb), ROOST_EIO);
	assert_non_null(strstr(eb.msg, "server unreachable"));
	assert_null(strstr(eb.msg, pw));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh_store_is_migrated_wal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_keeps_data_and_does_not_remigrate, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_constraints_and_cascades, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_upsert_production_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_database_refused_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_database_refused_pg, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pg_concurrent_first_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pg_connect_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_statements, setup, teardown),
		cmocka_unit_test_setup_teardown(test_statement_cache_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_rollback_database_refused_untouched, setup,
		                                teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
