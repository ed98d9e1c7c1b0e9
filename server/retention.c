/* SPDX-License-Identifier: MIT */
/*
 * Which snapshots maintenance removes, and why (DESIGN.md, "Retention and
 * repository maintenance"). Pure: it gets the repository's snapshots and,
 * for each snapshot a job of roostd made, that job's host, group, schedule
 * and the schedule's policy (maintenance.c gathers them), and decides.
 *
 *  - A schedule's policy (restic's rules, lib/repo/retention.c) applies per
 *    (schedule, host, group) to the snapshots that schedule's jobs made,
 *    whatever the trigger (schedule, pending, catch-up).
 *  - Kept whatever the rules: snapshots of manual jobs, of schedules since
 *    removed, of schedules without rules, and snapshots no job is known to
 *    have made (made outside roostd, or a job whose end was never recorded).
 *  - Retention never leaves a (host, group) without its newest snapshot:
 *    every rule keeps the newest of its series (it opens the first bucket
 *    of each calendar rule, and "last N" with N >= 1 counts it), and a
 *    policy without rules keeps all; so the newest of each (schedule, host,
 *    group) series stays, and the newest of a (host, group) is the newest of
 *    some series or a snapshot kept whatever the rules. test_retention_plan
 *    checks it on random fleets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "retention.h"

static int owner_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ret_owner *)a)->snapshot_id,
	              ((const struct ret_owner *)b)->snapshot_id);
}

struct item {
	size_t snap;                 /* index into the snapshots */
	const struct ret_owner *own; /* NULL: no job known */
	int64_t time;
};

/* (schedule, host, group), newest first */
static int series_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	if (x->own->schedule_id != y->own->schedule_id)
		return x->own->schedule_id < y->own->schedule_id ? -1 : 1;
	if (x->own->host_id != y->own->host_id)
		return x->own->host_id < y->own->host_id ? -1 : 1;
	if (x->own->group_id != y->own->group_id)
		return x->own->group_id < y->own->group_id ? -1 : 1;
	if (x->time != y->time)
		return x->time > y->time ? -1 : 1;
	return x->snap < y->snap ? -1 : x->snap > y->snap;
}

void retention_policy_text(const struct roost_keep_policy *p, char *buf, size_t len)
{
	const int v[ROOST_KEEP_RULES] = {p->last, p->hourly, p->daily, p->weekly, p->monthly,
	                                 p->yearly};
	size_t o = 0;
	buf[0] = 0;
	for (int r = 0; r < ROOST_KEEP_RULES; r++) {
		if (!v[r])
			continue;
		int k = snprintf(buf + o, len > o ? len - o : 0, "%skeep_%s %d", o ? ", " : "",
		                 roost_keep_rule_name(r), v[r]);
		if (k > 0)
			o += (size_t)k;
	}
	if (!o)
		snprintf(buf, len, "no rules (keep all)");
}

int retention_plan(const struct ret_snap *snaps, size_t n, struct ret_owner *owners, size_t no,
                   struct ret_decision *out)
{
	qsort(owners, no, sizeof(*owners), owner_cmp);
	struct item *it = calloc(n ? n : 1, sizeof(*it));
	if (!it)
		return -1;
	size_t ni = 0;
	for (size_t i = 0; i < n; i++) {
		struct ret_decision *d = &out[i];
		struct ret_owner key;
		snprintf(key.snapshot_id, sizeof(key.snapshot_id), "%s", snaps[i].id);
		const struct ret_owner *own = bsearch(&key, owners, no, sizeof(*owners), owner_cmp);
		d->keep = 1;
		d->owner = own;
		if (!own) {
			snprintf(d->reason, sizeof(d->reason),
			         "kept: no job of roostd is known to have made it (forget it by hand)");
			continue;
		}
		it[ni++] = (struct item){i, own, snaps[i].time};
		if (own->manual)
			snprintf(d->reason, sizeof(d->reason), "kept: a manual backup (forget it by hand)");
		else if (!own->schedule_id)
			snprintf(d->reason, sizeof(d->reason),
			         "kept: its schedule was removed (forget it by hand)");
		else if (roost_keep_policy_empty(&own->keep))
			snprintf(d->reason, sizeof(d->reason),
			         "kept: schedule \"%s\" has no retention rules (keeps all)", own->schedule);
	}
	/* each (schedule, host, group) series under its schedule's rules */
	qsort(it, ni, sizeof(*it), series_cmp);
	int64_t *times = malloc((ni ? ni : 1) * sizeof(*times));
	unsigned *why = malloc((ni ? ni : 1) * sizeof(*why));
	if (!times || !why) {
		free(times);
		free(why);
		free(it);
		return -1;
	}
	for (size_t a = 0, b; a < ni; a = b) {
		const struct ret_owner *o = it[a].own;
		for (b = a + 1; b < ni && it[b].own->schedule_id == o->schedule_id &&
		                it[b].own->host_id == o->host_id && it[b].own->group_id == o->group_id;
		     b++)
			;
		if (o->manual || !o->schedule_id || roost_keep_policy_empty(&o->keep))
			continue;
		for (size_t k = a; k < b; k++)
			times[k - a] = it[k].time;
		roost_keep_apply(&o->keep, times, b - a, why);
		char pol[160];
		retention_policy_text(&o->keep, pol, sizeof(pol));
		for (size_t k = a; k < b; k++) {
			struct ret_decision *d = &out[it[k].snap];
			char rules[64];
			roost_keep_reason(why[k - a], rules, sizeof(rules));
			d->keep = why[k - a] != 0;
			if (d->keep)
				snprintf(d->reason, sizeof(d->reason), "kept by schedule \"%s\": %s",
				         o->schedule, rules);
			else
				snprintf(d->reason, sizeof(d->reason),
				         "removed: no rule of schedule \"%s\" keeps it (%s)", o->schedule, pol);
		}
	}
	free(times);
	free(why);
	free(it);
	return 0;
}
