/* SPDX-License-Identifier: MIT */
/*
 * Login throttling over the store's login_failures (kind 'name' or 'addr',
 * key, failures, last_at in milliseconds). A failure is one upsert per key
 * (a stale count starts over); a new key beyond the cap pushes out one row.
 * Every attempt that reaches the password costs an Argon2id verification,
 * so these few statements are not what limits a login's rate.
 */
#include <stdlib.h>
#include <string.h>

#include "login_throttle.h"
#include "roostd.h"

struct login_throttle {
	size_t cap;
};

struct login_throttle *login_throttle_new(size_t cap)
{
	if (!cap)
		return NULL;
	struct login_throttle *t = calloc(1, sizeof(*t));
	if (t)
		t->cap = cap;
	return t;
}

void login_throttle_free(struct login_throttle *t)
{
	free(t);
}

static int64_t forget_before(int64_t now)
{
	return now - (int64_t)LOGIN_THROTTLE_FORGET_S * 1000;
}

int64_t login_throttle_delay(int64_t failures, int64_t last_at, int64_t now)
{
	if (failures < LOGIN_THROTTLE_FREE || last_at <= forget_before(now))
		return 0;
	int64_t extra = failures - LOGIN_THROTTLE_FREE;
	int64_t delay = extra >= 10 ? LOGIN_THROTTLE_MAX_S : (int64_t)1 << extra;
	if (delay > LOGIN_THROTTLE_MAX_S)
		delay = LOGIN_THROTTLE_MAX_S;
	int64_t left = last_at + delay * 1000 - now;
	return left > 0 ? left : 0;
}

/* key cut to LOGIN_THROTTLE_KEY bytes into buf */
static const char *cut(const char *key, char buf[LOGIN_THROTTLE_KEY + 1])
{
	if (!key)
		return NULL;
	strncpy(buf, key, LOGIN_THROTTLE_KEY);
	buf[LOGIN_THROTTLE_KEY] = 0;
	return buf;
}

int64_t login_throttle_wait(struct login_throttle *t, const char *name, const char *addr,
                            int64_t now)
{
	(void)t;
	char nb[LOGIN_THROTTLE_KEY + 1], ab[LOGIN_THROTTLE_KEY + 1];
	struct db_stmt *st = db_qc("SELECT failures, last_at FROM login_failures WHERE "
	                           "(kind='name' AND key=?) OR (kind='addr' AND key=?)", "tt",
	                           cut(name, nb), cut(addr, ab));
	int64_t wait = 0;
	while (st && db_step(st) == DB_ROW) {
		int64_t w = login_throttle_delay(db_col_int(st, 0), db_col_int(st, 1), now);
		if (w > wait)
			wait = w;
	}
	db_done(st);
	return wait;
}

static void count(struct login_throttle *t, const char *kind, const char *key, int64_t now)
{
	char kb[LOGIN_THROTTLE_KEY + 1];
	key = cut(key, kb);
	/* docs/scale-out.md 2.8: one upsert, whichever roostd saw the failure */
	int64_t n = db_returning("INSERT INTO login_failures (kind, key, failures, last_at) "
	                         "VALUES (?, ?, 1, ?) ON CONFLICT (kind, key) DO UPDATE SET "
	                         "failures = CASE WHEN login_failures.last_at <= ? THEN 1 ELSE "
	                         "login_failures.failures + 1 END, last_at = excluded.last_at "
	                         "RETURNING failures", "ttii", kind, key, now, forget_before(now));
	if (n != 1 || db_int(0, "SELECT COUNT(*) FROM login_failures WHERE kind=?", "t", kind) <=
	                      (int64_t)t->cap)
		return;
	/* beyond the cap: a stale row makes room, else the fewest failures, oldest first */
	db_exec("DELETE FROM login_failures WHERE kind=? AND key = (SELECT key FROM login_failures "
	        "WHERE kind=? AND key<>? ORDER BY CASE WHEN last_at <= ? THEN 0 ELSE 1 END, "
	        "failures, last_at LIMIT 1)", "ttti", kind, kind, key, forget_before(now));
}

void login_throttle_failed(struct login_throttle *t, const char *name, const char *addr,
                           int64_t now)
{
	if (name)
		count(t, "name", name, now);
	if (addr)
		count(t, "addr", addr, now);
}

void login_throttle_succeeded(struct login_throttle *t, const char *name)
{
	(void)t;
	char nb[LOGIN_THROTTLE_KEY + 1];
	if (name)
		db_exec("DELETE FROM login_failures WHERE kind='name' AND key=?", "t", cut(name, nb));
}

size_t login_throttle_size(const struct login_throttle *t)
{
	(void)t;
	return (size_t)db_int(0, "SELECT COUNT(*) FROM login_failures", NULL);
}
