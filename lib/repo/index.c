/* SPDX-License-Identifier: MIT */
/*
 * The in-memory blob index: open addressing over a dense array of entries,
 * keyed by the first 8 bytes of the (uniformly random) blob id. One mutex
 * guards it; lookups are a few hundred nanoseconds, far below the cost of
 * the chunk they decide about. Also the binary encoding of index objects.
 */
#include <stdlib.h>
#include <string.h>

#include "le.h"
#include "repo_int.h"

enum { ST_STORED = 1, ST_CLAIMED = 2, ST_DEAD = 3 };

struct slot_entry {
	struct blob_loc loc;
	uint8_t state;
};

struct repo_index {
	pthread_mutex_t lock;
	uint32_t *table; /* 0 = empty, else 1 + index into entries */
	size_t cap;      /* power of two */
	struct slot_entry *entries;
	size_t n, ecap;
	struct pack_info *packs;
	size_t npacks, pcap;
	uint32_t *ptable; /* pack id hash -> 1 + index into packs */
	size_t pcapt;
	uint64_t duplicates; /* blobs met again in another pack */
};

static uint64_t h64(const uint8_t *id)
{
	uint64_t v;
	memcpy(&v, id, 8);
	return v;
}

struct repo_index *index_new(void)
{
	struct repo_index *ix = calloc(1, sizeof(*ix));
	if (!ix)
		return NULL;
	pthread_mutex_init(&ix->lock, NULL);
	return ix;
}

void index_free(struct repo_index *ix)
{
	if (!ix)
		return;
	pthread_mutex_destroy(&ix->lock);
	free(ix->table);
	free(ix->entries);
	free(ix->packs);
	free(ix->ptable);
	free(ix);
}

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
		size_t nc = ix->pcap ? ix->pcap * 2 : 64;
		struct pack_info *np = realloc(ix->packs, nc * sizeof(*np));
		if (!np) {
			err = ROOST_ENOMEM;
			goto done;
		}
		ix->packs = np;
		ix->pcap = nc;
	}
	uint32_t pno = (uint32_t)ix->npacks;
	struct pack_info *pi = &ix->packs[ix->npacks++];
	memcpy(pi->id, pack_id, ID_LEN);
	if (epk)
		memcpy(pi->epk, epk, 32);
	else
		memset(pi->epk, 0, 32);
	pi->size = size;
	pi->nblobs = n;
	pi->indexed = (uint8_t)indexed;
	ix->ptable[ps] = pno + 1;
	for (uint32_t b = 0; b < n; b++) {
		int created;
		struct slot_entry *e = upsert(ix, blobs[b].id, &created);
		if (!e) {
			err = ROOST_ENOMEM;
			goto done;
		}
		if (e->state == ST_STORED) {
			ix->duplicates++; /* a copy in another pack: keep the first */
			continue;
		}
		e->loc = blobs[b];
		e->loc.pack = pno;
		e->state = ST_STORED;
	}
done:
	pthread_mutex_unlock(&ix->lock);
	return err;
}

int index_lookup(struct repo_index *ix, const uint8_t id[ID_LEN], struct blob_loc *loc)
{
	int found = 0;
	pthread_mutex_lock(&ix->lock);
	if (ix->cap) {
		uint32_t e = ix->table[find_slot(ix, id)];
		if (e && ix->entries[e - 1].state == ST_STORED) {
			found = 1;
			if (loc)
				*loc = ix->entries[e - 1].loc;
		}
	}
	pthread_mutex_unlock(&ix->lock);
	return found;
}

int index_claim(struct repo_index *ix, const uint8_t id[ID_LEN])
{
	int mine = 0;
	pthread_mutex_lock(&ix->lock);
	int created;
	struct slot_entry *e = upsert(ix, id, &created);
	if (e && (created || e->state == ST_DEAD)) {
		e->state = ST_CLAIMED;
		mine = 1;
	} else if (!e) {
		mine = 1; /* out of memory: storing twice is harmless */
	}
	pthread_mutex_unlock(&ix->lock);
	return mine;
}

void index_unclaim(struct repo_index *ix, const uint8_t id[ID_LEN])
{
	pthread_mutex_lock(&ix->lock);
	if (ix->cap) {
		uint32_t e = ix->table[find_slot(ix, id)];
		if (e && ix->entries[e - 1].state == ST_CLAIMED)
			ix->entries[e - 1].state = ST_DEAD;
	}
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

void index_each_blob(struct repo_index *ix, void (*cb)(void *, const struct blob_loc *),
                     void *ctx)
{
	for (size_t i = 0; i < ix->n; i++)
		if (ix->entries[i].state == ST_STORED)
			cb(ctx, &ix->entries[i].loc);
}

size_t index_nblobs(struct repo_index *ix)
{
	pthread_mutex_lock(&ix->lock);
	size_t n = 0;
	for (size_t i = 0; i < ix->n; i++)
		n += ix->entries[i].state == ST_STORED;
	pthread_mutex_unlock(&ix->lock);
	return n;
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

void index_drop_pack(struct repo_index *ix, const uint8_t pack_id[ID_LEN])
{
	pthread_mutex_lock(&ix->lock);
	if (ix->pcapt) {
		uint32_t p = ix->ptable[pack_find(ix, pack_id)];
		if (p)
			for (size_t i = 0; i < ix->n; i++)
				if (ix->entries[i].state == ST_STORED && ix->entries[i].loc.pack == p - 1)
					ix->entries[i].state = ST_DEAD;
	}
	pthread_mutex_unlock(&ix->lock);
}

uint64_t index_duplicates(struct repo_index *ix)
{
	pthread_mutex_lock(&ix->lock);
	uint64_t d = ix->duplicates;
	pthread_mutex_unlock(&ix->lock);
	return d;
}
