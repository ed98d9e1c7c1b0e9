/* SPDX-License-Identifier: MIT */
/*
 * The blob index's main part: the record file (56 bytes per blob, unlinked,
 * read with pread through a small block cache) and the sorted 8-byte keys
 * that point into it, with their radix sort, in-place merge, directory and
 * duplicate marking, and the lookup of a whole id. Callers hold ix->lock.
 * See index.c for the design.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index_int.h"

/* ---- the record file ---- */

/* An unlinked file on disk (not tmpfs where avoidable): ROOST_CACHE_DIR,
 * TMPDIR, /var/tmp, /tmp; last an anonymous memory file. */
static int file_open(void)
{
	const char *dirs[] = {getenv("ROOST_CACHE_DIR"), getenv("TMPDIR"), "/var/tmp", "/tmp"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++) {
		if (!dirs[i] || !*dirs[i])
			continue;
		int fd = open(dirs[i], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		char path[4096];
		if (snprintf(path, sizeof(path), "%s/roost-index-XXXXXX", dirs[i]) >=
		    (int)sizeof(path))
			continue;
		if ((fd = mkostemp(path, O_CLOEXEC)) >= 0) {
			unlink(path);
			return fd;
		}
	}
	return memfd_create("roost-index", MFD_CLOEXEC);
}

int ix_file_write(struct repo_index *ix, const struct rec *r, uint32_t n, uint32_t first)
{
	if (ix->fd < 0 && (ix->fd = file_open()) < 0)
		return -1;
	for (size_t i = 0; ix->cache && i < CACHE_SLOTS; i++)
		ix->cache[i].no = 0;
	const char *p = (const char *)r;
	size_t left = (size_t)n * sizeof(*r);
	off_t off = (off_t)first * (off_t)sizeof(*r);
	while (left) {
		ssize_t w = pwrite(ix->fd, p, left, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		left -= (size_t)w;
		off += w;
	}
	return 0;
}

int ix_file_read(struct repo_index *ix, uint32_t first, struct rec *r, size_t n)
{
	char *p = (char *)r;
	size_t left = n * sizeof(*r);
	off_t off = (off_t)first * (off_t)sizeof(*r);
	while (left) {
		ssize_t g = pread(ix->fd, p, left, off);
		if (g < 0 && errno == EINTR)
			continue;
		if (g <= 0)
			return -1;
		p += g;
		left -= (size_t)g;
		off += g;
	}
	return 0;
}

int ix_stage_flush(struct repo_index *ix)
{
	if (!ix->nstage)
		return 0;
	if (ix_file_write(ix, ix->stage, ix->nstage, ix->nrec - ix->nstage))
		return -1;
	ix->nstage = 0;
	return 0;
}

/* Record no, through the block cache (a plain read if it can not be had). */
int ix_rec_get(struct repo_index *ix, uint32_t no, struct rec *out)
{
	if (!ix->cache && !(ix->cache = calloc(CACHE_SLOTS, sizeof(*ix->cache))))
		return ix_file_read(ix, no, out, 1);
	uint32_t b = no / BLOCK_RECS, first = b * BLOCK_RECS;
	struct rec_block *c = &ix->cache[b % CACHE_SLOTS];
	if (c->no != b + 1 || no - first >= c->n) {
		uint32_t ondisk = ix->nrec - ix->nstage;
		if (no >= ondisk)
			return -1;
		uint32_t k = ondisk - first < BLOCK_RECS ? ondisk - first : BLOCK_RECS;
		c->no = 0;
		if (ix_file_read(ix, first, c->r, k))
			return -1;
		c->no = b + 1;
		c->n = k;
	}
	*out = c->r[no - first];
	return 0;
}

void ix_rec_to_loc(const struct rec *r, struct blob_loc *loc)
{
	memset(loc, 0, sizeof(*loc));
	memcpy(loc->id, r->id, ID_LEN);
	loc->pack = r->pack;
	loc->offset = r->offset;
	loc->length = r->length;
	loc->raw_len = r->raw_len;
	loc->idk = r->idk;
	loc->type = r->type;
}

void ix_loc_to_rec(const struct blob_loc *loc, uint32_t pack, struct rec *r)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->id, loc->id, ID_LEN);
	r->pack = pack;
	r->offset = loc->offset;
	r->length = loc->length;
	r->raw_len = loc->raw_len;
	r->idk = loc->idk;
	r->type = loc->type;
}

/* ---- the keys: sorting, merging, searching ---- */

static int key_cmp(const struct key *a, const struct key *b)
{
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	uint32_t ra = a->rec & REC_MASK, rb = b->rec & REC_MASK;
	return ra < rb ? -1 : ra > rb;
}

static void insertion_sort(struct key *a, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct key k = a[i];
		size_t j = i;
		for (; j > 0 && key_cmp(&a[j - 1], &k) > 0; j--)
			a[j] = a[j - 1];
		a[j] = k;
	}
}

static void sift_down(struct key *a, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && key_cmp(&a[c], &a[c + 1]) < 0)
			c++;
		if (key_cmp(&a[i], &a[c]) >= 0)
			return;
		struct key t = a[i];
		a[i] = a[c];
		a[c] = t;
		i = c;
	}
}

/* In place, O(n log n) whatever the input (many equal prefixes included). */
static void heap_sort(struct key *a, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(a, i, n);
	for (size_t e = n; e > 1; e--) {
		struct key t = a[0];
		a[0] = a[e - 1];
		a[e - 1] = t;
		sift_down(a, 0, e - 1);
	}
}

/* Buckets for n keys: about 4 keys each, at most 2^18 of them. */
static unsigned bits_for(size_t n)
{
	unsigned b = 0;
	while (b < 18 && ((size_t)4 << b) < n)
		b++;
	return b;
}

static size_t bucket(const struct key *k, unsigned bits)
{
	return bits ? k->hi >> (32 - bits) : 0;
}

/*
 * Sorts in place, most significant digit first: 10 bits of the id at a time
 * (1024 buckets: the counters stay in L1 and the 1024 places being written
 * in L2, where 2^18 buckets at once missed the cache twice per key and took
 * a third of an incremental backup's time at 1M blobs), each key swapped
 * straight into its bucket (American flag sort), then each bucket on the
 * next 10 bits; few keys left: insertion sort; 32 bits used and still many
 * (equal prefixes, a hostile index): heap sort. No second array: glibc's
 * qsort would allocate one as large as a.
 */
static void sort_keys_from(struct key *a, size_t n, unsigned used)
{
	if (n <= 32) {
		insertion_sort(a, n);
		return;
	}
	if (used >= 32) {
		heap_sort(a, n);
		return;
	}
	unsigned bits = used + 10 > 32 ? 32 - used : 10;
	size_t nb = (size_t)1 << bits;
	uint32_t start[1025] = {0}, next[1024];
#define DIGIT(k) ((size_t)(((k)->hi << used) >> (32 - bits)))
	for (size_t i = 0; i < n; i++)
		start[DIGIT(&a[i]) + 1]++;
	for (size_t d = 0; d < nb; d++)
		start[d + 1] += start[d];
	memcpy(next, start, nb * sizeof(*next));
	for (size_t d = 0; d < nb; d++)
		while (next[d] < start[d + 1]) {
			struct key k = a[next[d]];
			size_t e;
			while ((e = DIGIT(&k)) != d) {
				struct key t = a[next[e]];
				a[next[e]++] = k;
				k = t;
			}
			a[next[d]++] = k;
		}
#undef DIGIT
	for (size_t d = 0; d < nb; d++)
		sort_keys_from(a + start[d], start[d + 1] - start[d], used + bits);
}

static void sort_keys(struct key *a, size_t n)
{
	sort_keys_from(a, n, 0);
}

static int dir_build(struct repo_index *ix)
{
	unsigned bits = bits_for(ix->nsorted);
	size_t nb = (size_t)1 << bits;
	uint32_t *d = realloc(ix->dir, (nb + 1) * sizeof(*d));
	if (!d)
		return -1;
	size_t k = 0;
	for (size_t b = 0; b <= nb; b++) {
		while (k < ix->nsorted && bucket(&ix->keys[k], bits) < b)
			k++;
		d[b] = (uint32_t)k;
	}
	ix->dir = d;
	ix->dbits = bits;
	return 0;
}

struct member {
	uint8_t id[ID_LEN];
	uint32_t pos; /* in the group, which is in record order */
};

static int member_cmp(const void *x, const void *y)
{
	const struct member *a = x, *b = y;
	int c = memcmp(a->id, b->id, ID_LEN);
	return c ? c : (a->pos > b->pos) - (a->pos < b->pos);
}

/* Flags later copies of an id among keys with equal prefixes (reading the
 * records: equal prefixes of different ids are kept apart). A group is
 * sorted by whole id, so that a hostile index of many equal prefixes costs
 * g log g, not g^2. */
static void mark_dups(struct repo_index *ix)
{
	for (size_t i = 0; i + 1 < ix->nsorted; i++) {
		struct key *a = &ix->keys[i];
		size_t g = 1;
		while (i + g < ix->nsorted && a[g].hi == a->hi && a[g].lo == a->lo)
			g++;
		i += g - 1;
		if (g < 2)
			continue;
		struct member *m = malloc(g * sizeof(*m));
		size_t nm = 0;
		for (size_t j = 0; m && j < g; j++) {
			struct rec r;
			if (ix_rec_get(ix, a[j].rec & REC_MASK, &r))
				continue; /* unreadable: neither a copy nor an original */
			memcpy(m[nm].id, r.id, ID_LEN);
			m[nm++].pos = (uint32_t)j;
		}
		if (m)
			qsort(m, nm, sizeof(*m), member_cmp);
		for (size_t k = 1; m && k < nm; k++) {
			struct key *kj = &a[m[k].pos];
			struct rec r;
			if (memcmp(m[k].id, m[k - 1].id, ID_LEN) != 0 || (kj->rec & REC_DUP) ||
			    ix_rec_get(ix, kj->rec & REC_MASK, &r))
				continue;
			kj->rec |= REC_DUP; /* a later copy: the run's first is the original */
			r.dup = 1;
			ix_file_write(ix, &r, 1, kj->rec & REC_MASK);
			ix->main_dups++;
			ix->duplicates++;
		}
		free(m);
	}
}

/* Sorts the unsorted keys into the sorted ones (merging in place from the
 * end, with a copy of the new keys only). */
void ix_keys_settle(struct repo_index *ix)
{
	if (ix->nkeys == ix->nsorted || ix->io_failed)
		return;
	if (ix_stage_flush(ix)) {
		ix->io_failed = 1; /* those keys stay unused: lookups miss, never lie */
		return;
	}
	struct key *a = ix->keys;
	size_t ns = ix->nsorted, n = ix->nkeys, m = n - ns;
	sort_keys(a + ns, m);
	struct key *t = ns ? malloc(m * sizeof(*t)) : NULL;
	if (ns && !t) {
		heap_sort(a, n);
	} else if (ns) {
		memcpy(t, a + ns, m * sizeof(*t));
		size_t i = ns, j = m, k = n;
		while (j > 0) {
			if (i > 0 && key_cmp(&a[i - 1], &t[j - 1]) > 0)
				a[--k] = a[--i];
			else
				a[--k] = t[--j];
		}
		free(t);
	}
	ix->nsorted = n;
	mark_dups(ix);
	if (dir_build(ix)) {
		free(ix->dir);
		ix->dir = NULL;
		ix->dbits = 0;
	}
}

int ix_key_grow(struct repo_index *ix, size_t more)
{
	if (ix->nkeys + more <= ix->kcap)
		return 0;
	size_t nc = ix->kcap ? ix->kcap : 4096;
	while (nc < ix->nkeys + more)
		nc *= 2;
	struct key *k = big_grow(ix->keys, big_size(ix->kcap, sizeof(*k)), big_size(nc, sizeof(*k)));
	if (!k)
		return -1;
	ix->keys = k;
	ix->kcap = nc;
	return 0;
}


/* The first live record (its pack not dropped) with the whole id. */
int ix_main_find(struct repo_index *ix, const uint8_t id[ID_LEN], struct rec *out)
{
	if (!ix->nsorted)
		return 0;
	struct key want = {be32(id), be32(id + 4), 0};
	size_t lo = 0, hi = ix->nsorted;
	if (ix->dir) {
		size_t b = bucket(&want, ix->dbits);
		lo = ix->dir[b];
		hi = ix->dir[b + 1];
	}
	while (lo < hi) { /* the first key >= want */
		size_t mid = lo + (hi - lo) / 2;
		if (key_cmp(&ix->keys[mid], &want) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < ix->nsorted && ix->keys[lo].hi == want.hi && ix->keys[lo].lo == want.lo; lo++) {
		struct rec r;
		if (ix_rec_get(ix, ix->keys[lo].rec & REC_MASK, &r) ||
		    memcmp(r.id, id, ID_LEN) != 0 || pack_dropped(ix, r.pack))
			continue;
		if (out)
			*out = r;
		return 1;
	}
	return 0;
}
