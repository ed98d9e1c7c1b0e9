/* SPDX-License-Identifier: MIT */
/*
 * The files cache: for each file of the last backup of the same paths, its
 * inode, size, mtime and ctime and the extents it was stored as. A file
 * whose stat matches is not read again. It is a cache: a missing or damaged
 * file only makes the next backup read everything.
 *
 * File: "RFC1", then entries: path_len u32, path, ino u64, size u64,
 * mtime_s i64, mtime_ns u32, ctime_s i64, ctime_ns u32, nextents u32,
 * extents (kind u8, then id[32] or len u64).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repo_int.h"

#define FC_MAX (2u << 30)

struct fc_slot {
	const char *path;
	uint32_t len;
	struct fc_entry e;
};

struct filescache {
	uint8_t *data;
	size_t n;
	struct fc_slot *slots;
	size_t cap; /* power of two */
};

static uint64_t fnv(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
	return h;
}

static uint64_t rd(const uint8_t *p, int k)
{
	uint64_t v = 0;
	for (int i = k - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void fc_insert(struct filescache *fc, const struct fc_slot *s)
{
	size_t i = (size_t)fnv(s->path, s->len) & (fc->cap - 1);
	while (fc->slots[i].path)
		i = (i + 1) & (fc->cap - 1);
	fc->slots[i] = *s;
}

struct filescache *fcache_load(const char *path)
{
	struct filescache *fc = calloc(1, sizeof(*fc));
	if (!fc)
		return NULL;
	fc->cap = 1;
	fc->slots = calloc(1, sizeof(*fc->slots));
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 4 || (uint64_t)st.st_size > FC_MAX)
		goto empty;
	fc->n = (size_t)st.st_size;
	fc->data = malloc(fc->n);
	if (!fc->data)
		goto empty;
	size_t got = 0;
	while (got < fc->n) {
		ssize_t k = read(fd, fc->data + got, fc->n - got);
		if (k <= 0)
			goto empty;
		got += (size_t)k;
	}
	close(fd);
	fd = -1;
	if (memcmp(fc->data, "RFC1", 4) != 0)
		goto empty;
	/* First pass: count and validate. */
	size_t count = 0, off = 4;
	const uint8_t *d = fc->data;
	while (off < fc->n) {
		if (fc->n - off < 4)
			goto empty;
		uint32_t pl = (uint32_t)rd(d + off, 4);
		if (fc->n - off - 4 < (uint64_t)pl + 48)
			goto empty;
		off += 4 + pl + 44;
		uint32_t ne = (uint32_t)rd(d + off, 4);
		off += 4;
		for (uint32_t e = 0; e < ne; e++) {
			if (off >= fc->n)
				goto empty;
			size_t el = d[off] == 0 ? 33 : d[off] == 1 ? 9 : 0;
			if (!el || fc->n - off < el)
				goto empty;
			off += el;
		}
		count++;
	}
	size_t cap = 1;
	while (cap < count * 2 + 2)
		cap *= 2;
	free(fc->slots);
	fc->slots = calloc(cap, sizeof(*fc->slots));
	if (!fc->slots)
		goto empty;
	fc->cap = cap;
	off = 4;
	while (off < fc->n) {
		struct fc_slot s;
		s.len = (uint32_t)rd(d + off, 4);
		s.path = (const char *)d + off + 4;
		off += 4 + s.len;
		s.e.ino = rd(d + off, 8);
		s.e.size = rd(d + off + 8, 8);
		s.e.mtime_s = (int64_t)rd(d + off + 16, 8);
		s.e.mtime_ns = (uint32_t)rd(d + off + 24, 4);
		s.e.ctime_s = (int64_t)rd(d + off + 28, 8);
		s.e.ctime_ns = (uint32_t)rd(d + off + 36, 4);
		s.e.nextents = (uint32_t)rd(d + off + 40, 4);
		off += 44;
		s.e.extents = d + off;
		for (uint32_t e = 0; e < s.e.nextents; e++)
			off += d[off] == 0 ? 33 : 9;
		fc_insert(fc, &s);
	}
	return fc;
empty:
	if (fd >= 0)
		close(fd);
	free(fc->data);
	fc->data = NULL;
	free(fc->slots);
	fc->slots = calloc(1, sizeof(*fc->slots));
	fc->cap = 1;
	return fc;
}

void fcache_free(struct filescache *fc)
{
	if (!fc)
		return;
	free(fc->data);
	free(fc->slots);
	free(fc);
}

int fcache_get(struct filescache *fc, const char *path, size_t len, struct fc_entry *out)
{
	if (!fc || !fc->slots || fc->cap < 2)
		return -1;
	size_t i = (size_t)fnv(path, len) & (fc->cap - 1);
	while (fc->slots[i].path) {
		if (fc->slots[i].len == len && memcmp(fc->slots[i].path, path, len) == 0) {
			*out = fc->slots[i].e;
			return 0;
		}
		i = (i + 1) & (fc->cap - 1);
	}
	return -1;
}

struct extent *fcache_extents(const struct fc_entry *e)
{
	struct extent *x = calloc(e->nextents ? e->nextents : 1, sizeof(*x));
	if (!x)
		return NULL;
	const uint8_t *p = e->extents;
	for (uint32_t i = 0; i < e->nextents; i++) {
		x[i].kind = p[0];
		if (p[0] == 0) {
			memcpy(x[i].id, p + 1, ID_LEN);
			p += 33;
		} else {
			x[i].len = rd(p + 1, 8);
			p += 9;
		}
	}
	return x;
}

struct fcache_out {
	pthread_mutex_t lock;
	uint8_t *p;
	size_t n, cap;
	int oom;
};

struct fcache_out *fcache_out_new(void)
{
	struct fcache_out *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	pthread_mutex_init(&o->lock, NULL);
	o->p = malloc(1 << 16);
	o->cap = 1 << 16;
	if (!o->p) {
		free(o);
		return NULL;
	}
	memcpy(o->p, "RFC1", 4);
	o->n = 4;
	return o;
}

static void wr(uint8_t *p, uint64_t v, int k)
{
	for (int i = 0; i < k; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void fcache_out_add(struct fcache_out *o, const char *path, size_t len,
                    const struct fc_entry *e, const struct extent *ext)
{
	size_t need = 4 + len + 48;
	for (uint32_t i = 0; i < e->nextents; i++)
		need += ext[i].kind == 0 ? 33 : 9;
	pthread_mutex_lock(&o->lock);
	if (o->oom || len > UINT32_MAX)
		goto done;
	if (o->n + need > o->cap) {
		size_t nc = o->cap * 2;
		while (nc < o->n + need)
			nc *= 2;
		uint8_t *np = realloc(o->p, nc);
		if (!np) {
			o->oom = 1;
			goto done;
		}
		o->p = np;
		o->cap = nc;
	}
	uint8_t *p = o->p + o->n;
	wr(p, len, 4);
	memcpy(p + 4, path, len);
	p += 4 + len;
	wr(p, e->ino, 8);
	wr(p + 8, e->size, 8);
	wr(p + 16, (uint64_t)e->mtime_s, 8);
	wr(p + 24, e->mtime_ns, 4);
	wr(p + 28, (uint64_t)e->ctime_s, 8);
	wr(p + 36, e->ctime_ns, 4);
	wr(p + 40, e->nextents, 4);
	p += 44;
	for (uint32_t i = 0; i < e->nextents; i++) {
		*p = ext[i].kind;
		if (ext[i].kind == 0) {
			memcpy(p + 1, ext[i].id, ID_LEN);
			p += 33;
		} else {
			wr(p + 1, ext[i].len, 8);
			p += 9;
		}
	}
	o->n = (size_t)(p - o->p);
done:
	pthread_mutex_unlock(&o->lock);
}

void fcache_out_free(struct fcache_out *o)
{
	if (!o)
		return;
	pthread_mutex_destroy(&o->lock);
	free(o->p);
	free(o);
}

enum roost_err fcache_out_commit(struct fcache_out *o, const char *path, struct roost_errbuf *eb)
{
	enum roost_err err = ROOST_OK;
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (o->oom) {
		err = ROOST_ENOMEM;
		goto done;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = roost_errno(eb, "create %s", tmp);
		goto done;
	}
	size_t off = 0;
	while (off < o->n) {
		ssize_t k = write(fd, o->p + off, o->n - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			err = roost_errno(eb, "write %s", tmp);
			break;
		}
		off += (size_t)k;
	}
	if (close(fd) != 0 && !err)
		err = roost_errno(eb, "close %s", tmp);
	if (!err && rename(tmp, path) != 0)
		err = roost_errno(eb, "rename %s", tmp);
	if (err)
		unlink(tmp);
done:
	fcache_out_free(o);
	return err;
}
