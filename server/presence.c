/* SPDX-License-Identifier: MIT */
/*
 * Presence: when each host was connected. A session runs from the hello to
 * the disconnect; the running one lives in memory (its start, per host id),
 * ended ones in host_sessions, so that "online for an hour in total since the
 * window it missed" (DESIGN.md, availability-aware overdue) is a sum over a
 * few rows. Sessions older than SESSIONS_KEEP_S are pruned as new ones end.
 *
 * last_seen_at: the hub notes the time of every frame and pong in memory; the
 * store gets it on disconnect and at most every PRESENCE_FLUSH_S while the host
 * is connected (presence_flush, from the health sweep), so a busy fleet costs
 * no write per frame and a crash of roostd loses at most that much.
 */
#include <stdlib.h>
#include <string.h>

#include "presence.h"
#include "roostd.h"

#define SESSIONS_KEEP_S (90 * 86400)

struct live {
	int64_t start;   /* 0: no session running */
	int64_t flushed; /* last_seen_at last written */
};

static struct live *live;
static size_t cap;

static struct live *slot(int64_t host_id, int grow)
{
	if (host_id <= 0 || host_id > (1 << 26))
		return NULL;
	if ((uint64_t)host_id >= cap) {
		if (!grow)
			return NULL;
		size_t nc = cap ? cap : 1024;
		while (nc <= (uint64_t)host_id)
			nc *= 2;
		struct live *n = realloc(live, nc * sizeof(*n));
		if (!n)
			return NULL;
		memset(n + cap, 0, (nc - cap) * sizeof(*n));
		live = n;
		cap = nc;
	}
	return &live[host_id];
}

void presence_hello(int64_t host_id, int64_t now)
{
	struct live *l = slot(host_id, 1);
	if (l && !l->start) {
		l->start = now;
		l->flushed = now; /* the hello wrote last_seen_at */
	}
}

void presence_gone(int64_t host_id, int64_t now)
{
	struct live *l = slot(host_id, 0);
	db_exec("UPDATE hosts SET last_seen_at=? WHERE id=?", "ii", now, host_id);
	if (!l || !l->start)
		return;
	if (now > l->start)
		db_exec("INSERT INTO host_sessions (host_id, started_at, ended_at) VALUES (?, ?, ?)",
		        "iii", host_id, l->start, now);
	db_exec("DELETE FROM host_sessions WHERE host_id=? AND ended_at < ?", "ii", host_id,
	        now - SESSIONS_KEEP_S);
	l->start = 0;
	l->flushed = 0;
}

int64_t presence_online_within(int64_t host_id, int64_t from, int64_t now)
{
	int64_t s = db_int(0, "SELECT COALESCE(SUM(LEAST(ended_at, ?) - GREATEST(started_at, ?)), 0) FROM "
	                      "host_sessions WHERE host_id=? AND ended_at > ? AND started_at < ?",
	                   "iiiii", now, from, host_id, from, now);
	struct live *l = slot(host_id, 0);
	if (l && l->start && hub_online(host_id) && now > from)
		s += now - (l->start > from ? l->start : from);
	return s;
}

int64_t presence_last_seen(int64_t host_id)
{
	int64_t t = hub_last_seen(host_id);
	if (t)
		return t;
	return db_int(0, "SELECT last_seen_at FROM hosts WHERE id=?", "i", host_id);
}

void presence_flush(int64_t host_id, int64_t now)
{
	struct live *l = slot(host_id, 0);
	if (!l || !l->start || now - l->flushed < PRESENCE_FLUSH_S)
		return;
	int64_t seen = hub_last_seen(host_id);
	if (!seen)
		return;
	l->flushed = now;
	db_exec("UPDATE hosts SET last_seen_at=? WHERE id=?", "ii", seen, host_id);
}

void presence_release(void)
{
	free(live);
	live = NULL;
	cap = 0;
}
