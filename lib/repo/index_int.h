/* SPDX-License-Identifier: MIT */
/*
 * The blob index's private parts, shared by index.c (the index's API, the
 * overlay and the pack table) and index_keys.c (the record file and the
 * sorted keys). The design is described at the top of index.c.
 */
#ifndef ROOST_INDEX_INT_H
#define ROOST_INDEX_INT_H

#include <string.h>
#include <sys/mman.h>

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

static inline uint64_t h64(const uint8_t *id)
{
	uint64_t v;
	memcpy(&v, id, 8);
	return v;
}

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Grows a page-aligned array with mmap/mremap (no copy, no second copy
 * resident); NULL on failure, *p untouched. */
static inline void *big_grow(void *p, size_t old, size_t want)
{
	void *q = p ? mremap(p, old, want, MREMAP_MAYMOVE)
		    : mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return q == MAP_FAILED ? NULL : q;
}

/* The bytes to map for n elements of size sz: whole pages, at least 64 KiB. */
static inline size_t big_size(size_t n, size_t sz)
{
	size_t b = n * sz, page = 65536;
	return (b + page - 1) / page * page;
}

static inline int pack_dropped(const struct repo_index *ix, uint32_t pack)
{
	return pack < ix->npacks && ix->packs[pack].dropped;
}

/* index_keys.c: the record file and the sorted keys (ix->lock held) */
int ix_file_write(struct repo_index *ix, const struct rec *r, uint32_t n, uint32_t first);
int ix_file_read(struct repo_index *ix, uint32_t first, struct rec *r, size_t n);
int ix_stage_flush(struct repo_index *ix);
int ix_rec_get(struct repo_index *ix, uint32_t no, struct rec *out);
void ix_rec_to_loc(const struct rec *r, struct blob_loc *loc);
void ix_loc_to_rec(const struct blob_loc *loc, uint32_t pack, struct rec *r);
void ix_keys_settle(struct repo_index *ix);
int ix_key_grow(struct repo_index *ix, size_t more);
int ix_main_find(struct repo_index *ix, const uint8_t id[ID_LEN], struct rec *out);

#endif
