/* SPDX-License-Identifier: MIT */
/*
 * Dashboard sessions (docs/dashboard.md, "Users and sessions"): 256 random
 * bits in the cookie `roost_session`, of which the store keeps only the hash,
 * with the user, a CSRF token, and when the session was made and last used.
 * A session ends g_srv->session_ttl_s after it was made, or
 * g_srv->session_idle_s after its last request, at logout, or with its user.
 * Event-loop thread only (the store), except sessions_cookie_token (pure).
 */
#ifndef ROOSTD_SESSIONS_H
#define ROOSTD_SESSIONS_H

#include <stdint.h>

#include "auth.h"
#include "authz.h"
#include "users.h"

#define SESSIONS_COOKIE "roost_session"

struct session_info {
	int64_t id;
	int64_t user_id;
	enum role role;
	char name[USERS_NAME_MAX + 1];
	char csrf[AUTH_TEXT_LEN + 1];
	int64_t expires_at; /* the sooner of the absolute end and the idle end, as of now */
};

/* The value of the roost_session cookie in a Cookie header's value (several
 * cookies separated by ';' or ',', spaces, quotes allowed): 1 with token filled when it is a
 * well-formed token, 0 when there is no such cookie, -1 when there is one but
 * it is not a token (anything hostile). Pure. */
int sessions_cookie_token(const char *cookie, char token[AUTH_TEXT_LEN + 1]);

/* A new session for the user: its token (for the cookie) and *si. Also
 * removes sessions that ended. 0, or -1 when the store failed (or the user
 * is gone). */
int sessions_create(int64_t user_id, int64_t now, char token[AUTH_TEXT_LEN + 1],
                    struct session_info *si);
/* The live session of a token: 0 with *si filled (and its last use set to
 * now), -1 when unknown or ended (an ended one is removed). */
int sessions_lookup(const char *token, int64_t now, struct session_info *si);
/* Ends a session (logout). */
void sessions_end(int64_t id);
/* Does the presented X-CSRF-Token (NULL: none) equal the session's? Constant
 * time in the token's content. 1 when it does. */
int sessions_csrf_ok(const struct session_info *si, const char *presented);

#endif
