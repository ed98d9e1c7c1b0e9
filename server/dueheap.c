/* SPDX-License-Identifier: MIT */
/*
 * A min-heap of ids keyed by due time, one entry per id, re-armable in
 * O(log n): what roostd's catch-up timer pops when a settle window ends, so
 * the cost of finding due hosts does not grow with the fleet (DESIGN.md,
 * "Intermittent hosts"). Self-contained: it knows nothing of hosts or the
 * store. Not thread-safe; roostd uses it from its event loop only.
 */
#include <stdlib.h>

#include "dueheap.h"

struct hent {
	int64_t due, id, tag;
};

/*
 * Invariants: v[0..n) is a min-heap on due; for every armed id, keys[s] == id
 * and idx[s] == 1 + its index in v, where s = tslot(id).
 */
struct due_heap {
	struct hent *v;
	size_t n, cap;
	int64_t *keys;   /* open addressing: ids, INT64_MIN = empty */
	size_t *idx;     /* 1 + heap index, 0 = deleted */
	size_t tcap;     /* power of two */
	size_t tused;
};

struct due_heap *dueheap_new(void)
{
	return calloc(1, sizeof(struct due_heap));
}

void dueheap_free(struct due_heap *h)
{
	if (!h)
		return;
	free(h->v);
	free(h->keys);
	free(h->idx);
	free(h);
}

static size_t tslot(const struct due_heap *h, int64_t id)
{
	uint64_t x = (uint64_t)id * 0x9e3779b97f4a7c15ULL;
	size_t i = (size_t)(x >> 17) & (h->tcap - 1);
	while (h->keys[i] != INT64_MIN && h->keys[i] != id)
		i = (i + 1) & (h->tcap - 1);
	return i;
}

static int tgrow(struct due_heap *h)
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

static void place(struct due_heap *h, size_t i)
{
	h->idx[tslot(h, h->v[i].id)] = i + 1;
}

static void swap(struct due_heap *h, size_t a, size_t b)
{
	struct hent t = h->v[a];
	h->v[a] = h->v[b];
	h->v[b] = t;
	place(h, a);
	place(h, b);
}

static void sift_up(struct due_heap *h, size_t i)
{
	while (i > 0 && h->v[(i - 1) / 2].due > h->v[i].due) {
		swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void sift_down(struct due_heap *h, size_t i)
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

enum roost_err dueheap_arm(struct due_heap *h, int64_t id, int64_t due)
{
	return dueheap_arm_tag(h, id, due, 0);
}

enum roost_err dueheap_arm_tag(struct due_heap *h, int64_t id, int64_t due, int64_t tag)
{
	if ((h->tused + 1) * 2 > h->tcap && tgrow(h))
		return ROOST_ENOMEM;
	size_t s = tslot(h, id);
	if (h->keys[s] == id && h->idx[s]) {
		size_t i = h->idx[s] - 1;
		h->v[i].due = due; /* re-arm overwrites */
		h->v[i].tag = tag;
		sift_up(h, i);
		sift_down(h, h->idx[tslot(h, id)] - 1);
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
	if (h->keys[s] != id) {
		h->keys[s] = id;
		h->tused++;
	}
	h->v[h->n] = (struct hent){due, id, tag};
	h->idx[s] = ++h->n;
	sift_up(h, h->n - 1);
	return ROOST_OK;
}

static void remove_at(struct due_heap *h, size_t i)
{
	size_t s = tslot(h, h->v[i].id);
	h->idx[s] = 0; /* the key stays as a tombstone for probing */
	h->n--;
	if (i == h->n)
		return;
	h->v[i] = h->v[h->n];
	place(h, i);
	int64_t moved = h->v[i].id;
	sift_up(h, i);
	sift_down(h, h->idx[tslot(h, moved)] - 1);
}

void dueheap_disarm(struct due_heap *h, int64_t id)
{
	if (!h->tcap)
		return;
	size_t s = tslot(h, id);
	if (h->keys[s] == id && h->idx[s])
		remove_at(h, h->idx[s] - 1);
}

int dueheap_pop_due(struct due_heap *h, int64_t now, int64_t *id)
{
	int64_t tag;
	return dueheap_pop_due_tag(h, now, id, &tag);
}

int dueheap_pop_due_tag(struct due_heap *h, int64_t now, int64_t *id, int64_t *tag)
{
	if (!h->n || h->v[0].due > now)
		return -1;
	*id = h->v[0].id;
	*tag = h->v[0].tag;
	remove_at(h, 0);
	return 0;
}

int64_t dueheap_next(const struct due_heap *h)
{
	return h->n ? h->v[0].due : INT64_MAX;
}

size_t dueheap_size(const struct due_heap *h)
{
	return h->n;
}
