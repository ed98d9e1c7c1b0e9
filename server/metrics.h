/* SPDX-License-Identifier: MIT */
/*
 * GET /metrics (server/metrics.c): Prometheus text exposition of the fleet:
 * agents connected, hosts by health, overdue hosts, last success per
 * (host, schedule, group), jobs by kind/trigger/status, job durations,
 * catch-ups, repository size. Event-loop thread only.
 */
#ifndef ROOSTD_METRICS_H
#define ROOSTD_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Counts from the store (jobs ended before this start), so counters do not
 * fall back on a restart. Once, after the store is open. */
void metrics_init(void);
/* A job ended (any final status); duration in seconds. */
void metrics_job_ended(const char *kind, const char *trigger, const char *status,
                       int64_t duration_s);
/* A catch-up ran and dispatched at least one backup. */
void metrics_catchup_run(void);
/* The exposition text (caller frees), *len its length; NULL on no memory. */
char *metrics_render(size_t *len);

#endif
