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
 * its facts from the store and applies it.
 */
#include <stdint.h>
#include <stdio.h>

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
	struct fire_facts f = {
		.seen = db_int(0, "SELECT 1 FROM fires WHERE host_id=? AND schedule_id=? AND slot=?",
		               "iii", host_id, schedule_id, slot) != 0,
		.schedule_usable = enabled > 0 && ng > 0,
		.last_job_created = db_int(INT64_MIN, "SELECT MAX(created_at) FROM jobs WHERE "
		                                      "host_id=? AND schedule_id=?", "ii", host_id,
		                           schedule_id),
		.host_busy = db_host_busy(host_id),
	};
	enum fire_action a = fires_decide(&f, slot);
	char slotbuf[40];
	roost_time_format(slot, slotbuf, sizeof(slotbuf));
	log_info("fire", "host=%lld schedule=%lld slot=%s via=%s action=%s", (long long)host_id,
	         (long long)schedule_id, slotbuf, via, fires_action_name(a));
	if (a == FIRE_DROP_SEEN)
		return;
	if (enabled >= 0) /* a schedule of this host: remember the slot */
		db_exec("INSERT INTO fires (host_id, schedule_id, slot, seen_at) "
		        "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", "iiii", host_id, schedule_id, slot, srv_now());
	if (a == FIRE_DISPATCH)
		defer_dispatch_schedule(host_id, schedule_id, "schedule", "fire while idle");
	else if (a == FIRE_COALESCE)
		pending_coalesce(host_id, schedule_id, slot);
}
