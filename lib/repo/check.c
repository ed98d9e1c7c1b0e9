/* SPDX-License-Identifier: MIT */
/*
 * check: every index object opens and parses; every indexed pack exists
 * with a readable trailer; packs no index names are reported (a backup was
 * interrupted; not an error); every snapshot opens, every tree it reaches
 * loads and every blob it names is indexed. With read_data, every pack is
 * read whole: its hash must match its name and every blob must decrypt,
 * decompress and hash to its id; with sample_packs instead, that many
 * packs chosen at random are (roostd's maintenance check).
 */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo_int.h"

struct ck {
	struct roost_repo *r;
	const struct roost_check_opts *o;
	struct roost_check_result *res;
	const char *snap; /* current snapshot id, for messages */
	struct idset *blobs_seen;
};

static void report(struct ck *c, int is_error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void report(struct ck *c, int is_error, const char *fmt, ...)
{
	if (is_error)
		c->res->errors++;
	else
		c->res->warnings++;
	if (!c->o->report)
		return;
	char msg[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->o->report(c->o->ctx, is_error, msg);
}

static enum roost_err add_from_index(void *ctx, const struct pack_blobs *pb)
{
	struct roost_repo *r = ctx;
	return index_add_pack(r->index, pb->id, 0, pb->epk, pb->blobs, pb->n, 1);
}

static void visit(void *ctx, const char *path, const struct tree *t)
{
	struct ck *c = ctx;
	for (size_t i = 0; i < t->n; i++) {
		const struct node *n = &t->nodes[i];
		for (uint32_t e = 0; e < n->nextents; e++) {
			if (n->extents[e].kind != 0)
				continue;
			if (idset_add(c->blobs_seen, n->extents[e].id) == 0)
				continue;
			if (!index_lookup(c->r->index, n->extents[e].id, NULL)) {
				char h[HEX_LEN + 1];
				hex_encode(n->extents[e].id, ID_LEN, h);
				report(c, 1, "snapshot %.8s: %s/%s: data blob %.16s is missing", c->snap,
				       path, n->name, h);
			}
		}
	}
}

static void tree_err(void *ctx, const char *path, const char *msg)
{
	struct ck *c = ctx;
	report(c, 1, "snapshot %.8s: %s: %s", c->snap, path[0] ? path : "/", msg);
}

static void read_pack(struct ck *c, struct blob_ctx *bc, const char *name, uint64_t size)
{
	struct roost_repo *r = c->r;
	uint8_t *buf;
	size_t len;
	struct roost_errbuf eb;
	if (r->be->ops->get(r->be, name, &buf, &len, &eb)) {
		report(c, 1, "%s: %s", name, eb.msg);
		return;
	}
	(void)size; /* the trailer is checked against the name by pack_read_trailer */
	struct blob_loc *bl = NULL;
	uint32_t nb = 0;
	uint8_t epk[32], key[32];
	if (pack_read_trailer(r->be, &r->keys, name, size, epk, &bl, &nb, &eb) ||
	    repo_pack_key(r, epk, key, &eb)) {
		report(c, 1, "%s", eb.msg);
		free(bl);
		free(buf);
		return;
	}
	for (uint32_t i = 0; i < nb; i++) {
		uint8_t *raw = malloc(bl[i].raw_len ? bl[i].raw_len : 1);
		if (!raw)
			break;
		if (i > 0 && bl[i].offset != bl[i - 1].offset + bl[i - 1].length)
			report(c, 1, "%s: blob %u does not follow the one before it", name, i);
		if ((uint64_t)bl[i].offset + bl[i].length > len ||
		    blob_decode(bc, &r->keys, key, buf + bl[i].offset, bl[i].length, raw,
		                bl[i].raw_len, bl[i].id, bl[i].idk)) {
			char hx[HEX_LEN + 1];
			hex_encode(bl[i].id, ID_LEN, hx);
			report(c, 1, "%s: blob %.16s is damaged", name, hx);
		}
		c->res->blobs++;
		free(raw);
	}
	free(bl);
	free(buf);
}

enum roost_err roost_repo_check(struct roost_repo *r, const struct roost_check_opts *o,
                                struct roost_check_result *res, struct roost_errbuf *eb)
{
	memset(res, 0, sizeof(*res));
	if (!r->keys.has_secret)
		return put_only_refusal(eb, "check the repository");
	struct ck c = {r, o, res, NULL, idset_new()};
	struct blob_ctx *bc = blob_ctx_new(r->zstd_level);
	char **names = NULL, **pnames = NULL;
	uint64_t *psizes = NULL;
	size_t n = 0, np = 0;
	enum roost_err err = ROOST_OK;
	if (!c.blobs_seen || !bc) {
		err = ROOST_ENOMEM;
		goto done;
	}
	/* a fresh index, built here with every problem reported */
	index_free(r->index);
	r->index = index_new();
	r->index_loaded = 0;
	if (!r->index) {
		err = ROOST_ENOMEM;
		goto done;
	}
	if ((err = repo_list_objects(r, "index", &names, NULL, &n, eb)))
		goto done;
	for (size_t i = 0; i < n; i++) {
		uint8_t *pt;
		size_t pn;
		struct roost_errbuf e2;
		if (repo_get_sealed(r, names[i], &pt, &pn, &e2)) {
			report(&c, 1, "%s", e2.msg);
			continue;
		}
		if (index_decode(pt, pn, add_from_index, r, &e2))
			report(&c, 1, "%s: %s", names[i], e2.msg);
		free(pt);
	}
	free_names(names, n);
	names = NULL;
	n = 0;
	if ((err = repo_list_objects(r, "packs", &pnames, &psizes, &np, eb)))
		goto done;
	res->packs = np;
	struct idset *present = idset_new();
	if (!present) {
		err = ROOST_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < np; i++) {
		uint8_t pid[ID_LEN];
		if (hex_decode(pnames[i] + 6, pid, ID_LEN))
			continue;
		idset_add(present, pid);
		struct blob_loc *bl;
		uint32_t nb;
		uint8_t epk[32];
		struct roost_errbuf e2;
		if (pack_read_trailer(r->be, &r->keys, pnames[i], psizes[i], epk, &bl, &nb, &e2)) {
			report(&c, 1, "%s", e2.msg);
			continue;
		}
		if (!index_has_pack(r->index, pid)) {
			report(&c, 0, "%s is not indexed (left by an interrupted backup; the next "
			       "backup indexes it)", pnames[i]);
			index_add_pack(r->index, pid, psizes[i], epk, bl, nb, 0);
		}
		free(bl);
	}
	for (size_t i = 0; i < index_npacks(r->index); i++) {
		struct pack_info pi = index_pack(r->index, i);
		if (!idset_has(present, pi.id)) {
			char h[HEX_LEN + 1];
			hex_encode(pi.id, ID_LEN, h);
			report(&c, 1, "packs/%s is named by the index but missing", h);
		}
	}
	idset_free(present);
	r->index_loaded = 1;
	res->duplicates = index_duplicates(r->index);
	if (res->duplicates)
		report(&c, 0, "%llu blobs are stored in more than one pack (prune reclaims the space)",
		       (unsigned long long)res->duplicates);

	if ((err = repo_list_objects(r, "snapshots", &names, NULL, &n, eb)))
		goto done;
	struct idset *trees = idset_new();
	if (!trees) {
		err = ROOST_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < n && !err; i++) {
		uint8_t *pt;
		size_t pn;
		struct roost_errbuf e2;
		struct roost_snapshot s;
		if (repo_get_sealed(r, names[i], &pt, &pn, &e2)) {
			report(&c, 1, "%s", e2.msg);
			continue;
		}
		enum roost_err de = snapshot_decode((const char *)pt, pn, &s, &e2);
		free(pt);
		if (de) {
			report(&c, 1, "%s: %s", names[i], e2.msg);
			continue;
		}
		res->snapshots++;
		c.snap = names[i] + 10;
		err = walk_trees(r, bc, s.tree, trees, visit, tree_err, &c);
		roost_snapshot_release(&s);
	}
	idset_free(trees);
	if (err)
		goto done;
	if (o->read_data) {
		for (size_t i = 0; i < np; i++)
			read_pack(&c, bc, pnames[i], psizes[i]);
	} else {
		res->blobs = index_nblobs(r->index);
		/* a sample: a partial Fisher-Yates shuffle picks distinct packs */
		size_t want = o->sample_packs < np ? o->sample_packs : np;
		for (size_t i = 0; i < want; i++) {
			size_t k = i + randombytes_uniform((uint32_t)(np - i));
			char *tn = pnames[i];
			uint64_t ts = psizes[i];
			pnames[i] = pnames[k];
			psizes[i] = psizes[k];
			pnames[k] = tn;
			psizes[k] = ts;
			read_pack(&c, bc, pnames[i], psizes[i]);
		}
	}
done:
	free_names(names, n);
	free_names(pnames, np);
	free(psizes);
	blob_ctx_free(bc);
	idset_free(c.blobs_seen);
	return err;
}
