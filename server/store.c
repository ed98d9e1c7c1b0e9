/* SPDX-License-Identifier: MIT */
/*
 * The store's engine-neutral half: choosing the engine by URL, applying the
 * numbered migrations (their text is store_schema.c), the statement cache,
 * and the calls of store.h handed to the engine's operations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roost/log.h"
#include "store_drv.h"

/* The engine of url into *ops, and what follows its scheme. */
static enum roost_err engine_of(const char *url, const struct store_ops **ops,
                                const char **target, struct roost_errbuf *eb)
{
	if (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11)) {
		*target = url;
#ifdef ROOST_HAVE_PG
		*ops = &store_pg_ops;
		return ROOST_OK;
#else
		return roost_errf(eb, ROOST_ENOTSUP, "store: this roostd was built without PostgreSQL");
#endif
	}
	*target = !strncmp(url, "sqlite:", 7) ? url + 7 : url;
	if (!**target)
		return roost_errf(eb, ROOST_EINVAL, "store: %s: no path", url);
	*ops = &store_sqlite_ops;
	return ROOST_OK;
}

/* A name of the store for messages: the path, never a URL's password. */
static const char *shown(const struct store_ops *ops, const char *target)
{
	return ops->engine == STORE_SQLITE ? target : "the PostgreSQL database";
}

static enum roost_err migrate_locked(struct store *s, const char *name,
                                     struct roost_errbuf *eb);

static enum roost_err migrate(struct store *s, const char *name, struct roost_errbuf *eb)
{
	if (s->ops->migrate_lock && s->ops->exec(s, s->ops->migrate_lock))
		return roost_errf(eb, ROOST_EIO, "store: lock for migrations: %s", store_errmsg(s));
	enum roost_err err = migrate_locked(s, name, eb);
	if (s->ops->migrate_unlock)
		s->ops->exec(s, s->ops->migrate_unlock);
	return err;
}

static enum roost_err migrate_locked(struct store *s, const char *name,
                                     struct roost_errbuf *eb)
{
	int v;
	if (s->ops->get_version(s, &v))
		return roost_errf(eb, ROOST_EIO, "store: read schema version: %s", store_errmsg(s));
	if (v > store_schema_latest())
		return roost_errf(eb, ROOST_ENOTSUP,
		                  "store: %s has schema version %d, newer than this roostd knows (%d); "
		                  "refusing to touch it", name, v, store_schema_latest());
	for (int m = v + 1; m <= store_schema_latest(); m++) {
		const char *sql = s->ops->migration ? s->ops->migration(m) : NULL;
		if (s->ops->exec(s, s->ops->begin) ||
		    s->ops->exec(s, sql ? sql : store_migration_sql(m)) || s->ops->set_version(s, m)) {
			enum roost_err err = roost_errf(eb, ROOST_EIO, "store: migration %d: %s", m,
			                                store_errmsg(s));
			s->ops->exec(s, "ROLLBACK");
			return err;
		}
		if (s->ops->exec(s, "COMMIT"))
			return roost_errf(eb, ROOST_EIO, "store: commit migration %d: %s", m,
			                  store_errmsg(s));
	}
	s->version = store_schema_latest();
	return ROOST_OK;
}

enum roost_err store_open(const char *url, struct store **out, struct roost_errbuf *eb)
{
	*out = NULL;
	const char *target;
	const struct store_ops *ops;
	enum roost_err err = engine_of(url, &ops, &target, eb);
	if (err)
		return err;
	struct store *s;
	err = ops->open(target, 1, &s, eb);
	if (err)
		return err;
	err = migrate(s, shown(ops, target), eb);
	if (err) {
		store_close(s);
		return err;
	}
	*out = s;
	return ROOST_OK;
}

enum roost_err store_connect(const char *url, struct store **out, struct roost_errbuf *eb)
{
	*out = NULL;
	const char *target;
	const struct store_ops *ops;
	enum roost_err err = engine_of(url, &ops, &target, eb);
	if (err)
		return err;
	struct store *s;
	err = ops->open(target, 0, &s, eb);
	if (err)
		return err;
	s->version = store_schema_latest();
	*out = s;
	return ROOST_OK;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ncache; i++)
		s->ops->finalize(s->cache[i].st);
	s->ncache = 0;
	s->ops->close(s);
}

int store_version(const struct store *s)
{
	return s->version;
}

enum store_engine store_engine(const struct store *s)
{
	return s->ops->engine;
}

const char *store_errmsg(struct store *s)
{
	return s->ops->errmsg(s);
}

int store_exec(struct store *s, const char *sql)
{
	return s->ops->exec(s, sql);
}

int store_begin(struct store *s)
{
	return s->ops->exec(s, s->ops->begin);
}

int store_begin_read(struct store *s)
{
	return s->ops->exec(s, s->ops->begin_read);
}

int store_socket(struct store *s)
{
	return s && s->ops->socket ? s->ops->socket(s) : -1;
}

int store_revive(struct store *s)
{
	return s && s->ops->revive ? s->ops->revive(s) : 0;
}

int store_in_tx(struct store *s)
{
	return s && s->ops->in_tx ? s->ops->in_tx(s) : 0;
}

int store_notifications(struct store *s, store_notify_fn fn, void *arg)
{
	return s && s->ops->notifications ? s->ops->notifications(s, fn, arg) : -1;
}

const char *store_events_seq_sql(const struct store *s)
{
	return s->ops->events_seq_sql;
}

int64_t store_changes(struct store *s)
{
	return s->ops->changes(s);
}

int64_t store_last_id(struct store *s)
{
	return s->ops->last_id(s);
}

struct db_stmt *store_prepare(struct store *s, const char *sql)
{
	return s->ops->prepare(s, sql);
}

struct db_stmt *store_prepare_cached(struct store *s, const char *sql)
{
	for (size_t i = 0; i < s->ncache; i++)
		if (!s->cache[i].busy && !strcmp(s->ops->sql(s->cache[i].st), sql)) {
			s->cache[i].busy = 1;
			return s->cache[i].st;
		}
	struct db_stmt *st = s->ops->prepare(s, sql);
	if (!st)
		return NULL;
	if (s->ncache < STORE_CACHE) {
		s->cache[s->ncache].st = st;
		s->cache[s->ncache++].busy = 1;
		return st;
	}
	/* full (the statements of start-up came first): an idle one makes room,
	 * so that what is asked all the time ends up cached */
	for (size_t k = 0; k < STORE_CACHE; k++) {
		size_t i = (s->cache_next + k) % STORE_CACHE;
		if (!s->cache[i].busy) {
			s->ops->finalize(s->cache[i].st);
			s->cache[i].st = st;
			s->cache[i].busy = 1;
			s->cache_next = (i + 1) % STORE_CACHE;
			break;
		}
	}
	return st;
}

void store_give_back(struct store *s, struct db_stmt *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < s->ncache; i++)
		if (s->cache[i].st == st) {
			s->ops->reset(st);
			s->cache[i].busy = 0;
			return;
		}
	s->ops->finalize(st);
}

int db_param_count(struct db_stmt *st)
{
	return st->s->ops->param_count(st);
}

void db_bind_int(struct db_stmt *st, int i, int64_t v)
{
	st->s->ops->bind_int(st, i, v);
}

void db_bind_text(struct db_stmt *st, int i, const char *v)
{
	st->s->ops->bind_text(st, i, v);
}

void db_bind_blob(struct db_stmt *st, int i, const void *p, size_t n)
{
	st->s->ops->bind_blob(st, i, p, n);
}

void db_bind_null(struct db_stmt *st, int i)
{
	st->s->ops->bind_null(st, i);
}

int db_step(struct db_stmt *st)
{
	return st->s->ops->step(st);
}

int64_t db_col_int(struct db_stmt *st, int i)
{
	return st->s->ops->col_int(st, i);
}

const char *db_col_text(struct db_stmt *st, int i)
{
	return st->s->ops->col_text(st, i);
}

const void *db_col_blob(struct db_stmt *st, int i)
{
	return st->s->ops->col_blob(st, i);
}

size_t db_col_bytes(struct db_stmt *st, int i)
{
	return st->s->ops->col_bytes(st, i);
}

int db_col_is_null(struct db_stmt *st, int i)
{
	return st->s->ops->col_is_null(st, i);
}

void db_reset(struct db_stmt *st)
{
	st->s->ops->reset(st);
}

/* a statement of the cache goes back to it (db_q's are cached) */
void db_finalize(struct db_stmt *st)
{
	if (st)
		store_give_back(st->s, st);
}

const char *db_stmt_sql(struct db_stmt *st)
{
	return st->s->ops->sql(st);
}
