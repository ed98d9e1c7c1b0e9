/* SPDX-License-Identifier: MIT */
/* Which snapshots maintenance removes, and why (server/retention.c). */
#ifndef ROOSTD_RETENTION_H
#define ROOSTD_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "roost/repo.h"

/* The job that made a snapshot, as the store knows it. */
struct ret_owner {
	char snapshot_id[65];
	int64_t host_id, group_id;
	int64_t schedule_id; /* 0: no schedule (manual, or the schedule was removed) */
	int manual;          /* the job's trigger was manual */
	char host[129], group[129], schedule[129];
	struct roost_keep_policy keep; /* the schedule's */
};

struct ret_snap {
	const char *id;
	int64_t time;
};

struct ret_decision {
	int keep;
	const struct ret_owner *owner; /* NULL: no job known */
	char reason[400];
};

/* Decides out[i] for each snaps[i]; sorts owners. -1: out of memory. */
int retention_plan(const struct ret_snap *snaps, size_t n, struct ret_owner *owners, size_t no,
                   struct ret_decision *out);
/* "keep_last 3, keep_daily 7", or "no rules (keep all)". */
void retention_policy_text(const struct roost_keep_policy *p, char *buf, size_t len);

#endif
