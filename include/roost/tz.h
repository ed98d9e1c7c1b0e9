/* SPDX-License-Identifier: MIT */
/*
 * Time zones read from the system zoneinfo (TZif files, RFC 8536), without
 * libc's global TZ state, so any thread can convert for any zone. Zones are
 * loaded once and cached for the life of the process: a returned zone is
 * immutable and never freed; callers do not release it. Thread-safe.
 */
#ifndef ROOST_TZ_H
#define ROOST_TZ_H

#include <stdint.h>

#include "roost/error.h"

struct roost_tz;

/*
 * Looks up a zone by IANA name ("Europe/London"). NULL, "" and "UTC" give
 * UTC. Names are checked (no "..", no absolute paths) before any file is
 * opened. The directory is $TZDIR or /usr/share/zoneinfo.
 */
enum roost_err roost_tz_get(const char *name, const struct roost_tz **out,
                            struct roost_errbuf *eb);

const struct roost_tz *roost_tz_utc(void);
const char *roost_tz_name(const struct roost_tz *tz);
int roost_tz_is_utc(const struct roost_tz *tz);

/* Offset east of UTC, in seconds, in effect at instant t. */
int32_t roost_tz_offset_at(const struct roost_tz *tz, int64_t t);

enum roost_tz_kind {
	ROOST_TZ_UNIQUE = 0, /* the wall time occurs once */
	ROOST_TZ_REPEATED,   /* occurs twice (fall back); *utc is the first */
	ROOST_TZ_SKIPPED,    /* does not occur (spring forward) */
};

/*
 * Maps a wall time (seconds since the epoch as if the wall clock were UTC)
 * to the instant it first occurs. For a skipped wall time *utc is unset and
 * *gap_end_wall is the first wall time after the gap.
 */
enum roost_tz_kind roost_tz_resolve(const struct roost_tz *tz, int64_t wall,
                                    int64_t *utc, int64_t *gap_end_wall);

/* Parses a TZif image (for the fuzzer and tests); *out is owned by the caller
 * and released with roost_tz_free. */
enum roost_err roost_tz_parse(const char *name, const unsigned char *data, size_t len,
                              struct roost_tz **out, struct roost_errbuf *eb);
void roost_tz_free(struct roost_tz *tz);

#endif
