/* SPDX-License-Identifier: MIT */
/* ls and diff over snapshot trees. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo_int.h"

struct ls_ctx {
	struct roost_repo *r;
	struct blob_ctx *bc;
	const char *prefix;
	size_t plen;
	void (*cb)(void *, const struct roost_lsent *);
	void *ctx;
};

/* 2: path is at/under prefix, 1: path is above it (descend), 0: neither. */
static int under(const char *prefix, size_t pl, const char *path, size_t len)
{
	if (!prefix || pl == 0 || (pl == 1 && prefix[0] == '/'))
		return 2;
	if (len >= pl && memcmp(path, prefix, pl) == 0 && (len == pl || path[pl] == '/'))
		return 2;
	if (pl > len && memcmp(prefix, path, len) == 0 && prefix[len] == '/')
		return 1;
	return 0;
}

static enum roost_err ls_tree(struct ls_ctx *c, const uint8_t id[ID_LEN], const char *path,
                              struct roost_errbuf *eb, int depth)
{
	if (depth > 4096)
		return roost_errf(eb, ROOST_ECORRUPT, "directories nested too deeply");
	struct tree t;
	enum roost_err err = repo_load_tree(c->r, c->bc, id, &t, eb);
	if (err)
		return err;
	size_t pl = strlen(path);
	for (size_t i = 0; i < t.n && !err; i++) {
		struct node *n = &t.nodes[i];
		char *cp = malloc(pl + n->name_len + 2);
		if (!cp) {
			err = ROOST_ENOMEM;
			break;
		}
		sprintf(cp, "%s/%s", path, n->name);
		size_t cl = pl + 1 + n->name_len;
		int u = under(c->prefix, c->plen, cp, cl);
		if (u == 2) {
			struct roost_lsent e = {cp,        cl,          n->type,     n->mode,
			                        n->uid,    n->gid,      n->size,     n->mtime_s,
			                        n->mtime_ns, n->target};
			c->cb(c->ctx, &e);
		}
		if (u && n->type == NODE_DIR)
			err = ls_tree(c, n->subtree, cp, eb, depth + 1);
		free(cp);
	}
	tree_release(&t);
	return err;
}

enum roost_err roost_repo_ls(struct roost_repo *r, const struct roost_snapshot *s,
                             const char *prefix,
                             void (*cb)(void *, const struct roost_lsent *), void *ctx,
                             struct roost_errbuf *eb)
{
	enum roost_err err = repo_load_index(r, eb);
	if (err)
		return err;
	struct ls_ctx c = {r, blob_ctx_new(r->zstd_level), prefix, 0, cb, ctx};
	if (!c.bc)
		return ROOST_ENOMEM;
	if (prefix) {
		c.plen = strlen(prefix);
		while (c.plen > 1 && prefix[c.plen - 1] == '/')
			c.plen--;
	}
	err = ls_tree(&c, s->tree, "", eb, 0);
	blob_ctx_free(c.bc);
	return err;
}

/* ---- diff ---- */

struct diff_ctx {
	struct roost_repo *r;
	struct blob_ctx *bc;
	void (*cb)(void *, char, const char *);
	void *ctx;
};

static int node_same(const struct node *a, const struct node *b)
{
	if (a->type != b->type || a->mode != b->mode || a->uid != b->uid || a->gid != b->gid ||
	    a->mtime_s != b->mtime_s || a->mtime_ns != b->mtime_ns || a->size != b->size ||
	    a->nextents != b->nextents || a->target_len != b->target_len)
		return 0;
	for (uint32_t i = 0; i < a->nextents; i++)
		if (a->extents[i].kind != b->extents[i].kind ||
		    memcmp(a->extents[i].id, b->extents[i].id, ID_LEN) != 0 ||
		    a->extents[i].len != b->extents[i].len)
			return 0;
	if (a->target_len && memcmp(a->target, b->target, a->target_len) != 0)
		return 0;
	return 1;
}

static enum roost_err diff_trees(struct diff_ctx *c, const uint8_t *a, const uint8_t *b,
                                 const char *path, struct roost_errbuf *eb, int depth);

/* Reports a whole subtree as added or removed. */
static enum roost_err diff_all(struct diff_ctx *c, char ch, const struct node *n,
                               const char *path, struct roost_errbuf *eb, int depth)
{
	c->cb(c->ctx, ch, path);
	if (n->type != NODE_DIR)
		return ROOST_OK;
	return ch == '+' ? diff_trees(c, NULL, n->subtree, path, eb, depth + 1)
	                 : diff_trees(c, n->subtree, NULL, path, eb, depth + 1);
}

static int ncmp(const struct node *a, const struct node *b)
{
	size_t m = a->name_len < b->name_len ? a->name_len : b->name_len;
	int k = memcmp(a->name, b->name, m);
	return k ? k : (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

static enum roost_err diff_trees(struct diff_ctx *c, const uint8_t *a, const uint8_t *b,
                                 const char *path, struct roost_errbuf *eb, int depth)
{
	if (depth > 4096)
		return roost_errf(eb, ROOST_ECORRUPT, "directories nested too deeply");
	if (a && b && memcmp(a, b, ID_LEN) == 0)
		return ROOST_OK;
	struct tree ta = {0}, tb = {0};
	enum roost_err err = ROOST_OK;
	if (a && (err = repo_load_tree(c->r, c->bc, a, &ta, eb)))
		return err;
	if (b && (err = repo_load_tree(c->r, c->bc, b, &tb, eb))) {
		tree_release(&ta);
		return err;
	}
	size_t i = 0, j = 0, pl = strlen(path);
	while (!err && (i < ta.n || j < tb.n)) {
		int k = i >= ta.n ? 1 : j >= tb.n ? -1 : ncmp(&ta.nodes[i], &tb.nodes[j]);
		const struct node *n = k <= 0 ? &ta.nodes[i] : &tb.nodes[j];
		char *cp = malloc(pl + n->name_len + 2);
		if (!cp) {
			err = ROOST_ENOMEM;
			break;
		}
		sprintf(cp, "%s/%s", path, n->name);
		if (k < 0) {
			err = diff_all(c, '-', &ta.nodes[i++], cp, eb, depth);
		} else if (k > 0) {
			err = diff_all(c, '+', &tb.nodes[j++], cp, eb, depth);
		} else {
			const struct node *x = &ta.nodes[i++], *y = &tb.nodes[j++];
			if (x->type != y->type) {
				c->cb(c->ctx, 'T', cp);
			} else if (x->type == NODE_DIR) {
				if (x->mode != y->mode || x->uid != y->uid || x->gid != y->gid)
					c->cb(c->ctx, 'M', cp);
				err = diff_trees(c, x->subtree, y->subtree, cp, eb, depth + 1);
			} else if (!node_same(x, y)) {
				c->cb(c->ctx, 'M', cp);
			}
		}
		free(cp);
	}
	tree_release(&ta);
	tree_release(&tb);
	return err;
}

enum roost_err roost_repo_diff(struct roost_repo *r, const struct roost_snapshot *a,
                               const struct roost_snapshot *b,
                               void (*cb)(void *, char change, const char *path), void *ctx,
                               struct roost_errbuf *eb)
{
	enum roost_err err = repo_load_index(r, eb);
	if (err)
		return err;
	struct diff_ctx c = {r, blob_ctx_new(r->zstd_level), cb, ctx};
	if (!c.bc)
		return ROOST_ENOMEM;
	err = diff_trees(&c, a->tree, b->tree, "", eb, 0);
	blob_ctx_free(c.bc);
	return err;
}
