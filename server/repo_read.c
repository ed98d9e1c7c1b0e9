/* SPDX-License-Identifier: MIT */
/*
 * The object API's reads when the repository is remote (S3): a listing, an
 * object's size (HEAD) and its bytes are requests to another server that
 * may take tens of milliseconds each, or seconds for a listing of many
 * pages. On the event loop they would stall every agent of this instance,
 * so they run on the serving threads (restore_serve.c's queue: work there,
 * the answer back on the loop from the writeable callback).
 *
 * A GET's bytes are read whole on the thread when they are at most
 * READ_WHOLE_MAX (index files, snapshots, keys, ranges of packs: what
 * agents read); a larger answer is streamed from the loop as for a local
 * repository. A local repository keeps the loop's own reads (repo_api.c):
 * a disk read of a slice is shorter than a hop to a thread and back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo_read.h"
#include "restore_serve.h"
#include "roost/backend.h"
#include "roost/log.h"

#define READ_WHOLE_MAX (32u << 20)

int repo_range_parse(const char *r, uint64_t size, uint64_t *a, uint64_t *b)
{
	unsigned long long x, y;
	char dash;
	if (sscanf(r, "bytes=%llu%c", &x, &dash) != 2 || dash != '-')
		return -1;
	const char *after = strchr(r, '-') + 1;
	if (*after == 0)
		y = size ? size - 1 : 0;
	else if (sscanf(after, "%llu", &y) != 1)
		return -1;
	if (x > y || x >= size)
		return -1;
	if (y >= size)
		y = size - 1;
	*a = x;
	*b = y;
	return 0;
}

int repo_read_offloaded(void)
{
	return g_srv->repo_dir && roost_backend_is_s3(g_srv->repo_dir);
}

static void fail(struct serve_res *r, int status, const char *code, const char *msg)
{
	r->status = status;
	snprintf(r->code, sizeof(r->code), "%s", code);
	snprintf(r->msg, sizeof(r->msg), "%s", msg);
}

/* ---- listings ---- */

struct list_ctx {
	char type[32];
	json_t *arr;
};

static void list_ctx_free(void *c)
{
	struct list_ctx *l = c;
	json_decref(l->arr);
	free(l);
}

static int list_cb(void *ctx, const char *name, uint64_t size)
{
	json_array_append_new((json_t *)ctx,
	                      json_pack("{s:s, s:I}", "name", name, "size", (json_int_t)size));
	return 0;
}

static void list_work(struct roost_repo *repo, struct serve_res *r)
{
	(void)repo;
	struct list_ctx *l = r->ctx;
	struct roost_errbuf eb = {{0}};
	if (g_srv->repo_be->ops->list(g_srv->repo_be, l->type, list_cb, l->arr, &eb))
		fail(r, 500, "repository", eb.msg);
	else
		r->status = 200;
}

static int list_answer(struct lws *wsi, struct pss *p, struct serve_res *r)
{
	struct list_ctx *l = r->ctx;
	int rc = r->status == 200 ? respond_json(wsi, p, 200, json_incref(l->arr))
	                          : respond_error(wsi, p, r->status, r->code, r->msg);
	serve_res_free(r);
	return rc;
}

int repo_read_list(struct lws *wsi, struct pss *p, const char *type)
{
	struct serve_res *r = calloc(1, sizeof(*r));
	struct list_ctx *l = calloc(1, sizeof(*l));
	json_t *arr = json_array();
	if (!r || !l || !arr) {
		free(r);
		free(l);
		json_decref(arr);
		return respond_error(wsi, p, 500, "repository", "out of memory");
	}
	snprintf(l->type, sizeof(l->type), "%s", type);
	l->arr = arr;
	r->ctx = l;
	r->ctx_free = list_ctx_free;
	r->work = list_work;
	r->answer = list_answer;
	if (restore_serve_submit(wsi, p, r))
		return respond_error(wsi, p, 503, "unavailable", "the repository is not served");
	return 0;
}

/* ---- objects ---- */

struct obj_ctx {
	char name[sizeof(((struct pss *)0)->objname)];
	char range[128];
	int head;
	uint64_t size, a, b; /* the object's size; the bytes answered, a..b */
	int ranged, whole;   /* a Range asked; the bytes were read here */
};

static void obj_work(struct roost_repo *repo, struct serve_res *r)
{
	(void)repo;
	struct obj_ctx *o = r->ctx;
	struct roost_errbuf eb = {{0}};
	const struct roost_backend_ops *ops = g_srv->repo_be->ops;
	enum roost_err err = ops->stat(g_srv->repo_be, o->name, &o->size, &eb);
	if (err == ROOST_ENOENT) {
		fail(r, 404, "not_found", "no such object");
		return;
	}
	if (err) {
		fail(r, 500, "repository", eb.msg);
		return;
	}
	o->a = 0;
	o->b = o->size ? o->size - 1 : 0;
	if (o->range[0]) {
		if (repo_range_parse(o->range, o->size, &o->a, &o->b)) {
			fail(r, 416, "range", "range not satisfiable");
			return;
		}
		o->ranged = 1;
	}
	uint64_t n = o->size ? o->b - o->a + 1 : 0;
	r->status = 200;
	if (o->head || n == 0 || n > READ_WHOLE_MAX)
		return;
	if (!(r->out = malloc(LWS_PRE + (size_t)n))) {
		fail(r, 500, "repository", "out of memory");
		return;
	}
	if (ops->get_range(g_srv->repo_be, o->name, o->a, (size_t)n, r->out + LWS_PRE, &eb)) {
		log_error("repo.read", "object=%s msg=%s", roost_lq(o->name), roost_lq(eb.msg));
		free(r->out);
		r->out = NULL;
		fail(r, 500, "repository", eb.msg);
		return;
	}
	r->len = (size_t)n;
	o->whole = 1;
}

static int obj_answer(struct lws *wsi, struct pss *p, struct serve_res *r)
{
	struct obj_ctx *o = r->ctx;
	if (r->status != 200) {
		int rc = respond_error(wsi, p, r->status, r->code, r->msg);
		serve_res_free(r);
		return rc;
	}
	char cr[128];
	if (o->ranged)
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)o->a,
		         (unsigned long long)o->b, (unsigned long long)o->size);
	uint64_t n = o->size ? o->b - o->a + 1 : 0;
	if (o->whole) {
		free(p->out);
		p->out = r->out;
		p->outlen = r->len;
		p->outpos = 0;
		r->out = NULL;
	} else { /* HEAD, empty, or too large to hold: streamed from the loop */
		snprintf(p->sname, sizeof(p->sname), "%s", o->name);
		p->soff = o->a;
		p->send = o->size ? o->b + 1 : 0;
		p->streaming = 1;
	}
	int ranged = o->ranged;
	serve_res_free(r);
	return start_response(wsi, p, ranged ? 206 : 200, "application/octet-stream", n,
	                      ranged ? cr : NULL);
}

int repo_read_object(struct lws *wsi, struct pss *p, const char *range)
{
	struct serve_res *r = calloc(1, sizeof(*r));
	struct obj_ctx *o = calloc(1, sizeof(*o));
	if (!r || !o) {
		free(r);
		free(o);
		return respond_error(wsi, p, 500, "repository", "out of memory");
	}
	snprintf(o->name, sizeof(o->name), "%s", p->objname);
	snprintf(o->range, sizeof(o->range), "%s", range ? range : "");
	o->head = p->head;
	r->ctx = o;
	r->ctx_free = free;
	r->work = obj_work;
	r->answer = obj_answer;
	if (restore_serve_submit(wsi, p, r))
		return respond_error(wsi, p, 503, "unavailable", "the repository is not served");
	return 0;
}
