/* SPDX-License-Identifier: MIT */
/* A growable hash set of 32-byte ids, and a tree walker built on it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo_int.h"

struct idset {
	uint8_t (*v)[ID_LEN];
	uint8_t *used;
	size_t cap, n;
};

struct idset *idset_new(void)
{
	return calloc(1, sizeof(struct idset));
}

void idset_free(struct idset *s)
{
	if (!s)
		return;
	free(s->v);
	free(s->used);
	free(s);
}

static size_t slot_of(const struct idset *s, const uint8_t *id)
{
	uint64_t h;
	memcpy(&h, id, 8);
	size_t i = (size_t)h & (s->cap - 1);
	while (s->used[i] && memcmp(s->v[i], id, ID_LEN) != 0)
		i = (i + 1) & (s->cap - 1);
	return i;
}

static int grow(struct idset *s)
{
	size_t nc = s->cap ? s->cap * 2 : 1024;
	struct idset ns = {calloc(nc, ID_LEN), calloc(nc, 1), nc, 0};
	if (!ns.v || !ns.used) {
		free(ns.v);
		free(ns.used);
		return -1;
	}
	for (size_t i = 0; i < s->cap; i++)
		if (s->used[i]) {
			size_t k = slot_of(&ns, s->v[i]);
			memcpy(ns.v[k], s->v[i], ID_LEN);
			ns.used[k] = 1;
			ns.n++;
		}
	free(s->v);
	free(s->used);
	*s = ns;
	return 0;
}

int idset_add(struct idset *s, const uint8_t id[ID_LEN])
{
	if ((s->n + 1) * 2 > s->cap && grow(s))
		return -1;
	size_t k = slot_of(s, id);
	if (s->used[k])
		return 0;
	memcpy(s->v[k], id, ID_LEN);
	s->used[k] = 1;
	s->n++;
	return 1;
}

int idset_has(const struct idset *s, const uint8_t id[ID_LEN])
{
	return s->cap && s->used[slot_of(s, id)];
}

size_t idset_size(const struct idset *s)
{
	return s->n;
}

void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static enum roost_err walk(struct roost_repo *r, struct blob_ctx *bc, const uint8_t id[ID_LEN],
                           const char *path, struct idset *seen, tree_visit_cb cb,
                           tree_err_cb ecb, void *ctx, int depth)
{
	int added = idset_add(seen, id);
	if (added < 0)
		return ROOST_ENOMEM;
	if (!added)
		return ROOST_OK;
	if (depth > 4096) {
		ecb(ctx, path, "directories nested too deeply");
		return ROOST_OK;
	}
	struct tree t;
	struct roost_errbuf eb;
	enum roost_err err = repo_load_tree(r, bc, id, &t, &eb);
	if (err == ROOST_ENOMEM)
		return err;
	if (err) {
		ecb(ctx, path, eb.msg);
		return ROOST_OK;
	}
	cb(ctx, path, &t);
	size_t pl = strlen(path);
	for (size_t i = 0; i < t.n && !err; i++) {
		if (t.nodes[i].type != NODE_DIR)
			continue;
		char *cp = malloc(pl + t.nodes[i].name_len + 2);
		if (!cp) {
			err = ROOST_ENOMEM;
			break;
		}
		sprintf(cp, "%s/%s", path, t.nodes[i].name);
		err = walk(r, bc, t.nodes[i].subtree, cp, seen, cb, ecb, ctx, depth + 1);
		free(cp);
	}
	tree_release(&t);
	return err;
}

enum roost_err walk_trees(struct roost_repo *r, struct blob_ctx *bc, const uint8_t root[ID_LEN],
                          struct idset *seen, tree_visit_cb cb, tree_err_cb ecb, void *ctx)
{
	return walk(r, bc, root, "", seen, cb, ecb, ctx, 0);
}
