/* SPDX-License-Identifier: MIT */
/*
 * What roostd needs to serve an agent's restore (format 2: agents can not
 * decrypt): a snapshot's plaintext, and the blobs reachable from it, one at
 * a time. A struct roost_reach is the set of blob ids a job may read: the
 * snapshot's root tree at first, then whatever each tree served names
 * (subtrees and file data), so a host reads exactly the blobs of the snapshot
 * it restores, with no walk of the whole snapshot up front.
 *
 * Thread-safe: several threads may serve through one repository handle (a
 * mutex guards the reach sets, the index reload and a pool of blob
 * contexts; reading, decrypting and decompressing run in parallel).
 */
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "repo_int.h"

struct roost_reach {
	pthread_mutex_t mu;
	struct idset *ids;
};

static pthread_mutex_t serve_mu = PTHREAD_MUTEX_INITIALIZER; /* index reload, ctx pool */

/* A blob context from r's pool, or a new one. */
static struct blob_ctx *ctx_get(struct roost_repo *r)
{
	pthread_mutex_lock(&serve_mu);
	struct blob_ctx *c = NULL;
	if (r->nserve_bc)
		c = r->serve_bc[--r->nserve_bc];
	pthread_mutex_unlock(&serve_mu);
	return c ? c : blob_ctx_new(r->zstd_level);
}

static void ctx_put(struct roost_repo *r, struct blob_ctx *c)
{
	pthread_mutex_lock(&serve_mu);
	if (r->nserve_bc < SERVE_BC_MAX) {
		r->serve_bc[r->nserve_bc++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&serve_mu);
	blob_ctx_free(c);
}

struct roost_reach *roost_reach_new(const uint8_t root[32])
{
	struct roost_reach *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	pthread_mutex_init(&h->mu, NULL);
	if (!(h->ids = idset_new()) || idset_add(h->ids, root) < 0) {
		roost_reach_free(h);
		return NULL;
	}
	return h;
}

void roost_reach_free(struct roost_reach *h)
{
	if (!h)
		return;
	idset_free(h->ids);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

size_t roost_reach_size(struct roost_reach *h)
{
	pthread_mutex_lock(&h->mu);
	size_t n = idset_size(h->ids);
	pthread_mutex_unlock(&h->mu);
	return n;
}

enum roost_err roost_repo_serve_snapshot(struct roost_repo *r, const char *id_hex, char **json,
                                         size_t *n, uint8_t root[32], struct roost_errbuf *eb)
{
	*json = NULL;
	*n = 0;
	uint8_t bin[ID_LEN];
	if (hex_decode(id_hex, bin, ID_LEN))
		return roost_errf(eb, ROOST_EINVAL, "not a full snapshot id");
	char name[16 + HEX_LEN] = "snapshots/";
	strcat(name, id_hex);
	uint8_t *pt;
	size_t pn;
	enum roost_err err = repo_get_sealed(r, name, &pt, &pn, eb);
	if (err)
		return err;
	struct roost_snapshot s;
	err = snapshot_decode((const char *)pt, pn, &s, eb);
	if (err) {
		free(pt);
		return err;
	}
	memcpy(root, s.tree, 32);
	roost_snapshot_release(&s);
	*json = (char *)pt;
	*n = pn;
	return ROOST_OK;
}

enum roost_err roost_repo_serve_blob(struct roost_repo *r, struct roost_reach *h,
                                     const uint8_t id[32], size_t headroom, uint8_t **out,
                                     size_t *n, struct roost_errbuf *eb)
{
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&h->mu);
	int allowed = idset_has(h->ids, id);
	pthread_mutex_unlock(&h->mu);
	if (!allowed)
		return roost_errf(eb, ROOST_EPERM, "the blob is not part of this job's snapshot");
	struct blob_loc loc;
	enum roost_err err = ROOST_OK;
	pthread_mutex_lock(&serve_mu);
	if (!r->index_loaded || !index_lookup(r->index, id, NULL)) {
		/* first use, or written since the index was read: read the new
		 * index objects (packs already known are skipped) */
		r->index_loaded = 0;
		err = repo_load_index(r, eb);
	}
	pthread_mutex_unlock(&serve_mu);
	if (err)
		return err;
	uint8_t *form;
	size_t fn;
	if ((err = repo_read_form(r, id, headroom, &form, &fn, &loc, eb)))
		return err;
	if (loc.type == BLOB_TREE) {
		/* a tree is unpacked and verified here: what it names joins h */
		struct blob_ctx *bc = ctx_get(r);
		uint8_t *raw = bc ? malloc(loc.raw_len ? loc.raw_len : 1) : NULL, got[ID_LEN];
		struct tree t;
		memset(&t, 0, sizeof(t));
		if (!raw)
			err = ROOST_ENOMEM;
		else if ((err = blob_unpack(bc, form + headroom, fn, raw, loc.raw_len)) == ROOST_OK) {
			if (blob_id_k(&r->keys, loc.idk, raw, loc.raw_len, got))
				memset(got, 0, sizeof(got));
			err = sodium_memcmp(got, id, ID_LEN) ? roost_errf(eb, ROOST_ECORRUPT,
			                                                  "a tree does not match its id")
			                                     : tree_decode(raw, loc.raw_len, &t, eb);
		}
		if (bc)
			ctx_put(r, bc);
		free(raw);
		pthread_mutex_lock(&h->mu);
		for (size_t i = 0; i < t.n && !err; i++) {
			const struct node *nd = &t.nodes[i];
			if (nd->type == NODE_DIR && idset_add(h->ids, nd->subtree) < 0)
				err = ROOST_ENOMEM;
			for (uint32_t e = 0; nd->type == NODE_FILE && e < nd->nextents && !err; e++)
				if (nd->extents[e].kind == 0 && idset_add(h->ids, nd->extents[e].id) < 0)
					err = ROOST_ENOMEM;
		}
		pthread_mutex_unlock(&h->mu);
		tree_release(&t);
		if (err) {
			free(form);
			return err;
		}
	}
	if (loc.type != BLOB_TREE && loc.idk != 0) {
		/* a host-keyed blob is verified here: an agent restoring another
		 * host's backup (from_host) does not hold that host's id key, and
		 * must not (it would learn which of that host's blobs exist) */
		struct blob_ctx *bc = ctx_get(r);
		uint8_t *raw = bc ? malloc(loc.raw_len ? loc.raw_len : 1) : NULL, got[ID_LEN];
		if (!raw)
			err = ROOST_ENOMEM;
		else if ((err = blob_unpack(bc, form + headroom, fn, raw, loc.raw_len)) == ROOST_OK &&
		         (blob_id_k(&r->keys, loc.idk, raw, loc.raw_len, got) ||
		          sodium_memcmp(got, id, ID_LEN)))
			err = roost_errf(eb, ROOST_ECORRUPT, "a blob does not match its id");
		if (bc)
			ctx_put(r, bc);
		free(raw);
		if (err) {
			free(form);
			return err;
		}
	}
	*out = form;
	*n = fn;
	return ROOST_OK;
}
