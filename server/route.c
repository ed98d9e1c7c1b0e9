/* SPDX-License-Identifier: MIT */
/*
 * Routing a host's actions to its owner (route.h; docs/scale-out.md, 2.4).
 * The owner of a host is read from the store at each routed action (one
 * indexed row); the epoch of the connection this instance took is kept in
 * memory per host, so a disconnect lets go only of its own session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "instances.h"
#include "roost/log.h"
#include "roostd.h"
#include "route.h"

static route_fn local[ROUTE_NKINDS];
static const char *const names[ROUTE_NKINDS] = {"job", "cancel", "config", "pending", "kick"};

static int64_t *epochs; /* by host id: the conn_epoch this instance took; 0 none */
static size_t ecap;

void route_set_local(enum route_kind k, route_fn fn)
{
	if (k < ROUTE_NKINDS)
		local[k] = fn;
}

const char *route_kind_name(enum route_kind k)
{
	return k < ROUTE_NKINDS ? names[k] : "?";
}

enum route_way route_decide(int64_t me, int64_t owner, int owner_live)
{
	if (!me || !owner || owner == me || !owner_live)
		return ROUTE_LOCAL; /* alone, nobody's, ours, or a dead owner's: as one server */
	return ROUTE_POKE;
}

void route_channel(int64_t instance_id, char *buf, size_t cap)
{
	snprintf(buf, cap, "roost_i%lld", (long long)instance_id);
}

static int act(enum route_kind k, int64_t host_id, int64_t id, route_fn here)
{
	route_fn fn = here ? here : local[k];
	return fn ? fn(host_id, id) : -1;
}

int route_poke(int64_t owner, enum route_kind k, int64_t host_id, int64_t id, int64_t epoch)
{
	char ch[32], payload[96];
	route_channel(owner, ch, sizeof(ch));
	snprintf(payload, sizeof(payload), "%s %lld %lld %lld", names[k], (long long)host_id,
	         (long long)id, (long long)epoch);
	int rc = db_exec("SELECT pg_notify(?, ?)", "tt", ch, payload) == DB_DONE ? 0 : -1;
	log_info("route.poke", "host=%lld kind=%s id=%lld owner=%lld epoch=%lld sent=%s",
	         (long long)host_id, names[k], (long long)id, (long long)owner, (long long)epoch,
	         rc ? "no" : "yes");
	return rc;
}

int route_host(int64_t host_id, enum route_kind k, int64_t id, route_fn here)
{
	int64_t me = instances_me();
	if (!me || k >= ROUTE_NKINDS)
		return k < ROUTE_NKINDS ? act(k, host_id, id, here) : -1;
	struct db_stmt *st = db_qc("SELECT COALESCE(h.instance_id, 0), h.conn_epoch, (SELECT COUNT(*)"
	                           " FROM instances i WHERE i.id = h.instance_id AND i.state='live' "
	                           "AND i.heartbeat_at >= roost_now() - ?) FROM hosts h WHERE h.id=?",
	                           "ii", instances_ttl(), host_id);
	int64_t owner = 0, epoch = 0;
	int live = 0;
	if (st && db_step(st) == DB_ROW) {
		owner = db_col_int(st, 0);
		epoch = db_col_int(st, 1);
		live = db_col_int(st, 2) > 0;
	}
	db_done(st);
	if (route_decide(me, owner, live) == ROUTE_LOCAL)
		return act(k, host_id, id, here);
	return route_poke(owner, k, host_id, id, epoch);
}

void route_on_notify(const char *channel, const char *payload)
{
	(void)channel;
	char kind[16];
	long long host, id, epoch;
	if (sscanf(payload, "%15s %lld %lld %lld", kind, &host, &id, &epoch) != 4) {
		log_warn("route.bad_poke", "payload=%s", roost_lq(payload));
		return;
	}
	int k = 0;
	while (k < ROUTE_NKINDS && strcmp(names[k], kind))
		k++;
	if (k == ROUTE_NKINDS) {
		log_warn("route.bad_poke", "payload=%s", roost_lq(payload));
		return;
	}
	int64_t me = instances_me();
	struct db_stmt *st = db_q("SELECT COALESCE(instance_id, 0), conn_epoch FROM hosts WHERE id=?",
	                          "i", (int64_t)host);
	int found = st && db_step(st) == DB_ROW;
	int64_t owner = found ? db_col_int(st, 0) : 0, now_epoch = found ? db_col_int(st, 1) : 0;
	db_finalize(st);
	int ok;
	if (k == ROUTE_KICK) /* the host is gone, or another instance took it */
		ok = me && (!found || owner != me);
	else
		ok = me && found && owner == me && now_epoch == epoch;
	log_info("route.poked", "host=%lld kind=%s id=%lld epoch=%lld acted=%s", host, kind, id,
	         epoch, ok ? "yes" : "no(stale)");
	if (ok)
		act((enum route_kind)k, host, k == ROUTE_KICK ? found : id, NULL);
}

static int64_t *slot(int64_t host_id, int grow)
{
	if (host_id <= 0 || host_id > (1 << 26))
		return NULL;
	if ((uint64_t)host_id >= ecap) {
		if (!grow)
			return NULL;
		size_t nc = ecap ? ecap : 1024;
		while (nc <= (uint64_t)host_id)
			nc *= 2;
		int64_t *n = realloc(epochs, nc * sizeof(*n));
		if (!n)
			return NULL;
		memset(n + ecap, 0, (nc - ecap) * sizeof(*n));
		epochs = n;
		ecap = nc;
	}
	return &epochs[host_id];
}

static void remember(int64_t host_id, int64_t epoch)
{
	int64_t *e = slot(host_id, 1);
	if (e)
		*e = epoch;
}

int64_t route_epoch(int64_t host_id)
{
	int64_t *e = slot(host_id, 0);
	return e ? *e : 0;
}

int route_takeover(int64_t host_id, int64_t now)
{
	int64_t me = instances_me();
	if (!me) { /* alone: the session's epoch all the same (claims compare it) */
		struct db_stmt *st = db_q("UPDATE hosts SET conn_epoch = conn_epoch + 1, "
		                          "session_started_at=? WHERE id=? RETURNING conn_epoch", "ii",
		                          now, host_id);
		int64_t epoch = st && db_step(st) == DB_ROW ? db_col_int(st, 0) : 0;
		db_finalize(st);
		remember(host_id, epoch);
		return epoch ? 0 : -1;
	}
	if (db_begin())
		return -1;
	/* the row lock first (PostgreSQL; SQLite's writer lock is the
	 * transaction's): a job inserted by another instance waits for it, or
	 * its poke went to the owner this reads */
	db_exec("UPDATE hosts SET conn_epoch = conn_epoch WHERE id=?", "i", host_id);
	int64_t prev = db_int(0, "SELECT COALESCE(instance_id, 0) FROM hosts WHERE id=?", "i",
	                      host_id);
	struct db_stmt *st = db_q("UPDATE hosts SET instance_id=?, conn_epoch = conn_epoch + 1, "
	                          "session_started_at=? WHERE id=? RETURNING conn_epoch", "iii", me,
	                          now, host_id);
	int64_t epoch = st && db_step(st) == DB_ROW ? db_col_int(st, 0) : 0;
	db_finalize(st);
	if (prev && prev != me && epoch)
		route_poke(prev, ROUTE_KICK, host_id, 1, epoch);
	if (db_commit() || !epoch) {
		log_error("route.takeover_failed", "host=%lld msg=%s", (long long)host_id,
		          roost_lq(db_last_error()));
		return -1;
	}
	remember(host_id, epoch);
	log_info("route.takeover", "host=%lld instance=%lld epoch=%lld from=%lld",
	         (long long)host_id, (long long)me, (long long)epoch, (long long)prev);
	return 0;
}

void route_release(int64_t host_id)
{
	int64_t *e = slot(host_id, 0);
	int64_t me = instances_me();
	if (!e || !*e)
		return;
	if (me)
		db_exec("UPDATE hosts SET instance_id=NULL, session_started_at=NULL WHERE id=? AND "
		        "instance_id=? AND conn_epoch=?", "iii", host_id, me, *e);
	else
		db_exec("UPDATE hosts SET session_started_at=NULL WHERE id=? AND conn_epoch=?", "ii",
		        host_id, *e);
	*e = 0;
}

int route_online(int64_t host_id)
{
	if (hub_online(host_id))
		return 1;
	int64_t me = instances_me();
	if (!me)
		return 0;
	return db_int(0, "SELECT COUNT(*) FROM hosts h JOIN instances i ON i.id = h.instance_id "
	                 "WHERE h.id=? AND h.instance_id <> ? AND i.state='live' AND "
	                 "i.heartbeat_at >= roost_now() - ?", "iii", host_id, me,
	              instances_ttl()) > 0;
}

void route_each_owned(void (*fn)(int64_t host_id))
{
	int64_t me = instances_me();
	if (!me)
		return;
	struct db_stmt *st = db_q("SELECT id FROM hosts WHERE instance_id=?", "i", me);
	size_t n = 0, cap = 0;
	int64_t *ids = NULL;
	while (st && db_step(st) == DB_ROW) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			int64_t *t = realloc(ids, nc * sizeof(*t));
			if (!t)
				break;
			ids = t;
			cap = nc;
		}
		ids[n++] = db_col_int(st, 0);
	}
	db_finalize(st);
	for (size_t i = 0; i < n; i++)
		fn(ids[i]);
	free(ids);
}

void route_forget_all(void)
{
	free(epochs);
	epochs = NULL;
	ecap = 0;
}
