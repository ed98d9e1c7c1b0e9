/* SPDX-License-Identifier: MIT */
/*
 * Scheduling decisions (see sched.h). Catch-up follows the original Go
 * module (shared/seed) and goes beyond it where that file says v1 stops:
 * success is tracked per (schedule, group), so an hourly schedule's
 * successes can not hide a missed daily one.
 */
#include <stdlib.h>
#include <string.h>

#include "roost/cron.h"
#include "roostd_sched.h"

enum fire_action sched_fire_decide(const struct fire_facts *f, int64_t slot)
{
	if (f->seen)
		return FIRE_DROP_SEEN;
	if (!f->schedule_usable)
		return FIRE_DROP_DISABLED;
	if (f->last_job_created != INT64_MIN && f->last_job_created >= slot)
		return FIRE_DROP_COVERED;
	return f->host_busy ? FIRE_COALESCE : FIRE_DISPATCH;
}

const char *sched_fire_action_name(enum fire_action a)
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

enum catchup_skip sched_catchup_eval(const struct catchup_host *h,
                                     const struct catchup_schedule *s, size_t ns, int64_t now,
                                     struct catchup_due *out, size_t cap, size_t *n)
{
	*n = 0;
	if (!h->connected)
		return CATCHUP_SKIP_OFFLINE;
	if (!h->intermittent)
		return CATCHUP_SKIP_ALWAYS_ON;
	if (h->busy)
		return CATCHUP_SKIP_BUSY;
	for (size_t i = 0; i < ns; i++) {
		if (!s[i].enabled || !s[i].ngroups)
			continue;
		struct cron *c;
		if (cron_parse(s[i].cron, s[i].tz, &c, NULL) != ROOST_OK)
			continue; /* a bad expression never causes a surprise backup */
		for (size_t g = 0; g < s[i].ngroups; g++) {
			const struct catchup_group *gr = &s[i].groups[g];
			int64_t next;
			int overdue = !gr->succeeded ||
			              (cron_next(c, gr->last_success, &next) == ROOST_OK && next <= now);
			if (!overdue)
				continue;
			if (*n < cap)
				out[*n] = (struct catchup_due){s[i].schedule_id, gr->group_id};
			(*n)++;
		}
		cron_free(c);
	}
	return CATCHUP_RUN;
}

const char *sched_catchup_skip_name(enum catchup_skip s)
{
	switch (s) {
	case CATCHUP_RUN: return "run";
	case CATCHUP_SKIP_OFFLINE: return "host_offline";
	case CATCHUP_SKIP_ALWAYS_ON: return "host_always_on";
	case CATCHUP_SKIP_BUSY: return "host_busy";
	}
	return "?";
}

/* ---- heap ---- */

struct hent {
	int64_t due, host;
};

/* Invariant: v[0..n) is a min-heap on due; pos maps a host to 1 + its index. */
struct catchup_heap {
	struct hent *v;
	size_t n, cap;
	int64_t *keys;   /* open addressing: host ids, INT64_MIN = empty */
	size_t *idx;     /* 1 + heap index, 0 = deleted */
	size_t tcap;     /* power of two */
	size_t tused;
};

struct catchup_heap *catchup_heap_new(void)
{
	return calloc(1, sizeof(struct catchup_heap));
}

void catchup_heap_free(struct catchup_heap *h)
{
	if (!h)
		return;
	free(h->v);
	free(h->keys);
	free(h->idx);
	free(h);
}

static size_t tslot(const struct catchup_heap *h, int64_t host)
{
	uint64_t x = (uint64_t)host * 0x9e3779b97f4a7c15ULL;
	size_t i = (size_t)(x >> 17) & (h->tcap - 1);
	while (h->keys[i] != INT64_MIN && h->keys[i] != host)
		i = (i + 1) & (h->tcap - 1);
	return i;
}

static int tgrow(struct catchup_heap *h)
{
	size_t nc = h->tcap ? h->tcap * 2 : 64;
	int64_t *ok = h->keys;
	size_t *oi = h->idx, oc = h->tcap;
	h->keys = malloc(nc * sizeof(*h->keys));
	h->idx = calloc(nc, sizeof(*h->idx));
	if (!h->keys || !h->idx) {
		free(h->keys);
		free(h->idx);
		h->keys = ok;
		h->idx = oi;
		return -1;
	}
	for (size_t i = 0; i < nc; i++)
		h->keys[i] = INT64_MIN;
	h->tcap = nc;
	h->tused = 0;
	for (size_t i = 0; i < oc; i++)
		if (ok[i] != INT64_MIN && oi[i]) {
			size_t s = tslot(h, ok[i]);
			h->keys[s] = ok[i];
			h->idx[s] = oi[i];
			h->tused++;
		}
	free(ok);
	free(oi);
	return 0;
}

static void place(struct catchup_heap *h, size_t i)
{
	h->idx[tslot(h, h->v[i].host)] = i + 1;
}

static void swap(struct catchup_heap *h, size_t a, size_t b)
{
	struct hent t = h->v[a];
	h->v[a] = h->v[b];
	h->v[b] = t;
	place(h, a);
	place(h, b);
}

static void sift_up(struct catchup_heap *h, size_t i)
{
	while (i > 0 && h->v[(i - 1) / 2].due > h->v[i].due) {
		swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void sift_down(struct catchup_heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->n && h->v[l].due < h->v[m].due)
			m = l;
		if (r < h->n && h->v[r].due < h->v[m].due)
			m = r;
		if (m == i)
			return;
		swap(h, i, m);
		i = m;
	}
}

enum roost_err catchup_heap_arm(struct catchup_heap *h, int64_t host, int64_t due)
{
	if ((h->tused + 1) * 2 > h->tcap && tgrow(h))
		return ROOST_ENOMEM;
	size_t s = tslot(h, host);
	if (h->keys[s] == host && h->idx[s]) {
		size_t i = h->idx[s] - 1;
		h->v[i].due = due; /* re-arm overwrites */
		sift_up(h, i);
		sift_down(h, h->idx[tslot(h, host)] - 1);
		return ROOST_OK;
	}
	if (h->n == h->cap) {
		size_t nc = h->cap ? h->cap * 2 : 64;
		struct hent *nv = realloc(h->v, nc * sizeof(*nv));
		if (!nv)
			return ROOST_ENOMEM;
		h->v = nv;
		h->cap = nc;
	}
	if (h->keys[s] != host) {
		h->keys[s] = host;
		h->tused++;
	}
	h->v[h->n] = (struct hent){due, host};
	h->idx[s] = ++h->n;
	sift_up(h, h->n - 1);
	return ROOST_OK;
}

static void remove_at(struct catchup_heap *h, size_t i)
{
	size_t s = tslot(h, h->v[i].host);
	h->idx[s] = 0; /* the key stays as a tombstone for probing */
	h->n--;
	if (i == h->n)
		return;
	h->v[i] = h->v[h->n];
	place(h, i);
	int64_t moved = h->v[i].host;
	sift_up(h, i);
	sift_down(h, h->idx[tslot(h, moved)] - 1);
}

void catchup_heap_disarm(struct catchup_heap *h, int64_t host)
{
	if (!h->tcap)
		return;
	size_t s = tslot(h, host);
	if (h->keys[s] == host && h->idx[s])
		remove_at(h, h->idx[s] - 1);
}

int catchup_heap_pop_due(struct catchup_heap *h, int64_t now, int64_t *host)
{
	if (!h->n || h->v[0].due > now)
		return -1;
	*host = h->v[0].host;
	remove_at(h, 0);
	return 0;
}

int64_t catchup_heap_next(const struct catchup_heap *h)
{
	return h->n ? h->v[0].due : INT64_MAX;
}

size_t catchup_heap_size(const struct catchup_heap *h)
{
	return h->n;
}
