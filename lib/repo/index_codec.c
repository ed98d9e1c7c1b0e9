/* SPDX-License-Identifier: MIT */
/*
 * The binary encoding of index objects and of the blob entries they share
 * with pack trailers (see docs/repository-format.md).
 */
#include <stdlib.h>
#include <string.h>

#include "le.h"
#include "repo_int.h"

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
