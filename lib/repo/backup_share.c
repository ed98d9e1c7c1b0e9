/* SPDX-License-Identifier: MIT */
/*
 * A big file's chunks shared with idle workers. One thread reads and chunks
 * each file (cut points depend on what came before), but hashing,
 * compressing and sealing a chunk do not: while another worker waits for
 * work (the walk has nothing queued, e.g. at the end of a backup, when the
 * last big file would otherwise keep one core busy and the others idle),
 * the reading thread copies the next chunk into a task buffer and queues it
 * for them. The file's extent keeps its place; its id is filled in when the
 * task is done (share_finish), before the file's node is used. At most one
 * task per idle worker is in flight and a buffer is reused as soon as its
 * chunk is stored, so the buffers stay within threads x the largest chunk.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "repo_int.h"

static atomic_ulong shared_total; /* share_count */

/* A chunk's buffer, on its way to a helper (queued or running) or idle. */
struct htask {
	struct htask *next;
	struct hfile *owner;
	struct hres *res;
	uint8_t *buf;
	size_t cap, n;
};

/* What became of one shared chunk: the owner's until share_finish. */
struct hres {
	struct hres *next;
	size_t slot; /* the extent of the owner's file it fills */
	uint8_t id[ID_LEN];
	enum roost_err err;
	struct roost_errbuf eb;
};

static void give_back_locked(struct bk *b, struct htask *t)
{
	t->next = b->hfree;
	b->hfree = t;
}

int share_offer(struct bk *b, struct hfile *hf, const uint8_t *p, size_t n, size_t slot)
{
	if (atomic_load_explicit(&b->idle_hint, memory_order_relaxed) <= 0)
		return 0;
	pthread_mutex_lock(&b->qlock);
	/* someone waits with nothing queued, and no task waits for it already */
	int want = b->idle > 0 && b->qlen == 0 && b->hq_len < b->idle && !b->fatal;
	struct htask *t = NULL;
	if (want && b->hfree) {
		t = b->hfree;
		b->hfree = t->next;
	}
	pthread_mutex_unlock(&b->qlock);
	if (!want)
		return 0;
	struct hres *res = calloc(1, sizeof(*res));
	if (!t)
		t = calloc(1, sizeof(*t));
	if (t && res && t->cap < n) {
		uint8_t *nb = realloc(t->buf, n);
		if (nb) {
			t->buf = nb;
			t->cap = n;
		}
	}
	if (!t || !res || t->cap < n) {
		free(res);
		if (t) {
			pthread_mutex_lock(&b->qlock);
			give_back_locked(b, t);
			pthread_mutex_unlock(&b->qlock);
		}
		return 0;
	}
	memcpy(t->buf, p, n);
	t->n = n;
	t->owner = hf;
	t->res = res;
	t->next = NULL;
	res->slot = slot;
	res->next = hf->res; /* only this thread adds to hf->res */
	hf->res = res;
	pthread_mutex_lock(&b->qlock);
	hf->pending++;
	if (b->hq_last)
		b->hq_last->next = t;
	else
		b->hq = t;
	b->hq_last = t;
	b->hq_len++;
	atomic_fetch_add_explicit(&shared_total, 1, memory_order_relaxed);
	pthread_cond_signal(&b->q_nonempty);
	pthread_mutex_unlock(&b->qlock);
	return 1;
}

/* Takes the oldest task; qlock held, b->hq not empty. */
static struct htask *pop_locked(struct bk *b)
{
	struct htask *t = b->hq;
	b->hq = t->next;
	if (!b->hq)
		b->hq_last = NULL;
	b->hq_len--;
	return t;
}

/* Runs t on this thread (qlock held on entry and on return); its buffer
 * goes back at once, the result stays with the owner. */
static void run_locked(struct bk *b, struct wctx *w, struct htask *t)
{
	pthread_mutex_unlock(&b->qlock);
	struct hres *res = t->res;
	res->err = bk_store_blob(b, w, BLOB_DATA, t->buf, t->n, res->id, &res->eb);
	pthread_mutex_lock(&b->qlock);
	t->owner->pending--;
	give_back_locked(b, t);
	pthread_cond_broadcast(&b->h_done);
}

int share_run_locked(struct bk *b, struct wctx *w)
{
	if (!b->hq)
		return 0;
	run_locked(b, w, pop_locked(b));
	return 1;
}

enum roost_err share_finish(struct bk *b, struct wctx *w, struct hfile *hf, struct extent *ex)
{
	pthread_mutex_lock(&b->qlock);
	while (hf->pending) {
		/* a task still queued (maybe this file's) is run here, not waited for */
		if (!share_run_locked(b, w))
			pthread_cond_wait(&b->h_done, &b->qlock);
	}
	pthread_mutex_unlock(&b->qlock);
	enum roost_err err = ROOST_OK;
	while (hf->res) {
		struct hres *r = hf->res;
		hf->res = r->next;
		if (r->err && !err) {
			/* fatal, as when the reader stores a chunk itself: another
			 * file may already count on the blob this one claimed */
			err = r->err;
			bk_fatal(b, err, &r->eb);
		}
		if (ex)
			memcpy(ex[r->slot].id, r->id, ID_LEN);
		free(r);
	}
	return err;
}

void share_free(struct bk *b)
{
	while (b->hfree) {
		struct htask *t = b->hfree;
		b->hfree = t->next;
		free(t->buf);
		free(t);
	}
}

unsigned long share_count(void)
{
	return atomic_load(&shared_total);
}
