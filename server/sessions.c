/* SPDX-License-Identifier: MIT */
/*
 * Sessions: the cookie's parsing, and the `sessions` table. The token is a
 * secret of auth.c (256 bits, base64url), kept as its hash; the CSRF token is
 * another, kept as text (it is handed to the page, which sends it back in
 * X-CSRF-Token).
 */
#include <sodium.h>
#include <string.h>

#include "roost/log.h"
#include "roostd.h"
#include "sessions.h"

int sessions_cookie_token(const char *cookie, char token[AUTH_TEXT_LEN + 1])
{
	static const char name[] = SESSIONS_COOKIE;
	const size_t nlen = sizeof(name) - 1;
	token[0] = 0;
	if (!cookie)
		return 0;
	const char *p = cookie;
	while (*p) {
		/* ';' separates cookies; ',' too, should several Cookie headers (HTTP/2
		 * sends one per cookie) be joined that way: no cookie value has one */
		while (*p == ' ' || *p == '\t' || *p == ';' || *p == ',')
			p++;
		size_t len = strcspn(p, ";,");
		const char *eq = memchr(p, '=', len);
		if (eq) {
			size_t kl = (size_t)(eq - p);
			while (kl && (p[kl - 1] == ' ' || p[kl - 1] == '\t'))
				kl--;
			if (kl == nlen && !memcmp(p, name, nlen)) {
				const char *v = eq + 1;
				size_t vl = len - (size_t)(v - p);
				while (vl && (*v == ' ' || *v == '\t'))
					v++, vl--;
				while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
					vl--;
				if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"')
					v++, vl -= 2;
				uint8_t h[AUTH_HASH_LEN];
				if (vl != AUTH_TEXT_LEN || memchr(v, 0, vl) ||
				    auth_hash_text(v, vl, h) != ROOST_OK)
					return -1;
				memcpy(token, v, vl);
				token[vl] = 0;
				return 1;
			}
		}
		p += len;
	}
	return 0;
}

static int64_t idle_end(int64_t last_used)
{
	return last_used + g_srv->session_idle_s;
}

int sessions_create(int64_t user_id, int64_t now, char token[AUTH_TEXT_LEN + 1],
                    struct session_info *si)
{
	memset(si, 0, sizeof(*si));
	uint8_t hash[AUTH_HASH_LEN], unused[AUTH_HASH_LEN];
	auth_new_secret(token, hash);
	auth_new_secret(si->csrf, unused);
	if (users_get(user_id, si->name, sizeof(si->name), &si->role))
		return -1;
	int64_t expires = now + g_srv->session_ttl_s;
	if (db_begin())
		return -1;
	db_exec("DELETE FROM sessions WHERE expires_at <= ? OR last_used_at <= ?", "ii", now,
	        now - g_srv->session_idle_s);
	db_exec("INSERT INTO sessions (token_hash, user_id, csrf, created_at, last_used_at, "
	        "expires_at) VALUES (?, ?, ?, ?, ?, ?)", "bitiii", hash, sizeof(hash), user_id,
	        si->csrf, now, now, expires);
	int64_t id = db_last_id();
	if (db_commit())
		return -1;
	si->id = id;
	si->user_id = user_id;
	si->expires_at = expires < idle_end(now) ? expires : idle_end(now);
	return 0;
}

int sessions_lookup(const char *token, int64_t now, struct session_info *si)
{
	memset(si, 0, sizeof(*si));
	uint8_t hash[AUTH_HASH_LEN];
	if (auth_hash_text(token, strlen(token), hash) != ROOST_OK)
		return -1;
	/* the lookup is by the hash of 256 random bits: an index probe reveals
	 * nothing an attacker could use, so no constant-time scan is needed */
	struct db_stmt *st = db_q("SELECT s.id, s.user_id, s.csrf, s.last_used_at, s.expires_at, "
	                        "u.name, u.role FROM sessions s JOIN users u ON u.id = s.user_id "
	                        "WHERE s.token_hash=?", "b", hash, sizeof(hash));
	int found = 0;
	int64_t last = 0, expires = 0;
	if (st && db_step(st) == DB_ROW) {
		const char *csrf = db_col_text(st, 2);
		const char *name = db_col_text(st, 5);
		if (csrf && name && strlen(csrf) == AUTH_TEXT_LEN && strlen(name) < sizeof(si->name)) {
			found = 1;
			si->id = db_col_int(st, 0);
			si->user_id = db_col_int(st, 1);
			memcpy(si->csrf, csrf, AUTH_TEXT_LEN + 1);
			last = db_col_int(st, 3);
			expires = db_col_int(st, 4);
			memcpy(si->name, name, strlen(name) + 1);
			si->role = role_parse(db_col_text(st, 6));
		}
	}
	db_done(st);
	if (!found)
		return -1;
	if (now >= expires || now >= idle_end(last) || si->role == ROLE_NONE) {
		log_info("session.ended", "session=%lld user=%s why=%s", (long long)si->id,
		         roost_lq(si->name), now >= expires ? "expired" : "idle");
		sessions_end(si->id);
		memset(si, 0, sizeof(*si));
		return -1;
	}
	if (now > last)
		db_exec("UPDATE sessions SET last_used_at=? WHERE id=?", "ii", now, si->id);
	si->expires_at = expires < idle_end(now) ? expires : idle_end(now);
	return 0;
}

void sessions_end(int64_t id)
{
	db_exec("DELETE FROM sessions WHERE id=?", "i", id);
}

int sessions_csrf_ok(const struct session_info *si, const char *presented)
{
	if (!presented || strlen(presented) != AUTH_TEXT_LEN || strlen(si->csrf) != AUTH_TEXT_LEN)
		return 0;
	return sodium_memcmp(presented, si->csrf, AUTH_TEXT_LEN) == 0;
}
