/* SPDX-License-Identifier: MIT */
/* Unit tests of server/store.c: migrations, WAL, persistence, constraints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "store.h"

static char dir[64];
static char path[128];

static int setup(void **st)
{
	(void)st;
	snprintf(dir, sizeof(dir), "/tmp/roost-store-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/roost.db", dir);
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
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(s->db, sql, -1, &st, NULL), SQLITE_OK);
	int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_finalize(st);
	return v;
}

static void exec_ok(struct store *s, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

static void test_fresh_store_is_migrated_wal(void **st)
{
	(void)st;
	struct store *s;
	struct roost_errbuf eb;
	assert_int_equal(store_open(path, &s, &eb), ROOST_OK);
	assert_int_equal(s->version, store_schema_latest());
	assert_int_equal(scalar(s, "PRAGMA user_version"), store_schema_latest());
	assert_int_equal(scalar(s, "PRAGMA foreign_keys"), 1);
	sqlite3_stmt *q;
	assert_int_equal(sqlite3_prepare_v2(s->db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
	sqlite3_finalize(q);
	const char *tables[] = {"hosts", "enroll_tokens", "source_groups", "schedules",
	                        "schedule_groups", "jobs", "pending_runs", "fires",
	                        "group_success", "repos"};
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
	assert_int_equal(store_open(path, &s, NULL), ROOST_OK);
	exec_ok(s, "INSERT INTO hosts (name, hostname, mode, secret_hash, created_at) "
	           "VALUES ('laptop', 'laptop.local', 'intermittent', x'00', 1)");
	store_close(s);
	assert_int_equal(store_open(path, &s, NULL), ROOST_OK);
	assert_int_equal(scalar(s, "SELECT count(*) FROM hosts WHERE name='laptop'"), 1);
	store_close(s);
}

static void test_constraints_and_cascades(void **st)
{
	(void)st;
	struct store *s;
	assert_int_equal(store_open(path, &s, NULL), ROOST_OK);
	exec_ok(s, "INSERT INTO hosts (id, name, hostname, mode, secret_hash, created_at) "
	           "VALUES (10, 'srv', 'srv', 'always-on', x'01', 1)");
	exec_ok(s, "INSERT INTO source_groups (id, host_id, name, paths) VALUES (1, 10, 'etc', '[\"/etc\"]')");
	exec_ok(s, "INSERT INTO schedules (id, host_id, name, cron) VALUES (1, 10, 'nightly', '0 2 * * *')");
	exec_ok(s, "INSERT INTO schedule_groups VALUES (1, 1)");
	exec_ok(s, "INSERT INTO pending_runs VALUES (10, 1, 100, 200)");
	exec_ok(s, "INSERT INTO group_success VALUES (1, 1, 50)");
	/* one pending run per (host, schedule): a second fire while busy upserts */
	exec_ok(s, "INSERT INTO pending_runs VALUES (10, 1, 300, 300) "
	           "ON CONFLICT (host_id, schedule_id) DO UPDATE SET last_fire = excluded.last_fire");
	assert_int_equal(scalar(s, "SELECT count(*) FROM pending_runs"), 1);
	assert_int_equal(scalar(s, "SELECT first_fire * 1000 + last_fire FROM pending_runs"), 100300);
	/* invalid values are refused by the schema */
	assert_int_not_equal(sqlite3_exec(s->db, "INSERT INTO hosts (name, hostname, mode, "
	                                         "secret_hash, created_at) VALUES ('x', 'x', 'sometimes', x'00', 1)",
	                                  NULL, NULL, NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(s->db, "INSERT INTO jobs (host_id, kind, trigger, status, "
	                                         "created_at) VALUES (10, 'backup', 'whim', 'queued', 1)",
	                                  NULL, NULL, NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(s->db, "INSERT INTO schedules (host_id, name, cron) "
	                                         "VALUES (999, 'orphan', '* * * * *')",
	                                  NULL, NULL, NULL), SQLITE_OK);
	/* removing the host removes everything that hangs off it */
	exec_ok(s, "DELETE FROM hosts WHERE id = 10");
	assert_int_equal(scalar(s, "SELECT (SELECT count(*) FROM source_groups) + (SELECT count(*) "
	                           "FROM schedules) + (SELECT count(*) FROM schedule_groups) + "
	                           "(SELECT count(*) FROM pending_runs) + (SELECT count(*) FROM "
	                           "group_success)"), 0);
	store_close(s);
}

static void test_newer_database_refused_untouched(void **st)
{
	(void)st;
	struct store *s;
	assert_int_equal(store_open(path, &s, NULL), ROOST_OK);
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", store_schema_latest() + 5);
	exec_ok(s, sql);
	store_close(s);
	struct roost_errbuf eb = {{0}};
	assert_int_equal(store_open(path, &s, &eb), ROOST_ENOTSUP);
	assert_null(s);
	assert_non_null(strstr(eb.msg, "newer than this roostd knows"));
	/* not a database at all */
	char junk[140];
	snprintf(junk, sizeof(junk), "%s/junk.db", dir);
	FILE *f = fopen(junk, "w");
	fputs("this is not sqlite, just text long enough to be read as a header.........", f);
	fclose(f);
	assert_int_equal(store_open(junk, &s, &eb), ROOST_EIO);
	assert_non_null(strstr(eb.msg, "store:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh_store_is_migrated_wal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_keeps_data_and_does_not_remigrate, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_constraints_and_cascades, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_database_refused_untouched, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
