/* SPDX-License-Identifier: MIT */
/* Repository maintenance: retention, prune, check, on its own thread
 * (server/maintenance.c). Event-loop thread only. */
#ifndef ROOSTD_MAINTENANCE_H
#define ROOSTD_MAINTENANCE_H

#include <stddef.h>
#include <stdint.h>

#include "roostd.h"

enum { MAINT_STARTED = 0, MAINT_BUSY = 1, MAINT_FAILED = 2, MAINT_REPO_FAILED = 3 };

/* Records a run (trigger "cron" or "manual") and starts it; *id is its id.
 * MAINT_BUSY while one runs; MAINT_FAILED when the store did not keep it,
 * MAINT_REPO_FAILED when the repository could not be opened; why says. */
int maintenance_start(int dry_run, const char *trigger, int64_t *id, char *why, size_t wlen);
int maintenance_running(void);
/* Records a finished run; called when the event loop is woken. */
void maintenance_poll(void);
/* At start: runs a stopped roostd left "running" become "interrupted". Several
 * instances: only those whose lease is gone (cluster.c at start, then the
 * sweeper); PostgreSQL before cluster.c started: nothing yet. */
void maintenance_recover(void);
/* The live-job rule (docs/maintenance.md rule 2) over the store now: may a
 * pack marked by the run that started at marked_at be deleted? 1 yes, 0 no
 * (*live_job names a live job ordered before the marks became visible), -1
 * the store failed. Ordered by roost_order, never by clocks. */
int maintenance_live_rule(int64_t marked_at, int64_t *live_job);
/* Runs maintenance on the cron expression (UTC; "off": never). -1: invalid. */
int maintenance_schedule(const char *expr, struct roost_errbuf *eb);
/* Stops the schedule; waits for a run in progress and records it. */
void maintenance_stop(void);

#endif
