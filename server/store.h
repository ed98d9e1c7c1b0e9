/* SPDX-License-Identifier: MIT */
/*
 * roostd's store, whatever the engine: a connection, its statements and
 * their rows. The schema is brought to the current version by numbered
 * migrations, each applied once, in order, in its own transaction (the
 * same numbers on every engine). Times are int64 seconds UTC. One struct
 * store per thread (connections are not shared).
 *
 * Engines (the --db URL): "sqlite:PATH" or a bare PATH (SQLite in WAL mode
 * with foreign keys, store_sqlite.c) and "postgresql://..." (store_pg.c).
 * SQL is written once for both: '?' placeholders, ON CONFLICT rather than
 * INSERT OR IGNORE/REPLACE, RETURNING, no functions only one engine has.
 */
#ifndef ROOSTD_STORE_H
#define ROOSTD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "roost/error.h"

/* db_step's answers (DB_DONE is also db_exec's success) */
enum { DB_ERROR = 1, DB_ROW = 100, DB_DONE = 101 };

enum store_engine { STORE_SQLITE, STORE_PG };

struct store;   /* one connection */
struct db_stmt; /* one prepared statement of a connection */

/* Opens (creating if needed, for SQLite) and migrates. A database written
 * by a newer roostd (a version this one does not know) is refused,
 * untouched (ROOST_ENOTSUP). Errors name what failed (for PostgreSQL:
 * server unreachable, authentication failed, database missing). */
enum roost_err store_open(const char *url, struct store **out, struct roost_errbuf *eb);
/* Another connection to a store store_open already migrated (a thread's
 * own); no migration. */
enum roost_err store_connect(const char *url, struct store **out, struct roost_errbuf *eb);
/* Finalizes the statements it cached and closes. NULL: no-op. */
void store_close(struct store *s);
/* The newest schema version this build knows. */
int store_schema_latest(void);
/* The schema version after store_open. */
int store_version(const struct store *s);
enum store_engine store_engine(const struct store *s);
/* The message of the connection's last failure. */
const char *store_errmsg(struct store *s);
/* Runs one or more statements without parameters; 0 or -1. */
int store_exec(struct store *s, const char *sql);
/* Starts a writing transaction (SQLite: BEGIN IMMEDIATE); 0 or -1. End it
 * with store_exec(s, "COMMIT") or "ROLLBACK". */
int store_begin(struct store *s);
/* Starts a reading transaction that sees one instant of the store; 0 or -1. */
int store_begin_read(struct store *s);
/* A query of the last id events.id's sequence gave (events.c). */
const char *store_events_seq_sql(const struct store *s);
/* Rows changed by the last INSERT, UPDATE or DELETE. */
int64_t store_changes(struct store *s);
/* The id the last INSERT into a table with an id column gave its row (on
 * PostgreSQL the identity this connection drew last, lastval(): ask at once,
 * before another insert; an explicit id draws nothing). */
int64_t store_last_id(struct store *s);
/* Prepares one statement; NULL on failure (store_errmsg says why). The
 * caller gives it back with db_finalize. */
struct db_stmt *store_prepare(struct store *s, const char *sql);
/* As store_prepare, from (or into) the connection's cache of statements
 * asked again and again: give it back with store_give_back, which resets
 * a cached one for its next use and finalizes any other. */
struct db_stmt *store_prepare_cached(struct store *s, const char *sql);
void store_give_back(struct store *s, struct db_stmt *st);

/* Notifications (PostgreSQL's LISTEN/NOTIFY; server/notify.c). A connection
 * listens with store_exec(s, "LISTEN channel"). store_socket: the socket to
 * poll for them, -1 when the engine has none (SQLite: one instance).
 * store_notifications reads what arrived and calls fn once per
 * notification, in order; 0, or -1 when the connection is broken. */
typedef void (*store_notify_fn)(void *arg, const char *channel, const char *payload);
int store_socket(struct store *s);
/* A connection the server dropped is made again (PostgreSQL); 0 usable
 * (SQLite: always), -1 not yet. */
int store_revive(struct store *s);
/* 1 inside a transaction (between store_begin and its COMMIT or ROLLBACK). */
int store_in_tx(struct store *s);
int store_notifications(struct store *s, store_notify_fn fn, void *arg);

/* Statements: parameters are numbered from 1, columns from 0. */
int db_param_count(struct db_stmt *st);
void db_bind_int(struct db_stmt *st, int i, int64_t v);
void db_bind_text(struct db_stmt *st, int i, const char *v); /* NULL: null */
void db_bind_blob(struct db_stmt *st, int i, const void *p, size_t n);
void db_bind_null(struct db_stmt *st, int i);
/* The next row: DB_ROW, DB_DONE, or DB_ERROR (store_errmsg says why). */
int db_step(struct db_stmt *st);
/* Columns of the current row; valid until the next step. A null reads as
 * 0, NULL (text and blob) and 0 bytes. Booleans read as 0 and 1. */
int64_t db_col_int(struct db_stmt *st, int i);
const char *db_col_text(struct db_stmt *st, int i);
const void *db_col_blob(struct db_stmt *st, int i);
size_t db_col_bytes(struct db_stmt *st, int i);
int db_col_is_null(struct db_stmt *st, int i);
/* Back to before the first step, parameters unbound. */
void db_reset(struct db_stmt *st);
void db_finalize(struct db_stmt *st); /* NULL: no-op; a cached one goes back (reset) */
const char *db_stmt_sql(struct db_stmt *st);

#endif
