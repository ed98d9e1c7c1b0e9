/* SPDX-License-Identifier: MIT */
/*
 * The REST routes of events and notifications (DESIGN.md, "Health, events,
 * notifications, metrics"), reached from api.c's router (admin only):
 *
 *   GET    /v1/events?after=ID&limit=N    the log, oldest first
 *   GET    /v1/events?before=ID&limit=N   the newest events below ID, newest first
 *   POST   /v1/webhooks {url, events, format}  -> 201 with its secret (once)
 *   GET    /v1/webhooks                   DELETE /v1/webhooks/{id}
 *   POST   /v1/webhooks/{id}/test         a webhook.test event for it alone
 *
 * (The live stream, /v1/events/stream, is http.c's: it is not a JSON answer.)
 * A subscription's url is http(s)://... or mailto:ADDR (mail through --smtp).
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "roost/log.h"
#include "roostd.h"
#include "webhooks.h"
#include "whsign.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define MAX_WEBHOOKS 64

static void done(struct resp *rs, int status, json_t *j)
{
	json_decref(rs->json);
	rs->status = status;
	rs->json = j ? j : json_object();
}

int body_webhook(const char *b, size_t n, struct body_webhook *w, struct resp *rs)
{
	memset(w, 0, sizeof(*w));
	json_t *o = body_object(b, n, rs);
	if (!o)
		return -1;
	const char *field = NULL, *msg = NULL;
	json_t *url = json_object_get(o, "url"), *evs = json_object_get(o, "events"),
	       *fmt = json_object_get(o, "format");
	const char *u = json_string_value(url);
	if (!u || strlen(u) >= sizeof(w->url) || strpbrk(u, " \t\r\n") ||
	    (strncmp(u, "http://", 7) && strncmp(u, "https://", 8) && strncmp(u, "mailto:", 7))) {
		field = "url";
		msg = "url: http://, https:// or mailto:ADDRESS, at most 2000 characters, no spaces";
		goto bad;
	}
	if (!strncmp(u, "mailto:", 7) && (!strchr(u + 7, '@') || strpbrk(u + 7, "<>,;\"'"))) {
		field = "url";
		msg = "url: mailto: needs one plain address (user@host)";
		goto bad;
	}
	snprintf(w->url, sizeof(w->url), "%s", u);
	if (!json_is_array(evs) || json_array_size(evs) == 0 || json_array_size(evs) > 32) {
		field = "events";
		msg = "events: an array of 1-32 event types (or \"*\" for all)";
		goto bad;
	}
	size_t i;
	json_t *e;
	json_array_foreach(evs, i, e)
	{
		const char *t = json_string_value(e);
		if (!t || (strcmp(t, "*") && !events_type_known(t))) {
			field = "events";
			msg = "events: unknown event type";
			goto bad;
		}
	}
	w->events = json_incref(evs);
	const char *f = fmt ? json_string_value(fmt) : "standard";
	if (!f || (strcmp(f, "standard") && strcmp(f, "ntfy") && strcmp(f, "healthchecks"))) {
		field = "format";
		msg = "format: standard, ntfy or healthchecks";
		json_decref(w->events);
		w->events = NULL;
		goto bad;
	}
	snprintf(w->format, sizeof(w->format), "%s", f);
	json_decref(o);
	return 0;
bad:
	json_decref(o);
	resp_error(rs, 400, "invalid_field", msg, field);
	return -1;
}

static json_t *view_webhook(struct db_stmt *st)
{
	json_t *evs = json_loads(db_col_text(st, 2), 0, NULL);
	return json_pack("{s:I, s:s, s:o, s:s, s:o, s:I}", "id",
	                 (json_int_t)db_col_int(st, 0), "url",
	                 db_col_text(st, 1), "events", evs ? evs : json_array(),
	                 "format", db_col_text(st, 3), "created_at",
	                 json_time(db_col_int(st, 4)), "cursor",
	                 (json_int_t)db_col_int(st, 5));
}

static void webhook_add(struct req *rq, struct resp *rs)
{
	struct body_webhook w;
	if (body_webhook(rq->body, rq->blen, &w, rs))
		return;
	if (!strncmp(w.url, "mailto:", 7) && !webhooks_mail_configured()) {
		json_decref(w.events);
		resp_error(rs, 400, "invalid_field",
		           "url: mail needs roostd started with --smtp URL --smtp-from ADDRESS", "url");
		return;
	}
	if (db_int(0, "SELECT COUNT(*) FROM webhooks", NULL) >= MAX_WEBHOOKS) {
		json_decref(w.events);
		resp_error(rs, 409, "too_many", "at most 64 webhooks", NULL);
		return;
	}
	char secret[WHSIGN_SECRET_MAX];
	whsign_new_secret(secret);
	char *evs = json_dumps(w.events, JSON_COMPACT);
	json_decref(w.events);
	int64_t id = 0;
	/* it receives what happens from now on, not the history */
	if (evs && db_begin() == 0 &&
	    db_exec("INSERT INTO webhooks (url, events, secret, format, created_at, cursor) VALUES "
	            "(?, ?, ?, ?, ?, (SELECT COALESCE(MAX(id), 0) FROM events))", "tttti", w.url, evs,
	            secret, w.format, srv_now()) == DB_DONE)
		id = db_last_id();
	free(evs);
	if (!id || db_commit()) {
		if (id == 0)
			db_rollback();
		resp_error(rs, 503, "store_error", "the webhook: the store could not record it", NULL);
		return;
	}
	webhooks_changed();
	log_info("webhook.added", "webhook=%lld url=%s format=%s", (long long)id, roost_lq(w.url),
	         w.format);
	struct db_stmt *st = db_q("SELECT id, url, events, format, created_at, cursor FROM webhooks "
	                        "WHERE id=?", "i", id);
	json_t *j = st && db_step(st) == DB_ROW ? view_webhook(st) : json_object();
	db_done(st);
	json_object_set_new(j, "secret", json_string(secret));
	sodium_memzero(secret, sizeof(secret));
	done(rs, 201, j);
}

static void events_get(struct req *rq, struct resp *rs)
{
	char v[32];
	char *e;
	long long after = 0, before = 0, limit = LIST_DEFAULT;
	int has_after = 0, has_before = 0;
	if ((has_after = query_get(rq->query, "after", v, sizeof(v)) != NULL)) {
		after = strtoll(v, &e, 10);
		if (!v[0] || *e || after < 0) {
			resp_error(rs, 400, "invalid_field", "after: an event id (0 or more)", "after");
			return;
		}
	}
	if ((has_before = query_get(rq->query, "before", v, sizeof(v)) != NULL)) {
		errno = 0;
		before = strtoll(v, &e, 10);
		if (!v[0] || *e || before < 1 || errno) {
			resp_error(rs, 400, "invalid_field", "before: an event id (1 or more)", "before");
			return;
		}
	}
	if (has_after && has_before) {
		resp_error(rs, 400, "invalid_field", "after and before: one or the other", "before");
		return;
	}
	if (query_get(rq->query, "limit", v, sizeof(v))) {
		limit = strtoll(v, &e, 10);
		if (!v[0] || *e || limit < 1 || limit > LIST_MAX) {
			resp_error(rs, 400, "invalid_field", "limit: 1-1000", "limit");
			return;
		}
	}
	if (has_before) {
		done(rs, 200, events_list_before(before, (int)limit));
		return;
	}
	done(rs, 200, events_list(after, (int)limit));
}

int api_events_route(char **seg, int ns, struct req *rq, struct resp *rs)
{
	int get = !strcmp(rq->method, "GET"), post = !strcmp(rq->method, "POST");
	if (!strcmp(seg[1], "events") && ns == 2) {
		if (get)
			events_get(rq, rs);
		else
			resp_error(rs, 405, "method_not_allowed", "method not allowed on this route", NULL);
		return 1;
	}
	if (strcmp(seg[1], "webhooks"))
		return 0;
	if (ns == 2) {
		if (post) {
			webhook_add(rq, rs);
		} else if (get) {
			json_t *a = json_array();
			struct db_stmt *st = db_q("SELECT id, url, events, format, created_at, cursor FROM "
			                        "webhooks ORDER BY id", NULL);
			while (st && db_step(st) == DB_ROW)
				json_array_append_new(a, view_webhook(st));
			db_done(st);
			done(rs, 200, a);
		} else {
			resp_error(rs, 405, "method_not_allowed", "method not allowed on this route", NULL);
		}
		return 1;
	}
	char *e;
	long long id = strtoll(seg[2], &e, 10);
	if (*e || id <= 0 || !db_int(0, "SELECT 1 FROM webhooks WHERE id=?", "i", (int64_t)id)) {
		resp_error(rs, 404, "not_found", "webhook not found", NULL);
		return 1;
	}
	if (ns == 3 && !strcmp(rq->method, "DELETE")) {
		if (db_exec("DELETE FROM webhooks WHERE id=?", "i", (int64_t)id) != DB_DONE) {
			resp_error(rs, 503, "store_error", "the webhook's removal: the store failed", NULL);
			return 1;
		}
		webhooks_changed();
		log_info("webhook.removed", "webhook=%lld", id);
		done(rs, 200, json_pack("{s:b}", "deleted", 1));
	} else if (ns == 4 && !strcmp(seg[3], "test") && post) {
		int64_t before = events_last_id();
		events_emit("webhook.test", 0, 0, json_pack("{s:I}", "webhook_id", (json_int_t)id));
		int64_t ev = events_last_id();
		done(rs, 202, ev > before ? json_pack("{s:I, s:I}", "event_id", (json_int_t)ev,
		                                      "webhook_id", (json_int_t)id)
		                          : NULL);
		webhooks_changed(); /* wake the thread: deliver it now */
	} else if (ns <= 4) {
		resp_error(rs, 405, "method_not_allowed", "method not allowed on this route", NULL);
	} else {
		resp_error(rs, 404, "not_found", "route not found", NULL);
	}
	return 1;
}
