/* SPDX-License-Identifier: MIT */
/*
 * The scheduling core of roostd (DESIGN.md, "Scheduling semantics"): pure
 * decisions over data the caller loads, with time passed in, so every rule
 * is tested in microseconds. The server wires these to its store and hub.
 *
 *   sched_fire_decide   a fire {schedule, slot} from an always-on host
 *   sched_catchup_eval  which (schedule, group) pairs an intermittent host
 *                       missed while asleep, when its settle window ends
 *   struct catchup_heap due catch-ups by time, re-armable, without
 *                       scanning every host
 */
#ifndef ROOSTD_ROOSTD_SCHED_H
#define ROOSTD_ROOSTD_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "roost/error.h"

/* ---- fires (always-on hosts) ---- */

enum fire_action {
	FIRE_DROP_SEEN = 1,  /* (host, schedule, slot) already handled */
	FIRE_DROP_COVERED,   /* a job of this schedule was created at or after the slot */
	FIRE_DISPATCH,       /* host idle: one backup job per group of the schedule */
	FIRE_COALESCE,       /* host busy: upsert the one pending run of (host, schedule) */
	FIRE_DROP_DISABLED,  /* schedule disabled, gone, or without groups */
};

struct fire_facts {
	int seen;                  /* the (host, schedule, slot) fire was recorded before */
	int schedule_usable;       /* exists, enabled, has at least one group */
	int64_t last_job_created;  /* newest job of this schedule on this host, or INT64_MIN */
	int host_busy;             /* the host has a queued or running job */
};

/* What to do with a fire of `slot` (seconds, UTC) given the facts. */
enum fire_action sched_fire_decide(const struct fire_facts *f, int64_t slot);
const char *sched_fire_action_name(enum fire_action a);

/* ---- catch-up (intermittent hosts) ---- */

struct catchup_group {
	int64_t group_id;
	int succeeded;          /* this (schedule, group) ever succeeded */
	int64_t last_success;   /* started_at of its last success */
};

struct catchup_schedule {
	int64_t schedule_id;
	const char *cron;       /* as stored; unparseable = never overdue */
	const char *tz;         /* the host's zone, or NULL for UTC */
	int enabled;
	const struct catchup_group *groups;
	size_t ngroups;
};

enum catchup_skip {
	CATCHUP_RUN = 0,
	CATCHUP_SKIP_OFFLINE,   /* not connected any more: re-arms on its next hello */
	CATCHUP_SKIP_ALWAYS_ON, /* switched to always-on during the settle window */
	CATCHUP_SKIP_BUSY,      /* a job is queued or running */
};

struct catchup_host {
	int connected;
	int intermittent;
	int busy;
};

struct catchup_due {
	int64_t schedule_id, group_id;
};

/*
 * Decides a due catch-up. Returns the skip reason, or CATCHUP_RUN with the
 * overdue (schedule, group) pairs in out[0..*n) (out has room for cap; more
 * are counted in *n but not written). A pair is overdue when it never
 * succeeded, or next(last_success) <= now. Disabled schedules, schedules
 * without groups and unparseable expressions never are.
 */
enum catchup_skip sched_catchup_eval(const struct catchup_host *h,
                                     const struct catchup_schedule *s, size_t ns, int64_t now,
                                     struct catchup_due *out, size_t cap, size_t *n);
const char *sched_catchup_skip_name(enum catchup_skip s);

/* ---- due catch-ups: a min-heap keyed by due time, one entry per host ---- */

struct catchup_heap;
struct catchup_heap *catchup_heap_new(void);
void catchup_heap_free(struct catchup_heap *h);
/* Arms host at due; re-arming overwrites (a flapping host does not stack). */
enum roost_err catchup_heap_arm(struct catchup_heap *h, int64_t host_id, int64_t due);
void catchup_heap_disarm(struct catchup_heap *h, int64_t host_id);
/* Pops one host whose due time is <= now; 0 if there is one. O(log n). */
int catchup_heap_pop_due(struct catchup_heap *h, int64_t now, int64_t *host_id);
/* Earliest due time (for the server's timer), or INT64_MAX when empty. */
int64_t catchup_heap_next(const struct catchup_heap *h);
size_t catchup_heap_size(const struct catchup_heap *h);

#endif
