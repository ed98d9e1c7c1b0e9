/* SPDX-License-Identifier: MIT */
/*
 * Restore's cache of data blobs it writes more than once (copies of files
 * or trees inside one snapshot): a pre-pass over the trees counts the
 * writes of each blob, and a blob still needed again is kept, once
 * decrypted and verified, in its unsealed (still compressed) form until its
 * last write, within UCACHE_BUDGET bytes. The table is filled before the
 * workers start and never grows after, so entries stay put.
 */
#include <stdlib.h>
#include <string.h>

#include "repo_int.h"

#define UCACHE_BUDGET ((size_t)32 << 20)
/* The counting table's limit (about 500,000 distinct blobs): past it a
 * restore goes on without keeping blobs, rather than hold a huge table. */
#define UTABLE_MAX ((size_t)64 << 20)

struct use {
	uint8_t id[ID_LEN];
	uint8_t taken; /* slot in use */
	uint8_t multi; /* written more than once: set before the workers start */
	uint32_t refs; /* writes still to come */
	uint32_t pins; /* workers reading body */
	uint8_t *body; /* verified unsealed form, or NULL */
	uint32_t bn, raw_len; /* blobs are at most 16 MiB */
};

static size_t use_slot(const struct uses *u, const uint8_t id[ID_LEN])
{
	uint64_t h;
	memcpy(&h, id, sizeof(h)); /* ids are keyed hashes: uniform */
	size_t i = (size_t)h & (u->cap - 1);
	while (u->v[i].taken && memcmp(u->v[i].id, id, ID_LEN) != 0)
		i = (i + 1) & (u->cap - 1);
	return i;
}

static struct use *use_find(struct uses *u, const uint8_t id[ID_LEN])
{
	if (u->off || !u->cap)
		return NULL;
	struct use *e = &u->v[use_slot(u, id)];
	return e->taken ? e : NULL;
}

/* Counts one more write of id (the pre-pass, before any worker runs). */
void uses_count(struct uses *u, const uint8_t id[ID_LEN])
{
	if (u->off)
		return;
	if ((u->n + 1) * 2 > u->cap) {
		size_t nc = u->cap ? u->cap * 2 : 4096;
		struct use *nv = nc * sizeof(*nv) <= UTABLE_MAX ? calloc(nc, sizeof(*nv)) : NULL;
		if (!nv) {
			free(u->v);
			u->v = NULL;
			u->cap = u->n = 0;
			u->off = 1;
			return;
		}
		struct use *old = u->v;
		size_t oc = u->cap;
		u->v = nv;
		u->cap = nc;
		for (size_t i = 0; i < oc; i++)
			if (old[i].taken)
				u->v[use_slot(u, old[i].id)] = old[i];
		free(old);
	}
	struct use *e = &u->v[use_slot(u, id)];
	if (!e->taken) {
		memcpy(e->id, id, ID_LEN);
		e->taken = 1;
		u->n++;
	}
	e->refs++;
}

/* One write of e done or given up; with u->lock held. */
static void use_done(struct uses *u, struct use *e)
{
	if (e->refs)
		e->refs--;
	if (!e->refs && !e->pins && e->body) {
		free(e->body);
		e->body = NULL;
		u->bytes -= e->bn;
	}
}

/* The writes of n's extents from the first-th on will not happen. */
void uses_drop(struct uses *u, const struct node *n, uint32_t first)
{
	for (uint32_t i = first; i < n->nextents; i++) {
		struct use *e = n->extents[i].kind == 0 ? use_find(u, n->extents[i].id) : NULL;
		if (e && e->multi) {
			pthread_mutex_lock(&u->lock);
			use_done(u, e);
			pthread_mutex_unlock(&u->lock);
		}
	}
}

/* After the pre-pass: which blobs are written more than once. From here on
 * the table's layout, ids and multi flags are read without the lock. */
void uses_seal(struct uses *u)
{
	for (size_t i = 0; i < u->cap; i++)
		u->v[i].multi = u->v[i].refs > 1;
}

/* A data blob's raw bytes into *p (malloc'd): from the kept verified form
 * when an earlier write of the same blob left one, else from the repository
 * (decrypted, verified), keeping its form if more writes of it are to come. */
enum roost_err uses_read(struct uses *u, struct roost_repo *r, struct blob_ctx *bc,
                         const uint8_t id[ID_LEN], uint8_t **p, size_t *len,
                         struct roost_errbuf *eb)
{
	struct use *e = use_find(u, id);
	if (!e || !e->multi)
		return repo_read_blob(r, bc, id, p, len, eb);
	pthread_mutex_lock(&u->lock);
	const uint8_t *body = NULL;
	size_t bn = 0, raw_len = 0;
	if (e->body) {
		body = e->body;
		bn = e->bn;
		raw_len = e->raw_len;
		e->pins++;
	}
	int keep = !e->body && e->refs > 1;
	pthread_mutex_unlock(&u->lock);
	enum roost_err err;
	if (body) {
		*len = raw_len;
		*p = malloc(raw_len ? raw_len : 1);
		err = !*p ? ROOST_ENOMEM : blob_unpack(bc, body, bn, *p, raw_len);
		if (err == ROOST_ECORRUPT)
			err = roost_errf(eb, err, "kept copy of a blob does not unpack");
		if (err) {
			free(*p);
			*p = NULL;
		}
		pthread_mutex_lock(&u->lock);
		e->pins--;
		use_done(u, e);
		pthread_mutex_unlock(&u->lock);
		return err;
	}
	err = repo_read_blob(r, bc, id, p, len, eb);
	uint8_t *copy = NULL;
	if (!err && keep) {
		blob_last_plain(bc, &body, &bn);
		if (body && (copy = malloc(bn)))
			memcpy(copy, body, bn);
	}
	pthread_mutex_lock(&u->lock);
	if (copy && !e->body && e->refs > 1 && u->bytes + bn <= UCACHE_BUDGET) {
		e->body = copy;
		e->bn = (uint32_t)bn;
		e->raw_len = (uint32_t)*len;
		u->bytes += bn;
		copy = NULL;
	}
	use_done(u, e);
	pthread_mutex_unlock(&u->lock);
	free(copy);
	return err;
}

void uses_init(struct uses *u)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
}

void uses_release(struct uses *u)
{
	for (size_t i = 0; i < u->cap; i++)
		free(u->v[i].body);
	free(u->v);
	pthread_mutex_destroy(&u->lock);
}
