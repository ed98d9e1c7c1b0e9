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

#define DEFER_BATCH_MAX 256 /* (schedule, group) pairs of one automatic dispatch */

/* One automatic dispatch (a fire, a pending run, a catch-up): a job per
 * (schedule, group), each queued or deferred with its reason. */
struct defer_entry {
	int64_t schedule_id, group_id;
	int deferred;   /* the rule deferred it */
	int64_t job;    /* its job; 0 for a deferred one: one of that pair already waits */
	int64_t opens;  /* a window's next opening (deferred), else 0 */
	char why[64];
};
struct defer_batch {
	int64_t host_id;
	char trigger[16];
	size_t n;
	struct defer_entry e[DEFER_BATCH_MAX];
};

/*
 * Inside the caller's transaction (docs/scale-out.md 2.3, 2.12): decides each
 * pair by the rule, then, if any may start now, claims the idle host
 * (hosts.current_job_id, jobs_claim_host) and inserts the jobs: queued ones,
 * and deferred ones unless one of their (host, schedule, group) waits already
 * (the index jobs_one_deferred). 1 done; 0 the host is busy: nothing was
 * inserted (the caller rolls back and coalesces or stops); -1 the store
 * failed (roll back). b is filled for defer_batch_done.
 */
int defer_batch_build(struct defer_batch *b, int64_t host_id, const int64_t *schedules,
                      const int64_t *groups, size_t n, const char *trigger, int64_t now);
/* defer_batch_build for every group of one of the host's schedules (none: b->n
 * is 0 and the answer 1). */
int defer_batch_schedule(struct defer_batch *b, int64_t host_id, int64_t schedule_id,
                         const char *trigger, int64_t now);
/* After the commit: queued jobs announced and sent (dispatch logged with why),
 * deferred ones announced and their opening armed. fail_at NULL: a job whose
 * send fails stays queued (sent on the agent's next hello); else the first
 * such job stops it, its index in *fail_at (b->n when every one was sent). */
void defer_batch_done(const struct defer_batch *b, const char *why, size_t *fail_at);
/* Starts the host's deferred jobs whose reason cleared, oldest first, while it
 * has no current job; updates the others' reasons and re-arms its timer. */
void defer_release(int64_t host_id, int64_t now);
/* At start: arms every host that has deferred jobs. */
void defer_rearm_all(void);
/* The timer (the event loop's; tests call it with NULL). */
void defer_timer_cb(lws_sorted_usec_list_t *sul);

#endif
