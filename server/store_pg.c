/* SPDX-License-Identifier: MIT */
/*
 * The PostgreSQL engine of the store (store_drv.h), over libpq: one
 * connection from a postgresql:// URL; a statement is its text with
 * SQLite's '?' placeholders renumbered $1.., sent with its parameters in
 * one round trip (PQexecParams: parameters as text, blobs as binary, types
 * inferred by the server), rows read as text. The schema
 * version lives in the table roost_schema; the migrations are the common
 * ones translated (INTEGER -> BIGINT, an id INTEGER PRIMARY KEY -> an
 * identity, BLOB -> BYTEA), with PostgreSQL's own text where SQLite's
 * would not do (a trigger, a table rebuilt for a CHECK).
 */
#include <ctype.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roost/log.h"
#include "store_drv.h"

#define BYTEAOID 17
#define BOOLOID 16

struct pg_store {
	struct store base;
	PGconn *c;
	char err[512];
	int64_t changes;
};

struct pg_stmt {
	struct db_stmt base;
	char *sql;    /* as asked (with '?') */
	char *text;   /* as sent (with $1..) */
	int nparams;
	char **vals;  /* parameter texts (or blob bytes), malloc'd; NULL = null */
	int *lens;
	int *fmts;    /* 0 text, 1 binary */
	PGresult *res;
	int row, nrows; /* the current row; -1 before the first step */
	int done;       /* executed (rows or not) */
	unsigned char *blob; /* the current row's last decoded bytea */
	size_t blob_len;
	int blob_row, blob_col;
};

static struct pg_store *pgs(struct store *s)
{
	return (struct pg_store *)s;
}

static struct pg_stmt *pgq(struct db_stmt *st)
{
	return (struct pg_stmt *)st;
}

/* The first line of libpq's message into the store's error. */
static void set_err(struct pg_store *s, const char *msg)
{
	snprintf(s->err, sizeof(s->err), "%s", msg && *msg ? msg : "unknown PostgreSQL error");
	char *nl = strchr(s->err, '\n');
	if (nl)
		*nl = 0;
}

static const char *pg_errmsg(struct store *s)
{
	return pgs(s)->err[0] ? pgs(s)->err : "no error";
}

/* A result's outcome: 0 (rows or a command done), or -1 with the error kept. */
static int result_ok(struct pg_store *s, PGresult *r)
{
	ExecStatusType t = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK) {
		const char *n = PQcmdTuples(r);
		if (n && *n)
			s->changes = strtoll(n, NULL, 10);
		return 0;
	}
	set_err(s, r ? PQresultErrorMessage(r) : PQerrorMessage(s->c));
	return -1;
}

static int pg_exec(struct store *s, const char *sql)
{
	PGresult *r = PQexec(pgs(s)->c, sql);
	int rc = result_ok(pgs(s), r);
	PQclear(r);
	return rc;
}

static int64_t pg_changes(struct store *s)
{
	return pgs(s)->changes;
}

static int64_t pg_last_id(struct store *s)
{
	/* the sequence of the identity the last INSERT drew from */
	PGresult *r = PQexec(pgs(s)->c, "SELECT lastval()");
	int64_t id = 0;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return id;
}

static int pg_get_version(struct store *s, int *v)
{
	*v = 0;
	PGresult *r = PQexec(pgs(s)->c, "SELECT to_regclass('roost_schema') IS NOT NULL");
	if (result_ok(pgs(s), r)) {
		PQclear(r);
		return -1;
	}
	int have = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	if (!have)
		return 0;
	r = PQexec(pgs(s)->c, "SELECT max(version) FROM roost_schema");
	if (result_ok(pgs(s), r)) {
		PQclear(r);
		return -1;
	}
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		*v = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

static int pg_set_version(struct store *s, int v)
{
	char sql[160];
	snprintf(sql, sizeof(sql), "CREATE TABLE IF NOT EXISTS roost_schema (version INTEGER NOT NULL);"
	                           "DELETE FROM roost_schema; INSERT INTO roost_schema VALUES (%d);", v);
	return pg_exec(s, sql);
}

/* Appends n bytes of p to the growing string *o (length *len, room *cap). */
static int put(char **o, size_t *len, size_t *cap, const char *p, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t nc = (*len + n + 1) * 2;
		char *no = realloc(*o, nc);
		if (!no)
			return -1;
		*o = no;
		*cap = nc;
	}
	memcpy(*o + *len, p, n);
	*len += n;
	(*o)[*len] = 0;
	return 0;
}

/* sql with '?' and '?NNN' outside quotes and comments as $1..; *n the count.
 * malloc'd, NULL when out of memory. */
static char *renumber(const char *sql, int *n)
{
	size_t len = 0, cap = strlen(sql) + 32;
	char *o = malloc(cap);
	if (!o)
		return NULL;
	o[0] = 0;
	*n = 0;
	for (const char *p = sql; *p;) {
		if (*p == '\'' || *p == '"') { /* a literal or a quoted name, '' and "" doubled */
			const char *e = p + 1;
			while (*e && !(*e == *p && e[1] != *p))
				e += *e == *p ? 2 : 1;
			if (*e)
				e++;
			if (put(&o, &len, &cap, p, (size_t)(e - p)))
				goto oom;
			p = e;
		} else if (*p == '-' && p[1] == '-') {
			const char *e = strchr(p, '\n');
			e = e ? e : p + strlen(p);
			if (put(&o, &len, &cap, p, (size_t)(e - p)))
				goto oom;
			p = e;
		} else if (*p == '?') { /* ?NNN as SQLite numbers it; a bare ? is the largest + 1 */
			char num[16], *e;
			long k = strtol(p + 1, &e, 10);
			if (!isdigit((unsigned char)p[1]) || k < 1 || k > 32766) {
				k = *n + 1;
				e = (char *)p + 1;
			}
			if (k > *n)
				*n = (int)k;
			int w = snprintf(num, sizeof(num), "$%ld", k);
			if (put(&o, &len, &cap, num, (size_t)w))
				goto oom;
			p = e;
		} else {
			if (put(&o, &len, &cap, p, 1))
				goto oom;
			p++;
		}
	}
	return o;
oom:
	free(o);
	return NULL;
}

static void clear_result(struct pg_stmt *q)
{
	PQclear(q->res);
	q->res = NULL;
	q->row = -1;
	q->nrows = 0;
	q->done = 0;
	PQfreemem(q->blob);
	q->blob = NULL;
	q->blob_len = 0;
}

static struct db_stmt *pg_prepare(struct store *s, const char *sql)
{
	struct pg_store *ps = pgs(s);
	int n;
	char *text = renumber(sql, &n);
	struct pg_stmt *q = calloc(1, sizeof(*q));
	if (!text || !q || !(q->sql = strdup(sql)) ||
	    (n && (!(q->vals = calloc((size_t)n, sizeof(*q->vals))) ||
	           !(q->lens = calloc((size_t)n, sizeof(*q->lens))) ||
	           !(q->fmts = calloc((size_t)n, sizeof(*q->fmts)))))) {
		set_err(ps, "out of memory");
		goto fail;
	}
	q->text = text;
	q->base.s = s;
	q->nparams = n;
	q->row = -1;
	return &q->base;
fail:
	free(text);
	if (q) {
		free(q->sql);
		free(q->vals);
		free(q->lens);
		free(q->fmts);
		free(q);
	}
	return NULL;
}

static int pg_param_count(struct db_stmt *st)
{
	return pgq(st)->nparams;
}

/* Parameter i (1-based) := n bytes of p in format fmt (p NULL: null). */
static void bind(struct db_stmt *st, int i, const void *p, size_t n, int fmt)
{
	struct pg_stmt *q = pgq(st);
	if (i < 1 || i > q->nparams)
		return;
	free(q->vals[i - 1]);
	q->vals[i - 1] = NULL;
	if (!p)
		return;
	q->vals[i - 1] = malloc(n + 1);
	if (!q->vals[i - 1])
		return; /* sent as null: the statement's constraints refuse it */
	memcpy(q->vals[i - 1], p, n);
	q->vals[i - 1][n] = 0;
	q->lens[i - 1] = (int)n;
	q->fmts[i - 1] = fmt;
}

static void pg_bind_int(struct db_stmt *st, int i, int64_t v)
{
	char num[24];
	int k = snprintf(num, sizeof(num), "%lld", (long long)v);
	bind(st, i, num, (size_t)k, 0);
}

static void pg_bind_text(struct db_stmt *st, int i, const char *v)
{
	bind(st, i, v, v ? strlen(v) : 0, 0);
}

static void pg_bind_blob(struct db_stmt *st, int i, const void *p, size_t n)
{
	bind(st, i, p ? p : "", n, 1);
}

static void pg_bind_null(struct db_stmt *st, int i)
{
	bind(st, i, NULL, 0, 0);
}

static int pg_step(struct db_stmt *st)
{
	struct pg_stmt *q = pgq(st);
	struct pg_store *ps = pgs(st->s);
	if (!q->done) {
		q->res = PQexecParams(ps->c, q->text, q->nparams, NULL, (const char *const *)q->vals,
		                      q->lens, q->fmts, 0);
		q->done = 1;
		if (result_ok(ps, q->res)) {
			log_error("store.error", "op=query msg=%s sql=%s", roost_lq(ps->err),
			          roost_lq(q->sql));
			return DB_ERROR;
		}
		q->nrows = PQresultStatus(q->res) == PGRES_TUPLES_OK ? PQntuples(q->res) : 0;
	}
	if (q->row + 1 >= q->nrows) {
		q->row = q->nrows;
		return DB_DONE;
	}
	q->row++;
	return DB_ROW;
}

static int in_row(struct pg_stmt *q, int i)
{
	return q->res && q->row >= 0 && q->row < q->nrows && i >= 0 && i < PQnfields(q->res);
}

static int pg_col_is_null(struct db_stmt *st, int i)
{
	struct pg_stmt *q = pgq(st);
	return !in_row(q, i) || PQgetisnull(q->res, q->row, i);
}

static const char *pg_col_text(struct db_stmt *st, int i)
{
	struct pg_stmt *q = pgq(st);
	return pg_col_is_null(st, i) ? NULL : PQgetvalue(q->res, q->row, i);
}

static int64_t pg_col_int(struct db_stmt *st, int i)
{
	const char *t = pg_col_text(st, i);
	if (!t)
		return 0;
	if (PQftype(pgq(st)->res, i) == BOOLOID)
		return t[0] == 't';
	return strtoll(t, NULL, 10);
}

/* Column i's bytes: a bytea decoded (kept until the next step), else its text. */
static const void *blob_of(struct db_stmt *st, int i, size_t *n)
{
	struct pg_stmt *q = pgq(st);
	*n = 0;
	const char *t = pg_col_text(st, i);
	if (!t)
		return NULL;
	if (PQftype(q->res, i) != BYTEAOID) {
		*n = strlen(t);
		return t;
	}
	if (!q->blob || q->blob_row != q->row || q->blob_col != i) {
		PQfreemem(q->blob);
		q->blob = PQunescapeBytea((const unsigned char *)t, &q->blob_len);
		q->blob_row = q->row;
		q->blob_col = i;
	}
	*n = q->blob ? q->blob_len : 0;
	return q->blob;
}

static const void *pg_col_blob(struct db_stmt *st, int i)
{
	size_t n;
	return blob_of(st, i, &n);
}

static size_t pg_col_bytes(struct db_stmt *st, int i)
{
	size_t n;
	blob_of(st, i, &n);
	return n;
}

static void pg_reset(struct db_stmt *st)
{
	struct pg_stmt *q = pgq(st);
	clear_result(q);
	for (int i = 0; i < q->nparams; i++) {
		free(q->vals[i]);
		q->vals[i] = NULL;
	}
}

static void pg_finalize(struct db_stmt *st)
{
	struct pg_stmt *q = pgq(st);
	pg_reset(st);
	free(q->text);
	free(q->sql);
	free(q->vals);
	free(q->lens);
	free(q->fmts);
	free(q);
}

static const char *pg_sql(struct db_stmt *st)
{
	return pgq(st)->sql;
}

static void pg_close(struct store *s)
{
	PQfinish(pgs(s)->c);
	free(s);
}

/* What a failed connection means, for the one line roostd exits with. */
static const char *why_not(const char *msg)
{
	if (strstr(msg, "password authentication failed") || strstr(msg, "authentication failed") ||
	    strstr(msg, "no password supplied") || strstr(msg, "no pg_hba.conf entry"))
		return "authentication failed";
	if (strstr(msg, "database \"") && strstr(msg, "does not exist"))
		return "database missing";
	if (strstr(msg, "role \"") && strstr(msg, "does not exist"))
		return "authentication failed (no such role)";
	if (strstr(msg, "invalid") || strstr(msg, "missing \"=\"") || strstr(msg, "URI"))
		return "bad URL";
	return "server unreachable";
}

/* libpq's message on one line (it ends lines with \n and may hold several). */
static void one_line(char *m)
{
	size_t n = strlen(m);
	while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
		m[--n] = 0;
	for (char *p = m; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

static void no_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static enum roost_err pg_open(const char *url, int migrate, struct store **out,
                              struct roost_errbuf *eb)
{
	(void)migrate;
	*out = NULL;
	struct pg_store *s = calloc(1, sizeof(*s));
	if (!s)
		return roost_errf(eb, ROOST_ENOMEM, "store: out of memory");
	s->base.ops = &store_pg_ops;
	s->c = PQconnectdb(url);
	if (!s->c || PQstatus(s->c) != CONNECTION_OK) {
		char msg[400];
		snprintf(msg, sizeof(msg), "%s", s->c ? PQerrorMessage(s->c) : "out of memory");
		one_line(msg);
		enum roost_err err = roost_errf(eb, strstr(why_not(msg), "authentication")
		                                        ? ROOST_EAUTH : ROOST_EIO,
		                                "store: PostgreSQL: %s: %s", why_not(msg), msg);
		pg_close(&s->base);
		return err;
	}
	/* quiet: NOTICEs (a CREATE ... IF NOT EXISTS) go nowhere, not stderr */
	PQsetNoticeProcessor(s->c, no_notice, NULL);
	if (pg_exec(&s->base, "SET client_min_messages = warning; SET TIME ZONE 'UTC'")) {
		enum roost_err err = roost_errf(eb, ROOST_EIO, "store: PostgreSQL: configure: %s",
		                                s->err);
		pg_close(&s->base);
		return err;
	}
	*out = &s->base;
	return ROOST_OK;
}

/* ---- the schema in PostgreSQL's dialect ---- */

/* Replaces every whole-word occurrence of from (case-sensitive) by to. */
static char *replace_word(char *in, const char *from, const char *to)
{
	if (!in)
		return NULL;
	size_t fl = strlen(from), tl = strlen(to), len = 0, cap = strlen(in) + 64;
	char *o = malloc(cap);
	if (!o) {
		free(in);
		return NULL;
	}
	o[0] = 0;
	for (const char *p = in; *p;) {
		int word = !strncmp(p, from, fl) && (p == in || !(isalnum((unsigned char)p[-1]) ||
		                                                  p[-1] == '_')) &&
		           !(isalnum((unsigned char)p[fl]) || p[fl] == '_');
		if (word ? put(&o, &len, &cap, to, tl) : put(&o, &len, &cap, p, 1)) {
			free(o);
			free(in);
			return NULL;
		}
		p += word ? fl : 1;
	}
	free(in);
	return o;
}

/* Migration 3's trigger: a schedule's created_at, when not given, is now. */
static const char m3_created_at[] =
	"ALTER TABLE schedules ADD COLUMN created_at BIGINT"
	"  DEFAULT (CAST(extract(epoch FROM now()) AS BIGINT));";

/* Migration 8 rebuilt jobs for its CHECK; PostgreSQL changes the constraint. */
static const char m8_pg[] =
	"ALTER TABLE schedules ADD COLUMN \"window\" TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE hosts ADD COLUMN skip_on_battery BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE hosts ADD COLUMN skip_on_metered BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE hosts ADD COLUMN on_battery BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE hosts ADD COLUMN metered BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;"
	"ALTER TABLE jobs ADD CONSTRAINT jobs_status_check CHECK (status IN ('deferred', 'queued',"
	"  'running', 'succeeded', 'failed', 'canceled', 'interrupted'));";

static char *translated[64];

static void free_translated(void)
{
	for (size_t i = 0; i < sizeof(translated) / sizeof(translated[0]); i++) {
		free(translated[i]);
		translated[i] = NULL;
	}
}

static const char *pg_migration(int m)
{
	if (m == 8)
		return m8_pg;
	if (m < 1 || m > (int)(sizeof(translated) / sizeof(translated[0])))
		return NULL;
	if (translated[m - 1])
		return translated[m - 1];
	const char *common = store_migration_sql(m);
	char *t = common ? strdup(common) : NULL;
	if (m == 3 && t) { /* the trigger becomes a default */
		char *trig = strstr(t, "ALTER TABLE schedules ADD COLUMN created_at INTEGER;");
		if (!trig) {
			free(t);
			return NULL;
		}
		*trig = 0;
		size_t n = strlen(t);
		char *nt = realloc(t, n + sizeof(m3_created_at));
		if (!nt) {
			free(t);
			return NULL;
		}
		t = nt;
		memcpy(t + n, m3_created_at, sizeof(m3_created_at));
	}
	t = replace_word(t, "INTEGER PRIMARY KEY AUTOINCREMENT",
	                 "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
	t = replace_word(t, "id INTEGER PRIMARY KEY",
	                 "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
	t = replace_word(t, "INTEGER", "BIGINT");
	t = replace_word(t, "BLOB", "BYTEA");
	static int registered;
	if (!registered && t) {
		atexit(free_translated);
		registered = 1;
	}
	translated[m - 1] = t;
	return t;
}

const struct store_ops store_pg_ops = {
	.engine = STORE_PG,
	.open = pg_open,
	.close = pg_close,
	.errmsg = pg_errmsg,
	.exec = pg_exec,
	.changes = pg_changes,
	.last_id = pg_last_id,
	.get_version = pg_get_version,
	.set_version = pg_set_version,
	.begin = "BEGIN",
	.begin_read = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
	/* events.id's are given by events.c (never deleted): its largest is enough */
	.events_seq_sql = "SELECT 0",
	/* a session lock, any key of roost's own ("roostmig") */
	.migrate_lock = "SELECT pg_advisory_lock(8247613042556422503)",
	.migrate_unlock = "SELECT pg_advisory_unlock(8247613042556422503)",
	.migration = pg_migration,
	.prepare = pg_prepare,
	.param_count = pg_param_count,
	.bind_int = pg_bind_int,
	.bind_text = pg_bind_text,
	.bind_blob = pg_bind_blob,
	.bind_null = pg_bind_null,
	.step = pg_step,
	.col_int = pg_col_int,
	.col_text = pg_col_text,
	.col_blob = pg_col_blob,
	.col_bytes = pg_col_bytes,
	.col_is_null = pg_col_is_null,
	.reset = pg_reset,
	.finalize = pg_finalize,
	.sql = pg_sql,
};
