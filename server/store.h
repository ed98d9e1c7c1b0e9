/* SPDX-License-Identifier: MIT */
/*
 * roostd's embedded store: SQLite in WAL mode with foreign keys, brought to
 * the current schema by numbered migrations, each applied once, in order, in
 * its own transaction. Times are int64 seconds UTC. One struct store per
 * thread (SQLite connections are not shared).
 */
#ifndef ROOSTD_STORE_H
#define ROOSTD_STORE_H

#include <sqlite3.h>

#include "roost/error.h"

#define STORE_CACHE 48

struct store {
	sqlite3 *db;
	int version; /* schema version after open */
	/* db.c's prepared statements, kept for the next time the same SQL is
	 * asked (busy while a caller holds one); finalized by store_close */
	struct {
		sqlite3_stmt *st;
		int busy;
	} cache[STORE_CACHE];
	size_t ncache;
};

/* Opens (creating if needed) and migrates. A database written by a newer
 * roostd (a version this one does not know) is refused, untouched. */
enum roost_err store_open(const char *path, struct store **out, struct roost_errbuf *eb);
void store_close(struct store *s);
/* The newest schema version this build knows. */
int store_schema_latest(void);

#endif
