/* SPDX-License-Identifier: MIT */
/*
 * Pending runs (DESIGN.md, "Always-on hosts"): a fire that arrives while the
 * host is busy becomes one `pending_runs` row per (host, schedule) — many
 * fires while busy coalesce into one — and when the host's current job
 * ends, the oldest pending run is dispatched (trigger `pending`), first
 * fire first (FIFO across schedules).
 */
#include <stdio.h>

#include "roost/log.h"
#include "roost/timeutil.h"
#include "defer.h"
#include "roostd.h"

void pending_coalesce(int64_t host_id, int64_t schedule_id, int64_t slot)
{
	db_exec("INSERT INTO pending_runs (host_id, schedule_id, first_fire, last_fire) "
	        "VALUES (?, ?, ?, ?) ON CONFLICT (host_id, schedule_id) DO UPDATE SET "
	        "last_fire = GREATEST(pending_runs.last_fire, excluded.last_fire)",
	        "iiii", host_id, schedule_id, slot, slot);
	char tb[40];
	log_info("pending.upsert", "host=%lld schedule=%lld slot=%s why=\"host busy\"",
	         (long long)host_id, (long long)schedule_id, roost_time_format(slot, tb, sizeof(tb)));
}

void pending_dispatch(int64_t host_id)
{
	defer_release(host_id, srv_now()); /* deferred jobs whose reason cleared wait longest */
	while (!db_host_busy(host_id)) {
		struct db_stmt *st = db_q("SELECT schedule_id, first_fire FROM pending_runs WHERE "
		                        "host_id=? ORDER BY first_fire, schedule_id LIMIT 1", "i", host_id);
		int64_t sid = 0, first = 0;
		if (st && db_step(st) == DB_ROW) {
			sid = db_col_int(st, 0);
			first = db_col_int(st, 1);
		}
		db_done(st);
		if (!sid)
			return;
		db_exec("DELETE FROM pending_runs WHERE host_id=? AND schedule_id=?", "ii", host_id, sid);
		int64_t groups[64];
		int enabled;
		if (db_schedule_groups(host_id, sid, groups, 64, &enabled) == 0 || enabled <= 0) {
			log_info("pending.drop", "host=%lld schedule=%lld why=\"schedule disabled, gone "
			                         "or without groups\"", (long long)host_id, (long long)sid);
			continue;
		}
		char why[96], tb[40];
		snprintf(why, sizeof(why), "pending run (first fire %s) after the host's job ended",
		         roost_time_format(first, tb, sizeof(tb)));
		defer_dispatch_schedule(host_id, sid, "pending", why);
	}
}
