/* SPDX-License-Identifier: MIT */
/*
 * What a store engine provides (store_sqlite.c, store_pg.c), for store.c
 * only: the connection and statement operations behind store.h, the
 * schema version's storage, and the engine's text of a migration when the
 * common one (SQLite's) does not suit it.
 */
#ifndef ROOSTD_STORE_DRV_H
#define ROOSTD_STORE_DRV_H

#include "store.h"

#define STORE_CACHE 48

struct store_ops {
	enum store_engine engine;
	/* migrate: an empty or older store may be brought up to date */
	enum roost_err (*open)(const char *target, int migrate, struct store **out,
	                       struct roost_errbuf *eb);
	void (*close)(struct store *s);
	const char *(*errmsg)(struct store *s);
	int (*exec)(struct store *s, const char *sql);
	int64_t (*changes)(struct store *s);
	int64_t (*last_id)(struct store *s);
	/* the schema version (0: empty) and setting it inside a migration */
	int (*get_version)(struct store *s, int *v);
	int (*set_version)(struct store *s, int v);
	const char *begin;      /* the statement that starts a writing transaction */
	const char *begin_read; /* ... and a reading one that sees one instant */
	/* the sequence of events.id (deleted ids are not given again): its last value */
	const char *events_seq_sql;
	/* statements around the migrations (several roostd starting at once on
	 * one PostgreSQL database: one migrates, the others wait); NULL: none */
	const char *migrate_lock, *migrate_unlock;
	/* this engine's text of migration m (1-based), or NULL for the common one */
	const char *(*migration)(int m);
	struct db_stmt *(*prepare)(struct store *s, const char *sql);
	int (*param_count)(struct db_stmt *st);
	void (*bind_int)(struct db_stmt *st, int i, int64_t v);
	void (*bind_text)(struct db_stmt *st, int i, const char *v);
	void (*bind_blob)(struct db_stmt *st, int i, const void *p, size_t n);
	void (*bind_null)(struct db_stmt *st, int i);
	int (*step)(struct db_stmt *st);
	int64_t (*col_int)(struct db_stmt *st, int i);
	const char *(*col_text)(struct db_stmt *st, int i);
	const void *(*col_blob)(struct db_stmt *st, int i);
	size_t (*col_bytes)(struct db_stmt *st, int i);
	int (*col_is_null)(struct db_stmt *st, int i);
	void (*reset)(struct db_stmt *st);
	void (*finalize)(struct db_stmt *st);
	const char *(*sql)(struct db_stmt *st);
	/* LISTEN/NOTIFY (NULL: the engine has none, SQLite) */
	int (*socket)(struct store *s);
	int (*notifications)(struct store *s, store_notify_fn fn, void *arg);
	int (*in_tx)(struct store *s);
	int (*revive)(struct store *s);
};

/* The head of every engine's connection. */
struct store {
	const struct store_ops *ops;
	int version; /* schema version after open */
	/* statements kept for the next time the same SQL is asked (busy while
	 * a caller holds one); finalized by store_close. When full, a new one
	 * takes the place of an idle one, round robin from cache_next. */
	struct {
		struct db_stmt *st;
		int busy;
	} cache[STORE_CACHE];
	size_t ncache, cache_next;
};

/* The head of every engine's statement. */
struct db_stmt {
	struct store *s;
};

/* The common (SQLite) text of migration m, 1-based; NULL past the last. */
const char *store_migration_sql(int m);

extern const struct store_ops store_sqlite_ops;
#ifdef ROOST_HAVE_PG
extern const struct store_ops store_pg_ops;
#endif

#endif
