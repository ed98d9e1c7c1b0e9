/* SPDX-License-Identifier: MIT */
/*
 * forget (retention policies, decided by retention.c), prune (two-phase removal with a grace
 * period) and stats.
 *
 * Prune never deletes a pack in the run that finds it unused: it marks it.
 * A later run deletes it if the mark is older than the grace period and the
 * pack is still unused by every snapshot then. Backups do not deduplicate
 * against marked packs, so only backups that started before the mark can
 * reference one, and they finish within the grace period.
 * roost_repo_prune reads as its seven steps, each a function whose comment
 * says what it does and why that is safe; the repack writes through the
 * packer (packer.c), as backup does.
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
	if (roost_keep_policy_empty(p))
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
		int64_t *times = malloc(m * sizeof(*times));
		unsigned *why = malloc(m * sizeof(*why));
		if (!times || !why) {
			free(times);
			free(why);
			err = ROOST_ENOMEM;
			goto done;
		}
		for (size_t k = 0; k < m; k++)
			times[k] = v[members[k]].time_s;
		roost_keep_apply(p, times, m, why);
		for (size_t k = 0; k < m; k++)
			keep[members[k]] = why[k] != 0;
		free(times);
		free(why);
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

enum pack_action {
	PACK_KEEP = 0,
	PACK_DELETE = 1, /* marked, unused for the whole grace period */
	PACK_MARK = 2,   /* unused now: marked, deleted by a later run */
	PACK_REPACK = 3, /* used blobs copied to new packs, then marked */
};

struct ppack {
	struct pack_blobs pb;
	int64_t marked_at; /* -1: not marked */
	uint64_t used_bytes, total_bytes;
	uint32_t used;
	uint8_t *home; /* per blob: this pack is where the blob is kept */
	enum pack_action action;
};

struct ppacks {
	struct ppack *v;
	size_t n, cap;
};

static enum roost_err pr_add(struct ppacks *p, const struct pack_blobs *pb)
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

/* One prune run: what each step finds and hands to the next. */
struct prune {
	struct roost_repo *r;
	const struct roost_prune_opts *o;
	struct roost_prune_result *res;
	struct ppacks p;           /* every pack and its blobs (step 1) */
	char **inames;             /* the index objects read (1), replaced (6, 7) */
	size_t ni;
	struct idset *used, *trees; /* data blobs and trees some snapshot uses (2) */
	struct idset *homed;       /* used blobs that have a home pack (3) */
	struct mark *marks;        /* (3) */
	size_t nmarks;
	char **mnames;             /* the marks objects read (3), replaced (6, 7) */
	size_t nm;
	struct pack_blobs *newpacks; /* written by the repack (5) */
	size_t nnew;
	char newindex[HEX_LEN + 1]; /* written in 6, spared in 7 */
	char newmarks[HEX_LEN + 1];
	struct blob_ctx *bc;
};

/*
 * 1. Every pack and its blobs, from the index objects and from the trailers
 * of packs no index names. An index object that can not be read stops
 * prune: the packs it names would otherwise be judged on partial knowledge.
 * Packs an index names that are gone are left out.
 */
static enum roost_err prune_list_packs(struct prune *pr, struct roost_errbuf *eb)
{
	struct roost_repo *r = pr->r;
	struct ppacks *p = &pr->p;
	char **pnames = NULL;
	uint64_t *psizes = NULL;
	size_t np = 0;
	enum roost_err err = repo_list_objects(r, "index", &pr->inames, NULL, &pr->ni, eb);
	if (err)
		return err;
	for (size_t i = 0; i < pr->ni; i++) {
		uint8_t *pt;
		size_t pn;
		struct roost_errbuf e2;
		if (repo_get_sealed(r, pr->inames[i], &pt, &pn, &e2))
			return roost_errf(eb, ROOST_ECORRUPT, "refusing to prune: %s", e2.msg);
		err = index_decode(pt, pn, pr_add_cb, p, &e2);
		free(pt);
		if (err)
			return roost_errf(eb, ROOST_ECORRUPT, "refusing to prune: %s: %s",
			                  pr->inames[i], e2.msg);
	}
	if ((err = repo_list_objects(r, "packs", &pnames, &psizes, &np, eb)))
		return err;
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
		for (size_t k = 0; k < p->n && !known; k++)
			if (memcmp(p->v[k].pb.id, pid, ID_LEN) == 0) {
				p->v[k].pb.size = psizes[i];
				known = 1;
			}
		if (known)
			continue;
		struct pack_blobs pb = {.size = psizes[i]};
		memcpy(pb.id, pid, ID_LEN);
		struct roost_errbuf e2;
		if (pack_read_trailer(r->be, &r->keys, pnames[i], psizes[i], pb.epk, &pb.blobs, &pb.n, &e2)) {
			say(pr->o, "skipping %s: %s", pnames[i], e2.msg);
			continue;
		}
		err = pr_add(p, &pb);
		free(pb.blobs);
	}
	size_t k = 0;
	for (size_t i = 0; i < p->n; i++) {
		if (idset_has(present, p->v[i].pb.id))
			p->v[k++] = p->v[i];
		else
			free(p->v[i].pb.blobs);
	}
	p->n = k;
	idset_free(present);
done:
	free_names(pnames, np);
	free(psizes);
	return err;
}

/*
 * 2. The blobs every snapshot uses. A blob counts as unused only when all
 * snapshots and all their trees were read: any unreadable snapshot or tree
 * stops prune, since the blobs below it can not be told apart from
 * garbage.
 */
static enum roost_err prune_find_used(struct prune *pr, struct roost_errbuf *eb)
{
	struct roost_repo *r = pr->r;
	struct roost_snapshot *snaps = NULL;
	size_t nsnaps = 0;
	char **snames;
	size_t nsn;
	enum roost_err err = roost_repo_snapshots(r, &snaps, &nsnaps, NULL, NULL, eb);
	if (err || (err = repo_list_objects(r, "snapshots", &snames, NULL, &nsn, eb)))
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
	struct used_ctx uc = {pr->used, 0};
	for (size_t i = 0; i < nsnaps && !err; i++) {
		err = walk_trees(r, pr->bc, snaps[i].tree, pr->trees, used_visit, used_err, &uc);
		if (uc.oom == 2)
			err = roost_errf(eb, ROOST_ECORRUPT,
			                 "refusing to prune: snapshot %.8s has unreadable trees (run check)",
			                 snaps[i].id);
		else if (uc.oom)
			err = ROOST_ENOMEM;
	}
done:
	roost_snapshots_free(snaps, nsnaps);
	return err;
}

/*
 * 3. The marks of earlier runs, and where each used blob lives: every used
 * blob gets one home pack, an unmarked one if any holds it, so that a
 * marked pack is kept (step 4 unmarks it) only when it is the last holder
 * of a blob in use.
 */
static enum roost_err prune_place_blobs(struct prune *pr, struct roost_errbuf *eb)
{
	struct ppacks *p = &pr->p;
	enum roost_err err = marks_load(pr->r, &pr->marks, &pr->nmarks, &pr->mnames, &pr->nm, eb);
	if (err)
		return err;
	for (size_t i = 0; i < p->n; i++) {
		int f = mark_find(pr->marks, pr->nmarks, p->v[i].pb.id);
		if (f >= 0)
			p->v[i].marked_at = pr->marks[f].at;
	}
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < p->n; i++) {
			struct ppack *x = &p->v[i];
			if ((pass == 0) != (x->marked_at < 0))
				continue;
			x->home = calloc(x->pb.n ? x->pb.n : 1, 1);
			if (!x->home)
				return ROOST_ENOMEM;
			for (uint32_t b = 0; b < x->pb.n; b++) {
				const struct blob_loc *bl = &x->pb.blobs[b];
				x->total_bytes += bl->length;
				int isused = idset_has(pr->used, bl->id) || idset_has(pr->trees, bl->id);
				if (isused && idset_add(pr->homed, bl->id) == 1) {
					x->home[b] = 1;
					x->used++;
					x->used_bytes += bl->length;
				}
			}
		}
	return ROOST_OK;
}

/*
 * 4. Decide each pack's fate. Two phases with a grace period: a pack found
 * unused is only marked (PACK_MARK); it is deleted by a later run, once its
 * mark is older than the grace period and it is still unused by every
 * snapshot then (PACK_DELETE). Backups do not deduplicate against marked
 * packs, so only a backup that started before the mark can reference one,
 * and it finishes within the grace period; a marked pack that is used again
 * loses its mark. A pack whose grace is over is still kept while
 * o->may_delete says no: roostd says no while a job that loaded its index
 * before the mark became visible is live (docs/maintenance.md). Mostly-unused packs are repacked and then marked the same
 * way (PACK_REPACK), as are small packs (every backup ends with up to one
 * per thread) once together they would fill half a pack: no rewriting the
 * same few bytes on every run.
 */
static void prune_decide(struct prune *pr)
{
	struct ppacks *p = &pr->p;
	uint32_t pack_size = pr->r->pack_size;
	for (size_t i = 0; i < p->n; i++) {
		struct ppack *x = &p->v[i];
		if (x->marked_at >= 0) {
			if (x->used)
				x->marked_at = -1; /* needed again */
			else if (pr->o->now - x->marked_at < pr->o->grace_s)
				pr->res->packs_kept_marked++;
			else if (pr->o->may_delete && !pr->o->may_delete(pr->o->ctx, x->marked_at))
				pr->res->packs_waiting++;
			else
				x->action = PACK_DELETE;
		} else if (!x->used) {
			x->action = PACK_MARK;
		} else if (x->used_bytes * 2 < x->total_bytes) {
			x->action = PACK_REPACK;
		}
	}
	uint64_t small_bytes = 0;
	size_t small = 0;
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].marked_at < 0 && !p->v[i].action && p->v[i].used &&
		    p->v[i].total_bytes < pack_size / 4) {
			small_bytes += p->v[i].used_bytes;
			small++;
		}
	if (small >= 2 && small_bytes >= pack_size / 2)
		for (size_t i = 0; i < p->n; i++)
			if (p->v[i].marked_at < 0 && !p->v[i].action && p->v[i].used &&
			    p->v[i].total_bytes < pack_size / 4)
				p->v[i].action = PACK_REPACK;
}

/*
 * 5. Copy the used blobs (those whose home it is) of every PACK_REPACK pack
 * into new packs, verifying each on the way: a damaged used blob stops
 * prune. The old packs stay; they are only marked in step 6.
 */
static enum roost_err prune_repack(struct prune *pr, struct roost_errbuf *eb)
{
	struct roost_repo *r = pr->r;
	struct ppacks *p = &pr->p;
	struct packer *pk = NULL;
	struct pack_writer *pw = NULL;
	enum roost_err err = packer_new(r, 0, NULL, NULL, &pk, eb);
	if (err)
		return err;
	for (size_t i = 0; i < p->n && !err; i++) {
		struct ppack *x = &p->v[i];
		if (x->action != PACK_REPACK)
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
			uint8_t key[32];
			const uint8_t *plain = NULL;
			size_t pn = 0;
			err = r->be->ops->get_range(r->be, pname, bl->offset, bl->length, st, eb);
			if (!err && repo_pack_key(r, x->pb.epk, key, eb))
				err = ROOST_EAUTH;
			if (!err && blob_decode(pr->bc, &r->keys, key, st, bl->length, raw, bl->raw_len, bl->id,
			                           bl->idk))
				err = roost_errf(eb, ROOST_ECORRUPT,
				                 "refusing to prune: a used blob in %s is damaged", pname);
			if (!err) /* its verified form, sealed again under the new pack's key */
				blob_last_plain(pr->bc, &plain, &pn);
			if (!err)
				err = packer_add(pk, &pw, bl->type, bl->idk, bl->id, plain, pn, bl->raw_len, eb);
			free(st);
			free(raw);
			pr->res->blobs_repacked += !err;
			if (!err)
				err = packer_roll(pk, &pw, eb);
		}
		pr->res->packs_repacked += !err;
	}
	if (!err)
		err = packer_seal(pk, &pw, eb);
	pack_writer_abort(pw);
	packer_take(pk, &pr->newpacks, &pr->nnew);
	packer_free(pk);
	return err;
}

/*
 * 6. One index object for everything that stays (kept, marked and new
 * packs), then one marks object with every mark, old and new. Both are
 * written before anything is removed: a prune killed here leaves the old
 * index and marks objects beside the new ones, which name the same packs
 * or more.
 */
static enum roost_err prune_write_index_and_marks(struct prune *pr, struct roost_errbuf *eb)
{
	struct ppacks *p = &pr->p;
	size_t nkeep = 0;
	struct pack_blobs *keep = malloc((p->n + pr->nnew + 1) * sizeof(*keep));
	if (!keep)
		return ROOST_ENOMEM;
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].action != PACK_DELETE)
			keep[nkeep++] = p->v[i].pb;
	for (size_t i = 0; i < pr->nnew; i++)
		keep[nkeep++] = pr->newpacks[i];
	enum roost_err err = repo_write_index(pr->r, keep, nkeep, pr->newindex, eb);
	free(keep);
	if (err)
		return err;
	char ts[40];
	json_t *ja = json_array();
	for (size_t i = 0; i < p->n; i++) {
		struct ppack *x = &p->v[i];
		int64_t at = x->action >= PACK_MARK ? pr->o->now : x->marked_at;
		if (x->action == PACK_DELETE || at < 0)
			continue;
		char h[HEX_LEN + 1];
		hex_encode(x->pb.id, ID_LEN, h);
		roost_time_format(at, ts, sizeof(ts));
		json_array_append_new(ja, json_pack("{s:s, s:s}", "id", h, "marked_at", ts));
		pr->res->packs_marked += x->action >= PACK_MARK;
	}
	if (!json_array_size(ja)) {
		json_decref(ja);
		return ROOST_OK;
	}
	json_t *j = json_pack("{s:i, s:o}", "version", 1, "packs", ja);
	char *js = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!js)
		return ROOST_ENOMEM;
	err = repo_put_sealed(pr->r, "marks", (const uint8_t *)js, strlen(js), pr->newmarks, eb);
	free(js);
	if (err == ROOST_EEXIST)
		err = ROOST_OK;
	return err;
}

unsigned long repo_packs_gen;

void roost_repo_packs_changed(void)
{
	__atomic_add_fetch(&repo_packs_gen, 1, __ATOMIC_RELEASE);
}

/*
 * 7. Only now remove: the old index objects and marks objects (the new
 * ones of step 6 replace them), then the PACK_DELETE packs, which no index
 * names any more. The in-memory index still names deleted packs, so it is
 * dropped and reloaded on next use.
 */
static enum roost_err prune_remove(struct prune *pr, struct roost_errbuf *eb)
{
	struct roost_repo *r = pr->r;
	struct ppacks *p = &pr->p;
	enum roost_err err = ROOST_OK;
	for (size_t i = 0; i < pr->ni && !err; i++)
		if (strcmp(pr->inames[i] + 6, pr->newindex) != 0)
			err = r->be->ops->remove(r->be, pr->inames[i], eb);
	for (size_t i = 0; i < pr->nm && !err; i++)
		if (strcmp(pr->mnames[i] + 6, pr->newmarks) != 0)
			err = r->be->ops->remove(r->be, pr->mnames[i], eb);
	for (size_t i = 0; i < p->n && !err; i++) {
		if (p->v[i].action != PACK_DELETE)
			continue;
		char pname[8 + HEX_LEN] = "packs/";
		hex_encode(p->v[i].pb.id, ID_LEN, pname + 6);
		err = r->be->ops->remove(r->be, pname, eb);
		if (!err) {
			pr->res->packs_deleted++;
			pr->res->bytes_deleted += p->v[i].pb.size;
			say(pr->o, "deleted %s", pname);
		}
	}
	if (pr->res->packs_deleted)
		__atomic_add_fetch(&repo_packs_gen, 1, __ATOMIC_RELEASE);
	index_free(r->index);
	r->index = index_new();
	r->index_loaded = 0;
	if (!r->index)
		err = ROOST_ENOMEM;
	return err;
}

static void prune_release(struct prune *pr)
{
	for (size_t i = 0; i < pr->p.n; i++) {
		free(pr->p.v[i].pb.blobs);
		free(pr->p.v[i].home);
	}
	free(pr->p.v);
	for (size_t i = 0; i < pr->nnew; i++)
		free(pr->newpacks[i].blobs);
	free(pr->newpacks);
	free_names(pr->inames, pr->ni);
	free_names(pr->mnames, pr->nm);
	free(pr->marks);
	idset_free(pr->used);
	idset_free(pr->trees);
	idset_free(pr->homed);
	blob_ctx_free(pr->bc);
}

enum roost_err roost_repo_prune(struct roost_repo *r, const struct roost_prune_opts *o,
                                struct roost_prune_result *res, struct roost_errbuf *eb)
{
	memset(res, 0, sizeof(*res));
	if (!r->keys.has_secret)
		return put_only_refusal(eb, "prune");
	struct prune pr = {.r = r, .o = o, .res = res};
	pr.used = idset_new();
	pr.trees = idset_new();
	pr.homed = idset_new();
	pr.bc = blob_ctx_new(r->zstd_level);
	enum roost_err err = ROOST_OK;
	if (!pr.used || !pr.trees || !pr.homed || !pr.bc)
		err = ROOST_ENOMEM;
	if (!err)
		err = prune_list_packs(&pr, eb);
	if (!err)
		err = prune_find_used(&pr, eb);
	if (!err)
		err = prune_place_blobs(&pr, eb);
	if (!err) {
		prune_decide(&pr);
		err = prune_repack(&pr, eb);
	}
	if (!err)
		err = prune_write_index_and_marks(&pr, eb);
	if (!err)
		err = prune_remove(&pr, eb);
	prune_release(&pr);
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
