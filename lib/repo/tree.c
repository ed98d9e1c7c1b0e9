/* SPDX-License-Identifier: MIT */
/*
 * Directory trees: binary encoding of a directory's entries (see
 * docs/repository-format.md, "Trees"). The decoder treats its input as
 * hostile: every length is checked, names must be valid and strictly
 * increasing, and nothing is trusted to fit.
 */
#include <stdlib.h>
#include <string.h>

#include "le.h"
#include "repo_int.h"

void node_release(struct node *n)
{
	free(n->name);
	free(n->target);
	for (uint16_t i = 0; i < n->nxattrs; i++) {
		free(n->xattrs[i].name);
		free(n->xattrs[i].value);
	}
	free(n->xattrs);
	free(n->extents);
	memset(n, 0, sizeof(*n));
}

void tree_release(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++)
		node_release(&t->nodes[i]);
	free(t->nodes);
	memset(t, 0, sizeof(*t));
}

int name_valid(const char *name, size_t len)
{
	if (len == 0 || len > 4096)
		return 0;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	return memchr(name, '/', len) == NULL && memchr(name, 0, len) == NULL;
}

static int name_cmp(const struct node *a, const struct node *b)
{
	size_t m = a->name_len < b->name_len ? a->name_len : b->name_len;
	int c = memcmp(a->name, b->name, m);
	if (c)
		return c;
	return (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

static int node_qcmp(const void *a, const void *b)
{
	return name_cmp(a, b);
}

struct wbuf {
	uint8_t *p;
	size_t n, cap;
	int oom;
};

static void wb_need(struct wbuf *w, size_t k)
{
	if (w->oom || w->n + k <= w->cap)
		return;
	size_t nc = w->cap ? w->cap * 2 : 4096;
	while (nc < w->n + k)
		nc *= 2;
	uint8_t *np = realloc(w->p, nc);
	if (!np) {
		w->oom = 1;
		return;
	}
	w->p = np;
	w->cap = nc;
}

static void wb_put(struct wbuf *w, const void *src, size_t k)
{
	wb_need(w, k);
	if (w->oom)
		return;
	memcpy(w->p + w->n, src, k);
	w->n += k;
}

static void wb_int(struct wbuf *w, uint64_t v, int bytes)
{
	uint8_t b[8];
	le_put(b, v, bytes);
	wb_put(w, b, (size_t)bytes);
}

enum roost_err tree_encode(struct tree *t, uint8_t **out, size_t *outn)
{
	*out = NULL;
	*outn = 0;
	if (t->n > 1)
		qsort(t->nodes, t->n, sizeof(*t->nodes), node_qcmp);
	struct wbuf w = {0};
	wb_put(&w, "RTR1", 4);
	wb_int(&w, t->n, 4);
	for (size_t i = 0; i < t->n; i++) {
		const struct node *n = &t->nodes[i];
		wb_int(&w, n->name_len, 2);
		wb_put(&w, n->name, n->name_len);
		wb_int(&w, n->type, 1);
		wb_int(&w, n->mode, 4);
		wb_int(&w, n->uid, 4);
		wb_int(&w, n->gid, 4);
		wb_int(&w, (uint64_t)n->mtime_s, 8);
		wb_int(&w, n->mtime_ns, 4);
		wb_int(&w, n->size, 8);
		uint8_t flags = n->flags & 3;
		if (n->nxattrs)
			flags |= 2;
		wb_int(&w, flags, 1);
		if (flags & 1) {
			wb_int(&w, n->dev, 8);
			wb_int(&w, n->ino, 8);
		}
		if (n->type == NODE_CHR || n->type == NODE_BLK)
			wb_int(&w, n->rdev, 8);
		if (n->type == NODE_SYMLINK) {
			wb_int(&w, n->target_len, 4);
			wb_put(&w, n->target, n->target_len);
		}
		if (flags & 2) {
			wb_int(&w, n->nxattrs, 2);
			for (uint16_t x = 0; x < n->nxattrs; x++) {
				size_t nl = strlen(n->xattrs[x].name);
				wb_int(&w, nl, 2);
				wb_put(&w, n->xattrs[x].name, nl);
				wb_int(&w, n->xattrs[x].len, 4);
				wb_put(&w, n->xattrs[x].value, n->xattrs[x].len);
			}
		}
		if (n->type == NODE_FILE) {
			wb_int(&w, n->nextents, 4);
			for (uint32_t e = 0; e < n->nextents; e++) {
				wb_int(&w, n->extents[e].kind, 1);
				if (n->extents[e].kind == 0)
					wb_put(&w, n->extents[e].id, ID_LEN);
				else
					wb_int(&w, n->extents[e].len, 8);
			}
		}
		if (n->type == NODE_DIR)
			wb_put(&w, n->subtree, ID_LEN);
	}
	if (w.oom) {
		free(w.p);
		return ROOST_ENOMEM;
	}
	*out = w.p;
	*outn = w.n;
	return ROOST_OK;
}

struct rbuf {
	const uint8_t *p;
	size_t n, off;
	int bad;
};

static uint64_t rb_int(struct rbuf *r, int bytes)
{
	if (r->bad || r->n - r->off < (size_t)bytes) {
		r->bad = 1;
		return 0;
	}
	uint64_t v = le_get(r->p + r->off, bytes);
	r->off += (size_t)bytes;
	return v;
}

/* A malloc'd copy of the next k bytes (NUL-terminated), or NULL. */
static void *rb_dup(struct rbuf *r, size_t k)
{
	if (r->bad || r->n - r->off < k) {
		r->bad = 1;
		return NULL;
	}
	char *d = malloc(k + 1);
	if (!d) {
		r->bad = 2;
		return NULL;
	}
	memcpy(d, r->p + r->off, k);
	d[k] = 0;
	r->off += k;
	return d;
}

static void rb_copy(struct rbuf *r, void *dst, size_t k)
{
	if (r->bad || r->n - r->off < k) {
		r->bad = 1;
		return;
	}
	memcpy(dst, r->p + r->off, k);
	r->off += k;
}

enum roost_err tree_decode(const uint8_t *p, size_t len, struct tree *t, struct roost_errbuf *eb)
{
	memset(t, 0, sizeof(*t));
	struct rbuf r = {p, len, 0, 0};
	if (len < 8 || memcmp(p, "RTR1", 4) != 0)
		return roost_errf(eb, ROOST_ECORRUPT, "tree has an unknown format");
	r.off = 4;
	uint64_t cnt = rb_int(&r, 4);
	/* every entry takes at least 37 bytes: bound the allocation by the input */
	if (cnt > (len - 8) / 37)
		return roost_errf(eb, ROOST_ECORRUPT, "tree claims %llu entries", (unsigned long long)cnt);
	t->nodes = calloc(cnt ? cnt : 1, sizeof(*t->nodes));
	if (!t->nodes)
		return ROOST_ENOMEM;
	t->cap = cnt;
	const char *why = NULL;
	for (uint64_t i = 0; i < cnt && !r.bad && !why; i++) {
		struct node *n = &t->nodes[t->n++];
		n->name_len = (uint16_t)rb_int(&r, 2);
		n->name = rb_dup(&r, n->name_len);
		if (r.bad)
			break;
		if (!name_valid(n->name, n->name_len)) {
			why = "invalid name";
			break;
		}
		if (i > 0 && name_cmp(&t->nodes[i - 1], n) >= 0) {
			why = "names not in strictly increasing order";
			break;
		}
		n->type = (uint8_t)rb_int(&r, 1);
		if (n->type < NODE_FILE || n->type > NODE_BLK) {
			why = "unknown entry type";
			break;
		}
		n->mode = (uint32_t)rb_int(&r, 4);
		if (n->mode & ~07777u) {
			why = "invalid mode";
			break;
		}
		n->uid = (uint32_t)rb_int(&r, 4);
		n->gid = (uint32_t)rb_int(&r, 4);
		n->mtime_s = (int64_t)rb_int(&r, 8);
		n->mtime_ns = (uint32_t)rb_int(&r, 4);
		if (n->mtime_ns >= 1000000000u) {
			why = "invalid mtime";
			break;
		}
		n->size = rb_int(&r, 8);
		n->flags = (uint8_t)rb_int(&r, 1);
		if (n->flags & ~3u) {
			why = "unknown flags";
			break;
		}
		if (n->flags & 1) {
			n->dev = rb_int(&r, 8);
			n->ino = rb_int(&r, 8);
		}
		if (n->type == NODE_CHR || n->type == NODE_BLK)
			n->rdev = rb_int(&r, 8);
		if (n->type == NODE_SYMLINK) {
			n->target_len = (uint32_t)rb_int(&r, 4);
			if (n->target_len > 65536) {
				why = "symlink target too long";
				break;
			}
			n->target = rb_dup(&r, n->target_len);
		}
		if (n->flags & 2) {
			uint64_t nx = rb_int(&r, 2);
			if (nx == 0 || nx > (r.n - r.off) / 6) {
				why = "xattr count too large";
				break;
			}
			n->xattrs = calloc(nx ? nx : 1, sizeof(*n->xattrs));
			if (!n->xattrs) {
				r.bad = 2;
				break;
			}
			for (uint64_t x = 0; x < nx && !r.bad; x++) {
				size_t nl = (size_t)rb_int(&r, 2);
				n->xattrs[x].name = rb_dup(&r, nl);
				n->nxattrs = (uint16_t)(x + 1);
				if (!r.bad && (nl == 0 || memchr(n->xattrs[x].name, 0, nl))) {
					why = "invalid xattr name";
					break;
				}
				n->xattrs[x].len = (uint32_t)rb_int(&r, 4);
				n->xattrs[x].value = rb_dup(&r, n->xattrs[x].len);
			}
		}
		if (n->type == NODE_FILE) {
			uint64_t ne = rb_int(&r, 4);
			if (ne > (r.n - r.off) / 9) {
				why = "extent count too large";
				break;
			}
			n->extents = calloc(ne ? ne : 1, sizeof(*n->extents));
			if (!n->extents) {
				r.bad = 2;
				break;
			}
			n->nextents = (uint32_t)ne;
			for (uint64_t e = 0; e < ne && !r.bad; e++) {
				n->extents[e].kind = (uint8_t)rb_int(&r, 1);
				if (n->extents[e].kind == 0)
					rb_copy(&r, n->extents[e].id, ID_LEN);
				else if (n->extents[e].kind == 1)
					n->extents[e].len = rb_int(&r, 8);
				else
					why = "unknown extent kind";
				if (why)
					break;
			}
		}
		if (n->type == NODE_DIR)
			rb_copy(&r, n->subtree, ID_LEN);
	}
	if (!why && !r.bad && r.off != len)
		why = "trailing bytes";
	if (why || r.bad) {
		int oom = r.bad == 2;
		tree_release(t);
		if (oom)
			return ROOST_ENOMEM;
		return roost_errf(eb, ROOST_ECORRUPT, "tree is malformed (%s)", why ? why : "truncated");
	}
	return ROOST_OK;
}
