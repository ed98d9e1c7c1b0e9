/* SPDX-License-Identifier: MIT */
/*
 * The one cron parser of roost, used by API validation, the agent's local
 * scheduler, catch-up and the "next runs" preview, so that every part reads
 * an expression identically. Grammar and semantics: docs/cron.md.
 *
 *   [CRON_TZ=Zone ] [second] minute hour day-of-month month day-of-week
 *   @yearly @annually @monthly @weekly @daily @midnight @hourly
 *
 * Times are int64 seconds since the Unix epoch (UTC).
 */
#ifndef ROOST_CRON_H
#define ROOST_CRON_H

#include <stdint.h>

#include "roost/error.h"

struct cron;

/*
 * Parses expr. default_tz is the zone used when expr has no CRON_TZ= prefix
 * (the host's zone; NULL or "" means UTC). On failure returns ROOST_EINVAL
 * (or ROOST_ENOMEM) and eb names the field and the problem, e.g.
 * "day-of-week: 8 is out of range 0-7". An expression that can never fire
 * is an error. The result is immutable: any number of threads may call
 * cron_next on it at once. Free with cron_free.
 */
enum roost_err cron_parse(const char *expr, const char *default_tz, struct cron **out,
                          struct roost_errbuf *eb);

/* Validates without keeping the result. */
enum roost_err cron_validate(const char *expr, const char *default_tz,
                             struct roost_errbuf *eb);

/*
 * The first fire instant strictly after t. A wall time skipped by a DST
 * change does not fire; a repeated one fires once, at its first occurrence.
 * Returns ROOST_ENOENT (and *out = 0) if there is none before year 9999.
 */
enum roost_err cron_next(const struct cron *c, int64_t t, int64_t *out);

/* The zone the expression is evaluated in ("UTC", "Europe/London"). */
const char *cron_tz_name(const struct cron *c);

/* Frees c; NULL is a no-op. */
void cron_free(struct cron *c);

#endif
