/* SPDX-License-Identifier: MIT */
/*
 * Leases over the store (leases.h; docs/scale-out.md, 2.5). The acquire:
 *
 *   UPDATE leases SET epoch = epoch + (holder is not me), holder = me,
 *          expires_at = roost_now() + ttl
 *    WHERE name = ? AND (holder = me OR expires_at < roost_now())
 *   RETURNING epoch
 *
 * one statement, so two instances asking at once get one row each way:
 * one holds, the other sees no row. Times are the database's only.
 */
#include <stdarg.h>
#include <stdlib.h>

#include "leases.h"
#include "roostd.h"

/* A statement on s (NULL: the loop's) with its parameters bound by types
 * ('i' int64, 't' text); NULL on failure. */
static struct db_stmt *q(struct store *s, const char *sql, const char *types, ...)
{
	struct db_stmt *st = store_prepare(s ? s : g_srv->st, sql);
	if (!st)
		return NULL;
	va_list ap;
	va_start(ap, types);
	for (int i = 0; types[i]; i++) {
		if (types[i] == 'i')
			db_bind_int(st, i + 1, va_arg(ap, int64_t));
		else
			db_bind_text(st, i + 1, va_arg(ap, const char *));
	}
	va_end(ap);
	return st;
}

/* The first row's first column, dflt without one, -1 when the store failed. */
static int64_t one(struct db_stmt *st, int64_t dflt)
{
	if (!st)
		return -1;
	int rc = db_step(st);
	int64_t v = rc == DB_ROW ? db_col_int(st, 0) : rc == DB_DONE ? dflt : -1;
	db_finalize(st);
	return v;
}

int64_t leases_ttl(void)
{
	const char *v = getenv("ROOSTD_LEASE_TTL_S");
	long long n = v ? atoll(v) : 0;
	return n > 0 && n <= 86400 ? n : LEASE_TTL_S;
}

int64_t leases_acquire_on(struct store *s, const char *name, int64_t me, int64_t ttl_s)
{
	one(q(s, "INSERT INTO leases (name) VALUES (?) ON CONFLICT DO NOTHING", "t", name), 0);
	return one(q(s, "UPDATE leases SET epoch = epoch + CASE WHEN holder = ? THEN 0 ELSE 1 END, "
	                "holder = ?, expires_at = roost_now() + ? WHERE name=? AND (holder = ? OR "
	                "expires_at < roost_now()) RETURNING epoch",
	             "iiiti", me, me, ttl_s, name, me),
	           0);
}

int64_t leases_acquire(const char *name, int64_t me, int64_t ttl_s)
{
	return leases_acquire_on(NULL, name, me, ttl_s);
}

int leases_release_on(struct store *s, const char *name, int64_t me, int64_t epoch)
{
	return one(q(s, "UPDATE leases SET expires_at = 0 WHERE name=? AND holder=? AND epoch=?",
	             "tii", name, me, epoch), 0) < 0 ? -1 : 0;
}

int leases_release(const char *name, int64_t me, int64_t epoch)
{
	return leases_release_on(NULL, name, me, epoch);
}

int leases_valid_on(struct store *s, const char *name, int64_t me, int64_t epoch)
{
	return one(q(s, "SELECT COUNT(*) FROM leases WHERE name=? AND holder=? AND epoch=? AND "
	                "expires_at >= roost_now()", "tii", name, me, epoch), 0) > 0;
}

int leases_valid(const char *name, int64_t me, int64_t epoch)
{
	return leases_valid_on(NULL, name, me, epoch);
}

int lease_hold_on(struct store *s, struct lease *l, int64_t me, int64_t ttl_s, int64_t now_ms)
{
	int64_t e = me ? leases_acquire_on(s, l->name, me, ttl_s) : 0;
	if (e > 0) {
		l->epoch = e;
		l->deadline_ms = now_ms + (ttl_s - ttl_s / 4) * 1000;
		return 1;
	}
	if (e < 0 && lease_ok(l, now_ms))
		return 1; /* the store failed: held until the deadline */
	l->epoch = 0;
	return 0;
}

int lease_hold(struct lease *l, int64_t me, int64_t ttl_s, int64_t now_ms)
{
	return lease_hold_on(NULL, l, me, ttl_s, now_ms);
}

int lease_ok(const struct lease *l, int64_t now_ms)
{
	return l->epoch > 0 && now_ms < l->deadline_ms;
}

int64_t leases_packs_gen_on(struct store *s)
{
	return one(q(s, "SELECT packs_gen FROM leases WHERE name='repo'", ""), 0);
}

int64_t leases_packs_gen(void)
{
	return leases_packs_gen_on(NULL);
}

int64_t leases_packs_gen_bump_on(struct store *s)
{
	one(q(s, "INSERT INTO leases (name) VALUES ('repo') ON CONFLICT DO NOTHING", ""), 0);
	return one(q(s, "UPDATE leases SET packs_gen = packs_gen + 1 WHERE name='repo' RETURNING "
	                "packs_gen", ""), -1);
}

int64_t leases_packs_gen_bump(void)
{
	return leases_packs_gen_bump_on(NULL);
}
