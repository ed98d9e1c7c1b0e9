/* SPDX-License-Identifier: MIT */
/*
 * Users: validation, Argon2id hashing and verification, and the `users`
 * table. The store keeps only crypto_pwhash_str's encoded string (which
 * carries its salt and limits), never a password.
 */
#include <sodium.h>
#include <string.h>

#include "roost/log.h"
#include "roostd.h"
#include "users.h"

_Static_assert(USERS_HASH_MAX >= crypto_pwhash_STRBYTES, "room for an encoded hash");

int users_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n < 1 || n > USERS_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '@' || c == '-'))
			return 0;
	}
	return 1;
}

int users_password_valid(size_t len)
{
	return len >= USERS_PW_MIN && len <= USERS_PW_MAX;
}

int users_hash(const char *pw, size_t n, char out[USERS_HASH_MAX])
{
	memset(out, 0, USERS_HASH_MAX);
	return crypto_pwhash_str(out, pw, n, crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                         crypto_pwhash_MEMLIMIT_INTERACTIVE)
	               ? -1
	               : 0;
}

int users_verify(const char *hash, const char *pw, size_t n)
{
	return hash && crypto_pwhash_str_verify(hash, pw, n) == 0;
}

int64_t users_find(const char *name, char *hash, size_t cap, enum role *role)
{
	int64_t id = 0;
	*role = ROLE_NONE;
	if (cap)
		hash[0] = 0;
	struct db_stmt *st = db_q("SELECT id, pw_hash, role FROM users WHERE name=?", "t", name);
	if (st && db_step(st) == DB_ROW) {
		const char *h = db_col_text(st, 1);
		if (h && strlen(h) < cap) {
			id = db_col_int(st, 0);
			memcpy(hash, h, strlen(h) + 1);
			*role = role_parse(db_col_text(st, 2));
		}
	}
	db_done(st);
	return id;
}

int users_get(int64_t id, char *name, size_t cap, enum role *role)
{
	int rc = -1;
	struct db_stmt *st = db_q("SELECT name, role FROM users WHERE id=?", "i", id);
	if (st && db_step(st) == DB_ROW) {
		const char *n = db_col_text(st, 0);
		if (n && strlen(n) < cap) {
			memcpy(name, n, strlen(n) + 1);
			*role = role_parse(db_col_text(st, 1));
			rc = 0;
		}
	}
	db_done(st);
	return rc;
}

int users_insert(const char *name, enum role role, const char *hash, int64_t now, int64_t *id)
{
	*id = 0;
	if (db_int(0, "SELECT 1 FROM users WHERE name=?", "t", name))
		return USERS_TAKEN;
	if (db_begin())
		return -1;
	db_exec("INSERT INTO users (name, role, pw_hash, created_at) VALUES (?, ?, ?, ?)", "ttti",
	        name, role_name(role), hash, now);
	int64_t rid = db_last_id();
	if (db_commit())
		return -1;
	*id = rid;
	return 0;
}

int users_remove(int64_t id)
{
	if (!db_int(0, "SELECT 1 FROM users WHERE id=?", "i", id))
		return 0;
	if (db_begin())
		return -1;
	/* the foreign key cascades; said again so it holds whatever the pragma */
	db_exec("DELETE FROM sessions WHERE user_id=?", "i", id);
	db_exec("DELETE FROM users WHERE id=?", "i", id);
	return db_commit() ? -1 : 1;
}

void users_logged_in(int64_t id, int64_t now)
{
	db_exec("UPDATE users SET last_login_at=? WHERE id=?", "ii", now, id);
}

static json_t *row_view(struct db_stmt *st)
{
	return json_pack("{s:I, s:s, s:s, s:o, s:o}", "id", (json_int_t)db_col_int(st, 0),
	                 "name", db_col_text(st, 1), "role",
	                 role_name(role_parse(db_col_text(st, 2))),
	                 "created_at", json_time(db_col_int(st, 3)), "last_login_at",
	                 json_time(db_col_int(st, 4)));
}

#define USER_COLS "SELECT id, name, role, created_at, last_login_at FROM users "

json_t *users_view(int64_t id)
{
	json_t *j = NULL;
	struct db_stmt *st = db_q(USER_COLS "WHERE id=?", "i", id);
	if (st && db_step(st) == DB_ROW)
		j = row_view(st);
	db_done(st);
	return j;
}

json_t *users_list(void)
{
	json_t *a = json_array();
	struct db_stmt *st = db_q(USER_COLS "ORDER BY id", NULL);
	while (st && db_step(st) == DB_ROW)
		json_array_append_new(a, row_view(st));
	db_done(st);
	return a;
}
