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

static enum roost_err index_ready(struct roost_repo *r, const uint8_t *id,
                                  struct roost_errbuf *eb);

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
	/* first use, written since the index was read (the new index objects
	 * are read; packs already known are skipped), or pruned since */
	if ((err = index_ready(r, id, eb)))
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

/* ---- browsing a snapshot (roostd's dashboard) ---- */

struct pack_names {
	uint8_t (*ids)[ID_LEN];
	size_t n, cap;
};

static int pack_name_cb(void *ctx, const char *name, uint64_t size)
{
	(void)size;
	struct pack_names *pn = ctx;
	const char *hex = strncmp(name, "packs/", 6) ? name : name + 6;
	if (pn->n == pn->cap) {
		size_t cap = pn->cap ? 2 * pn->cap : 256;
		void *v = realloc(pn->ids, cap * ID_LEN);
		if (!v)
			return -1;
		pn->ids = v;
		pn->cap = cap;
	}
	if (hex_decode(hex, pn->ids[pn->n], ID_LEN) == 0)
		pn->n++;
	return 0;
}

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, ID_LEN);
}

/* A prune in this process deleted packs since the index was read (serve_mu
 * held): the packs the backend no longer has leave the index, whose next
 * load adds the index objects the prune wrote. */
static enum roost_err drop_deleted_packs(struct roost_repo *r, struct roost_errbuf *eb)
{
	struct pack_names pn = {0};
	enum roost_err err = r->be->ops->list(r->be, "packs", pack_name_cb, &pn, eb);
	if (!err) {
		qsort(pn.ids, pn.n, ID_LEN, id_cmp);
		size_t np = index_npacks(r->index);
		for (size_t i = 0; i < np; i++) {
			struct pack_info pi = index_pack(r->index, i);
			if (!bsearch(pi.id, pn.ids, pn.n, ID_LEN, id_cmp))
				index_drop_pack(r->index, pi.id);
		}
		r->index_loaded = 0;
	}
	free(pn.ids);
	return err;
}

/* The index knows id (reloaded once if it does not: written since), and
 * names no pack a prune of this process deleted. */
static enum roost_err index_ready(struct roost_repo *r, const uint8_t *id,
                                  struct roost_errbuf *eb)
{
	enum roost_err err = ROOST_OK;
	pthread_mutex_lock(&serve_mu);
	unsigned long gen = __atomic_load_n(&repo_packs_gen, __ATOMIC_ACQUIRE);
	if (r->index_loaded && gen != r->packs_gen) {
		err = drop_deleted_packs(r, eb);
		if (!err)
			r->packs_gen = gen;
	}
	if (!err && (!r->index_loaded || (id && !index_lookup(r->index, id, NULL)))) {
		r->index_loaded = 0;
		err = repo_load_index(r, eb);
		if (!err && !r->packs_gen)
			r->packs_gen = gen;
	}
	pthread_mutex_unlock(&serve_mu);
	return err;
}

enum roost_err roost_repo_serve_warm(struct roost_repo *r, struct roost_errbuf *eb)
{
	return index_ready(r, NULL, eb);
}

struct match_ctx {
	const char *ref;
	size_t rlen;
	char full[HEX_LEN + 1];
	int n;
};

static int match_cb(void *ctx, const char *name, uint64_t size)
{
	(void)size;
	struct match_ctx *m = ctx;
	const char *id = strncmp(name, "snapshots/", 10) ? name : name + 10;
	if (strlen(id) == HEX_LEN && !strncmp(id, m->ref, m->rlen)) {
		if (m->n++ == 0)
			memcpy(m->full, id, HEX_LEN + 1);
	}
	return 0;
}

enum roost_err roost_repo_serve_resolve(struct roost_repo *r, const char *ref,
                                        char full[65], uint8_t root[32],
                                        struct roost_errbuf *eb)
{
	full[0] = 0;
	size_t rl = strlen(ref);
	if (!rl || rl > HEX_LEN || strspn(ref, "0123456789abcdef") != rl)
		return roost_errf(eb, ROOST_EINVAL, "\"%.80s\" is not a snapshot id or id prefix", ref);
	struct match_ctx m = {.ref = ref, .rlen = rl};
	enum roost_err err = r->be->ops->list(r->be, "snapshots", match_cb, &m, eb);
	if (err)
		return err;
	if (m.n > 1)
		return roost_errf(eb, ROOST_EINVAL, "snapshot prefix \"%s\" is ambiguous", ref);
	if (m.n == 0)
		return roost_errf(eb, ROOST_ENOENT, "no snapshot %s", ref);
	char *json;
	size_t n;
	if ((err = roost_repo_serve_snapshot(r, m.full, &json, &n, root, eb)))
		return err;
	free(json);
	memcpy(full, m.full, HEX_LEN + 1);
	return ROOST_OK;
}

static int name_cmp(const struct node *nd, const char *name, size_t len)
{
	size_t m = nd->name_len < len ? nd->name_len : len;
	int k = memcmp(nd->name, name, m);
	return k ? k : (nd->name_len > len) - (nd->name_len < len);
}

/* The node at path (absolute, normalised; "/" is the root) into *out, a copy
 * of its tree's entry kept in *holder (released by the caller); the root is
 * a directory node of its own. ROOST_ENOENT when it is missing. */
static enum roost_err find_node(struct roost_repo *r, struct blob_ctx *bc, const uint8_t root[32],
                                const char *path, struct tree *holder, const struct node **out,
                                struct node *rootnode, struct roost_errbuf *eb)
{
	memset(holder, 0, sizeof(*holder));
	memset(rootnode, 0, sizeof(*rootnode));
	rootnode->type = NODE_DIR;
	rootnode->mode = 0755;
	memcpy(rootnode->subtree, root, ID_LEN);
	const struct node *cur = rootnode;
	const char *p = path;
	while (*p == '/')
		p++;
	int depth = 0;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (cur->type != NODE_DIR || ++depth > 4096)
			return roost_errf(eb, ROOST_ENOENT, "no such path in the snapshot");
		uint8_t sub[ID_LEN];
		memcpy(sub, cur->subtree, ID_LEN);
		tree_release(holder);
		enum roost_err err = index_ready(r, sub, eb);
		if (!err)
			err = repo_load_tree(r, bc, sub, holder, eb);
		if (err)
			return err;
		size_t lo = 0, hi = holder->n;
		cur = NULL;
		while (lo < hi) { /* a tree's nodes are in name order */
			size_t mid = lo + (hi - lo) / 2;
			int k = name_cmp(&holder->nodes[mid], p, len);
			if (!k) {
				cur = &holder->nodes[mid];
				break;
			}
			if (k < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (!cur)
			return roost_errf(eb, ROOST_ENOENT, "no such path in the snapshot");
		p += len;
		while (*p == '/')
			p++;
	}
	*out = cur;
	return ROOST_OK;
}

static void entry_of(const struct node *n, struct roost_bentry *e)
{
	*e = (struct roost_bentry){n->name,  n->name_len, n->type,   n->mode,
	                           n->size,  n->mtime_s,  n->mtime_ns, n->target,
	                           n->target_len};
}

enum roost_err roost_repo_serve_list(struct roost_repo *r, const uint8_t root[32],
                                     const char *path, int *type,
                                     void (*cb)(void *, const struct roost_bentry *), void *ctx,
                                     struct roost_errbuf *eb)
{
	*type = 0;
	struct blob_ctx *bc = ctx_get(r);
	if (!bc)
		return ROOST_ENOMEM;
	struct tree holder, t = {0};
	struct node rootnode;
	const struct node *n;
	enum roost_err err = find_node(r, bc, root, path, &holder, &n, &rootnode, eb);
	if (!err) {
		*type = n->type;
		if (n->type == NODE_DIR) {
			uint8_t sub[ID_LEN];
			memcpy(sub, n->subtree, ID_LEN);
			if (!(err = index_ready(r, sub, eb)) && !(err = repo_load_tree(r, bc, sub, &t, eb)))
				for (size_t i = 0; i < t.n; i++) {
					struct roost_bentry e;
					entry_of(&t.nodes[i], &e);
					cb(ctx, &e);
				}
		}
	}
	tree_release(&t);
	tree_release(&holder);
	ctx_put(r, bc);
	return err;
}

enum roost_err roost_repo_serve_file(struct roost_repo *r, const uint8_t root[32],
                                     const char *path, int *type, uint64_t *size,
                                     struct roost_bextent **ext, size_t *next,
                                     struct roost_errbuf *eb)
{
	*type = 0;
	*size = 0;
	*ext = NULL;
	*next = 0;
	struct blob_ctx *bc = ctx_get(r);
	if (!bc)
		return ROOST_ENOMEM;
	struct tree holder;
	struct node rootnode;
	const struct node *n;
	enum roost_err err = find_node(r, bc, root, path, &holder, &n, &rootnode, eb);
	if (!err) {
		*type = n->type;
		*size = n->size;
		if (n->type == NODE_FILE && n->nextents) {
			*ext = calloc(n->nextents, sizeof(**ext));
			if (!*ext)
				err = ROOST_ENOMEM;
			for (uint32_t i = 0; *ext && i < n->nextents && !err; i++) {
				struct roost_bextent *x = &(*ext)[i];
				memcpy(x->id, n->extents[i].id, ID_LEN);
				x->len = n->extents[i].len;
				x->hole = n->extents[i].kind == 1;
				/* a blob's length is the index's (a tree does not hold it) */
				struct blob_loc loc;
				if (!x->hole && !(err = index_ready(r, x->id, eb))) {
					if (index_lookup(r->index, x->id, &loc))
						x->len = loc.raw_len;
					else
						err = roost_errf(eb, ROOST_ECORRUPT,
						                 "a blob of the file is not in the index");
				}
			}
			if (err) {
				free(*ext);
				*ext = NULL;
			}
			if (*ext)
				*next = n->nextents;
		}
	}
	tree_release(&holder);
	ctx_put(r, bc);
	return err;
}

enum roost_err roost_repo_serve_data(struct roost_repo *r, const uint8_t id[32], uint8_t **out,
                                     size_t *n, struct roost_errbuf *eb)
{
	*out = NULL;
	*n = 0;
	enum roost_err err = index_ready(r, id, eb);
	if (err)
		return err;
	struct blob_ctx *bc = ctx_get(r);
	if (!bc)
		return ROOST_ENOMEM;
	/* decrypted, decompressed and checked against its id, as a restore
	 * reads it */
	err = repo_read_blob(r, bc, id, out, n, eb);
	ctx_put(r, bc);
	return err;
}
