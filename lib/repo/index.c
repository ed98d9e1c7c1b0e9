/* SPDX-License-Identifier: MIT */
/*
 * The blob index: blob id -> location, shared by all threads, compact enough
 * for repositories of millions of blobs (issue 17: 64 MB + 24 bytes per
 * blob). The record file and the sorted keys are index_keys.c; the
 * encoding of index objects is index_codec.c.
 *
 * The blobs of the index objects and trailers loaded at open live in two
 * places:
 *  - the record file: one 56-byte record per blob (the whole id and its
 *    location), an unlinked file of this process read with pread, so that
 *    it sits in the page cache and not in our resident memory;
 *  - in memory, the keys: for each record the first 8 bytes of its id and
 *    its number (12 bytes), sorted, with a directory over the top bits.
 * A lookup searches the keys and reads every record whose 8-byte prefix
 * matches to compare the whole id: a blob counts as stored only if its full
 * 32-byte id is in the repository, never on a prefix. An absent id (the
 * common case for new data) costs no read.
 *
 * Claims, and blobs added once lookups have begun (a backup's new packs),
 * go to the overlay: a small hash table of whole entries as before. When it
 * holds OVERLAY_MERGE stored blobs they move to the file and the keys
 * (sorted among themselves, then merged in place). Loading adds to the keys
 * unsorted; the first lookup sorts them (an in-place radix sort: no copy of
 * the array). The keys and the pack table are grown with mremap, so growing
 * them never holds two copies. One mutex guards it all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index_int.h"

struct repo_index *index_new(void)
{
	struct repo_index *ix = calloc(1, sizeof(*ix));
	if (!ix)
		return NULL;
	pthread_mutex_init(&ix->lock, NULL);
	ix->fd = -1;
	ix->loading = 1;
	return ix;
}

void index_free(struct repo_index *ix)
{
	if (!ix)
		return;
	pthread_mutex_destroy(&ix->lock);
	if (ix->fd >= 0)
		close(ix->fd);
	free(ix->stage);
	free(ix->cache);
	if (ix->keys)
		munmap(ix->keys, big_size(ix->kcap, sizeof(struct key)));
	free(ix->dir);
	free(ix->table);
	free(ix->entries);
	if (ix->packs)
		munmap(ix->packs, big_size(ix->pcap, sizeof(struct pack_info)));
	free(ix->ptable);
	free(ix);
}

/* ---- the overlay ---- */

/* Slot of id in table (its entry or the empty slot where it would go). */
static size_t find_slot(const struct repo_index *ix, const uint8_t *id)
{
	size_t mask = ix->cap - 1, i = (size_t)h64(id) & mask;
	for (;;) {
		uint32_t e = ix->table[i];
		if (!e || memcmp(ix->entries[e - 1].loc.id, id, ID_LEN) == 0)
			return i;
		i = (i + 1) & mask;
	}
}

static struct slot_entry *ov_get(const struct repo_index *ix, const uint8_t *id)
{
	if (!ix->cap)
		return NULL;
	uint32_t e = ix->table[find_slot(ix, id)];
	return e ? &ix->entries[e - 1] : NULL;
}

static int rehash(struct repo_index *ix, size_t newcap)
{
	uint32_t *t = calloc(newcap, sizeof(*t));
	if (!t)
		return -1;
	free(ix->table);
	ix->table = t;
	ix->cap = newcap;
	for (size_t e = 0; e < ix->n; e++) {
		size_t i = find_slot(ix, ix->entries[e].loc.id);
		ix->table[i] = (uint32_t)(e + 1);
	}
	return 0;
}

/* Returns the entry for id, inserting a blank one if absent; NULL on ENOMEM. */
static struct slot_entry *upsert(struct repo_index *ix, const uint8_t *id, int *created)
{
	*created = 0;
	if ((ix->n + 1) * 4 >= ix->cap * 3 && rehash(ix, ix->cap ? ix->cap * 2 : 1024))
		return NULL;
	size_t i = find_slot(ix, id);
	if (ix->table[i])
		return &ix->entries[ix->table[i] - 1];
	if (ix->n == ix->ecap) {
		size_t nc = ix->ecap ? ix->ecap * 2 : 1024;
		struct slot_entry *ne = realloc(ix->entries, nc * sizeof(*ne));
		if (!ne)
			return NULL;
		ix->entries = ne;
		ix->ecap = nc;
	}
	struct slot_entry *e = &ix->entries[ix->n];
	memset(e, 0, sizeof(*e));
	memcpy(e->loc.id, id, ID_LEN);
	ix->table[i] = (uint32_t)(++ix->n);
	*created = 1;
	return e;
}

/* Moves the overlay's stored blobs to the file and the keys; claims stay. */
static void overlay_merge(struct repo_index *ix)
{
	if (ix->io_failed || ix_key_grow(ix, ix->nstored))
		return;
	struct rec *batch = malloc(STAGE_RECS * sizeof(*batch));
	if (!batch)
		return;
	size_t nb = 0;
	uint32_t first = ix->nrec;
	int bad = 0;
	for (size_t e = 0; e < ix->n && !bad; e++) {
		const struct slot_entry *s = &ix->entries[e];
		if (s->state != ST_STORED)
			continue;
		ix_loc_to_rec(&s->loc, s->loc.pack, &batch[nb++]);
		if (nb == STAGE_RECS) {
			bad = ix_file_write(ix, batch, (uint32_t)nb, first);
			first += (uint32_t)nb;
			nb = 0;
		}
	}
	if (!bad && nb)
		bad = ix_file_write(ix, batch, (uint32_t)nb, first);
	free(batch);
	if (bad) {
		ix->io_failed = 1; /* the overlay stays as it was, and grows */
		return;
	}
	/* the records are written, in this order: now their keys; the claims
	 * are compacted to the front of the overlay */
	size_t keep = 0;
	for (size_t e = 0; e < ix->n; e++) {
		const struct slot_entry *s = &ix->entries[e];
		if (s->state == ST_STORED)
			ix->keys[ix->nkeys++] =
				(struct key){be32(s->loc.id), be32(s->loc.id + 4), ix->nrec++};
		else if (s->state == ST_CLAIMED)
			ix->entries[keep++] = *s;
	}
	ix->n = keep;
	ix->nstored = 0;
	if (rehash(ix, ix->cap)) { /* no memory: forget the claims (storing twice is harmless) */
		memset(ix->table, 0, ix->cap * sizeof(*ix->table));
		ix->n = 0;
	}
	ix_keys_settle(ix);
}

/* Lookups begin: the loaded keys are sorted. */
static void settle(struct repo_index *ix)
{
	if (ix->loading) {
		ix->loading = 0;
		ix_keys_settle(ix);
		free(ix->stage);
		ix->stage = NULL;
	}
}

/* ---- packs ---- */

static size_t pack_find(const struct repo_index *ix, const uint8_t *id)
{
	size_t mask = ix->pcapt - 1, i = (size_t)h64(id) & mask;
	for (;;) {
		uint32_t e = ix->ptable[i];
		if (!e || memcmp(ix->packs[e - 1].id, id, ID_LEN) == 0)
			return i;
		i = (i + 1) & mask;
	}
}

static int pack_rehash(struct repo_index *ix, size_t newcap)
{
	uint32_t *t = calloc(newcap, sizeof(*t));
	if (!t)
		return -1;
	free(ix->ptable);
	ix->ptable = t;
	ix->pcapt = newcap;
	for (size_t p = 0; p < ix->npacks; p++)
		ix->ptable[pack_find(ix, ix->packs[p].id)] = (uint32_t)(p + 1);
	return 0;
}

/* Loading: the blobs go to the file (staged) and the unsorted keys. */
static enum roost_err add_loading(struct repo_index *ix, uint32_t pno, const struct blob_loc *blobs,
                                  uint32_t n)
{
	if (ix_key_grow(ix, n) || (!ix->stage && !(ix->stage = malloc(STAGE_RECS * sizeof(struct rec)))))
		return ROOST_ENOMEM;
	if ((uint64_t)ix->nrec + n > REC_MASK)
		return ROOST_ERANGE;
	for (uint32_t b = 0; b < n; b++) {
		if (ix->nstage == STAGE_RECS && ix_stage_flush(ix))
			return ROOST_EIO;
		ix_loc_to_rec(&blobs[b], pno, &ix->stage[ix->nstage++]);
		ix->keys[ix->nkeys++] = (struct key){be32(blobs[b].id), be32(blobs[b].id + 4), ix->nrec++};
	}
	return ROOST_OK;
}

/* After lookups began: to the overlay, unless the blob is already stored. */
static enum roost_err add_overlay(struct repo_index *ix, uint32_t pno, const struct blob_loc *blobs,
                                  uint32_t n)
{
	for (uint32_t b = 0; b < n; b++) {
		struct slot_entry *e = ov_get(ix, blobs[b].id);
		if (e ? e->state == ST_STORED : ix_main_find(ix, blobs[b].id, NULL)) {
			ix->duplicates++; /* a copy in another pack: keep the first */
			continue;
		}
		int created;
		if (!e && !(e = upsert(ix, blobs[b].id, &created)))
			return ROOST_ENOMEM;
		e->loc = blobs[b];
		e->loc.pack = pno;
		e->state = ST_STORED;
		ix->nstored++;
	}
	if (ix->nstored >= OVERLAY_MERGE)
		overlay_merge(ix);
	return ROOST_OK;
}

enum roost_err index_add_pack(struct repo_index *ix, const uint8_t pack_id[ID_LEN],
                              uint64_t size, const uint8_t *epk, const struct blob_loc *blobs,
                              uint32_t n, int indexed)
{
	enum roost_err err = ROOST_OK;
	pthread_mutex_lock(&ix->lock);
	if ((ix->npacks + 1) * 2 >= ix->pcapt &&
	    pack_rehash(ix, ix->pcapt ? ix->pcapt * 2 : 256)) {
		err = ROOST_ENOMEM;
		goto done;
	}
	size_t ps = pack_find(ix, pack_id);
	if (ix->ptable[ps]) {
		struct pack_info *pi = &ix->packs[ix->ptable[ps] - 1];
		pi->indexed |= (uint8_t)indexed;
		goto done;
	}
	if (ix->npacks == ix->pcap) {
		size_t nc = ix->pcap ? ix->pcap * 2 : 1024;
		struct pack_info *np = big_grow(ix->packs, big_size(ix->pcap, sizeof(*np)),
		                                big_size(nc, sizeof(*np)));
		if (!np) {
			err = ROOST_ENOMEM;
			goto done;
		}
		ix->packs = np;
		ix->pcap = nc;
	}
	uint32_t pno = (uint32_t)ix->npacks;
	struct pack_info *pi = &ix->packs[ix->npacks++];
	memset(pi, 0, sizeof(*pi));
	memcpy(pi->id, pack_id, ID_LEN);
	if (epk)
		memcpy(pi->epk, epk, 32);
	pi->size = size;
	pi->nblobs = n;
	pi->indexed = (uint8_t)indexed;
	ix->ptable[ps] = pno + 1;
	err = ix->loading ? add_loading(ix, pno, blobs, n) : add_overlay(ix, pno, blobs, n);
done:
	pthread_mutex_unlock(&ix->lock);
	return err;
}

int index_lookup(struct repo_index *ix, const uint8_t id[ID_LEN], struct blob_loc *loc)
{
	int found = 0;
	pthread_mutex_lock(&ix->lock);
	settle(ix);
	struct slot_entry *e = ov_get(ix, id);
	struct rec r;
	if (e && e->state == ST_STORED) {
		found = 1;
		if (loc)
			*loc = e->loc;
	} else if (ix_main_find(ix, id, loc ? &r : NULL)) {
		found = 1;
		if (loc)
			ix_rec_to_loc(&r, loc);
	}
	pthread_mutex_unlock(&ix->lock);
	return found;
}

int index_claim(struct repo_index *ix, const uint8_t id[ID_LEN])
{
	int mine = 0;
	pthread_mutex_lock(&ix->lock);
	settle(ix);
	struct slot_entry *e = ov_get(ix, id);
	int created = 0;
	if (e) {
		if (e->state == ST_DEAD) {
			e->state = ST_CLAIMED;
			mine = 1;
		}
	} else if (!ix_main_find(ix, id, NULL)) {
		if ((e = upsert(ix, id, &created)) != NULL)
			e->state = ST_CLAIMED;
		mine = 1; /* also out of memory: storing twice is harmless */
	}
	pthread_mutex_unlock(&ix->lock);
	return mine;
}

void index_unclaim(struct repo_index *ix, const uint8_t id[ID_LEN])
{
	pthread_mutex_lock(&ix->lock);
	struct slot_entry *e = ov_get(ix, id);
	if (e && e->state == ST_CLAIMED)
		e->state = ST_DEAD;
	pthread_mutex_unlock(&ix->lock);
}

int index_has_pack(struct repo_index *ix, const uint8_t pack_id[ID_LEN])
{
	pthread_mutex_lock(&ix->lock);
	int has = ix->pcapt && ix->ptable[pack_find(ix, pack_id)] != 0;
	pthread_mutex_unlock(&ix->lock);
	return has;
}

size_t index_npacks(struct repo_index *ix)
{
	pthread_mutex_lock(&ix->lock);
	size_t n = ix->npacks;
	pthread_mutex_unlock(&ix->lock);
	return n;
}

struct pack_info index_pack(struct repo_index *ix, size_t i)
{
	pthread_mutex_lock(&ix->lock);
	struct pack_info p = ix->packs[i];
	pthread_mutex_unlock(&ix->lock);
	return p;
}

/* Every live record of the file, in file order, then the overlay's. */
static size_t each_locked(struct repo_index *ix, void (*cb)(void *, const struct blob_loc *),
                          void *ctx)
{
	size_t count = 0;
	struct rec *buf = ix->nsorted ? malloc(STAGE_RECS * sizeof(*buf)) : NULL;
	/* records [0, nsorted) hold every sorted key's (merges write the
	 * records before adding keys); unsorted ones are out of use */
	uint32_t nr = (uint32_t)ix->nsorted;
	for (uint32_t i = 0; buf && i < nr; i += STAGE_RECS) {
		uint32_t k = nr - i < STAGE_RECS ? nr - i : STAGE_RECS;
		if (ix_file_read(ix, i, buf, k))
			break;
		for (uint32_t j = 0; j < k; j++) {
			if (buf[j].dup || pack_dropped(ix, buf[j].pack))
				continue;
			count++;
			if (cb) {
				struct blob_loc loc;
				ix_rec_to_loc(&buf[j], &loc);
				cb(ctx, &loc);
			}
		}
	}
	free(buf);
	for (size_t i = 0; i < ix->n; i++)
		if (ix->entries[i].state == ST_STORED) {
			count++;
			if (cb)
				cb(ctx, &ix->entries[i].loc);
		}
	return count;
}

void index_each_blob(struct repo_index *ix, void (*cb)(void *, const struct blob_loc *),
                     void *ctx)
{
	pthread_mutex_lock(&ix->lock);
	settle(ix);
	each_locked(ix, cb, ctx);
	pthread_mutex_unlock(&ix->lock);
}

size_t index_nblobs(struct repo_index *ix)
{
	pthread_mutex_lock(&ix->lock);
	settle(ix);
	size_t n = ix->ndropped || ix->io_failed ? each_locked(ix, NULL, NULL)
	                                         : ix->nsorted - ix->main_dups + ix->nstored;
	pthread_mutex_unlock(&ix->lock);
	return n;
}

void index_drop_pack(struct repo_index *ix, const uint8_t pack_id[ID_LEN])
{
	pthread_mutex_lock(&ix->lock);
	if (ix->pcapt) {
		uint32_t p = ix->ptable[pack_find(ix, pack_id)];
		if (p && !ix->packs[p - 1].dropped) {
			ix->packs[p - 1].dropped = 1;
			ix->ndropped++;
			for (size_t i = 0; i < ix->n; i++)
				if (ix->entries[i].state == ST_STORED && ix->entries[i].loc.pack == p - 1) {
					ix->entries[i].state = ST_DEAD;
					ix->nstored--;
				}
		}
	}
	pthread_mutex_unlock(&ix->lock);
}

uint64_t index_duplicates(struct repo_index *ix)
{
	pthread_mutex_lock(&ix->lock);
	settle(ix);
	uint64_t d = ix->duplicates;
	pthread_mutex_unlock(&ix->lock);
	return d;
}
