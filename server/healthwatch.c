/* SPDX-License-Identifier: MIT */
/*
 * The health sweep. A timer every TICK_MS evaluates the next slice of hosts
 * (round-robin by id) so that no tick holds the event loop for long whatever
 * the fleet's size: a slice is at least MIN_SLICE hosts and large enough that
 * the whole fleet is visited about every SWEEP_S seconds. For each host it also
 * writes a connected host's last_seen_at when due (presence_flush).
 *
 * A host's last computed state and what was last announced of it live in
 * host_health, so a restart neither repeats nor forgets an announcement.
 * Flapping (overdue -> ok -> overdue within minutes) is held to one event
 * per flap window (--health-flap, default 10 min): the change is announced
 * when the window has passed if it still stands, and the event says how many
 * changes were held (data.rate_limited, data.changes_held).
 */
#include <string.h>

#include "events.h"
#include "healthwatch.h"
#include "presence.h"
#include "roost/log.h"
#include "roostd.h"

#define TICK_MS 250
#define SWEEP_S 30
#define MIN_SLICE 8

static int bad(int state)
{
	return state == HEALTH_OVERDUE || state == HEALTH_UNSEEN || state == HEALTH_FAILING;
}

static const char *type_of(int state)
{
	switch (state) {
	case HEALTH_OVERDUE: return "host.overdue";
	case HEALTH_UNSEEN: return "host.unseen";
	case HEALTH_FAILING: return "host.failing";
	default: return "host.recovered";
	}
}

const char *healthwatch_decide(struct health_said *s, enum health now_state, int changed,
                               int64_t now, int64_t flap_s, int *held_out)
{
	*held_out = 0;
	int said = s->said < 0 ? HEALTH_NEVER : s->said;
	int in_window = s->said_at && now - s->said_at < flap_s;
	if (changed && in_window)
		s->held++; /* every change inside the window counts, back and forth */
	/* ok and never are both "nothing wrong": no event between them */
	if ((int)now_state == said || (!bad((int)now_state) && !bad(said))) {
		if (!in_window)
			s->held = 0; /* it flapped back to what was said: nothing to say */
		return NULL;
	}
	if (in_window)
		return NULL;
	*held_out = s->held;
	s->said = (int)now_state;
	s->said_at = now;
	s->held = 0;
	return type_of((int)now_state);
}

void healthwatch_host(int64_t host_id, int64_t now)
{
	struct health_verdict v;
	json_t *detail = NULL;
	presence_flush(host_id, now);
	if (health_of(host_id, now, &v, &detail))
		return;
	struct health_said s = {.said = -1};
	char state[16] = "";
	int64_t since = now;
	struct db_stmt *st = db_q("SELECT state, since, said, said_at, held FROM host_health WHERE "
	                        "host_id=?", "i", host_id);
	int have = st && db_step(st) == DB_ROW;
	if (have) {
		snprintf(state, sizeof(state), "%s", db_col_text(st, 0));
		since = db_col_int(st, 1);
		s.said = db_col_is_null(st, 2)
		                 ? -1
		                 : health_parse(db_col_text(st, 2));
		s.said_at = db_col_int(st, 3);
		s.held = (int)db_col_int(st, 4);
	}
	db_done(st);
	int changed = !have || strcmp(state, health_name(v.state));
	if (changed)
		since = v.since ? v.since : now;
	struct health_said before = s;
	int held;
	const char *type = healthwatch_decide(&s, v.state, changed && have, now, g_srv->health_flap_s, &held);
	if (type) {
		/* docs/scale-out.md 2.10: an announcement is a conditional write of what
		 * was said, in the transaction of its event: of two evaluations of one
		 * host (two roostd, a host changing owner mid-sweep), one says it */
		const char *was = before.said < 0 ? NULL : health_name(before.said);
		const char *now_said = s.said < 0 ? NULL : health_name(s.said);
		int64_t won = have
		        ? db_returning("UPDATE host_health SET state=?, since=?, said=?, said_at=NULLIF(?, 0), "
		                       "held=? WHERE host_id=? AND said IS NOT DISTINCT FROM ? AND "
		                       "COALESCE(said_at, 0)=? RETURNING 1", "titiiiti",
		                       health_name(v.state), since, now_said, s.said_at, (int64_t)s.held,
		                       host_id, was, before.said_at)
		        : db_returning("INSERT INTO host_health (host_id, state, since, said, said_at, held) "
		                       "VALUES (?, ?, ?, ?, NULLIF(?, 0), ?) ON CONFLICT DO NOTHING "
		                       "RETURNING 1", "ititii", host_id, health_name(v.state), since,
		                       now_said, s.said_at, (int64_t)s.held);
		if (won <= 0) {
			log_info("health.said_elsewhere", "host=%lld health=%s", (long long)host_id,
			         health_name(v.state));
			type = NULL;
		}
	} else if (changed || memcmp(&before, &s, sizeof(s)))
		db_exec("INSERT INTO host_health (host_id, state, since, said, said_at, held) VALUES "
		        "(?, ?, ?, ?, NULLIF(?, 0), ?) ON CONFLICT (host_id) DO UPDATE SET "
		        "state=excluded.state, since=excluded.since, said=excluded.said, "
		        "said_at=excluded.said_at, held=excluded.held", "ititii", host_id,
		        health_name(v.state), since, s.said < 0 ? NULL : health_name(s.said), s.said_at,
		        (int64_t)s.held);
	if (changed)
		log_info("host.health", "host=%lld health=%s was=%s", (long long)host_id,
		         health_name(v.state), state[0] ? state : "-");
	if (type) {
		json_t *data = json_pack("{s:s, s:s, s:o, s:O}", "health", health_name(v.state),
		                         "previous", before.said < 0 ? "never" : health_name(before.said),
		                         "since", json_time(since), "reason",
		                         json_object_get(detail, "health_reason"));
		if (held)
			json_object_update_new(data, json_pack("{s:b, s:i, s:I}", "rate_limited", 1,
			                                       "changes_held", held, "flap_window_s",
			                                       (json_int_t)g_srv->health_flap_s));
		events_emit(type, host_id, 0, data);
	}
	json_decref(detail);
}

static int64_t cursor; /* the last host id visited */

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	int64_t now = srv_now();
	int64_t hosts = db_int(0, "SELECT COUNT(*) FROM hosts", NULL);
	int64_t slice = hosts * TICK_MS / (SWEEP_S * 1000) + 1;
	if (slice < MIN_SLICE)
		slice = MIN_SLICE;
	int64_t ids[512];
	size_t n = 0;
	if (slice > 512)
		slice = 512;
	struct db_stmt *st = db_q("SELECT id FROM hosts WHERE id > ? ORDER BY id LIMIT ?", "ii", cursor,
	                        slice);
	while (st && db_step(st) == DB_ROW)
		ids[n++] = db_col_int(st, 0);
	db_done(st);
	cursor = n < (size_t)slice ? 0 : ids[n - 1];
	/* the slice's writes (last_seen_at, host_health, events) in one commit */
	int tx = n && db_begin() == 0;
	if (tx)
		events_tx_begin();
	for (size_t i = 0; i < n; i++)
		healthwatch_host(ids[i], now);
	if (tx) {
		int failed = db_commit() != 0;
		events_tx_end(!failed);
		if (failed)
			log_warn("health.unrecorded", "hosts=%zu why=%s", n, roost_lq(db_last_error()));
	}
	lws_sul_schedule(g_srv->lws, 0, sul, tick_cb, TICK_MS * LWS_US_PER_MS);
}

void healthwatch_start(void)
{
	static lws_sorted_usec_list_t sul;
	lws_sul_schedule(g_srv->lws, 0, &sul, tick_cb, TICK_MS * LWS_US_PER_MS);
}
