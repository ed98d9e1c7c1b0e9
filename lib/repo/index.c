/* SPDX-License-Identifier: MIT */
/*
 * The blob index: blob id -> location, shared by all threads, compact enough
 * for repositories of millions of blobs (issue 17: 64 MB + 24 bytes per
 * blob). Also the binary encoding of index objects.
 *
 * The blobs of the index objects and trailers loaded at open live in two
 * places:
 *  - the record file: one 56-byte record per blob (the whole id and its
 *    location), an unlinked file of this process read with pread, so that
 *    it sits in the page cache and not in our resident memory;
 *  - in memory, the keys: for each record the first 8 bytes of its id and
 *    its number (12 bytes), sorted, with a directory over the top bits.
 * A lookup searches the keys and reads every record whose 8-byte prefix
 * matches to compare the whole id: a blob counts as stored only if its full
 * 32-byte id is in the repository, never on a prefix. An absent id (the
 * common case for new data) costs no read.
 *
 * Claims, and blobs added once lookups have begun (a backup's new packs),
 * go to the overlay: a small hash table of whole entries as before. When it
 * holds OVERLAY_MERGE stored blobs they move to the file and the keys
 * (sorted among themselves, then merged in place). Loading adds to the keys
 * unsorted; the first lookup sorts them (an in-place radix sort: no copy of
 * the array). The keys and the pack table are grown with mremap, so growing
 * them never holds two copies. One mutex guards it all.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "le.h"
#include "repo_int.h"

enum { ST_STORED = 1, ST_CLAIMED = 2, ST_DEAD = 3 };
#define OVERLAY_MERGE 65536 /* stored blobs in the overlay before a merge */
#define STAGE_RECS 1024     /* records buffered before a write */
#define REC_DUP 0x80000000u /* key.rec: a later copy of an id met before */
#define REC_MASK 0x7fffffffu
#define BLOCK_RECS 292      /* records per cached block (16 KiB) */
#define CACHE_SLOTS 128     /* blocks cached (2 MiB), direct-mapped */

/* A record of the file; host byte order (the file is this process's own). */
struct rec {
	uint8_t id[ID_LEN];
	uint32_t pack, offset, length, raw_len, idk;
	uint8_t type, dup, pad[2];
};
_Static_assert(sizeof(struct rec) == 56, "record size");

/* hi, lo: the id's first 8 bytes, big-endian (so that sorted keys are
 * sorted ids); rec: record number, REC_DUP */
struct key {
	uint32_t hi, lo, rec;
};

struct slot_entry {
	struct blob_loc loc;
	uint8_t state;
};

/* A block of consecutive records: a backup looks up blobs in about the
 * order an earlier backup stored them, so most lookups of stored blobs
 * are served from a block read for a neighbour (a read is a system call,
 * several microseconds on a loaded virtual machine). */
struct rec_block {
	uint32_t no; /* 1 + block number; 0: empty */
	uint32_t n;  /* records read */
	struct rec r[BLOCK_RECS];
};

struct repo_index {
	pthread_mutex_t lock;
	/* the record file and the keys */
	int fd;            /* -1 until the first record is written */
	uint32_t nrec;     /* records, including staged ones */
	struct rec *stage; /* records not yet written */
	uint32_t nstage;
	int io_failed;     /* a write failed: the unsorted keys stay out of use */
	struct key *keys;  /* [0, nsorted) sorted, then unsorted */
	size_t nkeys, nsorted, kcap;
	uint32_t *dir; /* dir[b]: the first key whose top dbits bits are >= b */
	unsigned dbits;
	uint64_t main_dups; /* records flagged REC_DUP */
	int loading;        /* no lookup yet: adds go to the keys */
	struct rec_block *cache; /* CACHE_SLOTS blocks, allocated at the first lookup */
	/* the overlay */
	uint32_t *table; /* 0 = empty, else 1 + index into entries */
	size_t cap;      /* power of two */
	struct slot_entry *entries;
	size_t n, ecap, nstored;
	/* packs */
	struct pack_info *packs;
	size_t npacks, pcap;
	uint32_t *ptable; /* pack id hash -> 1 + index into packs */
	size_t pcapt;
	size_t ndropped;
	uint64_t duplicates; /* blobs met again in another pack */
};

static uint64_t h64(const uint8_t *id)
{
	uint64_t v;
	memcpy(&v, id, 8);
	return v;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Grows a page-aligned array with mmap/mremap (no copy, no second copy
 * resident); NULL on failure, *p untouched. */
static void *big_grow(void *p, size_t old, size_t want)
{
	void *q = p ? mremap(p, old, want, MREMAP_MAYMOVE)
		    : mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return q == MAP_FAILED ? NULL : q;
}

/* The bytes to map for n elements of size sz: whole pages, at least 64 KiB. */
static size_t big_size(size_t n, size_t sz)
{
	size_t b = n * sz, page = 65536;
	return (b + page - 1) / page * page;
}

struct repo_index *index_new(void)
{
	struct repo_index *ix = calloc(1, sizeof(*ix));
	if (!ix)
		return NULL;
	pthread_mutex_init(&ix->lock, NULL);
	ix->fd = -1;
	ix->loading = 1;
	return ix;
}

void index_free(struct repo_index *ix)
{
	if (!ix)
		return;
	pthread_mutex_destroy(&ix->lock);
	if (ix->fd >= 0)
		close(ix->fd);
	free(ix->stage);
	free(ix->cache);
	if (ix->keys)
		munmap(ix->keys, big_size(ix->kcap, sizeof(struct key)));
	free(ix->dir);
	free(ix->table);
	free(ix->entries);
	if (ix->packs)
		munmap(ix->packs, big_size(ix->pcap, sizeof(struct pack_info)));
	free(ix->ptable);
	free(ix);
}

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

static int file_write(struct repo_index *ix, const struct rec *r, uint32_t n, uint32_t first)
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

static int file_read(struct repo_index *ix, uint32_t first, struct rec *r, size_t n)
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

static int stage_flush(struct repo_index *ix)
{
	if (!ix->nstage)
		return 0;
	if (file_write(ix, ix->stage, ix->nstage, ix->nrec - ix->nstage))
		return -1;
	ix->nstage = 0;
	return 0;
}

/* Record no, through the block cache (a plain read if it can not be had). */
static int rec_get(struct repo_index *ix, uint32_t no, struct rec *out)
{
	if (!ix->cache && !(ix->cache = calloc(CACHE_SLOTS, sizeof(*ix->cache))))
		return file_read(ix, no, out, 1);
	uint32_t b = no / BLOCK_RECS, first = b * BLOCK_RECS;
	struct rec_block *c = &ix->cache[b % CACHE_SLOTS];
	if (c->no != b + 1 || no - first >= c->n) {
		uint32_t ondisk = ix->nrec - ix->nstage;
		if (no >= ondisk)
			return -1;
		uint32_t k = ondisk - first < BLOCK_RECS ? ondisk - first : BLOCK_RECS;
		c->no = 0;
		if (file_read(ix, first, c->r, k))
			return -1;
		c->no = b + 1;
		c->n = k;
	}
	*out = c->r[no - first];
	return 0;
}

static void rec_to_loc(const struct rec *r, struct blob_loc *loc)
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

static void loc_to_rec(const struct blob_loc *loc, uint32_t pack, struct rec *r)
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
			if (rec_get(ix, a[j].rec & REC_MASK, &r))
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
			    rec_get(ix, kj->rec & REC_MASK, &r))
				continue;
			kj->rec |= REC_DUP; /* a later copy: the run's first is the original */
			r.dup = 1;
			file_write(ix, &r, 1, kj->rec & REC_MASK);
			ix->main_dups++;
			ix->duplicates++;
		}
		free(m);
	}
}

/* Sorts the unsorted keys into the sorted ones (merging in place from the
 * end, with a copy of the new keys only). */
static void keys_settle(struct repo_index *ix)
{
	if (ix->nkeys == ix->nsorted || ix->io_failed)
		return;
	if (stage_flush(ix)) {
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

static int key_grow(struct repo_index *ix, size_t more)
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

static int pack_dropped(const struct repo_index *ix, uint32_t pack)
{
	return pack < ix->npacks && ix->packs[pack].dropped;
}

/* The first live record (its pack not dropped) with the whole id. */
static int main_find(struct repo_index *ix, const uint8_t id[ID_LEN], struct rec *out)
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
		if (rec_get(ix, ix->keys[lo].rec & REC_MASK, &r) ||
		    memcmp(r.id, id, ID_LEN) != 0 || pack_dropped(ix, r.pack))
			continue;
		if (out)
			*out = r;
		return 1;
	}
	return 0;
}

/* ---- the overlay ---- */

/* Slot of id in table (its entry or the empty slot where it would go). */
static size_t find_slot(const struct repo_index *ix, const uint8_t *id)
{
	size_t mask = ix->cap - 1, i = (size_t)h64(id) & mask;
	for (;;) {
		uint32_t e = ix->table[i];
		if (!e || memcmp(ix->entries[e - 1].loc.id, id, ID_LEN) == 0)
			return i;
		i = (i + 1) & mask;
	}
}

static struct slot_entry *ov_get(const struct repo_index *ix, const uint8_t *id)
{
	if (!ix->cap)
		return NULL;
	uint32_t e = ix->table[find_slot(ix, id)];
	return e ? &ix->entries[e - 1] : NULL;
}

static int rehash(struct repo_index *ix, size_t newcap)
{
	uint32_t *t = calloc(newcap, sizeof(*t));
	if (!t)
		return -1;
	free(ix->table);
	ix->table = t;
	ix->cap = newcap;
	for (size_t e = 0; e < ix->n; e++) {
		size_t i = find_slot(ix, ix->entries[e].loc.id);
		ix->table[i] = (uint32_t)(e + 1);
	}
	return 0;
}

/* Returns the entry for id, inserting a blank one if absent; NULL on ENOMEM. */
static struct slot_entry *upsert(struct repo_index *ix, const uint8_t *id, int *created)
{
	*created = 0;
	if ((ix->n + 1) * 4 >= ix->cap * 3 && rehash(ix, ix->cap ? ix->cap * 2 : 1024))
		return NULL;
	size_t i = find_slot(ix, id);
	if (ix->table[i])
		return &ix->entries[ix->table[i] - 1];
	if (ix->n == ix->ecap) {
		size_t nc = ix->ecap ? ix->ecap * 2 : 1024;
		struct slot_entry *ne = realloc(ix->entries, nc * sizeof(*ne));
		if (!ne)
			return NULL;
		ix->entries = ne;
		ix->ecap = nc;
	}
	struct slot_entry *e = &ix->entries[ix->n];
	memset(e, 0, sizeof(*e));
	memcpy(e->loc.id, id, ID_LEN);
	ix->table[i] = (uint32_t)(++ix->n);
	*created = 1;
	return e;
}

/* Moves the overlay's stored blobs to the file and the keys; claims stay. */
static void overlay_merge(struct repo_index *ix)
{
	if (ix->io_failed || key_grow(ix, ix->nstored))
		return;
	struct rec *batch = malloc(STAGE_RECS * sizeof(*batch));
	if (!batch)
		return;
	size_t nb = 0;
	uint32_t first = ix->nrec;
	int bad = 0;
	for (size_t e = 0; e < ix->n && !bad; e++) {
		const struct slot_entry *s = &ix->entries[e];
		if (s->state != ST_STORED)
			continue;
		loc_to_rec(&s->loc, s->loc.pack, &batch[nb++]);
		if (nb == STAGE_RECS) {
			bad = file_write(ix, batch, (uint32_t)nb, first);
			first += (uint32_t)nb;
			nb = 0;
		}
	}
	if (!bad && nb)
		bad = file_write(ix, batch, (uint32_t)nb, first);
	free(batch);
	if (bad) {
		ix->io_failed = 1; /* the overlay stays as it was, and grows */
		return;
	}
	/* the records are written, in this order: now their keys; the claims
	 * are compacted to the front of the overlay */
	size_t keep = 0;
	for (size_t e = 0; e < ix->n; e++) {
		const struct slot_entry *s = &ix->entries[e];
		if (s->state == ST_STORED)
			ix->keys[ix->nkeys++] =
				(struct key){be32(s->loc.id), be32(s->loc.id + 4), ix->nrec++};
		else if (s->state == ST_CLAIMED)
			ix->entries[keep++] = *s;
	}
	ix->n = keep;
	ix->nstored = 0;
	if (rehash(ix, ix->cap)) { /* no memory: forget the claims (storing twice is harmless) */
		memset(ix->table, 0, ix->cap * sizeof(*ix->table));
		ix->n = 0;
	}
	keys_settle(ix);
}

/* Lookups begin: the loaded keys are sorted. */
static void settle(struct repo_index *ix)
{
	if (ix->loading) {
		ix->loading = 0;
		keys_settle(ix);
		free(ix->stage);
		ix->stage = NULL;
	}
}

/* ---- packs ---- */

static size_t pack_find(const struct repo_index *ix, const uint8_t *id)
{
	size_t mask = ix->pcapt - 1, i = (size_t)h64(id) & mask;
	for (;;) {
		uint32_t e = ix->ptable[i];
		if (!e || memcmp(ix->packs[e - 1].id, id, ID_LEN) == 0)
			return i;
		i = (i + 1) & mask;
	}
}

static int pack_rehash(struct repo_index *ix, size_t newcap)
{
	uint32_t *t = calloc(newcap, sizeof(*t));
	if (!t)
		return -1;
	free(ix->ptable);
	ix->ptable = t;
	ix->pcapt = newcap;
	for (size_t p = 0; p < ix->npacks; p++)
		ix->ptable[pack_find(ix, ix->packs[p].id)] = (uint32_t)(p + 1);
	return 0;
}

/* Loading: the blobs go to the file (staged) and the unsorted keys. */
static enum roost_err add_loading(struct repo_index *ix, uint32_t pno, const struct blob_loc *blobs,
                                  uint32_t n)
{
	if (key_grow(ix, n) || (!ix->stage && !(ix->stage = malloc(STAGE_RECS * sizeof(struct rec)))))
		return ROOST_ENOMEM;
	if ((uint64_t)ix->nrec + n > REC_MASK)
		return ROOST_ERANGE;
	for (uint32_t b = 0; b < n; b++) {
		if (ix->nstage == STAGE_RECS && stage_flush(ix))
			return ROOST_EIO;
		loc_to_rec(&blobs[b], pno, &ix->stage[ix->nstage++]);
		ix->keys[ix->nkeys++] = (struct key){be32(blobs[b].id), be32(blobs[b].id + 4), ix->nrec++};
	}
	return ROOST_OK;
}

/* After lookups began: to the overlay, unless the blob is already stored. */
static enum roost_err add_overlay(struct repo_index *ix, uint32_t pno, const struct blob_loc *blobs,
                                  uint32_t n)
{
	for (uint32_t b = 0; b < n; b++) {
		struct slot_entry *e = ov_get(ix, blobs[b].id);
		if (e ? e->state == ST_STORED : main_find(ix, blobs[b].id, NULL)) {
			ix->duplicates++; /* a copy in another pack: keep the first */
			continue;
		}
		int created;
		if (!e && !(e = upsert(ix, blobs[b].id, &created)))
			return ROOST_ENOMEM;
		e->loc = blobs[b];
		e->loc.pack = pno;
		e->state = ST_STORED;
		ix->nstored++;
	}
	if (ix->nstored >= OVERLAY_MERGE)
		overlay_merge(ix);
	return ROOST_OK;
}

enum roost_err index_add_pack(struct repo_index *ix, const uint8_t pack_id[ID_LEN],
                              uint64_t size, const uint8_t *epk, const struct blob_loc *blobs,
                              uint32_t n, int indexed)
{
	enum roost_err err = ROOST_OK;
	pthread_mutex_lock(&ix->lock);
	if ((ix->npacks + 1) * 2 >= ix->pcapt &&
	    pack_rehash(ix, ix->pcapt ? ix->pcapt * 2 : 256)) {
		err = ROOST_ENOMEM;
		goto done;
	}
	size_t ps = pack_find(ix, pack_id);
	if (ix->ptable[ps]) {
		struct pack_info *pi = &ix->packs[ix->ptable[ps] - 1];
		pi->indexed |= (uint8_t)indexed;
		goto done;
	}
	if (ix->npacks == ix->pcap) {
		size_t nc = ix->pcap ? ix->pcap * 2 : 1024;
		struct pack_info *np = big_grow(ix->packs, big_size(ix->pcap, sizeof(*np)),
		                                big_size(nc, sizeof(*np)));
		if (!np) {
			err = ROOST_ENOMEM;
			goto done;
		}
		ix->packs = np;
		ix->pcap = nc;
	}
	uint32_t pno = (uint32_t)ix->npacks;
	struct pack_info *pi = &ix->packs[ix->npacks++];
	memset(pi, 0, sizeof(*pi));
	memcpy(pi->id, pack_id, ID_LEN);
	if (epk)
		memcpy(pi->epk, epk, 32);
	pi->size = size;
	pi->nblobs = n;
	pi->indexed = (uint8_t)indexed;
	ix->ptable[ps] = pno + 1;
	err = ix->loading ? add_loading(ix, pno, blobs, n) : add_overlay(ix, pno, blobs, n);
done:
	pthread_mutex_unlock(&ix->lock);
	return err;
}

int index_lookup(struct repo_index *ix, const uint8_t id[ID_LEN], struct blob_loc *loc)
{
	int found = 0;
	pthread_mutex_lock(&ix->lock);
	settle(ix);
	struct slot_entry *e = ov_get(ix, id);
	struct rec r;
	if (e && e->state == ST_STORED) {
		found = 1;
		if (loc)
			*loc = e->loc;
	} else if (main_find(ix, id, loc ? &r : NULL)) {
		found = 1;
		if (loc)
			rec_to_loc(&r, loc);
	}
	pthread_mutex_unlock(&ix->lock);
	return found;
}

int index_claim(struct repo_index *ix, const uint8_t id[ID_LEN])
{
	int mine = 0;
	pthread_mutex_lock(&ix->lock);
	settle(ix);
	struct slot_entry *e = ov_get(ix, id);
	int created = 0;
	if (e) {
		if (e->state == ST_DEAD) {
			e->state = ST_CLAIMED;
			mine = 1;
		}
	} else if (!main_find(ix, id, NULL)) {
		if ((e = upsert(ix, id, &created)) != NULL)
			e->state = ST_CLAIMED;
		mine = 1; /* also out of memory: storing twice is harmless */
	}
	pthread_mutex_unlock(&ix->lock);
	return mine;
}

void index_unclaim(struct repo_index *ix, const uint8_t id[ID_LEN])
{
	pthread_mutex_lock(&ix->lock);
	struct slot_entry *e = ov_get(ix, id);
	if (e && e->state == ST_CLAIMED)
		e->state = ST_DEAD;
	pthread_mutex_unlock(&ix->lock);
}

int index_has_pack(struct repo_index *ix, const uint8_t pack_id[ID_LEN])
{
	pthread_mutex_lock(&ix->lock);
	int has = ix->pcapt && ix->ptable[pack_find(ix, pack_id)] != 0;
	pthread_mutex_unlock(&ix->lock);
	return has;
}

size_t index_npacks(struct repo_index *ix)
{
	pthread_mutex_lock(&ix->lock);
	size_t n = ix->npacks;
	pthread_mutex_unlock(&ix->lock);
	return n;
}

struct pack_info index_pack(struct repo_index *ix, size_t i)
{
	pthread_mutex_lock(&ix->lock);
	struct pack_info p = ix->packs[i];
	pthread_mutex_unlock(&ix->lock);
	return p;
}

/* Every live record of the file, in file order, then the overlay's. */
static size_t each_locked(struct repo_index *ix, void (*cb)(void *, const struct blob_loc *),
                          void *ctx)
{
	size_t count = 0;
	struct rec *buf = ix->nsorted ? malloc(STAGE_RECS * sizeof(*buf)) : NULL;
	/* records [0, nsorted) hold every sorted key's (merges write the
	 * records before adding keys); unsorted ones are out of use */
	uint32_t nr = (uint32_t)ix->nsorted;
	for (uint32_t i = 0; buf && i < nr; i += STAGE_RECS) {
		uint32_t k = nr - i < STAGE_RECS ? nr - i : STAGE_RECS;
		if (file_read(ix, i, buf, k))
			break;
		for (uint32_t j = 0; j < k; j++) {
			if (buf[j].dup || pack_dropped(ix, buf[j].pack))
				continue;
			count++;
			if (cb) {
				struct blob_loc loc;
				rec_to_loc(&buf[j], &loc);
				cb(ctx, &loc);
			}
		}
	}
	free(buf);
	for (size_t i = 0; i < ix->n; i++)
		if (ix->entries[i].state == ST_STORED) {
			count++;
			if (cb)
				cb(ctx, &ix->entries[i].loc);
		}
	return count;
}

void index_each_blob(struct repo_index *ix, void (*cb)(void *, const struct blob_loc *),
                     void *ctx)
{
	pthread_mutex_lock(&ix->lock);
	settle(ix);
	each_locked(ix, cb, ctx);
	pthread_mutex_unlock(&ix->lock);
}

size_t index_nblobs(struct repo_index *ix)
{
	pthread_mutex_lock(&ix->lock);
	settle(ix);
	size_t n = ix->ndropped || ix->io_failed ? each_locked(ix, NULL, NULL)
	                                         : ix->nsorted - ix->main_dups + ix->nstored;
	pthread_mutex_unlock(&ix->lock);
	return n;
}

void index_drop_pack(struct repo_index *ix, const uint8_t pack_id[ID_LEN])
{
	pthread_mutex_lock(&ix->lock);
	if (ix->pcapt) {
		uint32_t p = ix->ptable[pack_find(ix, pack_id)];
		if (p && !ix->packs[p - 1].dropped) {
			ix->packs[p - 1].dropped = 1;
			ix->ndropped++;
			for (size_t i = 0; i < ix->n; i++)
				if (ix->entries[i].state == ST_STORED && ix->entries[i].loc.pack == p - 1) {
					ix->entries[i].state = ST_DEAD;
					ix->nstored--;
				}
		}
	}
	pthread_mutex_unlock(&ix->lock);
}

uint64_t index_duplicates(struct repo_index *ix)
{
	pthread_mutex_lock(&ix->lock);
	settle(ix);
	uint64_t d = ix->duplicates;
	pthread_mutex_unlock(&ix->lock);
	return d;
}

/* ---- encoding (shared with pack trailers) ---- */


static void put32(uint8_t *p, uint32_t v)
{
	le_put(p, v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)le_get(p, 4);
}

int blob_entries_wide(const struct blob_loc *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (b[i].idk)
			return 1;
	return 0;
}

size_t blob_entries_encode(const struct blob_loc *b, uint32_t n, uint8_t *out, int wide)
{
	uint8_t *p = out;
	for (uint32_t i = 0; i < n; i++) {
		*p++ = b[i].type;
		memcpy(p, b[i].id, ID_LEN);
		p += ID_LEN;
		put32(p, b[i].offset);
		put32(p + 4, b[i].length);
		put32(p + 8, b[i].raw_len);
		p += 12;
		if (wide) {
			put32(p, b[i].idk);
			p += 4;
		}
	}
	return (size_t)(p - out);
}

enum roost_err blob_entries_decode(const uint8_t *p, uint32_t n, uint64_t limit,
                                   struct blob_loc *out, int wide, struct roost_errbuf *eb)
{
	for (uint32_t i = 0; i < n; i++, p += wide ? ENTRY3_LEN : ENTRY_LEN) {
		struct blob_loc *b = &out[i];
		memset(b, 0, sizeof(*b));
		b->type = p[0];
		memcpy(b->id, p + 1, ID_LEN);
		b->offset = get32(p + 33);
		b->length = get32(p + 37);
		b->raw_len = get32(p + 41);
		b->idk = wide ? get32(p + 45) : 0;
		if (b->type > BLOB_TREE || b->length < SEAL_OVERHEAD + 1 ||
		    (uint64_t)b->offset + b->length > limit ||
		    b->raw_len > (b->type == BLOB_TREE ? MAX_TREE_BLOB : (64u << 20)))
			return roost_errf(eb, ROOST_ECORRUPT, "blob entry %u is invalid", i);
	}
	return ROOST_OK;
}

enum roost_err index_encode(const struct pack_blobs *pk, size_t n, uint8_t **out, size_t *outn)
{
	int v2 = 0, wide = 0;
	for (size_t i = 0; i < n; i++) {
		v2 |= !epk_is_v1(pk[i].epk);
		wide |= blob_entries_wide(pk[i].blobs, pk[i].n);
	}
	v2 |= wide;
	size_t len = 8, el = wide ? ENTRY3_LEN : ENTRY_LEN;
	for (size_t i = 0; i < n; i++)
		len += ID_LEN + (v2 ? 32 : 0) + 4 + (size_t)pk[i].n * el;
	uint8_t *buf = malloc(len), *p = buf;
	if (!buf)
		return ROOST_ENOMEM;
	memcpy(p, wide ? "RIX3" : v2 ? "RIX2" : "RIX1", 4);
	put32(p + 4, (uint32_t)n);
	p += 8;
	for (size_t i = 0; i < n; i++) {
		memcpy(p, pk[i].id, ID_LEN);
		p += ID_LEN;
		if (v2) {
			memcpy(p, pk[i].epk, 32);
			p += 32;
		}
		put32(p, pk[i].n);
		p += 4;
		p += blob_entries_encode(pk[i].blobs, pk[i].n, p, wide);
	}
	*out = buf;
	*outn = len;
	return ROOST_OK;
}

enum roost_err index_decode(const uint8_t *p, size_t n,
                            enum roost_err (*add)(void *, const struct pack_blobs *),
                            void *ctx, struct roost_errbuf *eb)
{
	int wide = n >= 8 && memcmp(p, "RIX3", 4) == 0;
	int v2 = wide || (n >= 8 && memcmp(p, "RIX2", 4) == 0);
	if (n < 8 || (!v2 && memcmp(p, "RIX1", 4) != 0))
		return roost_errf(eb, ROOST_ECORRUPT, "not an index (unknown format or version)");
	uint32_t np = get32(p + 4);
	size_t off = 8, ek = v2 ? 32 : 0, el = wide ? ENTRY3_LEN : ENTRY_LEN;
	for (uint32_t i = 0; i < np; i++) {
		if (n - off < ID_LEN + ek + 4)
			return roost_errf(eb, ROOST_ECORRUPT, "index truncated at pack %u", i);
		struct pack_blobs pb = {.size = 0};
		memcpy(pb.id, p + off, ID_LEN);
		if (v2)
			memcpy(pb.epk, p + off + ID_LEN, 32);
		pb.n = get32(p + off + ID_LEN + ek);
		off += ID_LEN + ek + 4;
		if ((n - off) / el < pb.n)
			return roost_errf(eb, ROOST_ECORRUPT, "index truncated in pack %u", i);
		pb.blobs = malloc(((size_t)pb.n ? pb.n : 1) * sizeof(struct blob_loc));
		if (!pb.blobs)
			return ROOST_ENOMEM;
		enum roost_err err = blob_entries_decode(p + off, pb.n, MAX_OBJECT, pb.blobs, wide, eb);
		if (!err)
			err = add(ctx, &pb);
		free(pb.blobs);
		if (err)
			return err;
		off += (size_t)pb.n * el;
	}
	if (off != n)
		return roost_errf(eb, ROOST_ECORRUPT, "index has trailing bytes");
	return ROOST_OK;
}
