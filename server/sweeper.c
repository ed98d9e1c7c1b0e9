/* SPDX-License-Identifier: MIT */
/*
 * The sweeper (sweeper.h): under the lease `sweeper`, instances past their
 * ttl are marked dead and their hosts let go. Each host is let go by one
 * conditional statement (still owned by the dead instance, at the epoch
 * read), so a host that reconnected to a live instance meanwhile keeps its
 * new owner; its session's row (started at hello, ended at the dead
 * instance's last heartbeat) is written in the same transaction. Dead
 * instances that still own hosts (a sweep cut short) are visited again.
 */
#include <stdlib.h>

#include "instances.h"
#include "leases.h"
#include "maintenance.h"
#include "roost/clock.h"
#include "roost/log.h"
#include "roostd.h"
#include "sweeper.h"

static struct {
	struct lease lease;
	int64_t sweep_s, lease_ttl_s;
	lws_sorted_usec_list_t sul;
} W = {.lease = {.name = "sweeper"}};

int sweeper_release(int64_t dead, int64_t ended_at)
{
	struct db_stmt *st = db_q("SELECT id, conn_epoch, COALESCE(session_started_at, 0) FROM hosts "
	                          "WHERE instance_id=?", "i", dead);
	struct h {
		int64_t id, epoch, start;
	} *hs = NULL;
	size_t n = 0, cap = 0;
	while (st && db_step(st) == DB_ROW) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct h *t = realloc(hs, nc * sizeof(*t));
			if (!t)
				break;
			hs = t;
			cap = nc;
		}
		hs[n].id = db_col_int(st, 0);
		hs[n].epoch = db_col_int(st, 1);
		hs[n].start = db_col_int(st, 2);
		n++;
	}
	db_finalize(st);
	int released = 0;
	for (size_t i = 0; i < n; i++) {
		if (db_begin())
			break;
		db_exec("UPDATE hosts SET instance_id=NULL, conn_epoch = conn_epoch + 1, "
		        "session_started_at=NULL, last_seen_at = GREATEST(COALESCE(last_seen_at, 0), ?) "
		        "WHERE id=? AND instance_id=? AND conn_epoch=?", "iiii", ended_at, hs[i].id,
		        dead, hs[i].epoch);
		int mine = db_changes() == 1;
		if (mine && hs[i].start && ended_at > hs[i].start)
			db_exec("INSERT INTO host_sessions (host_id, started_at, ended_at) VALUES (?, ?, ?)",
			        "iii", hs[i].id, hs[i].start, ended_at);
		if (db_commit() == 0 && mine) {
			released++;
			log_info("sweeper.released", "host=%lld instance=%lld ended_at=%lld",
			         (long long)hs[i].id, (long long)dead, (long long)ended_at);
		}
	}
	free(hs);
	return released;
}

int sweeper_run(int64_t me, int64_t now_ms)
{
	if (!me || !lease_hold(&W.lease, me, W.lease_ttl_s > 0 ? W.lease_ttl_s : LEASE_TTL_S, now_ms))
		return -1;
	int64_t ids[64], beats[64];
	int n = instances_reap(instances_ttl(), ids, beats, 64);
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++)
		log_warn("instance.dead", "instance=%lld last_heartbeat=%lld swept_by=%lld",
		         (long long)ids[i], (long long)beats[i], (long long)me);
	/* the dead that still own hosts: just marked, or a sweep cut short */
	struct db_stmt *st = db_q("SELECT i.id, i.heartbeat_at FROM instances i WHERE "
	                          "i.state='dead' AND EXISTS (SELECT 1 FROM hosts h WHERE "
	                          "h.instance_id = i.id)", "");
	n = 0;
	while (st && db_step(st) == DB_ROW && n < 64) {
		ids[n] = db_col_int(st, 0);
		beats[n] = db_col_int(st, 1);
		n++;
	}
	db_finalize(st);
	int released = 0;
	for (int i = 0; i < n; i++)
		released += sweeper_release(ids[i], beats[i]);
	maintenance_recover(); /* runs whose holder's lease expired: interrupted */
	/* dead rows owning nothing, a day old: forgotten */
	db_exec("DELETE FROM instances WHERE state='dead' AND heartbeat_at < roost_now() - 86400 "
	        "AND NOT EXISTS (SELECT 1 FROM hosts h WHERE h.instance_id = instances.id)", "");
	return released;
}

static int64_t mono_ms(void)
{
	return roost_clock_mono_ns(roost_clock_system()) / 1000000;
}

static void sweep_cb(lws_sorted_usec_list_t *sul)
{
	sweeper_run(instances_me(), mono_ms());
	lws_sul_schedule(g_srv->lws, 0, sul, sweep_cb, W.sweep_s * LWS_US_PER_SEC);
}

void sweeper_start(int64_t sweep_s, int64_t lease_ttl_s)
{
	if (!instances_shared())
		return;
	W.sweep_s = sweep_s > 0 ? sweep_s : SWEEP_S;
	W.lease_ttl_s = lease_ttl_s > 0 ? lease_ttl_s : LEASE_TTL_S;
	lws_sul_schedule(g_srv->lws, 0, &W.sul, sweep_cb, W.sweep_s * LWS_US_PER_SEC);
}
