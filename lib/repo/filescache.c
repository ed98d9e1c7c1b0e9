/* SPDX-License-Identifier: MIT */
/*
 * The files cache: for each file of the last backup of the same paths, its
 * inode, size, mtime and ctime and the extents it was stored as. A file
 * whose stat matches is not read again. It is a cache: a missing or damaged
 * file only makes the next backup read everything.
 *
 * File: "RFC3", then entries: key[16] (BLAKE2b-128 of the path), ino u64,
 * size u64, mtime_s i64, mtime_ns u32, ctime_s i64, ctime_ns u32,
 * nextents u32, extents (kind u8, then id[32] or len u64), xattr count u16,
 * xattrs (u16 name length, name, u32 value length, value). Changing an
 * xattr changes ctime, so a matching entry's xattrs are current: an
 * unchanged file costs one stat and no xattr calls. Keys instead of
 * paths keep the cache (and a backup's memory) small; the new cache is
 * streamed to a temporary file while the backup runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "le.h"
#include "repo_int.h"

#define FC_MAX (2u << 30)
#define KEY_LEN 16
#define FIXED (KEY_LEN + 44)

struct filescache {
	uint8_t *data;
	size_t n;
	uint32_t *slots; /* offset of an entry, 0 = empty (entries start at >= 4) */
	size_t cap;      /* power of two */
};

static void path_key(const char *p, size_t n, uint8_t key[KEY_LEN])
{
	crypto_generichash(key, KEY_LEN, (const unsigned char *)p, n, NULL, 0);
}

static size_t slot_for(const struct filescache *fc, const uint8_t *key)
{
	size_t i = (size_t)le_get(key, 8) & (fc->cap - 1);
	while (fc->slots[i] && memcmp(fc->data + fc->slots[i], key, KEY_LEN) != 0)
		i = (i + 1) & (fc->cap - 1);
	return i;
}

int fcache_empty(const struct filescache *fc)
{
	return !fc || !fc->slots || fc->n <= 4;
}

struct filescache *fcache_load(const char *path)
{
	struct filescache *fc = calloc(1, sizeof(*fc));
	if (!fc)
		return NULL;
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
	if (memcmp(fc->data, "RFC3", 4) != 0)
		goto empty;
	/* First pass: validate and count. */
	size_t count = 0, off = 4;
	const uint8_t *d = fc->data;
	while (off < fc->n) {
		if (fc->n - off < FIXED)
			goto empty;
		uint32_t ne = (uint32_t)le_get(d + off + KEY_LEN + 40, 4);
		off += FIXED;
		for (uint32_t e = 0; e < ne; e++) {
			size_t el = off < fc->n ? (d[off] == 0 ? 33 : d[off] == 1 ? 9 : 0) : 0;
			if (!el || fc->n - off < el)
				goto empty;
			off += el;
		}
		if (fc->n - off < 2)
			goto empty;
		uint32_t nx = (uint32_t)le_get(d + off, 2);
		off += 2;
		for (uint32_t x = 0; x < nx; x++) {
			if (fc->n - off < 2)
				goto empty;
			size_t nl = (size_t)le_get(d + off, 2);
			if (nl == 0 || fc->n - off - 2 < nl + 4 || memchr(d + off + 2, 0, nl))
				goto empty;
			size_t vl = (size_t)le_get(d + off + 2 + nl, 4);
			if (fc->n - off - 2 - nl - 4 < vl)
				goto empty;
			off += 2 + nl + 4 + vl;
		}
		count++;
	}
	fc->cap = 1;
	while (fc->cap < count * 2 + 2)
		fc->cap *= 2;
	fc->slots = calloc(fc->cap, sizeof(*fc->slots));
	if (!fc->slots)
		goto empty;
	for (off = 4; off < fc->n;) {
		uint32_t ne = (uint32_t)le_get(d + off + KEY_LEN + 40, 4);
		fc->slots[slot_for(fc, d + off)] = (uint32_t)off;
		off += FIXED;
		for (uint32_t e = 0; e < ne; e++)
			off += d[off] == 0 ? 33 : 9;
		uint32_t nx = (uint32_t)le_get(d + off, 2);
		off += 2;
		for (uint32_t x = 0; x < nx; x++) {
			size_t nl = (size_t)le_get(d + off, 2);
			off += 2 + nl + 4 + (size_t)le_get(d + off + 2 + nl, 4);
		}
	}
	return fc;
empty:
	if (fd >= 0)
		close(fd);
	free(fc->data);
	free(fc->slots);
	memset(fc, 0, sizeof(*fc));
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
	if (!fc || !fc->slots)
		return -1;
	uint8_t key[KEY_LEN];
	path_key(path, len, key);
	uint32_t off = fc->slots[slot_for(fc, key)];
	if (!off)
		return -1;
	const uint8_t *p = fc->data + off + KEY_LEN;
	out->ino = le_get(p, 8);
	out->size = le_get(p + 8, 8);
	out->mtime_s = (int64_t)le_get(p + 16, 8);
	out->mtime_ns = (uint32_t)le_get(p + 24, 4);
	out->ctime_s = (int64_t)le_get(p + 28, 8);
	out->ctime_ns = (uint32_t)le_get(p + 36, 4);
	out->nextents = (uint32_t)le_get(p + 40, 4);
	out->extents = p + 44;
	const uint8_t *x = out->extents;
	for (uint32_t e = 0; e < out->nextents; e++)
		x += x[0] == 0 ? 33 : 9;
	out->nxattrs = (uint16_t)le_get(x, 2);
	out->xattrs = x + 2;
	out->key = fc->data + off;
	return 0;
}

int fcache_xattrs(const struct fc_entry *e, struct node *n)
{
	if (!e->nxattrs)
		return 0;
	n->xattrs = calloc(e->nxattrs, sizeof(*n->xattrs));
	if (!n->xattrs)
		return -1;
	const uint8_t *p = e->xattrs;
	for (uint16_t i = 0; i < e->nxattrs; i++) {
		size_t nl = (size_t)le_get(p, 2);
		uint32_t vl = (uint32_t)le_get(p + 2 + nl, 4);
		struct xattr *x = &n->xattrs[i];
		x->name = strndup((const char *)p + 2, nl);
		x->value = malloc(vl ? vl : 1);
		if (!x->name || !x->value) {
			free(x->name);
			free(x->value);
			return -1;
		}
		memcpy(x->value, p + 2 + nl + 4, vl);
		x->len = vl;
		n->nxattrs = (uint16_t)(i + 1);
		p += 2 + nl + 4 + vl;
	}
	n->flags |= 2;
	return 0;
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
			x[i].len = le_get(p + 1, 8);
			p += 9;
		}
	}
	return x;
}

struct fcache_out {
	pthread_mutex_t lock;
	FILE *f;
	char *tmp;
	int failed;
};

struct fcache_out *fcache_out_new(const char *path)
{
	struct fcache_out *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	size_t l = strlen(path) + 32;
	o->tmp = malloc(l);
	if (!o->tmp) {
		free(o);
		return NULL;
	}
	snprintf(o->tmp, l, "%s.tmp.%ld", path, (long)getpid());
	int fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	o->f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!o->f) {
		if (fd >= 0)
			close(fd);
		free(o->tmp);
		free(o);
		return NULL;
	}
	/* entries for 100k files are ~10 MB: write them in big pieces */
	setvbuf(o->f, NULL, _IOFBF, 1 << 20);
	pthread_mutex_init(&o->lock, NULL);
	fwrite("RFC3", 1, 4, o->f);
	return o;
}

void fcache_out_add(struct fcache_out *o, const char *path, size_t len,
                    const struct fc_entry *e, const struct extent *ext,
                    const struct node *meta)
{
	/* the record is put together here, then written under the lock at once */
	uint16_t nx = meta ? meta->nxattrs : 0;
	size_t need = FIXED + (size_t)e->nextents * 33 + 2;
	for (uint16_t i = 0; i < nx; i++)
		need += 6 + strlen(meta->xattrs[i].name) + meta->xattrs[i].len;
	uint8_t local[2048], *rec = need <= sizeof(local) ? local : malloc(need);
	if (!rec) { /* a cache: the next backup reads the files again */
		pthread_mutex_lock(&o->lock);
		o->failed = 1;
		pthread_mutex_unlock(&o->lock);
		return;
	}
	if (e->key)
		memcpy(rec, e->key, KEY_LEN);
	else
		path_key(path, len, rec);
	uint8_t *p = rec + KEY_LEN;
	le_put(p, e->ino, 8);
	le_put(p + 8, e->size, 8);
	le_put(p + 16, (uint64_t)e->mtime_s, 8);
	le_put(p + 24, e->mtime_ns, 4);
	le_put(p + 28, (uint64_t)e->ctime_s, 8);
	le_put(p + 36, e->ctime_ns, 4);
	le_put(p + 40, e->nextents, 4);
	p = rec + FIXED;
	for (uint32_t i = 0; i < e->nextents; i++) {
		*p++ = ext[i].kind;
		if (ext[i].kind == 0) {
			memcpy(p, ext[i].id, ID_LEN);
			p += ID_LEN;
		} else {
			le_put(p, ext[i].len, 8);
			p += 8;
		}
	}
	le_put(p, nx, 2);
	p += 2;
	for (uint16_t i = 0; i < nx; i++) {
		const struct xattr *x = &meta->xattrs[i];
		size_t nl = strlen(x->name);
		le_put(p, nl, 2);
		memcpy(p + 2, x->name, nl);
		le_put(p + 2 + nl, x->len, 4);
		memcpy(p + 6 + nl, x->value, x->len);
		p += 6 + nl + x->len;
	}
	size_t n = (size_t)(p - rec);
	pthread_mutex_lock(&o->lock);
	if (fwrite(rec, 1, n, o->f) != n)
		o->failed = 1;
	pthread_mutex_unlock(&o->lock);
	if (rec != local)
		free(rec);
}

void fcache_out_free(struct fcache_out *o)
{
	if (!o)
		return;
	if (o->f) {
		fclose(o->f);
		unlink(o->tmp);
	}
	pthread_mutex_destroy(&o->lock);
	free(o->tmp);
	free(o);
}

enum roost_err fcache_out_commit(struct fcache_out *o, const char *path, struct roost_errbuf *eb)
{
	enum roost_err err = ROOST_OK;
	int bad = o->failed | (fflush(o->f) != 0) | (fclose(o->f) != 0);
	o->f = NULL;
	if (bad)
		err = roost_errf(eb, ROOST_EIO, "writing the files cache %s failed", o->tmp);
	else if (rename(o->tmp, path) != 0)
		err = roost_errno(eb, "rename %s", o->tmp);
	if (err)
		unlink(o->tmp);
	fcache_out_free(o);
	return err;
}
