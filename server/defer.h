/* SPDX-License-Identifier: MIT */
/*
 * Deferred jobs (docs/policies.md, "Deferred jobs"): a scheduled job (a fire,
 * a pending run, a catch-up) that may not start now is created `deferred`
 * with its reason, and started when the reason clears: at its window's
 * opening (a timer on a due-time heap, one entry per host) or when the
 * host's report clears a battery or metered condition. Manual jobs never
 * come here.
 */
#ifndef ROOSTD_DEFER_H
#define ROOSTD_DEFER_H

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

/* What decides whether a scheduled job may start (the rule's input). */
struct defer_facts {
	const char *window;      /* the schedule's "HH:MM-HH:MM", "" or NULL = always */
	const char *tz;          /* the host's zone, NULL = UTC */
	int skip_on_battery, on_battery;
	int skip_on_metered, metered;
};

/*
 * The rule (pure, time passed in): 0 when the job may start at now; else 1
 * with the reason in why[cap] ("outside window 22:00-06:00", "host on
 * battery", "host on a metered network", checked in that order) and, for a
 * window, *opens = its next opening (0 otherwise). An unparseable stored
 * window counts as no window.
 */
int defer_decide(const struct defer_facts *f, int64_t now, char *why, size_t cap,
                 int64_t *opens);

/* One backup per group of the schedule (trigger schedule or pending): each
 * dispatched, created deferred, or nothing when that (host, schedule, group)
 * already has a deferred job. */
void defer_dispatch_schedule(int64_t host_id, int64_t schedule_id, const char *trigger,
                             const char *why);
/* For catch-up, one (schedule, group): 0 the job may start now (the caller
 * creates it), 1 it was created deferred or one already waits. */
int defer_catchup_pair(int64_t host_id, int64_t schedule_id, int64_t group_id, int64_t now);
/* Starts the host's deferred jobs whose reason cleared, oldest first, while it
 * has no current job; updates the others' reasons and re-arms its timer. */
void defer_release(int64_t host_id, int64_t now);
/* At start: arms every host that has deferred jobs. */
void defer_rearm_all(void);
/* The timer (the event loop's; tests call it with NULL). */
void defer_timer_cb(lws_sorted_usec_list_t *sul);

#endif
