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
#include "leases.h"
#include "roostd.h"

static void ensure_row(const char *name)
{
	db_exec("INSERT INTO leases (name) VALUES (?) ON CONFLICT DO NOTHING", "t", name);
}

int64_t leases_acquire(const char *name, int64_t me, int64_t ttl_s)
{
	ensure_row(name);
	struct db_stmt *st = db_q("UPDATE leases SET epoch = epoch + CASE WHEN holder = ? THEN 0 "
	                          "ELSE 1 END, holder = ?, expires_at = roost_now() + ? WHERE name=? "
	                          "AND (holder = ? OR expires_at < roost_now()) RETURNING epoch",
	                          "iiiti", me, me, ttl_s, name, me);
	if (!st)
		return -1;
	int rc = db_step(st);
	int64_t epoch = rc == DB_ROW ? db_col_int(st, 0) : 0;
	db_finalize(st);
	return rc == DB_ERROR ? -1 : epoch;
}

int leases_release(const char *name, int64_t me, int64_t epoch)
{
	return db_exec("UPDATE leases SET expires_at = 0 WHERE name=? AND holder=? AND epoch=?",
	               "tii", name, me, epoch) == DB_DONE ? 0 : -1;
}

int leases_valid(const char *name, int64_t me, int64_t epoch)
{
	return db_int(0, "SELECT COUNT(*) FROM leases WHERE name=? AND holder=? AND epoch=? AND "
	                 "expires_at >= roost_now()", "tii", name, me, epoch) > 0;
}

int lease_hold(struct lease *l, int64_t me, int64_t ttl_s, int64_t now_ms)
{
	int64_t e = leases_acquire(l->name, me, ttl_s);
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

int lease_ok(const struct lease *l, int64_t now_ms)
{
	return l->epoch > 0 && now_ms < l->deadline_ms;
}

int64_t leases_packs_gen(void)
{
	return db_int(0, "SELECT packs_gen FROM leases WHERE name='repo'", "");
}

int64_t leases_packs_gen_bump(void)
{
	ensure_row("repo");
	struct db_stmt *st = db_q("UPDATE leases SET packs_gen = packs_gen + 1 WHERE name='repo' "
	                          "RETURNING packs_gen", "");
	int64_t g = st && db_step(st) == DB_ROW ? db_col_int(st, 0) : -1;
	db_finalize(st);
	return g;
}
