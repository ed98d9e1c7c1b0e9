/* SPDX-License-Identifier: MIT */
/*
 * The routes of users and sessions (docs/dashboard.md, "Users and
 * sessions"): POST|GET /v1/users, DELETE /v1/users/{id}, POST /v1/login,
 * POST /v1/logout, GET /v1/session.
 *
 * Creating a user and logging in need Argon2id, which runs on the password
 * worker (pwworker.c): the request is answered when its task is done, as an
 * upload is when its commit is (repo_api.c). The requests awaiting a task
 * are listed here so that a result finds its connection, or learns that it
 * closed meanwhile. Login attempts are throttled per name and per address
 * (login_throttle.c) before any password is checked.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"
#include "login_throttle.h"
#include "pwworker.h"
#include "roost/clock.h"
#include "roost/log.h"
#include "sessions.h"
#include "users.h"

#define THROTTLE_CAP 4096 /* names, and addresses, remembered */
/* Logins of one name, or from one address, being checked at once: the
 * throttle counts a failure when its check ends, so without this bound a
 * burst of parallel attempts would all be checked before the first counted. */
#define LOGINS_IN_FLIGHT 4

static struct {
	uint64_t id;
	struct lws *wsi;
	struct pss *p;
	int login;                      /* a login: name and addr are its */
	char name[USERS_NAME_MAX + 1];
	char addr[64];
} awaiting[PWWORKER_QUEUE_MAX];
static size_t nawaiting;
static uint64_t next_task_id = 1;
static struct login_throttle *throttle;

/* The throttle's clock: milliseconds of the wall clock, which every roostd
 * on one store shares (the counts are in the store). */
static int64_t now_ms(void)
{
	return roost_clock_now_ns(roost_clock_system()) / 1000000;
}

static int answer(struct lws *wsi, struct pss *p, struct resp *rs)
{
	if (!rs->json)
		resp_error(rs, 500, "internal", "no response", NULL);
	log_debug("http", "method=%s path=%s status=%d", p->method, roost_lq(p->path), rs->status);
	return respond_json(wsi, p, rs->status, rs->json);
}

static int error(struct lws *wsi, struct pss *p, int status, const char *code, const char *msg,
                 const char *field)
{
	struct resp rs = {0};
	resp_error(&rs, status, code, msg, field);
	return answer(wsi, p, &rs);
}

static void set_cookie(struct pss *p, const char *token, int64_t max_age)
{
	char v[200];
	snprintf(v, sizeof(v), SESSIONS_COOKIE "=%s; Path=/; HttpOnly; Secure; SameSite=Strict; "
	         "Max-Age=%lld", token, (long long)max_age);
	respond_header(p, "set-cookie:", v);
}

/* Hands the task to the worker (or, without one, runs it here and answers). */
static int submit(struct lws *wsi, struct pss *p, struct pw_task *t)
{
	t->id = next_task_id++;
	/* an awaiting slot is never short while the worker takes the task (there
	 * are as many as tasks in flight); checked first all the same */
	int rc = nawaiting < PWWORKER_QUEUE_MAX ? pwworker_submit(t) : -2;
	if (rc == -1) { /* no worker thread (unit tests): here and now */
		pwworker_run(t);
		return api_users_answer(wsi, p, t);
	}
	if (rc < 0) {
		sodium_memzero(t, sizeof(*t));
		free(t);
		respond_header(p, "retry-after:", "1");
		return error(wsi, p, 503, "busy", "too many logins at once: try again", NULL);
	}
	awaiting[nawaiting].id = t->id;
	awaiting[nawaiting].wsi = wsi;
	awaiting[nawaiting].p = p;
	awaiting[nawaiting].login = t->op == PW_VERIFY;
	memcpy(awaiting[nawaiting].name, t->name, sizeof(t->name));
	memcpy(awaiting[nawaiting].addr, t->addr, sizeof(t->addr));
	nawaiting++;
	p->pw_id = t->id;
	return 0; /* answered when the task is done */
}

void api_users_tasks_done(void)
{
	struct pw_task *t;
	while ((t = pwworker_take_done())) {
		size_t i;
		for (i = 0; i < nawaiting && awaiting[i].id != t->id; i++)
			;
		if (i == nawaiting) { /* its connection closed meanwhile */
			free(t);
			continue;
		}
		struct lws *wsi = awaiting[i].wsi;
		struct pss *p = awaiting[i].p;
		awaiting[i] = awaiting[--nawaiting];
		p->pw_id = 0;
		free(p->pw_done);
		p->pw_done = t;
		lws_callback_on_writable(wsi);
	}
}

void api_users_forget(struct pss *p)
{
	for (size_t i = 0; i < nawaiting; i++)
		if (awaiting[i].p == p) {
			awaiting[i] = awaiting[--nawaiting];
			break;
		}
	p->pw_id = 0;
	free(p->pw_done);
	p->pw_done = NULL;
}

/* Logins awaiting their check for this name or from this address. */
static int in_flight(const char *name, const char *addr)
{
	int n = 0;
	for (size_t i = 0; i < nawaiting; i++)
		n += awaiting[i].login &&
		     (!strcmp(awaiting[i].name, name) || !strcmp(awaiting[i].addr, addr));
	return n;
}

/* A string member of o: its value and length, or NULL. */
static const char *str_member(json_t *o, const char *k, size_t *len)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_string(v))
		return NULL;
	*len = json_string_length(v);
	return json_string_value(v);
}

/* ---- login ---- */

static int login(struct lws *wsi, struct pss *p)
{
	struct resp rs = {0};
	json_t *o = body_object(p->body, p->blen, &rs);
	if (!o)
		return answer(wsi, p, &rs);
	size_t nlen = 0, pwlen = 0;
	const char *name = str_member(o, "name", &nlen);
	const char *pw = str_member(o, "password", &pwlen);
	int rc;
	if (!name || !nlen) {
		rc = error(wsi, p, 400, "invalid_field", "name: a user name is required", "name");
		goto out;
	}
	if (!pw) {
		rc = error(wsi, p, 400, "invalid_field", "password: required", "password");
		goto out;
	}
	if (!throttle)
		throttle = login_throttle_new(THROTTLE_CAP);
	struct pw_task *t = calloc(1, sizeof(*t));
	if (!throttle || !t) {
		free(t);
		rc = error(wsi, p, 500, "internal", "out of memory", NULL);
		goto out;
	}
	t->op = PW_VERIFY;
	snprintf(t->name, sizeof(t->name), "%s", name);
	peer_of(wsi, t->addr, sizeof(t->addr));
	int64_t wait = login_throttle_wait(throttle, name, t->addr, now_ms());
	if (!wait && in_flight(t->name, t->addr) >= LOGINS_IN_FLIGHT)
		wait = 1000;
	if (wait > 0) {
		char v[24];
		wait = (wait + 999) / 1000; /* Retry-After counts whole seconds */
		snprintf(v, sizeof(v), "%lld", (long long)wait);
		respond_header(p, "retry-after:", v);
		roost_log_limited(ROOST_LOG_WARN, "login.throttled", t->addr,
		                  "name=%s peer=%s retry_after_s=%lld", roost_lq(name), t->addr,
		                  (long long)wait);
		free(t);
		rc = error(wsi, p, 429, "throttled", "too many failed logins: wait before trying again",
		           NULL);
		goto out;
	}
	/* an unknown (or impossible) name is verified against a dummy hash: the
	 * answer takes as long and reads the same */
	if (users_name_valid(name) && nlen == strlen(name) && users_password_valid(pwlen))
		t->user_id = users_find(name, t->hash, sizeof(t->hash), &t->role);
	if (!t->user_id)
		t->hash[0] = 0;
	t->pwlen = pwlen <= USERS_PW_MAX ? pwlen : USERS_PW_MAX;
	memcpy(t->password, pw, t->pwlen);
	rc = submit(wsi, p, t);
out:
	json_decref(o);
	return rc;
}

static int login_answer(struct lws *wsi, struct pss *p, struct pw_task *t)
{
	int64_t now = srv_now();
	if (!throttle)
		throttle = login_throttle_new(THROTTLE_CAP);
	if (!t->ok) {
		if (throttle)
			login_throttle_failed(throttle, t->name, t->addr, now_ms());
		log_warn("login.failed", "name=%s peer=%s", roost_lq(t->name), t->addr);
		return error(wsi, p, 401, "invalid_login", "wrong user name or password", NULL);
	}
	if (throttle)
		login_throttle_succeeded(throttle, t->name);
	char token[AUTH_TEXT_LEN + 1];
	struct session_info si;
	if (sessions_create(t->user_id, now, token, &si)) {
		/* the user was removed meanwhile, or the store failed */
		return error(wsi, p, 401, "invalid_login", "wrong user name or password", NULL);
	}
	users_logged_in(t->user_id, now);
	log_info("login.ok", "user=%lld name=%s role=%s peer=%s", (long long)t->user_id,
	         roost_lq(si.name), role_name(si.role), t->addr);
	set_cookie(p, token, g_srv->session_ttl_s);
	sodium_memzero(token, sizeof(token));
	struct resp rs = {0};
	api_ok(&rs, 200, json_pack("{s:{s:I, s:s, s:s}, s:s, s:o}", "user", "id",
	                           (json_int_t)si.user_id, "name", si.name, "role",
	                           role_name(si.role), "csrf", si.csrf, "expires_at",
	                           json_time(si.expires_at)));
	return answer(wsi, p, &rs);
}

/* ---- users ---- */

static int user_create(struct lws *wsi, struct pss *p)
{
	struct resp rs = {0};
	json_t *o = body_object(p->body, p->blen, &rs);
	if (!o)
		return answer(wsi, p, &rs);
	size_t nlen = 0, pwlen = 0, rlen = 0;
	const char *name = str_member(o, "name", &nlen);
	const char *pw = str_member(o, "password", &pwlen);
	const char *role = str_member(o, "role", &rlen);
	int rc;
	if (!name || nlen != strlen(name) || !users_name_valid(name)) {
		rc = error(wsi, p, 400, "invalid_field", "name: 1-64 characters of A-Z a-z 0-9 . _ @ -",
		           "name");
	} else if (!pw || !users_password_valid(pwlen)) {
		rc = error(wsi, p, 400, "invalid_field", "password: 8 to 1024 bytes", "password");
	} else if (!role || role_parse(role) == ROLE_NONE) {
		rc = error(wsi, p, 400, "invalid_field", "role: admin, operator or viewer", "role");
	} else if (db_int(0, "SELECT 1 FROM users WHERE name=?", "t", name)) {
		rc = error(wsi, p, 409, "conflict", "name: another user has it", "name");
	} else {
		struct pw_task *t = calloc(1, sizeof(*t));
		if (!t) {
			rc = error(wsi, p, 500, "internal", "out of memory", NULL);
		} else {
			t->op = PW_HASH;
			t->role = role_parse(role);
			snprintf(t->name, sizeof(t->name), "%s", name);
			memcpy(t->password, pw, pwlen);
			t->pwlen = pwlen;
			rc = submit(wsi, p, t);
		}
	}
	json_decref(o);
	return rc;
}

static int user_create_answer(struct lws *wsi, struct pss *p, struct pw_task *t)
{
	if (!t->ok)
		return error(wsi, p, 500, "internal", "the password could not be hashed", NULL);
	int64_t id;
	int r = users_insert(t->name, t->role, t->hash, srv_now(), &id);
	if (r == USERS_TAKEN)
		return error(wsi, p, 409, "conflict", "name: another user has it", "name");
	struct resp rs = {0};
	if (r) {
		api_store_failed(&rs, "the new user");
		return answer(wsi, p, &rs);
	}
	log_info("user.created", "user=%lld name=%s role=%s", (long long)id, roost_lq(t->name),
	         role_name(t->role));
	api_ok(&rs, 201, users_view(id));
	return answer(wsi, p, &rs);
}

int api_users_answer(struct lws *wsi, struct pss *p, struct pw_task *t)
{
	int rc = t->op == PW_VERIFY ? login_answer(wsi, p, t) : user_create_answer(wsi, p, t);
	sodium_memzero(t, sizeof(*t));
	free(t);
	return rc;
}

static int user_remove(struct lws *wsi, struct pss *p, const char *ref)
{
	int64_t id;
	struct resp rs = {0};
	int r = api_parse_id(ref, &id) ? 0 : users_remove(id);
	if (r == 0)
		api_not_found(&rs, "user");
	else if (r < 0)
		api_store_failed(&rs, "the user's removal");
	else {
		log_info("user.removed", "user=%lld", (long long)id);
		api_ok(&rs, 200, json_pack("{s:b}", "deleted", 1));
	}
	return answer(wsi, p, &rs);
}

/* ---- the session ---- */

static int session_show(struct lws *wsi, struct pss *p)
{
	json_t *server = json_pack("{s:s, s:s}", "fingerprint", g_srv->fingerprint, "version",
	                           ROOST_VERSION);
	struct resp rs = {0};
	if (p->auth == AUTH_SESSION)
		api_ok(&rs, 200, json_pack("{s:{s:I, s:s, s:s}, s:s, s:o, s:o}", "user", "id",
		                           (json_int_t)p->sess.user_id, "name", p->sess.name, "role",
		                           role_name(p->sess.role), "csrf", p->sess.csrf, "expires_at",
		                           json_time(p->sess.expires_at), "server", server));
	else
		api_ok(&rs, 200, json_pack("{s:{s:i, s:s, s:s}, s:n, s:n, s:o}", "user", "id", 0, "name",
		                           "admin token", "role", "admin", "csrf", "expires_at", "server",
		                           server));
	return answer(wsi, p, &rs);
}

static int logout(struct lws *wsi, struct pss *p)
{
	if (p->auth == AUTH_SESSION) {
		sessions_end(p->sess.id);
		log_info("logout", "user=%lld name=%s", (long long)p->sess.user_id,
		         roost_lq(p->sess.name));
	}
	set_cookie(p, "", 0);
	struct resp rs = {0};
	api_ok(&rs, 200, json_pack("{s:b}", "logged_out", 1));
	return answer(wsi, p, &rs);
}

/* ---- routing ---- */

static int not_allowed(struct lws *wsi, struct pss *p)
{
	return error(wsi, p, 405, "method_not_allowed", "method not allowed on this route", NULL);
}

int api_users_request(struct lws *wsi, struct pss *p, int *rc)
{
	char path[sizeof(p->path)];
	snprintf(path, sizeof(path), "%s", p->path);
	char *seg[4];
	int ns = 0;
	for (char *s = strtok(path, "/"); s; s = strtok(NULL, "/")) {
		if (ns == 4)
			return 0;
		seg[ns++] = s;
	}
	if (ns < 2 || ns > 3 || strcmp(seg[0], "v1"))
		return 0;
	const char *r = seg[1];
	int users = !strcmp(r, "users");
	if (!users && (ns != 2 || (strcmp(r, "login") && strcmp(r, "logout") && strcmp(r, "session"))))
		return 0;
	int post = !strcmp(p->method, "POST");
	if (!strcmp(r, "login")) {
		*rc = post ? login(wsi, p) : not_allowed(wsi, p);
		return 1;
	}
	/* the others need the admin token or a session (whose role http.c's gate checked) */
	if (p->auth == AUTH_NONE) {
		*rc = error(wsi, p, 401, "unauthorized",
		            p->auth_bad ? "invalid credentials" : "missing credentials", NULL);
		return 1;
	}
	if ((p->auth != AUTH_ADMIN && p->auth != AUTH_SESSION) ||
	    (p->auth == AUTH_SESSION && !authz_role_may(p->sess.role, p->method, p->path))) {
		*rc = error(wsi, p, 403, "forbidden", "not allowed with this credential", NULL);
		return 1;
	}
	if (!strcmp(r, "logout"))
		*rc = post ? logout(wsi, p) : not_allowed(wsi, p);
	else if (!strcmp(r, "session"))
		*rc = !strcmp(p->method, "GET") ? session_show(wsi, p) : not_allowed(wsi, p);
	else if (ns == 2 && post)
		*rc = user_create(wsi, p);
	else if (ns == 2 && !strcmp(p->method, "GET")) {
		struct resp rs = {0};
		api_ok(&rs, 200, users_list());
		*rc = answer(wsi, p, &rs);
	} else if (ns == 3 && !strcmp(p->method, "DELETE"))
		*rc = user_remove(wsi, p, seg[2]);
	else
		*rc = not_allowed(wsi, p);
	return 1;
}
