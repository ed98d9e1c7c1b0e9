/* SPDX-License-Identifier: MIT */
/*
 * Pending runs (DESIGN.md, "Always-on hosts"): a fire that arrives while the
 * host is busy becomes one `pending_runs` row per (host, schedule) — many
 * fires while busy coalesce into one — and when the host's current job
 * ends, the oldest pending run is dispatched (trigger `pending`), first
 * fire first (FIFO across schedules).
 */
#include <stdio.h>
#include <stdlib.h>

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
}

/* The host's oldest pending run, taken: one statement, so that of two takers
 * (two roostd) only one gets it. In the caller's transaction. 1 taken, 0 none,
 * -1 failed. */
static int take_oldest(int64_t host_id, int64_t *sid, int64_t *first)
{
	/* PostgreSQL: a row another transaction is taking is skipped, not waited for */
	const char *sql = store_engine(g_srv->st) == STORE_PG
	                  ? "DELETE FROM pending_runs WHERE (host_id, schedule_id) = (SELECT host_id, "
	                    "schedule_id FROM pending_runs WHERE host_id=? ORDER BY first_fire, "
	                    "schedule_id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING schedule_id, "
	                    "first_fire"
	                  : "DELETE FROM pending_runs WHERE (host_id, schedule_id) = (SELECT host_id, "
	                    "schedule_id FROM pending_runs WHERE host_id=? ORDER BY first_fire, "
	                    "schedule_id LIMIT 1) RETURNING schedule_id, first_fire";
	struct db_stmt *st = db_q(sql, "i", host_id);
	int rc = st ? db_step(st) : DB_ERROR;
	if (rc == DB_ROW) {
		*sid = db_col_int(st, 0);
		*first = db_col_int(st, 1);
	}
	db_done(st);
	return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : -1;
}

void pending_dispatch(int64_t host_id)
{
	defer_release(host_id, srv_now()); /* deferred jobs whose reason cleared wait longest */
	struct defer_batch *b = malloc(sizeof(*b));
	while (b && !db_host_busy(host_id)) {
		/* docs/scale-out.md 2.3: the run is taken and its jobs inserted (the host
		 * claimed) in one transaction: a run is dispatched once, and a failure
		 * between the two loses nothing */
		if (db_begin())
			break;
		int64_t sid = 0, first = 0;
		int took = take_oldest(host_id, &sid, &first);
		if (took <= 0) {
			db_rollback();
			break;
		}
		int64_t groups[1];
		int enabled;
		if (db_schedule_groups(host_id, sid, groups, 1, &enabled) == 0 || enabled <= 0) {
			if (db_commit())
				break;
			log_info("pending.drop", "host=%lld schedule=%lld why=\"schedule disabled, gone "
			                         "or without groups\"", (long long)host_id, (long long)sid);
			continue;
		}
		int rc = defer_batch_schedule(b, host_id, sid, "pending", srv_now());
		if (rc <= 0) {
			db_rollback(); /* busy after all (claimed elsewhere): the run stays */
			break;
		}
		if (db_commit())
			break;
		char why[96], tb[40];
		snprintf(why, sizeof(why), "pending run (first fire %s) after the host's job ended",
		         roost_time_format(first, tb, sizeof(tb)));
		defer_batch_done(b, why, NULL);
	}
	free(b);
}
