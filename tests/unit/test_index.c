/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the compact blob index (lib/repo/index.c): the keys in
 * memory hold only 8 bytes of each id, so ids sharing long prefixes must
 * still be told apart by their whole 32 bytes; claims, the overlay and its
 * merges, duplicates, packs dropped by prune.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "repo/repo_int.h"

static void mk(struct blob_loc *b, uint32_t i)
{
	memset(b, 0, sizeof(*b));
	randombytes_buf(b->id, ID_LEN);
	b->offset = i * 100;
	b->length = 100;
	b->raw_len = 200 + i;
	b->type = i % 2;
	b->idk = i % 3;
}

static void pid(uint8_t p[ID_LEN], uint32_t n)
{
	memset(p, 0, ID_LEN);
	memcpy(p, &n, sizeof(n));
	p[31] = 0x5a;
}

/* Present ids are found with their location; ids equal to one of them in
 * the first 8, 16 or 31 bytes are not, and must be stored. */
static void test_shared_prefixes(void **st)
{
	(void)st;
	struct repo_index *ix = index_new();
	struct blob_loc b[64];
	for (uint32_t i = 0; i < 64; i++)
		mk(&b[i], i);
	/* b[1..7] share b[0]'s first 8 bytes, b[8] its first 31 */
	for (int i = 1; i < 8; i++)
		memcpy(b[i].id, b[0].id, 8 + (size_t)i * 3);
	memcpy(b[8].id, b[0].id, 31);
	b[8].id[31] = (uint8_t)(b[0].id[31] ^ 1);
	uint8_t p1[ID_LEN];
	pid(p1, 1);
	assert_int_equal(index_add_pack(ix, p1, 0, NULL, b, 9, 1), ROOST_OK);
	for (uint32_t i = 0; i < 9; i++) {
		struct blob_loc loc;
		assert_int_equal(index_lookup(ix, b[i].id, &loc), 1);
		assert_memory_equal(loc.id, b[i].id, ID_LEN);
		assert_int_equal(loc.offset, b[i].offset);
		assert_int_equal(loc.raw_len, b[i].raw_len);
		assert_int_equal(loc.idk, b[i].idk);
		assert_int_equal(loc.type, b[i].type);
		assert_int_equal(loc.pack, 0);
	}
	for (size_t k = 8; k < ID_LEN; k++) {
		uint8_t near[ID_LEN];
		memcpy(near, b[0].id, ID_LEN);
		near[k] ^= 0x80; /* equal to b[0] in its first k bytes */
		int known = 0;
		for (int i = 0; i < 9; i++)
			known |= memcmp(near, b[i].id, ID_LEN) == 0;
		if (known)
			continue;
		assert_int_equal(index_lookup(ix, near, NULL), 0);
		assert_int_equal(index_claim(ix, near), 1);
		assert_int_equal(index_claim(ix, near), 0);
	}
	assert_int_equal(index_claim(ix, b[8].id), 0);
	assert_int_equal(index_duplicates(ix), 0);
	index_free(ix);
}

struct count {
	size_t n;
	uint64_t raw;
};

static void count_cb(void *ctx, const struct blob_loc *b)
{
	struct count *c = ctx;
	c->n++;
	c->raw += b->raw_len;
}

/* Many blobs in many packs: every one found where it is, absent ids not
 * (the radix sort and the directory over it). */
static void test_many(void **st)
{
	(void)st;
	enum { N = 200000, PER = 500 };
	struct repo_index *ix = index_new();
	struct blob_loc *b = malloc(N * sizeof(*b));
	uint64_t raw = 0;
	for (uint32_t i = 0; i < N; i++) {
		mk(&b[i], i % PER);
		raw += b[i].raw_len;
	}
	for (uint32_t p = 0; p < N / PER; p++) {
		uint8_t id[ID_LEN];
		pid(id, p);
		assert_int_equal(index_add_pack(ix, id, 0, NULL, b + p * PER, PER, 1), ROOST_OK);
	}
	for (uint32_t i = 0; i < N; i++) {
		struct blob_loc loc;
		assert_int_equal(index_lookup(ix, b[i].id, &loc), 1);
		assert_int_equal(loc.pack, i / PER);
		assert_int_equal(loc.offset, b[i].offset);
	}
	for (int i = 0; i < 20000; i++) {
		uint8_t id[ID_LEN];
		randombytes_buf(id, ID_LEN);
		assert_int_equal(index_lookup(ix, id, NULL), 0);
	}
	assert_int_equal(index_nblobs(ix), N);
	struct count c = {0};
	index_each_blob(ix, count_cb, &c);
	assert_int_equal(c.n, N);
	assert_int_equal(c.raw, raw);
	free(b);
	index_free(ix);
}

/* A blob in two packs counts once; the first copy is the one found; with
 * the first pack dropped, the second copy is still a stored blob. */
static void test_duplicates(void **st)
{
	(void)st;
	struct repo_index *ix = index_new();
	struct blob_loc a[10], b[10];
	for (uint32_t i = 0; i < 10; i++) {
		mk(&a[i], i);
		mk(&b[i], i + 10);
	}
	memcpy(b[3].id, a[3].id, ID_LEN);
	memcpy(b[4].id, a[4].id, ID_LEN);
	uint8_t p1[ID_LEN], p2[ID_LEN], p3[ID_LEN];
	pid(p1, 1);
	pid(p2, 2);
	pid(p3, 3);
	assert_int_equal(index_add_pack(ix, p1, 0, NULL, a, 10, 1), ROOST_OK);
	assert_int_equal(index_add_pack(ix, p2, 0, NULL, b, 10, 1), ROOST_OK);
	/* the same pack again (an index and a trailer): ignored */
	assert_int_equal(index_add_pack(ix, p2, 0, NULL, b, 10, 0), ROOST_OK);
	assert_int_equal(index_duplicates(ix), 2);
	assert_int_equal(index_nblobs(ix), 18);
	struct count c = {0};
	index_each_blob(ix, count_cb, &c);
	assert_int_equal(c.n, 18);
	struct blob_loc loc;
	assert_int_equal(index_lookup(ix, a[3].id, &loc), 1);
	assert_int_equal(loc.pack, 0);
	assert_int_equal(loc.offset, a[3].offset);
	index_drop_pack(ix, p1);
	assert_int_equal(index_lookup(ix, a[3].id, &loc), 1);
	assert_int_equal(loc.pack, 1);
	assert_int_equal(loc.offset, b[3].offset);
	assert_int_equal(index_lookup(ix, a[5].id, NULL), 0);
	assert_int_equal(index_claim(ix, a[5].id), 1);
	/* once lookups began, a pack's blobs go to the overlay: a copy of a
	 * stored blob there is a duplicate too */
	struct blob_loc d[2];
	mk(&d[0], 1);
	d[1] = b[7];
	assert_int_equal(index_add_pack(ix, p3, 0, NULL, d, 2, 1), ROOST_OK);
	assert_int_equal(index_duplicates(ix), 3);
	assert_int_equal(index_lookup(ix, b[7].id, &loc), 1);
	assert_int_equal(loc.pack, 1);
	assert_int_equal(index_lookup(ix, d[0].id, &loc), 1);
	assert_int_equal(loc.pack, 2);
	index_free(ix);
}

/* Claims, stores and drops across overlay merges (more than 65536 blobs
 * added once lookups began, as a large backup does). */
static void test_overlay_merges(void **st)
{
	(void)st;
	enum { BASE = 1000, NEW = 150000, PER = 1000 };
	struct repo_index *ix = index_new();
	struct blob_loc *b = malloc((BASE + NEW) * sizeof(*b));
	for (uint32_t i = 0; i < BASE + NEW; i++)
		mk(&b[i], i % PER);
	uint8_t p0[ID_LEN];
	pid(p0, 0);
	assert_int_equal(index_add_pack(ix, p0, 0, NULL, b, BASE, 1), ROOST_OK);
	assert_int_equal(index_claim(ix, b[0].id), 0); /* stored */
	/* a claim that outlives the merges, one that is dropped */
	uint8_t held[ID_LEN], gone[ID_LEN];
	randombytes_buf(held, ID_LEN);
	randombytes_buf(gone, ID_LEN);
	assert_int_equal(index_claim(ix, held), 1);
	assert_int_equal(index_claim(ix, gone), 1);
	index_unclaim(ix, gone);
	for (uint32_t p = 0; p < NEW / PER; p++) {
		const struct blob_loc *v = b + BASE + p * PER;
		for (uint32_t i = 0; i < PER; i++)
			assert_int_equal(index_claim(ix, v[i].id), 1);
		uint8_t id[ID_LEN];
		pid(id, p + 1);
		assert_int_equal(index_add_pack(ix, id, 0, NULL, v, PER, 1), ROOST_OK);
		for (uint32_t i = 0; i < PER; i++)
			assert_int_equal(index_claim(ix, v[i].id), 0);
	}
	assert_int_equal(index_claim(ix, held), 0); /* still claimed */
	assert_int_equal(index_lookup(ix, held, NULL), 0);
	assert_int_equal(index_claim(ix, gone), 1);
	for (uint32_t i = 0; i < BASE + NEW; i++) {
		struct blob_loc loc;
		assert_int_equal(index_lookup(ix, b[i].id, &loc), 1);
		assert_int_equal(loc.pack, i < BASE ? 0 : 1 + (i - BASE) / PER);
		assert_int_equal(loc.offset, b[i].offset);
		assert_int_equal(loc.raw_len, b[i].raw_len);
	}
	assert_int_equal(index_nblobs(ix), BASE + NEW);
	assert_int_equal(index_duplicates(ix), 0);
	/* a dropped pack's blobs (merged or not) are no longer stored */
	uint8_t id[ID_LEN];
	pid(id, 1);
	index_drop_pack(ix, id);
	pid(id, NEW / PER);
	index_drop_pack(ix, id);
	assert_int_equal(index_lookup(ix, b[BASE].id, NULL), 0);
	assert_int_equal(index_lookup(ix, b[BASE + NEW - 1].id, NULL), 0);
	assert_int_equal(index_lookup(ix, b[BASE + PER].id, NULL), 1);
	assert_int_equal(index_nblobs(ix), BASE + NEW - 2 * PER);
	struct count c = {0};
	index_each_blob(ix, count_cb, &c);
	assert_int_equal(c.n, BASE + NEW - 2 * PER);
	/* and may be stored again */
	assert_int_equal(index_claim(ix, b[BASE].id), 1);
	assert_int_equal(index_claim(ix, b[BASE + NEW - 1].id), 1);
	free(b);
	index_free(ix);
}

/* Many equal 8-byte prefixes (a hostile or broken index): still exact. */
static void test_equal_prefixes(void **st)
{
	(void)st;
	enum { N = 3000 };
	struct repo_index *ix = index_new();
	struct blob_loc *b = malloc(N * sizeof(*b));
	for (uint32_t i = 0; i < N; i++) {
		mk(&b[i], i);
		memset(b[i].id, 0x42, 8);
	}
	uint8_t p1[ID_LEN];
	pid(p1, 1);
	assert_int_equal(index_add_pack(ix, p1, 0, NULL, b, N, 1), ROOST_OK);
	for (uint32_t i = 0; i < N; i += 97) {
		struct blob_loc loc;
		assert_int_equal(index_lookup(ix, b[i].id, &loc), 1);
		assert_int_equal(loc.offset, b[i].offset);
	}
	uint8_t other[ID_LEN];
	memcpy(other, b[0].id, ID_LEN);
	other[20] ^= 1;
	assert_int_equal(index_lookup(ix, other, NULL), 0);
	assert_int_equal(index_nblobs(ix), N);
	free(b);
	index_free(ix);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shared_prefixes),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_overlay_merges),
		cmocka_unit_test(test_equal_prefixes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
