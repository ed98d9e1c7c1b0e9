/* SPDX-License-Identifier: MIT */
/*
 * The store a unit test opens: PostgreSQL when ROOST_TEST_PG names a
 * throwaway database (tests/pg/with_pg.sh; emptied here, so each test
 * starts from nothing, as with a new SQLite file), else sqlite_url.
 */
#ifndef ROOST_TEST_STORE_URL_H
#define ROOST_TEST_STORE_URL_H

#include <stdio.h>
#include <stdlib.h>

#include "roostd.h"
#include "store.h"

static inline int test_on_pg(void)
{
	const char *pg = getenv("ROOST_TEST_PG");
	return pg && *pg;
}

static inline const char *test_store_url(const char *sqlite_url)
{
	if (!test_on_pg())
		return sqlite_url;
	const char *pg = getenv("ROOST_TEST_PG");
	struct store *s;
	if (store_connect(pg, &s, NULL) == ROOST_OK) {
		store_exec(s, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
		store_close(s);
	}
	return pg;
}

/* After rows were inserted with explicit ids: PostgreSQL's identities go
 * on after the largest (SQLite's rowids do by themselves). */
static inline void test_ids_synced(void)
{
	if (!test_on_pg())
		return;
	assert_int_equal(db_exec("DO $$DECLARE r record; BEGIN FOR r IN SELECT table_name FROM "
	                         "information_schema.columns WHERE table_schema = 'public' AND "
	                         "column_name = 'id' AND is_identity = 'YES' LOOP EXECUTE "
	                         "format('SELECT setval(pg_get_serial_sequence(%L, ''id''), "
	                         "COALESCE((SELECT max(id) FROM %I), 0) + 1, false)', "
	                         "r.table_name, r.table_name); END LOOP; END$$", NULL), DB_DONE);
}

/* From now on, every `event` (INSERT, UPDATE) on table fails as a full disk
 * answers, until store_full_end(table); through the loop's store (g_srv). */
static inline void store_full(const char *event, const char *table)
{
	char sql[400];
	if (test_on_pg()) {
		assert_int_equal(db_exec("CREATE OR REPLACE FUNCTION roost_full() RETURNS trigger "
		                         "LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION "
		                         "'database or disk is full'; END$$", NULL), DB_DONE);
		snprintf(sql, sizeof(sql), "CREATE TRIGGER roost_full BEFORE %s ON %s FOR EACH ROW "
		                           "EXECUTE FUNCTION roost_full()", event, table);
	} else {
		snprintf(sql, sizeof(sql), "CREATE TEMP TRIGGER full BEFORE %s ON %s BEGIN "
		                           "SELECT RAISE(FAIL, 'database or disk is full'); END",
		         event, table);
	}
	assert_int_equal(db_exec(sql, NULL), DB_DONE);
}

static inline void store_full_end(const char *table)
{
	char sql[120];
	if (test_on_pg())
		snprintf(sql, sizeof(sql), "DROP TRIGGER roost_full ON %s", table);
	else
		snprintf(sql, sizeof(sql), "DROP TRIGGER full");
	assert_int_equal(db_exec(sql, NULL), DB_DONE);
}

#endif
