/* SPDX-License-Identifier: MIT */
/*
 * roostd migrate --from sqlite:PATH --to postgresql://... (DESIGN.md,
 * "Scale-out: PostgreSQL and S3"): moves an installation's store from its
 * SQLite file into an empty PostgreSQL database, every row of every table,
 * ids kept, in one transaction on each side.
 *
 * The source is held with a writing transaction from the first read to the
 * end, so what is copied is one instant of it and a roostd still running
 * on it can not change it meanwhile (its writes wait, then fail: stop
 * roostd first). The target is migrated to the current schema first and
 * must hold no rows. Tables go in the order of their references; after the
 * copy, every identity sequence continues after the largest id moved, each
 * table's row count is compared, and only then is the target committed.
 * The source is never written. A table this file does not know (a newer
 * migration that forgot it here) stops the move before anything is copied.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "migrate.h"
#include "store.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

/* Every table of the schema, each after those it references. */
static const char *const tables[] = {
	"repos",         "hosts",          "enroll_tokens", "source_groups", "schedules",
	"schedule_groups", "jobs",         "pending_runs",  "fires",         "group_success",
	"maintenance",   "host_sessions",  "host_health",   "events",        "webhooks",
	"users",         "sessions",       "login_failures", "instances",     "leases",
};
#define NTABLES (sizeof(tables) / sizeof(tables[0]))

struct column {
	char name[64];
	char type; /* 'i' integer, 'b' blob, 't' text (anything else) */
};

static void usage(FILE *f)
{
	fputs("usage: roostd migrate --from sqlite:PATH --to postgresql://USER:PASSWORD@HOST:PORT/DB\n"
	      "\n"
	      "Moves roostd's store from its SQLite file into an empty PostgreSQL database:\n"
	      "every row of every table, ids kept, checked by count, in one transaction.\n"
	      "Stop roostd first; then start it with --db postgresql://... The SQLite file\n"
	      "is only read and stays as it was.\n"
	      "\n"
	      "  --from sqlite:PATH   the store to read (roostd's default: DATA/roostd.db)\n"
	      "  --to URL             an empty PostgreSQL database (postgresql://...)\n"
	      "  --quiet              no progress lines\n"
	      "\n"
	      "Exit status: 0 moved, 1 failed (nothing committed), 2 usage or a target\n"
	      "that is not empty.\n",
	      f);
}

/* The columns of table t in the source, from SQLite's table_info. */
static int columns_of(struct store *src, const char *t, struct column *cols, int cap, int *n,
                      char *why, size_t wcap)
{
	char sql[128];
	snprintf(sql, sizeof(sql), "SELECT name, type FROM pragma_table_info('%s')", t);
	struct db_stmt *st = store_prepare(src, sql);
	if (!st) {
		snprintf(why, wcap, "%s: %s", t, store_errmsg(src));
		return -1;
	}
	*n = 0;
	int rc;
	while ((rc = db_step(st)) == DB_ROW) {
		if (*n == cap) {
			snprintf(why, wcap, "%s: more than %d columns", t, cap);
			db_finalize(st);
			return -1;
		}
		const char *name = db_col_text(st, 0), *type = db_col_text(st, 1);
		snprintf(cols[*n].name, sizeof(cols[*n].name), "%s", name ? name : "");
		cols[*n].type = type && !strcmp(type, "INTEGER") ? 'i'
		                : type && !strcmp(type, "BLOB")  ? 'b'
		                                                 : 't';
		(*n)++;
	}
	db_finalize(st);
	if (rc != DB_DONE || !*n) {
		snprintf(why, wcap, "%s: no columns (%s)", t, store_errmsg(src));
		return -1;
	}
	return 0;
}

static int64_t count_of(struct store *s, const char *t)
{
	char sql[128];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", t);
	struct db_stmt *st = store_prepare(s, sql);
	int64_t n = st && db_step(st) == DB_ROW ? db_col_int(st, 0) : -1;
	db_finalize(st);
	return n;
}

/* The source's own tables that this file does not move: 0, or -1 naming one. */
static int unknown_table(struct store *src, char *why, size_t wcap)
{
	struct db_stmt *st = store_prepare(src, "SELECT name FROM sqlite_master WHERE type = 'table' "
	                                        "AND name NOT LIKE 'sqlite_%' ORDER BY name");
	if (!st) {
		snprintf(why, wcap, "listing tables: %s", store_errmsg(src));
		return -1;
	}
	int bad = 0;
	while (!bad && db_step(st) == DB_ROW) {
		const char *name = db_col_text(st, 0);
		int known = 0;
		for (size_t i = 0; name && i < NTABLES; i++)
			known |= !strcmp(name, tables[i]);
		/* roost_order: a counter row here, a sequence there (order_on) */
		if (!known && name && strcmp(name, "roost_schema") != 0 &&
		    strcmp(name, "roost_order") != 0) {
			snprintf(why, wcap, "the source has a table roostd migrate does not know: %s", name);
			bad = 1;
		}
	}
	db_finalize(st);
	return bad ? -1 : 0;
}

/* Copies table t; its row count into *n. 0, or -1 with why. */
static int copy_table(struct store *src, struct store *dst, const char *t, int64_t *n, char *why,
                      size_t wcap)
{
	struct column cols[64];
	int nc;
	if (columns_of(src, t, cols, 64, &nc, why, wcap))
		return -1;
	char sel[4096], ins[4096];
	size_t a = (size_t)snprintf(sel, sizeof(sel), "SELECT ");
	size_t b = (size_t)snprintf(ins, sizeof(ins), "INSERT INTO %s (", t);
	for (int i = 0; i < nc && a < sizeof(sel) && b < sizeof(ins); i++) {
		a += (size_t)snprintf(sel + a, sizeof(sel) - a, "%s\"%s\"", i ? ", " : "", cols[i].name);
		b += (size_t)snprintf(ins + b, sizeof(ins) - b, "%s\"%s\"", i ? ", " : "", cols[i].name);
	}
	for (int i = 0; i < nc && b < sizeof(ins); i++)
		b += (size_t)snprintf(ins + b, sizeof(ins) - b, "%s", i ? ", ?" : ") VALUES (?");
	if (a >= sizeof(sel) || b + 2 >= sizeof(ins)) {
		snprintf(why, wcap, "%s: too many columns", t);
		return -1;
	}
	snprintf(ins + b, sizeof(ins) - b, ")");
	snprintf(sel + a, sizeof(sel) - a, " FROM %s ORDER BY rowid", t);
	struct db_stmt *r = store_prepare(src, sel), *w = store_prepare(dst, ins);
	if (!r || !w) {
		snprintf(why, wcap, "%s: %s", t, store_errmsg(r ? dst : src));
		db_finalize(r);
		db_finalize(w);
		return -1;
	}
	int rc;
	*n = 0;
	while ((rc = db_step(r)) == DB_ROW) {
		for (int i = 0; i < nc; i++) {
			if (db_col_is_null(r, i))
				db_bind_null(w, i + 1);
			else if (cols[i].type == 'i')
				db_bind_int(w, i + 1, db_col_int(r, i));
			else if (cols[i].type == 'b')
				db_bind_blob(w, i + 1, db_col_blob(r, i), db_col_bytes(r, i));
			else
				db_bind_text(w, i + 1, db_col_text(r, i));
		}
		if (db_step(w) != DB_DONE) {
			snprintf(why, wcap, "%s, row %lld: %s", t, (long long)*n + 1, store_errmsg(dst));
			break;
		}
		db_reset(w);
		(*n)++;
	}
	if (rc != DB_DONE && rc != DB_ROW)
		snprintf(why, wcap, "reading %s: %s", t, store_errmsg(src));
	db_finalize(r);
	db_finalize(w);
	return rc == DB_DONE ? 0 : -1;
}

/* The largest id table t ever gave in the source (AUTOINCREMENT keeps it
 * past deleted rows), else 0. */
static int64_t source_seq(struct store *src, const char *t)
{
	struct db_stmt *st = store_prepare(src, "SELECT seq FROM sqlite_sequence WHERE name = ?");
	if (!st) /* no AUTOINCREMENT table at all: no sqlite_sequence */
		return 0;
	db_bind_text(st, 1, t);
	int64_t v = db_step(st) == DB_ROW ? db_col_int(st, 0) : 0;
	db_finalize(st);
	return v;
}

/* Every identity sequence of the target continues after the largest id its
 * table gave in the source. */
static int sequences_on(struct store *src, struct store *dst, char *why, size_t wcap)
{
	static const char sql[] =
	    "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
	    "JOIN pg_namespace n ON n.oid = c.relnamespace "
	    "WHERE a.attidentity <> '' AND n.nspname = current_schema() ORDER BY 1";
	struct db_stmt *st = store_prepare(dst, sql);
	if (!st) {
		snprintf(why, wcap, "identities: %s", store_errmsg(dst));
		return -1;
	}
	char names[64][2][64];
	int n = 0;
	while (n < 64 && db_step(st) == DB_ROW) {
		snprintf(names[n][0], 64, "%s", db_col_text(st, 0));
		snprintf(names[n][1], 64, "%s", db_col_text(st, 1));
		n++;
	}
	db_finalize(st);
	for (int i = 0; i < n; i++) {
		char q[512];
		/* setval(seq, max, true): the next id is max + 1; an empty table starts at 1 */
		snprintf(q, sizeof(q),
		         "SELECT setval(pg_get_serial_sequence('%.63s', '%.63s'), "
		         "GREATEST(COALESCE((SELECT max(\"%.63s\") FROM %.63s), 0), ?) + 1, false)",
		         names[i][0], names[i][1], names[i][1], names[i][0]);
		struct db_stmt *s2 = store_prepare(dst, q);
		if (s2)
			db_bind_int(s2, 1, source_seq(src, names[i][0]));
		int ok = s2 && db_step(s2) == DB_ROW;
		db_finalize(s2);
		if (!ok) {
			snprintf(why, wcap, "the id sequence of %.63s: %.400s", names[i][0],
			         store_errmsg(dst));
			return -1;
		}
	}
	return 0;
}

/* The target's roost_order (a sequence) continues after the source's counter
 * row and every order_seq copied. */
static int order_on(struct store *src, struct store *dst, char *why, size_t wcap)
{
	struct db_stmt *st = store_prepare(src, "SELECT value FROM roost_order WHERE id = 1");
	int64_t v = st && db_step(st) == DB_ROW ? db_col_int(st, 0) : 0;
	db_finalize(st);
	st = store_prepare(dst, "SELECT setval('roost_order', GREATEST(?, (SELECT COALESCE(max("
	                        "order_seq), 0) FROM jobs)) + 1, false)");
	if (st)
		db_bind_int(st, 1, v);
	int ok = st && db_step(st) == DB_ROW;
	db_finalize(st);
	if (!ok)
		snprintf(why, wcap, "the sequence roost_order: %.400s", store_errmsg(dst));
	return ok ? 0 : -1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The URL without its password, for messages. */
static void redact(const char *url, char *out, size_t cap)
{
	const char *at = strchr(url, '@'), *scheme = strstr(url, "://");
	const char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
	if (at && colon && colon < at)
		snprintf(out, cap, "%.*s:***%s", (int)(colon - url), url, at);
	else
		snprintf(out, cap, "%s", url);
}

int migrate_main(int argc, char **argv)
{
	const char *from = NULL, *to = NULL;
	int quiet = 0;
	static const struct option opts[] = {
		{"from", required_argument, 0, 'f'},
		{"to", required_argument, 0, 't'},
		{"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': from = optarg; break;
		case 't': to = optarg; break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (!from || !to || optind < argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strncmp(from, "sqlite:", 7) != 0 || !from[7]) {
		fprintf(stderr, "roostd migrate: --from must be sqlite:PATH (got %s)\n", from);
		return EXIT_USAGE;
	}
	if (strncmp(to, "postgresql://", 13) != 0 && strncmp(to, "postgres://", 11) != 0) {
		fprintf(stderr, "roostd migrate: --to must be postgresql://... (got %s)\n", to);
		return EXIT_USAGE;
	}
	char shown[400];
	redact(to, shown, sizeof(shown));
	struct roost_errbuf eb;
	struct store *src = NULL, *dst = NULL;
	FILE *f = fopen(from + 7, "rb"); /* store_open would make a missing file */
	if (!f) {
		fprintf(stderr, "roostd migrate: %s: no such store file\n", from + 7);
		return EXIT_FAIL;
	}
	fclose(f);
	if (store_connect(from, &src, &eb)) { /* no migration: the source is only read */
		fprintf(stderr, "roostd migrate: the source: %s\n", eb.msg);
		return EXIT_FAIL;
	}
	int rc = EXIT_FAIL;
	char why[2048] = "";
	int src_tx = 0, dst_tx = 0;
	if (store_begin(src)) { /* one instant, and no roostd writing meanwhile */
		snprintf(why, sizeof(why), "the source is busy (is roostd still running on it? stop "
		                           "it first): %s", store_errmsg(src));
		goto out;
	}
	src_tx = 1;
	struct db_stmt *vs = store_prepare(src, "PRAGMA user_version");
	int sv = vs && db_step(vs) == DB_ROW ? (int)db_col_int(vs, 0) : -1;
	db_finalize(vs);
	if (sv != store_schema_latest()) {
		snprintf(why, sizeof(why), sv > store_schema_latest() || sv < 0
		         ? "the source's schema (version %d) is not one this roostd knows (%d): "
		           "migrate with the roostd that wrote it"
		         : "the source's schema is version %d, this roostd's %d: start this roostd "
		           "once on the SQLite store (it brings it up to date), stop it, then migrate",
		         sv, store_schema_latest());
		goto out;
	}
	if (unknown_table(src, why, sizeof(why)))
		goto out;
	if (store_open(to, &dst, &eb)) {
		snprintf(why, sizeof(why), "the target %s: %s", shown, eb.msg);
		goto out;
	}
	for (size_t i = 0; i < NTABLES; i++) {
		int64_t n = count_of(dst, tables[i]);
		if (n != 0) {
			if (n < 0)
				snprintf(why, sizeof(why), "the target %s: %s", shown, store_errmsg(dst));
			else {
				fprintf(stderr, "roostd migrate: the target %s is not empty (%s holds %lld "
				                "rows): migrate moves a store into an empty database\n",
				        shown, tables[i], (long long)n);
				rc = EXIT_USAGE;
			}
			goto out;
		}
	}
	if (store_begin(dst)) {
		snprintf(why, sizeof(why), "the target %s: %s", shown, store_errmsg(dst));
		goto out;
	}
	dst_tx = 1;
	double t0 = now_s();
	int64_t total = 0;
	for (size_t i = 0; i < NTABLES; i++) {
		int64_t n;
		if (copy_table(src, dst, tables[i], &n, why, sizeof(why)))
			goto out;
		int64_t want = count_of(src, tables[i]), got = count_of(dst, tables[i]);
		if (want != n || got != n) {
			snprintf(why, sizeof(why), "%s: %lld rows in the source, %lld copied, %lld in the "
			         "target", tables[i], (long long)want, (long long)n, (long long)got);
			goto out;
		}
		total += n;
		if (!quiet)
			fprintf(stderr, "%-16s %lld rows\n", tables[i], (long long)n);
	}
	if (sequences_on(src, dst, why, sizeof(why)) || order_on(src, dst, why, sizeof(why)))
		goto out;
	if (store_exec(dst, "COMMIT")) {
		snprintf(why, sizeof(why), "committing the target: %s", store_errmsg(dst));
		goto out;
	}
	dst_tx = 0;
	printf("moved %lld rows of %zu tables from %s to %s in %.1f s; start roostd with --db %s\n",
	       (long long)total, NTABLES, from, shown, now_s() - t0, shown);
	rc = EXIT_OK;
out:
	if (dst_tx)
		store_exec(dst, "ROLLBACK");
	if (src_tx)
		store_exec(src, "ROLLBACK"); /* read only: nothing to keep */
	if (rc == EXIT_FAIL && why[0])
		fprintf(stderr, "roostd migrate: %s; nothing was committed\n", why);
	store_close(dst);
	store_close(src);
	return rc;
}
