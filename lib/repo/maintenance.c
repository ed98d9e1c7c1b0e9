/* SPDX-License-Identifier: MIT */
/*
 * forget (retention policies), prune (two-phase removal with a grace
 * period) and stats.
 *
 * Prune never deletes a pack in the run that finds it unused: it marks it.
 * A later run deletes it if the mark is older than the grace period and the
 * pack is still unused by every snapshot then. Backups do not deduplicate
 * against marked packs, so only backups that started before the mark can
 * reference one, and they finish within the grace period.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo_int.h"
#include "roost/jsonutil.h"
#include "roost/timeutil.h"

/* ---- forget ---- */

static int64_t bucket(int64_t t, int kind)
{
	struct roost_civil c;
	roost_civil_from_time(t, &c);
	switch (kind) {
	case 0: return c.year * 1000000 + c.month * 10000 + c.day * 100 + c.hour; /* hourly */
	case 1: return c.year * 10000 + c.month * 100 + c.day;                    /* daily */
	case 2: { /* weekly: weeks since the Monday before the epoch */
		int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
		int64_t d = days + 3;
		return d >= 0 ? d / 7 : -((-d + 6) / 7);
	}
	case 3: return c.year * 100 + c.month; /* monthly */
	default: return c.year;               /* yearly */
	}
}

static int same_group(const struct roost_snapshot *a, const struct roost_snapshot *b)
{
	if (strcmp(a->hostname, b->hostname) || a->npaths != b->npaths)
		return 0;
	for (size_t i = 0; i < a->npaths; i++)
		if (strcmp(a->paths[i], b->paths[i]))
			return 0;
	return 1;
}

static enum roost_err remove_snapshot(struct roost_repo *r, const char *id,
                                      struct roost_errbuf *eb)
{
	char name[16 + HEX_LEN];
	snprintf(name, sizeof(name), "snapshots/%s", id);
	return r->be->ops->remove(r->be, name, eb);
}

enum roost_err roost_repo_forget(struct roost_repo *r, const struct roost_keep_policy *p,
                                 int dry_run,
                                 void (*cb)(void *, const struct roost_snapshot *, int keep),
                                 void *ctx, struct roost_errbuf *eb)
{
	if (!p->last && !p->hourly && !p->daily && !p->weekly && !p->monthly && !p->yearly)
		return roost_errf(eb, ROOST_EINVAL, "no --keep-* policy given");
	struct roost_snapshot *v;
	size_t n;
	enum roost_err err = roost_repo_snapshots(r, &v, &n, NULL, NULL, eb);
	if (err)
		return err;
	uint8_t *keep = calloc(n ? n : 1, 1), *grouped = calloc(n ? n : 1, 1);
	size_t *members = malloc((n ? n : 1) * sizeof(*members));
	if (!keep || !grouped || !members) {
		err = ROOST_ENOMEM;
		goto done;
	}
	/* v is oldest first; walk each group newest first */
	for (size_t g = n; g-- > 0;) {
		if (grouped[g])
			continue;
		size_t m = 0;
		for (size_t i = g + 1; i-- > 0;)
			if (!grouped[i] && same_group(&v[g], &v[i])) {
				grouped[i] = 1;
				members[m++] = i;
			}
		const int limits[6] = {p->last, p->hourly, p->daily, p->weekly, p->monthly, p->yearly};
		for (int rule = 0; rule < 6; rule++) {
			int left = limits[rule];
			int64_t last = INT64_MIN;
			for (size_t k = 0; k < m && left > 0; k++) {
				int64_t bk = rule == 0 ? (int64_t)k : bucket(v[members[k]].time_s, rule - 1);
				if (rule == 0 || bk != last) {
					keep[members[k]] = 1;
					last = bk;
					left--;
				}
			}
		}
	}
	for (size_t i = 0; i < n && !err; i++) {
		if (cb)
			cb(ctx, &v[i], keep[i]);
		if (!keep[i] && !dry_run)
			err = remove_snapshot(r, v[i].id, eb);
	}
done:
	free(keep);
	free(grouped);
	free(members);
	roost_snapshots_free(v, n);
	return err;
}

enum roost_err roost_repo_forget_ids(struct roost_repo *r, const char *const *refs, size_t n,
                                     struct roost_errbuf *eb)
{
	for (size_t i = 0; i < n; i++) {
		struct roost_snapshot s;
		enum roost_err err = roost_repo_find_snapshot(r, refs[i], &s, eb);
		if (err)
			return err;
		err = remove_snapshot(r, s.id, eb);
		roost_snapshot_release(&s);
		if (err)
			return err;
	}
	return ROOST_OK;
}

/* ---- marks ---- */

static int mark_find(const struct mark *m, size_t n, const uint8_t *id)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(m[i].id, id, ID_LEN) == 0)
			return (int)i;
	return -1;
}

enum roost_err marks_load(struct roost_repo *r, struct mark **out, size_t *n, char ***names,
                          size_t *nnames, struct roost_errbuf *eb)
{
	*out = NULL;
	*n = 0;
	char **nm;
	size_t k;
	enum roost_err err = repo_list_objects(r, "marks", &nm, NULL, &k, eb);
	if (err)
		return err;
	struct mark *v = NULL;
	size_t cnt = 0;
	for (size_t i = 0; i < k && !err; i++) {
		uint8_t *pt;
		size_t pn;
		struct roost_errbuf e2;
		if (repo_get_sealed(r, nm[i], &pt, &pn, &e2))
			continue; /* a damaged mark only delays a deletion */
		json_t *j = json_loadb((const char *)pt, pn, 0, NULL);
		free(pt);
		json_t *packs = json_object_get(j, "packs");
		for (size_t p = 0; p < json_array_size(packs); p++) {
			json_t *e = json_array_get(packs, p);
			const char *id = json_get_str(e, "id"), *at = json_get_str(e, "marked_at");
			struct mark mk;
			if (!id || !at || hex_decode(id, mk.id, ID_LEN) || roost_time_parse(at, &mk.at, NULL))
				continue;
			int f = mark_find(v, cnt, mk.id);
			if (f >= 0) { /* the latest mark wins: the most careful choice */
				if (mk.at > v[f].at)
					v[f].at = mk.at;
				continue;
			}
			struct mark *nv = realloc(v, (cnt + 1) * sizeof(*nv));
			if (!nv) {
				err = ROOST_ENOMEM;
				break;
			}
			v = nv;
			v[cnt++] = mk;
		}
		json_decref(j);
	}
	if (names) {
		*names = nm;
		*nnames = k;
	} else {
		free_names(nm, k);
	}
	*out = v;
	*n = cnt;
	return err;
}

/* ---- prune ---- */

struct ppack {
	struct pack_blobs pb;
	int64_t marked_at; /* -1: not marked */
	uint64_t used_bytes, total_bytes;
	uint32_t used;
	uint8_t *home; /* per blob: this pack is where the blob is kept */
	int action;    /* 0 keep, 1 delete, 2 mark, 3 repack+mark */
};

struct pr {
	struct ppack *v;
	size_t n, cap;
};

static enum roost_err pr_add(struct pr *p, const struct pack_blobs *pb)
{
	for (size_t i = 0; i < p->n; i++)
		if (memcmp(p->v[i].pb.id, pb->id, ID_LEN) == 0)
			return ROOST_OK;
	if (p->n == p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 64;
		struct ppack *nv = realloc(p->v, nc * sizeof(*nv));
		if (!nv)
			return ROOST_ENOMEM;
		p->v = nv;
		p->cap = nc;
	}
	struct ppack *x = &p->v[p->n];
	memset(x, 0, sizeof(*x));
	x->pb = *pb;
	x->pb.blobs = malloc((pb->n ? pb->n : 1) * sizeof(*pb->blobs));
	if (!x->pb.blobs)
		return ROOST_ENOMEM;
	memcpy(x->pb.blobs, pb->blobs, pb->n * sizeof(*pb->blobs));
	x->marked_at = -1;
	p->n++;
	return ROOST_OK;
}

static enum roost_err pr_add_cb(void *ctx, const struct pack_blobs *pb)
{
	return pr_add(ctx, pb);
}

struct used_ctx {
	struct idset *used;
	int oom;
};

static void used_visit(void *ctx, const char *path, const struct tree *t)
{
	(void)path;
	struct used_ctx *u = ctx;
	for (size_t i = 0; i < t->n; i++)
		for (uint32_t e = 0; e < t->nodes[i].nextents; e++)
			if (t->nodes[i].extents[e].kind == 0 &&
			    idset_add(u->used, t->nodes[i].extents[e].id) < 0)
				u->oom = 1;
}

static void used_err(void *ctx, const char *path, const char *msg)
{
	(void)path;
	(void)msg;
	((struct used_ctx *)ctx)->oom = 2;
}

static void say(const struct roost_prune_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(const struct roost_prune_opts *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(o->report, o->ctx, fmt, ap);
	va_end(ap);
}

enum roost_err roost_repo_prune(struct roost_repo *r, const struct roost_prune_opts *o,
                                struct roost_prune_result *res, struct roost_errbuf *eb)
{
	memset(res, 0, sizeof(*res));
	struct pr p = {0};
	char **inames = NULL, **pnames = NULL, **mnames = NULL;
	uint64_t *psizes = NULL;
	size_t ni = 0, np = 0, nm = 0, nmarks = 0;
	struct mark *marks = NULL;
	struct idset *used = idset_new(), *trees = idset_new(), *homed = idset_new();
	struct blob_ctx *bc = blob_ctx_new(r->zstd_level);
	struct pack_blobs *newpacks = NULL;
	size_t nnew = 0;
	struct roost_snapshot *snaps = NULL;
	size_t nsnaps = 0;
	enum roost_err err = ROOST_OK;
	if (!used || !trees || !homed || !bc) {
		err = ROOST_ENOMEM;
		goto done;
	}

	/* 1. every pack and its blobs, from index objects and unindexed trailers */
	if ((err = repo_list_objects(r, "index", &inames, NULL, &ni, eb)))
		goto done;
	for (size_t i = 0; i < ni; i++) {
		uint8_t *pt;
		size_t pn;
		struct roost_errbuf e2;
		if (repo_get_sealed(r, inames[i], &pt, &pn, &e2)) {
			err = roost_errf(eb, ROOST_ECORRUPT, "refusing to prune: %s", e2.msg);
			goto done;
		}
		err = index_decode(pt, pn, pr_add_cb, &p, &e2);
		free(pt);
		if (err) {
			err = roost_errf(eb, ROOST_ECORRUPT, "refusing to prune: %s: %s", inames[i], e2.msg);
			goto done;
		}
	}
	if ((err = repo_list_objects(r, "packs", &pnames, &psizes, &np, eb)))
		goto done;
	struct idset *present = idset_new();
	if (!present) {
		err = ROOST_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < np && !err; i++) {
		uint8_t pid[ID_LEN];
		if (hex_decode(pnames[i] + 6, pid, ID_LEN))
			continue;
		idset_add(present, pid);
		int known = 0;
		for (size_t k = 0; k < p.n && !known; k++)
			if (memcmp(p.v[k].pb.id, pid, ID_LEN) == 0) {
				p.v[k].pb.size = psizes[i];
				known = 1;
			}
		if (known)
			continue;
		struct pack_blobs pb = {.size = psizes[i]};
		memcpy(pb.id, pid, ID_LEN);
		struct roost_errbuf e2;
		if (pack_read_trailer(r->be, &r->keys, pnames[i], psizes[i], &pb.blobs, &pb.n, &e2)) {
			say(o, "skipping %s: %s", pnames[i], e2.msg);
			continue;
		}
		err = pr_add(&p, &pb);
		free(pb.blobs);
	}
	/* packs an index names that are gone are left out */
	size_t k = 0;
	for (size_t i = 0; i < p.n; i++) {
		if (idset_has(present, p.v[i].pb.id))
			p.v[k++] = p.v[i];
		else
			free(p.v[i].pb.blobs);
	}
	p.n = k;
	idset_free(present);
	if (err)
		goto done;

	/* 2. what every snapshot uses; any unreadable snapshot or tree stops prune */
	if ((err = roost_repo_snapshots(r, &snaps, &nsnaps, NULL, NULL, eb)))
		goto done;
	char **snames;
	size_t nsn;
	if ((err = repo_list_objects(r, "snapshots", &snames, NULL, &nsn, eb)))
		goto done;
	free_names(snames, nsn);
	if (nsn != nsnaps) {
		err = roost_errf(eb, ROOST_ECORRUPT,
		                 "refusing to prune: %zu snapshots can not be read (run check)",
		                 nsn - nsnaps);
		goto done;
	}
	index_free(r->index); /* reload: blobs are read through the index */
	r->index = index_new();
	r->index_loaded = 0;
	if (!r->index || (err = repo_load_index(r, eb)))
		goto done;
	struct used_ctx uc = {used, 0};
	for (size_t i = 0; i < nsnaps && !err; i++) {
		err = walk_trees(r, bc, snaps[i].tree, trees, used_visit, used_err, &uc);
		if (uc.oom == 2)
			err = roost_errf(eb, ROOST_ECORRUPT,
			                 "refusing to prune: snapshot %.8s has unreadable trees (run check)",
			                 snaps[i].id);
		else if (uc.oom)
			err = ROOST_ENOMEM;
	}
	if (err)
		goto done;

	/* 3. marks, and where each used blob lives: unmarked packs first */
	if ((err = marks_load(r, &marks, &nmarks, &mnames, &nm, eb)))
		goto done;
	for (size_t i = 0; i < p.n; i++) {
		int f = mark_find(marks, nmarks, p.v[i].pb.id);
		if (f >= 0)
			p.v[i].marked_at = marks[f].at;
	}
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < p.n; i++) {
			struct ppack *x = &p.v[i];
			if ((pass == 0) != (x->marked_at < 0))
				continue;
			x->home = calloc(x->pb.n ? x->pb.n : 1, 1);
			if (!x->home) {
				err = ROOST_ENOMEM;
				goto done;
			}
			for (uint32_t b = 0; b < x->pb.n; b++) {
				const struct blob_loc *bl = &x->pb.blobs[b];
				x->total_bytes += bl->length;
				int isused = idset_has(used, bl->id) || idset_has(trees, bl->id);
				if (isused && idset_add(homed, bl->id) == 1) {
					x->home[b] = 1;
					x->used++;
					x->used_bytes += bl->length;
				}
			}
		}

	/* 4. decide */
	for (size_t i = 0; i < p.n; i++) {
		struct ppack *x = &p.v[i];
		if (x->marked_at >= 0) {
			if (x->used)
				x->marked_at = -1; /* needed again */
			else if (o->now - x->marked_at >= o->grace_s)
				x->action = 1;
			else
				res->packs_kept_marked++;
		} else if (!x->used) {
			x->action = 2;
		} else if (x->used_bytes * 2 < x->total_bytes) {
			x->action = 3;
		}
	}
	/* Small packs (every backup ends with up to one per thread) are merged
	 * once together they would fill half a pack: no rewriting the same few
	 * bytes on every run. */
	uint64_t small_bytes = 0;
	size_t small = 0;
	for (size_t i = 0; i < p.n; i++)
		if (p.v[i].marked_at < 0 && !p.v[i].action && p.v[i].used &&
		    p.v[i].total_bytes < r->pack_size / 4) {
			small_bytes += p.v[i].used_bytes;
			small++;
		}
	if (small >= 2 && small_bytes >= r->pack_size / 2)
		for (size_t i = 0; i < p.n; i++)
			if (p.v[i].marked_at < 0 && !p.v[i].action && p.v[i].used &&
			    p.v[i].total_bytes < r->pack_size / 4)
				p.v[i].action = 3;

	/* 5. repack the used blobs of mostly-unused and of small packs */
	struct packer *pk = NULL;
	struct pack_writer *pw = NULL;
	if ((err = packer_new(r, 0, NULL, NULL, &pk, eb)))
		goto done;
	for (size_t i = 0; i < p.n && !err; i++) {
		struct ppack *x = &p.v[i];
		if (x->action != 3)
			continue;
		char pname[8 + HEX_LEN] = "packs/";
		hex_encode(x->pb.id, ID_LEN, pname + 6);
		for (uint32_t b = 0; b < x->pb.n && !err; b++) {
			const struct blob_loc *bl = &x->pb.blobs[b];
			if (!x->home[b])
				continue;
			uint8_t *st = malloc(bl->length), *raw = malloc(bl->raw_len ? bl->raw_len : 1);
			if (!st || !raw) {
				free(st);
				free(raw);
				err = ROOST_ENOMEM;
				break;
			}
			err = r->be->ops->get_range(r->be, pname, bl->offset, bl->length, st, eb);
			if (!err && blob_decode(bc, &r->keys, st, bl->length, raw, bl->raw_len, bl->id))
				err = roost_errf(eb, ROOST_ECORRUPT,
				                 "refusing to prune: a used blob in %s is damaged", pname);
			if (!err)
				err = packer_add(pk, &pw, bl->type, bl->id, st, bl->length, bl->raw_len, eb);
			free(st);
			free(raw);
			res->blobs_repacked += !err;
			if (!err)
				err = packer_roll(pk, &pw, eb);
		}
		res->packs_repacked += !err;
	}
	if (!err)
		err = packer_seal(pk, &pw, eb);
	pack_writer_abort(pw);
	packer_take(pk, &newpacks, &nnew);
	packer_free(pk);
	if (err)
		goto done;

	/* 6. one index for everything that stays, then the marks */
	size_t nkeep = 0;
	struct pack_blobs *keep = malloc((p.n + nnew + 1) * sizeof(*keep));
	if (!keep) {
		err = ROOST_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < p.n; i++)
		if (p.v[i].action != 1)
			keep[nkeep++] = p.v[i].pb;
	for (size_t i = 0; i < nnew; i++)
		keep[nkeep++] = newpacks[i];
	char newindex[HEX_LEN + 1] = "";
	err = repo_write_index(r, keep, nkeep, newindex, eb);
	free(keep);
	if (err)
		goto done;
	char ts[40];
	json_t *ja = json_array();
	for (size_t i = 0; i < p.n; i++) {
		struct ppack *x = &p.v[i];
		int64_t at = x->action >= 2 ? o->now : x->marked_at;
		if (x->action == 1 || at < 0)
			continue;
		char h[HEX_LEN + 1];
		hex_encode(x->pb.id, ID_LEN, h);
		roost_time_format(at, ts, sizeof(ts));
		json_array_append_new(ja, json_pack("{s:s, s:s}", "id", h, "marked_at", ts));
		res->packs_marked += x->action >= 2;
	}
	char newmarks[HEX_LEN + 1] = "";
	if (json_array_size(ja)) {
		json_t *j = json_pack("{s:i, s:o}", "version", 1, "packs", ja);
		char *js = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		if (!js) {
			err = ROOST_ENOMEM;
			goto done;
		}
		err = repo_put_sealed(r, "marks", (const uint8_t *)js, strlen(js), newmarks, eb);
		free(js);
		if (err == ROOST_EEXIST)
			err = ROOST_OK;
		if (err)
			goto done;
	} else {
		json_decref(ja);
	}

	/* 7. only now remove: old index objects and marks, then the packs */
	for (size_t i = 0; i < ni && !err; i++)
		if (strcmp(inames[i] + 6, newindex) != 0)
			err = r->be->ops->remove(r->be, inames[i], eb);
	for (size_t i = 0; i < nm && !err; i++)
		if (strcmp(mnames[i] + 6, newmarks) != 0)
			err = r->be->ops->remove(r->be, mnames[i], eb);
	for (size_t i = 0; i < p.n && !err; i++) {
		if (p.v[i].action != 1)
			continue;
		char pname[8 + HEX_LEN] = "packs/";
		hex_encode(p.v[i].pb.id, ID_LEN, pname + 6);
		err = r->be->ops->remove(r->be, pname, eb);
		if (!err) {
			res->packs_deleted++;
			res->bytes_deleted += p.v[i].pb.size;
			say(o, "deleted %s", pname);
		}
	}
	/* the in-memory index still names deleted packs: reload on next use */
	index_free(r->index);
	r->index = index_new();
	r->index_loaded = 0;
	if (!r->index)
		err = ROOST_ENOMEM;
done:
	for (size_t i = 0; i < p.n; i++) {
		free(p.v[i].pb.blobs);
		free(p.v[i].home);
	}
	free(p.v);
	for (size_t i = 0; i < nnew; i++)
		free(newpacks[i].blobs);
	free(newpacks);
	free_names(inames, ni);
	free_names(pnames, np);
	free_names(mnames, nm);
	free(psizes);
	free(marks);
	idset_free(used);
	idset_free(trees);
	idset_free(homed);
	blob_ctx_free(bc);
	roost_snapshots_free(snaps, nsnaps);
	return err;
}

/* ---- stats ---- */

struct st_ctx {
	struct roost_repo_stats *st;
};

static void st_blob(void *ctx, const struct blob_loc *b)
{
	struct roost_repo_stats *st = ((struct st_ctx *)ctx)->st;
	st->blobs++;
	if (b->type == BLOB_TREE)
		st->tree_blobs++;
	else
		st->data_blobs++;
	st->raw_bytes += b->raw_len;
	st->stored_bytes += b->length;
}

enum roost_err roost_repo_stats(struct roost_repo *r, struct roost_repo_stats *st,
                                struct roost_errbuf *eb)
{
	memset(st, 0, sizeof(*st));
	enum roost_err err = repo_load_index(r, eb);
	if (err)
		return err;
	char **names;
	uint64_t *sizes;
	size_t n;
	if ((err = repo_list_objects(r, "packs", &names, &sizes, &n, eb)))
		return err;
	st->packs = n;
	for (size_t i = 0; i < n; i++)
		st->pack_bytes += sizes[i];
	free_names(names, n);
	free(sizes);
	if ((err = repo_list_objects(r, "snapshots", &names, NULL, &n, eb)))
		return err;
	st->snapshots = n;
	free_names(names, n);
	struct st_ctx c = {st};
	index_each_blob(r->index, st_blob, &c);
	return ROOST_OK;
}
