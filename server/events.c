/* SPDX-License-Identifier: MIT */
/*
 * The event log (DESIGN.md, "Health, events, notifications, metrics"). An
 * event is written once, whole, as the JSON every reader gets: the API's
 * list, the live stream and the webhook deliveries all send the stored body
 * as it is, so they never disagree and a delivery retried a day later is the
 * same bytes. Ids grow: the next one is known here (the event loop is the
 * log's only writer), so the body can carry its own id.
 *
 * Live-only events (events_live: job.queued, job.running, job.progress) go
 * to the streams alone, never to the log.
 *
 * Several instances (events_shared_start): the id is MAX(id) + 1 read
 * under pg_advisory_xact_lock(EVENTS_LOCK), held to the commit, so ids
 * become visible in order whoever writes; the streams are fed from the
 * store on NOTIFY roost_events (after the last id broadcast), and live-only
 * events travel as NOTIFY roost_live 'TYPE HOST JOB', each instance making
 * the job's view itself.
 *
 * Who emits: jobs.c (job.succeeded, job.failed, job.interrupted), api.c
 * (host.enrolled), healthwatch.c (host.overdue, host.unseen, host.failing,
 * host.recovered), maintenance (maintenance.finished, maintenance.failed,
 * check.failed), webhooks.c (webhook.dropped) and api_events.c (webhook.test).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "roost/log.h"
#include "roostd.h"
#include "sse.h"

const char *const events_types[] = {
	"job.succeeded",  "job.failed",      "job.interrupted",      "host.enrolled",
	"host.overdue",   "host.unseen",     "host.failing",         "host.recovered",
	"maintenance.finished", "maintenance.failed", "check.failed", "webhook.test",
	"webhook.dropped", NULL,
};

static json_t *(*job_view)(int64_t job_id);
static int64_t next_id; /* 0: not read from the store yet */
static int shared;             /* several instances: events_shared_start */
static int64_t last_broadcast; /* shared: the last stored id sent to this instance's streams */
#define EVENTS_LOCK 0x726f6f7374657631LL /* "roostev1": the advisory lock of event ids */

/* events stored inside the caller's transaction, published at its end */
struct held {
	int64_t id;
	char type[32];
	char *body;
};
static struct held held[64];
static size_t nheld;
static int in_tx;

int events_type_known(const char *type)
{
	for (const char *const *t = events_types; type && *t; t++)
		if (!strcmp(*t, type))
			return 1;
	return 0;
}

void events_set_job_view(json_t *(*view)(int64_t job_id))
{
	job_view = view;
}

int64_t events_last_id(void)
{
	return db_int(0, "SELECT COALESCE(MAX(id), 0) FROM events", NULL);
}

static json_t *host_ref(int64_t host_id)
{
	json_t *h = NULL;
	struct db_stmt *st = host_id ? db_q("SELECT name FROM hosts WHERE id=?", "i", host_id) : NULL;
	if (st && db_step(st) == DB_ROW)
		h = json_pack("{s:I, s:s}", "id", (json_int_t)host_id, "name",
		              db_col_text(st, 0));
	db_done(st);
	if (!h && host_id) /* removed meanwhile: still say which */
		h = json_pack("{s:I, s:n}", "id", (json_int_t)host_id, "name");
	return h ? h : json_null();
}

/* The event's stored body with its id (malloc'd), or NULL. */
static char *event_body(int64_t id, const char *type, int64_t now, int64_t host_id,
                        int64_t job_id, json_t *data)
{
	json_t *job = NULL;
	if (job_id)
		job = job_view ? job_view(job_id) : json_pack("{s:I}", "id", (json_int_t)job_id);
	json_t *ev = json_pack("{s:I, s:s, s:o, s:o, s:o, s:o}", "id", (json_int_t)id, "type", type,
	                       "at", json_time(now), "host", host_ref(host_id), "job",
	                       job ? job : json_null(), "data", data);
	char *body = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
	json_decref(ev);
	return body;
}

/* Several instances: the id under the lock, the row, the announcement; in
 * the caller's transaction if there is one, else in one of its own. */
static void emit_shared(const char *type, int64_t host_id, int64_t job_id, json_t *data)
{
	int own = !store_in_tx(g_srv->st);
	int64_t now = srv_now(), id = 0;
	char *body = NULL;
	if (own && db_begin())
		goto lost;
	if (db_exec("SELECT pg_advisory_xact_lock(?)", "i", (int64_t)EVENTS_LOCK) != DB_DONE)
		goto lost;
	id = db_int(0, "SELECT COALESCE(MAX(id), 0) + 1 FROM events", NULL);
	if (!id)
		goto lost;
	body = event_body(id, type, now, host_id, job_id, data);
	data = NULL; /* event_body's now */
	char ids[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	if (!body ||
	    db_exec("INSERT INTO events (id, type, at, host_id, job_id, body) VALUES "
	            "(?, ?, ?, NULLIF(?, 0), NULLIF(?, 0), ?)", "itiiit", id, type, now, host_id,
	            job_id, body) != DB_DONE ||
	    db_exec("SELECT pg_notify('roost_events', ?)", "t", ids) != DB_DONE)
		goto lost;
	if (own && db_commit())
		goto lost_committed;
	log_info("event", "id=%lld type=%s host=%lld job=%lld", (long long)id, type,
	         (long long)host_id, (long long)job_id);
	free(body);
	return;
lost:
	if (own && store_in_tx(g_srv->st))
		db_rollback();
lost_committed:
	json_decref(data);
	free(body);
	log_error("event.lost", "type=%s host=%lld job=%lld why=store msg=%s", type,
	          (long long)host_id, (long long)job_id, roost_lq(db_last_error()));
}

void events_emit(const char *type, int64_t host_id, int64_t job_id, json_t *data)
{
	if (!data || !json_is_object(data)) {
		json_decref(data);
		data = json_object();
	}
	if (shared) {
		emit_shared(type, host_id, job_id, data);
		return;
	}
	if (!next_id) {
		/* AUTOINCREMENT keeps ids of deleted rows used: ask its counter too */
		int64_t seq = db_int(0, store_events_seq_sql(g_srv->st), NULL);
		int64_t max = events_last_id();
		next_id = (seq > max ? seq : max) + 1;
	}
	int64_t now = srv_now();
	char *body = event_body(next_id, type, now, host_id, job_id, data);
	if (!body) {
		log_error("event.lost", "type=%s why=\"out of memory\"", type);
		return;
	}
	if (db_exec("INSERT INTO events (id, type, at, host_id, job_id, body) VALUES "
	            "(?, ?, ?, NULLIF(?, 0), NULLIF(?, 0), ?)", "itiiit", next_id, type, now,
	            host_id, job_id, body) != DB_DONE) {
		log_error("event.lost", "type=%s host=%lld job=%lld why=store msg=%s", type,
		          (long long)host_id, (long long)job_id, roost_lq(db_last_error()));
		next_id = 0; /* read again: the insert may have failed for a taken id */
		free(body);
		return;
	}
	if (in_tx && nheld < sizeof(held) / sizeof(held[0])) {
		held[nheld].id = next_id; /* a stored event: never 0 */
		snprintf(held[nheld].type, sizeof(held[nheld].type), "%s", type);
		held[nheld++].body = body;
		next_id++;
		return;
	}
	log_info("event", "id=%lld type=%s host=%lld job=%lld", (long long)next_id, type,
	         (long long)host_id, (long long)job_id);
	sse_broadcast(next_id, type, body);
	next_id++;
	free(body);
}

void events_tx_begin(void)
{
	in_tx = 1;
}

void events_tx_end(int committed)
{
	in_tx = 0;
	for (size_t i = 0; i < nheld; i++) {
		if (committed && held[i].id)
			log_info("event", "id=%lld type=%s", (long long)held[i].id, held[i].type);
		if (committed)
			sse_broadcast(held[i].id, held[i].type, held[i].body);
		free(held[i].body);
	}
	if (!committed && nheld)
		next_id = 0; /* rolled back: read the next id from the store again */
	nheld = 0;
}

/* The live-only event's body (malloc'd), or NULL (nothing to show). */
static char *live_body(const char *type, int64_t host_id, int64_t job_id)
{
	json_t *job = job_id && job_view ? job_view(job_id) : NULL;
	if (!job)
		return NULL; /* gone meanwhile: nothing to show */
	json_t *ev = json_pack("{s:s, s:o, s:o, s:o}", "type", type, "at", json_time(srv_now()),
	                       "host", host_ref(host_id), "job", job);
	char *body = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
	json_decref(ev);
	return body;
}

void events_live(const char *type, int64_t host_id, int64_t job_id)
{
	if (shared) { /* every instance's streams, from the owner's word (at commit) */
		char p[96];
		snprintf(p, sizeof(p), "%.31s %lld %lld", type, (long long)host_id, (long long)job_id);
		db_exec("SELECT pg_notify('roost_live', ?)", "t", p);
		return;
	}
	if (!sse_clients())
		return; /* nobody listens: not even the job's view is worth making */
	char *body = live_body(type, host_id, job_id);
	if (!body)
		return;
	if (in_tx) { /* after the commit, like the stored ones (none when it is full) */
		if (nheld < sizeof(held) / sizeof(held[0])) {
			held[nheld].id = 0;
			snprintf(held[nheld].type, sizeof(held[nheld].type), "%s", type);
			held[nheld++].body = body;
			return;
		}
	} else {
		sse_broadcast(0, type, body);
	}
	free(body);
}

json_t *events_list(int64_t after, int limit)
{
	json_t *a = json_array();
	struct db_stmt *st = db_q("SELECT body FROM events WHERE id > ? ORDER BY id LIMIT ?", "ii",
	                        after, (int64_t)limit);
	while (st && db_step(st) == DB_ROW) {
		json_t *e = json_loads(db_col_text(st, 0), 0, NULL);
		if (e)
			json_array_append_new(a, e);
	}
	db_done(st);
	return a;
}

json_t *events_list_before(int64_t before, int limit)
{
	json_t *a = json_array();
	struct db_stmt *st = db_q("SELECT body FROM events WHERE id < ? ORDER BY id DESC LIMIT ?", "ii",
	                        before, (int64_t)limit);
	while (st && db_step(st) == DB_ROW) {
		json_t *e = json_loads(db_col_text(st, 0), 0, NULL);
		if (e)
			json_array_append_new(a, e);
	}
	db_done(st);
	return a;
}

void events_shared_start(void)
{
	shared = 1;
	last_broadcast = events_last_id();
}

void events_catch_up(void)
{
	if (!shared)
		return;
	for (int more = 1; more;) {
		struct db_stmt *st = db_q("SELECT id, type, body FROM events WHERE id > ? ORDER BY id "
		                          "LIMIT 500", "i", last_broadcast);
		int n = 0;
		while (st && db_step(st) == DB_ROW) {
			last_broadcast = db_col_int(st, 0);
			sse_broadcast(last_broadcast, db_col_text(st, 1), db_col_text(st, 2));
			n++;
		}
		db_finalize(st);
		more = n == 500;
	}
}

void events_on_notify(const char *channel, const char *payload)
{
	if (!strcmp(channel, "roost_events")) {
		events_catch_up();
		return;
	}
	char type[32];
	long long host, job;
	if (!sse_clients() || sscanf(payload, "%31s %lld %lld", type, &host, &job) != 3)
		return;
	char *body = live_body(type, host, job);
	if (body)
		sse_broadcast(0, type, body);
	free(body);
}
