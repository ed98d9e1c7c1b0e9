/* SPDX-License-Identifier: MIT */
/*
 * Fires from always-on hosts (DESIGN.md, "Always-on hosts"): the agent fires
 * its schedules from its own clock and sends `fire {schedule_id, slot}`,
 * live or, after an outage, persisted in its next hello. The server handles
 * each fire idempotently by (host, schedule, slot):
 *
 *   already seen, or covered by a job of that schedule created at or after
 *   the slot                     dropped (logged)
 *   host idle                    one backup job per group of the schedule
 *   host busy                    coalesced into the one pending run of
 *                                (host, schedule) (server/pending.c)
 *
 * fires_decide is the rule alone (pure, unit-tested); fires_handle gathers
 * its facts from the store and applies it in one transaction that first
 * claims the fire's row (docs/scale-out.md 2.1) and, to dispatch, the host.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "roost/log.h"
#include "roost/timeutil.h"
#include "defer.h"
#include "roostd.h"

enum fire_action fires_decide(const struct fire_facts *f, int64_t slot)
{
	if (f->seen)
		return FIRE_DROP_SEEN;
	if (!f->schedule_usable)
		return FIRE_DROP_DISABLED;
	if (f->last_job_created != INT64_MIN && f->last_job_created >= slot)
		return FIRE_DROP_COVERED;
	return f->host_busy ? FIRE_COALESCE : FIRE_DISPATCH;
}

const char *fires_action_name(enum fire_action a)
{
	switch (a) {
	case FIRE_DROP_SEEN: return "duplicate";
	case FIRE_DROP_COVERED: return "covered_by_later_job";
	case FIRE_DISPATCH: return "dispatch";
	case FIRE_COALESCE: return "pending";
	case FIRE_DROP_DISABLED: return "schedule_unusable";
	}
	return "?";
}

void fires_handle(int64_t host_id, int64_t schedule_id, int64_t slot, const char *via)
{
	int64_t groups[64];
	int enabled;
	size_t ng = db_schedule_groups(host_id, schedule_id, groups, 64, &enabled);
	char slotbuf[40];
	roost_time_format(slot, slotbuf, sizeof(slotbuf));
	/* docs/scale-out.md 2.1: the claim comes first, in one transaction with the
	 * decision and its dispatch: of two handlers of one fire (a failed-over
	 * agent's persisted fire on another roostd, a hello's replay beside the live
	 * one), one inserts the row; the other is told it was seen */
	if (db_begin())
		return;
	int64_t claimed = enabled >= 0 ? db_returning("INSERT INTO fires (host_id, schedule_id, slot, "
	                                              "seen_at) VALUES (?, ?, ?, ?) ON CONFLICT DO "
	                                              "NOTHING RETURNING 1", "iiii", host_id,
	                                              schedule_id, slot, srv_now())
	                                 : 1; /* not a schedule of this host: nothing to remember */
	struct fire_facts f = {
		.seen = claimed == 0,
		.schedule_usable = enabled > 0 && ng > 0,
		.last_job_created = db_int(INT64_MIN, "SELECT MAX(created_at) FROM jobs WHERE "
		                                      "host_id=? AND schedule_id=?", "ii", host_id,
		                           schedule_id),
		.host_busy = db_host_busy(host_id),
	};
	enum fire_action a = claimed < 0 ? FIRE_DROP_SEEN : fires_decide(&f, slot);
	struct defer_batch *b = NULL;
	if (a == FIRE_DISPATCH) {
		/* idle when read; the host's claim decides: busy after all, it coalesces */
		b = malloc(sizeof(*b));
		int rc = b ? defer_batch_schedule(b, host_id, schedule_id, "schedule", srv_now()) : -1;
		if (rc == 0)
			a = FIRE_COALESCE;
		else if (rc < 0)
			claimed = -1;
	}
	if (a == FIRE_COALESCE)
		pending_coalesce(host_id, schedule_id, slot);
	if (claimed < 0 || a == FIRE_DROP_SEEN)
		db_rollback();
	else if (db_commit())
		claimed = -1;
	if (claimed < 0) {
		log_error("fire.unrecorded", "host=%lld schedule=%lld slot=%s via=%s why=%s",
		          (long long)host_id, (long long)schedule_id, slotbuf, via,
		          roost_lq(db_last_error()));
		free(b);
		return;
	}
	log_info("fire", "host=%lld schedule=%lld slot=%s via=%s action=%s", (long long)host_id,
	         (long long)schedule_id, slotbuf, via, fires_action_name(a));
	if (a == FIRE_COALESCE) {
		char tb[40];
		log_info("pending.upsert", "host=%lld schedule=%lld slot=%s why=\"host busy\"",
		         (long long)host_id, (long long)schedule_id,
		         roost_time_format(slot, tb, sizeof(tb)));
	}
	if (a == FIRE_DISPATCH)
		defer_batch_done(b, "fire while idle", NULL);
	free(b);
}
