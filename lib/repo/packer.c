/* SPDX-License-Identifier: MIT */
/*
 * The packer: what backup and prune's repack share to turn stored blobs
 * into committed packs. Each writing thread keeps its own open pack (a
 * pack_writer from pack.c); the packer commits the packs they hand over
 * (seal the trailer, fsync, link), on a thread of its own so that the
 * writers go on meanwhile (PACKER_THREAD), or at once in the caller. A
 * backend whose commit is a round trip (roostd's object API: an upload,
 * then the server's fsync) asks for more than one committer thread
 * (roost_backend.commit_threads): its packs are then in flight side by
 * side. Either way a pack is named by an index object only once its own
 * commit has returned, and the snapshot waits for every thread. It
 * keeps the blob lists of committed packs: either for the caller to take
 * (repack writes one index for everything), or (PACKER_INDEX) adds them to
 * the in-memory index at once and writes index objects as they accumulate,
 * so that a backup killed midway leaves indexed, reusable packs.
 */
#include <stdlib.h>
#include <string.h>

#include "repo_int.h"

#define INDEX_EVERY 64 /* committed packs per index object */
#define COMMIT_QUEUE 4 /* packs handed over and not yet committed */
#define COMMITTERS_MAX 4 /* committer threads, whatever a backend asks */

struct packer {
	struct roost_repo *r;
	enum packer_flags flags;
	void (*on_error)(void *, enum roost_err, const struct roost_errbuf *);
	void *ctx;

	pthread_mutex_t lock; /* done */
	struct pack_blobs *done; /* committed, in no index object yet */
	size_t ndone, capdone;

	/* packs waiting for the committer thread */
	pthread_mutex_t qlock;
	pthread_cond_t nonempty, nonfull;
	struct pack_writer *q[COMMIT_QUEUE];
	size_t qlen;
	int closing;
	enum roost_err failed; /* packer_fail's first error: nothing more is committed */
	pthread_t committer[COMMITTERS_MAX];
	int running; /* committer threads started and not yet joined */
};

/* Writes an index object for finished packs; lock held. */
static enum roost_err flush_index_locked(struct packer *pk, struct roost_errbuf *eb)
{
	if (!pk->ndone)
		return ROOST_OK;
	enum roost_err err = repo_write_index(pk->r, pk->done, pk->ndone, NULL, eb);
	for (size_t i = 0; i < pk->ndone; i++)
		free(pk->done[i].blobs);
	pk->ndone = 0;
	return err;
}

/* Seals, fsyncs and links one pack, then records (and maybe indexes) it. */
static enum roost_err commit_pack(struct packer *pk, struct pack_writer *pw,
                                  struct roost_errbuf *eb)
{
	struct pack_blobs pb;
	memset(&pb, 0, sizeof(pb));
	enum roost_err err = pack_writer_finish(pw, pb.id, pb.epk, &pb.size, &pb.blobs, &pb.n, eb);
	if (err)
		return err;
	if (pk->flags & PACKER_INDEX)
		err = index_add_pack(pk->r->index, pb.id, pb.size, pb.epk, pb.blobs, pb.n, 1);
	pthread_mutex_lock(&pk->lock);
	if (!err && pk->ndone == pk->capdone) {
		size_t nc = pk->capdone ? pk->capdone * 2 : 16;
		struct pack_blobs *nd = realloc(pk->done, nc * sizeof(*nd));
		if (nd) {
			pk->done = nd;
			pk->capdone = nc;
		} else {
			err = ROOST_ENOMEM;
		}
	}
	if (!err) {
		pk->done[pk->ndone++] = pb;
		if (pk->flags & PACKER_INDEX && pk->ndone >= INDEX_EVERY)
			err = flush_index_locked(pk, eb);
	} else {
		free(pb.blobs);
	}
	pthread_mutex_unlock(&pk->lock);
	return err;
}

static void *committer(void *arg)
{
	struct packer *pk = arg;
	for (;;) {
		pthread_mutex_lock(&pk->qlock);
		while (!pk->qlen && !pk->closing)
			pthread_cond_wait(&pk->nonempty, &pk->qlock);
		struct pack_writer *pw = NULL;
		enum roost_err failed = pk->failed;
		if (pk->qlen) {
			pw = pk->q[0];
			memmove(pk->q, pk->q + 1, --pk->qlen * sizeof(*pk->q));
			pthread_cond_broadcast(&pk->nonfull);
		}
		pthread_mutex_unlock(&pk->qlock);
		if (!pw)
			return NULL;
		struct roost_errbuf eb;
		enum roost_err err = failed ? ROOST_ECANCELED : commit_pack(pk, pw, &eb);
		if (err == ROOST_ECANCELED)
			pack_writer_abort(pw);
		else if (err && pk->on_error)
			pk->on_error(pk->ctx, err, &eb);
	}
}

enum roost_err packer_new(struct roost_repo *r, enum packer_flags flags,
                          void (*on_error)(void *, enum roost_err, const struct roost_errbuf *),
                          void *ctx, struct packer **out, struct roost_errbuf *eb)
{
	*out = NULL;
	struct packer *pk = calloc(1, sizeof(*pk));
	if (!pk)
		return ROOST_ENOMEM;
	pk->r = r;
	pk->flags = flags;
	pk->on_error = on_error;
	pk->ctx = ctx;
	pthread_mutex_init(&pk->lock, NULL);
	pthread_mutex_init(&pk->qlock, NULL);
	pthread_cond_init(&pk->nonempty, NULL);
	pthread_cond_init(&pk->nonfull, NULL);
	if (flags & PACKER_THREAD) {
		unsigned want = r->be->commit_threads;
		want = want < 1 ? 1 : want > COMMITTERS_MAX ? COMMITTERS_MAX : want;
		while (pk->running < (int)want &&
		       pthread_create(&pk->committer[pk->running], NULL, committer, pk) == 0)
			pk->running++;
		if (!pk->running) {
			packer_free(pk);
			return roost_errf(eb, ROOST_EIO, "cannot start a thread");
		}
	}
	*out = pk;
	return ROOST_OK;
}

enum roost_err packer_add(struct packer *pk, struct pack_writer **pw, uint8_t type,
                          uint32_t idk, const uint8_t id[ID_LEN], const uint8_t *plain, size_t n,
                          uint32_t raw_len, struct roost_errbuf *eb)
{
	enum roost_err err = ROOST_OK;
	if (!*pw)
		err = pack_writer_new(pk->r->be, &pk->r->keys, pk->r->version, pw, eb);
	if (!err)
		err = pack_writer_add(*pw, type, idk, id, plain, n, raw_len, eb);
	return err;
}

enum roost_err packer_roll(struct packer *pk, struct pack_writer **pw, struct roost_errbuf *eb)
{
	if (*pw && pack_writer_size(*pw) >= pk->r->pack_size)
		return packer_seal(pk, pw, eb);
	return ROOST_OK;
}

enum roost_err packer_seal(struct packer *pk, struct pack_writer **pw, struct roost_errbuf *eb)
{
	if (!*pw)
		return ROOST_OK;
	pthread_mutex_lock(&pk->qlock);
	while (pk->running && pk->qlen == COMMIT_QUEUE && !pk->failed)
		pthread_cond_wait(&pk->nonfull, &pk->qlock);
	if (pk->failed) {
		enum roost_err err = pk->failed;
		pthread_mutex_unlock(&pk->qlock);
		return err;
	}
	if (!pk->running) { /* commit here, in the caller */
		pthread_mutex_unlock(&pk->qlock);
		struct pack_writer *p = *pw;
		*pw = NULL; /* pack_writer_finish frees it whatever the outcome */
		return commit_pack(pk, p, eb);
	}
	pk->q[pk->qlen++] = *pw;
	*pw = NULL;
	pthread_cond_signal(&pk->nonempty);
	pthread_mutex_unlock(&pk->qlock);
	return ROOST_OK;
}

void packer_fail(struct packer *pk, enum roost_err err)
{
	pthread_mutex_lock(&pk->qlock);
	if (!pk->failed)
		pk->failed = err;
	pthread_cond_broadcast(&pk->nonfull);
	pthread_mutex_unlock(&pk->qlock);
}

void packer_stop(struct packer *pk)
{
	if (!pk->running)
		return;
	pthread_mutex_lock(&pk->qlock);
	pk->closing = 1;
	pthread_cond_broadcast(&pk->nonempty);
	pthread_mutex_unlock(&pk->qlock);
	for (int i = 0; i < pk->running; i++)
		pthread_join(pk->committer[i], NULL);
	pk->running = 0;
}

enum roost_err packer_flush(struct packer *pk, struct roost_errbuf *eb)
{
	pthread_mutex_lock(&pk->lock);
	enum roost_err err = flush_index_locked(pk, eb);
	pthread_mutex_unlock(&pk->lock);
	return err;
}

void packer_take(struct packer *pk, struct pack_blobs **v, size_t *n)
{
	pthread_mutex_lock(&pk->lock);
	*v = pk->done;
	*n = pk->ndone;
	pk->done = NULL;
	pk->ndone = pk->capdone = 0;
	pthread_mutex_unlock(&pk->lock);
}

void packer_free(struct packer *pk)
{
	if (!pk)
		return;
	packer_stop(pk);
	if (pk->flags & PACKER_INDEX && pk->ndone) {
		/* committed packs whose index is still unwritten: a failed
		 * backup's packs stay usable */
		struct roost_errbuf e2;
		packer_flush(pk, &e2);
	}
	for (size_t i = 0; i < pk->ndone; i++)
		free(pk->done[i].blobs);
	free(pk->done);
	pthread_mutex_destroy(&pk->lock);
	pthread_mutex_destroy(&pk->qlock);
	pthread_cond_destroy(&pk->nonempty);
	pthread_cond_destroy(&pk->nonfull);
	free(pk);
}
