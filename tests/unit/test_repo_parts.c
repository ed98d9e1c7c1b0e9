/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the engine's parts: chunker, blob sealing, index, trees,
 * pack writer/trailer, packer, local backend.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

#include "repo/repo_int.h"

static uint8_t *random_bytes(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n);
	uint8_t key[32] = {0};
	memcpy(key, &seed, sizeof(seed));
	static const uint8_t nonce[8] = {0};
	crypto_stream_chacha20(p, n, nonce, key);
	return p;
}

static void test_chunker_bounds_and_shift(void **st)
{
	(void)st;
	struct chunker ch;
	uint8_t seed[32] = {1};
	chunker_init(&ch, seed, 4096, 16384, 65536);
	size_t n = 4 << 20;
	uint8_t *p = random_bytes(n, 7);
	/* cut points of the data, and of the data with 100 bytes inserted at 1 MiB */
	size_t cuts1[2048], n1 = 0, off = 0;
	while (off < n) {
		size_t c = chunker_cut(&ch, p + off, n - off);
		assert_true(c >= (n - off < 4096 ? n - off : 4096));
		assert_true(c <= 65536);
		off += c;
		cuts1[n1++] = off;
	}
	double avg = (double)n / (double)n1;
	assert_true(avg > 8000 && avg < 40000);
	uint8_t *q = malloc(n + 100);
	memcpy(q, p, 1 << 20);
	memset(q + (1 << 20), 'x', 100);
	memcpy(q + (1 << 20) + 100, p + (1 << 20), n - (1 << 20));
	size_t same = 0;
	off = 0;
	while (off < n + 100) {
		off += chunker_cut(&ch, q + off, n + 100 - off);
		for (size_t i = 0; i < n1; i++)
			if (off >= (1 << 20) + 100 && cuts1[i] + 100 == off)
				same++;
	}
	/* after the insertion the cut points resynchronise: most stay the same */
	assert_true(same > n1 / 2);
	/* a different key gives different cut points */
	struct chunker ch2;
	uint8_t seed2[32] = {2};
	chunker_init(&ch2, seed2, 4096, 16384, 65536);
	assert_true(chunker_cut(&ch2, p, n) != cuts1[0] || chunker_cut(&ch2, p + cuts1[0], n) != cuts1[1] - cuts1[0]);
	free(p);
	free(q);
}

static void test_blob_roundtrip_and_tamper(void **st)
{
	(void)st;
	struct repo_keys k;
	uint8_t master[32] = {9};
	keys_derive(master, &k);
	struct blob_ctx *bc = blob_ctx_new(3);
	/* compressible: stored much smaller */
	size_t n = 100000;
	uint8_t *text = malloc(n);
	for (size_t i = 0; i < n; i++)
		text[i] = (uint8_t)("hello roost "[i % 12]);
	uint8_t id[32];
	blob_id(&k, text, n, id);
	const uint8_t *enc;
	size_t encn;
	assert_int_equal(blob_encode(bc, text, n, &enc, &encn), ROOST_OK);
	assert_true(encn < n / 10);
	/* the pack seals what blob_encode makes (pack_writer_add) */
	uint8_t *copy = malloc(encn + SEAL_OVERHEAD);
	seal(k.enc, enc, encn, copy);
	encn += SEAL_OVERHEAD;
	uint8_t *out = malloc(n);
	assert_int_equal(blob_decode(bc, &k, k.enc, copy, encn, out, n, id, 0), ROOST_OK);
	assert_memory_equal(out, text, n);
	/* every single flipped byte is detected */
	for (size_t i = 0; i < encn; i += 7) {
		copy[i] ^= 0x20;
		assert_int_not_equal(blob_decode(bc, &k, k.enc, copy, encn, out, n, id, 0), ROOST_OK);
		copy[i] ^= 0x20;
	}
	/* wrong id or wrong length: corrupt */
	uint8_t bad[32];
	memcpy(bad, id, 32);
	bad[0] ^= 1;
	assert_int_equal(blob_decode(bc, &k, k.enc, copy, encn, out, n, bad, 0), ROOST_ECORRUPT);
	assert_int_equal(blob_decode(bc, &k, k.enc, copy, encn, out, n - 1, id, 0), ROOST_ECORRUPT);
	/* incompressible: stored raw (1 flag byte, then the pack's seal) */
	uint8_t *rnd = random_bytes(n, 3);
	assert_int_equal(blob_encode(bc, rnd, n, &enc, &encn), ROOST_OK);
	assert_int_equal(encn, n + 1);
	blob_id(&k, rnd, n, id);
	copy = realloc(copy, encn + SEAL_OVERHEAD);
	seal(k.enc, enc, encn, copy);
	encn += SEAL_OVERHEAD;
	assert_int_equal(blob_decode(bc, &k, k.enc, copy, encn, out, n, id, 0), ROOST_OK);
	assert_memory_equal(out, rnd, n);
	/* another key can not open it */
	struct repo_keys k2;
	uint8_t m2[32] = {10};
	keys_derive(m2, &k2);
	assert_int_equal(blob_decode(bc, &k2, k2.enc, copy, encn, out, n, id, 0), ROOST_ECRYPTO);
	free(rnd);
	free(copy);
	free(out);
	free(text);
	blob_ctx_free(bc);
}

static void test_index_and_encoding(void **st)
{
	(void)st;
	struct repo_index *ix = index_new();
	struct blob_loc b[3000];
	memset(b, 0, sizeof(b));
	for (int i = 0; i < 3000; i++) {
		randombytes_buf(b[i].id, 32);
		b[i].offset = (uint32_t)i * 100;
		b[i].length = 100;
		b[i].raw_len = 200;
		b[i].type = i % 2;
	}
	uint8_t p1[32] = {1}, p2[32] = {2};
	assert_int_equal(index_add_pack(ix, p1, 0, NULL, b, 2000, 1), ROOST_OK);
	assert_int_equal(index_add_pack(ix, p2, 0, NULL, b + 2000, 1000, 1), ROOST_OK);
	assert_int_equal(index_nblobs(ix), 3000);
	assert_int_equal(index_npacks(ix), 2);
	struct blob_loc loc;
	assert_int_equal(index_lookup(ix, b[2500].id, &loc), 1);
	assert_int_equal(loc.pack, 1);
	assert_int_equal(loc.offset, 250000);
	uint8_t unknown[32] = {0xee};
	assert_int_equal(index_lookup(ix, unknown, NULL), 0);
	/* claims: first caller stores, others dedupe; unclaim releases */
	assert_int_equal(index_claim(ix, unknown), 1);
	assert_int_equal(index_claim(ix, unknown), 0);
	assert_int_equal(index_lookup(ix, unknown, NULL), 0);
	index_unclaim(ix, unknown);
	assert_int_equal(index_claim(ix, unknown), 1);
	assert_int_equal(index_claim(ix, b[5].id), 0);
	/* dropping a pack's blobs from dedup */
	index_drop_pack(ix, p2);
	assert_int_equal(index_lookup(ix, b[2500].id, NULL), 0);
	assert_int_equal(index_lookup(ix, b[1500].id, NULL), 1);
	index_free(ix);

}

static enum roost_err count_packs(void *ctx, const struct pack_blobs *pb)
{
	*(size_t *)ctx += pb->n;
	return ROOST_OK;
}

static void test_index_decode_hostile(void **st)
{
	(void)st;
	struct blob_loc b[10];
	memset(b, 0, sizeof(b));
	for (int i = 0; i < 10; i++) {
		b[i].id[0] = (uint8_t)i;
		b[i].offset = (uint32_t)i * 64;
		b[i].length = 64;
		b[i].raw_len = 10;
	}
	struct pack_blobs pb = {.id = {7}, .blobs = b, .n = 10};
	uint8_t *enc;
	size_t encn;
	assert_int_equal(index_encode(&pb, 1, &enc, &encn), ROOST_OK);
	size_t total = 0;
	struct roost_errbuf eb;
	assert_int_equal(index_decode(enc, encn, count_packs, &total, &eb), ROOST_OK);
	assert_int_equal(total, 10);
	for (size_t cut = 0; cut < encn; cut++) {
		total = 0;
		assert_int_equal(index_decode(enc, cut, count_packs, &total, &eb), ROOST_ECORRUPT);
	}
	uint8_t *longer = malloc(encn + 1);
	memcpy(longer, enc, encn);
	longer[encn] = 0;
	assert_int_equal(index_decode(longer, encn + 1, count_packs, &total, &eb), ROOST_ECORRUPT);
	/* a blob type out of range */
	enc[8 + 32 + 4] = 7;
	assert_int_equal(index_decode(enc, encn, count_packs, &total, &eb), ROOST_ECORRUPT);
	free(longer);
	free(enc);
}

static void test_tree_roundtrip_and_hostile(void **st)
{
	(void)st;
	struct tree t = {0};
	t.n = t.cap = 4;
	t.nodes = calloc(4, sizeof(*t.nodes));
	const char *names[4] = {"zeta", "a\nb", "\xff\xfe invalid utf8", "dir"};
	for (int i = 0; i < 4; i++) {
		t.nodes[i].name = strdup(names[i]);
		t.nodes[i].name_len = (uint16_t)strlen(names[i]);
		t.nodes[i].type = NODE_FILE;
		t.nodes[i].mode = 0644;
		t.nodes[i].mtime_s = 1700000000 + i;
		t.nodes[i].mtime_ns = 123456789;
	}
	t.nodes[3].type = NODE_DIR;
	t.nodes[3].subtree[0] = 0xab;
	t.nodes[0].nextents = 2;
	t.nodes[0].extents = calloc(2, sizeof(struct extent));
	t.nodes[0].extents[0].id[5] = 5;
	t.nodes[0].extents[1].kind = 1;
	t.nodes[0].extents[1].len = 8ULL << 30;
	t.nodes[0].size = (8ULL << 30) + 10;
	t.nodes[1].nxattrs = 1;
	t.nodes[1].xattrs = calloc(1, sizeof(struct xattr));
	t.nodes[1].xattrs[0].name = strdup("user.k");
	t.nodes[1].xattrs[0].value = malloc(3);
	memcpy(t.nodes[1].xattrs[0].value, "v\0x", 3);
	t.nodes[1].xattrs[0].len = 3;
	uint8_t *enc;
	size_t n;
	assert_int_equal(tree_encode(&t, &enc, &n), ROOST_OK);
	struct tree d;
	struct roost_errbuf eb;
	assert_int_equal(tree_decode(enc, n, &d, &eb), ROOST_OK);
	assert_int_equal(d.n, 4);
	/* sorted bytewise */
	assert_string_equal(d.nodes[0].name, "a\nb");
	assert_string_equal(d.nodes[1].name, "dir");
	assert_string_equal(d.nodes[3].name, "\xff\xfe invalid utf8");
	assert_int_equal(d.nodes[2].extents[1].len, 8ULL << 30);
	assert_int_equal(d.nodes[2].mtime_ns, 123456789);
	assert_int_equal(d.nodes[0].xattrs[0].len, 3);
	assert_memory_equal(d.nodes[0].xattrs[0].value, "v\0x", 3);
	assert_int_equal(d.nodes[1].subtree[0], 0xab);
	tree_release(&d);
	/* every truncation fails cleanly */
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(tree_decode(enc, cut, &d, &eb), ROOST_ECORRUPT);
	free(enc);
	/* hostile names are refused */
	const char *bad[] = {"..", ".", "a/b", ""};
	for (int i = 0; i < 4; i++) {
		free(t.nodes[3].name);
		t.nodes[3].name = strdup(bad[i]);
		t.nodes[3].name_len = (uint16_t)strlen(bad[i]);
		assert_int_equal(tree_encode(&t, &enc, &n), ROOST_OK);
		assert_int_equal(tree_decode(enc, n, &d, &eb), ROOST_ECORRUPT);
		assert_non_null(strstr(eb.msg, "invalid name"));
		free(enc);
	}
	/* non-canonical encodings are refused: one tree, one encoding (fuzz find) */
	{
		struct tree one = {0};
		one.n = one.cap = 1;
		one.nodes = calloc(1, sizeof(*one.nodes));
		one.nodes[0].name = strdup("f");
		one.nodes[0].name_len = 1;
		one.nodes[0].type = NODE_FIFO;
		one.nodes[0].mode = 0644;
		assert_int_equal(tree_encode(&one, &enc, &n), ROOST_OK);
		/* "RTR1", count, name_len, name, type, then the mode */
		assert_int_equal(tree_decode(enc, n, &d, &eb), ROOST_OK);
		tree_release(&d);
		enc[4 + 4 + 2 + 1 + 1 + 2] |= 0x10;
		assert_int_equal(tree_decode(enc, n, &d, &eb), ROOST_ECORRUPT);
		assert_non_null(strstr(eb.msg, "invalid mode"));
		free(enc);
		tree_release(&one);
	}
	/* duplicate names are refused */
	free(t.nodes[3].name);
	t.nodes[3].name = strdup("zeta");
	t.nodes[3].name_len = 4;
	assert_int_equal(tree_encode(&t, &enc, &n), ROOST_OK);
	assert_int_equal(tree_decode(enc, n, &d, &eb), ROOST_ECORRUPT);
	free(enc);
	tree_release(&t);
}

static void test_pack_and_backend(void **st)
{
	(void)st;
	char dir[] = "/tmp/roost-unit-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct roost_backend *be;
	struct roost_errbuf eb;
	assert_int_equal(roost_backend_local_open(dir, 1, &be, &eb), ROOST_OK);
	struct repo_keys k;
	uint8_t master[32] = {4};
	keys_derive(master, &k);
	struct pack_writer *pw;
	assert_int_equal(pack_writer_new(be, &k, 2, &pw, &eb), ROOST_OK);
	struct blob_ctx *bc = blob_ctx_new(1);
	uint8_t ids[50][32];
	for (int i = 0; i < 50; i++) {
		uint8_t *p = random_bytes(1000 + (size_t)i * 37, (uint32_t)i);
		blob_id(&k, p, 1000 + (size_t)i * 37, ids[i]);
		const uint8_t *enc;
		size_t encn;
		assert_int_equal(blob_encode(bc, p, 1000 + (size_t)i * 37, &enc, &encn), ROOST_OK);
		assert_int_equal(pack_writer_add(pw, BLOB_DATA, 0, ids[i], enc, encn,
		                                 (uint32_t)(1000 + i * 37), &eb), ROOST_OK);
		free(p);
	}
	uint8_t pid[32];
	uint64_t size;
	struct blob_loc *bl;
	uint32_t nb;
	uint8_t epk[32], epk2[32];
	assert_int_equal(pack_writer_finish(pw, pid, epk, &size, &bl, &nb, &eb), ROOST_OK);
	assert_int_equal(nb, 50);
	assert_false(epk_is_v1(epk));
	char name[80] = "packs/";
	hex_encode(pid, 32, name + 6);
	uint64_t sz;
	assert_int_equal(be->ops->stat(be, name, &sz, &eb), ROOST_OK);
	assert_int_equal(sz, size);
	struct blob_loc *tb;
	uint32_t tn;
	assert_int_equal(pack_read_trailer(be, &k, name, size, epk2, &tb, &tn, &eb), ROOST_OK);
	assert_int_equal(tn, 50);
	assert_memory_equal(tb, bl, sizeof(*bl) * 50);
	assert_memory_equal(epk, epk2, 32);
	/* format 2: the data secret key opens the blobs; the put-only material
	 * reads the trailer (deduplication) but opens no blob */
	{
		uint8_t key[32], bundle[PUT_BUNDLE_LEN], *raw = malloc(1000 + 49 * 37), *pst = NULL;
		size_t stn = 0;
		assert_int_equal(kx_opening_key(&k, epk, key), 0);
		assert_int_equal(be->ops->get(be, name, &pst, &stn, &eb), ROOST_OK);
		for (int i = 0; i < 50; i++)
			assert_int_equal(blob_decode(bc, &k, key, pst + bl[i].offset, bl[i].length, raw,
			                             bl[i].raw_len, ids[i], 0), ROOST_OK);
		struct repo_keys put;
		keys_put_bundle(&k, bundle);
		keys_from_bundle(bundle, &put);
		assert_int_equal(kx_opening_key(&put, epk, key), -1);
		struct blob_loc *pb2;
		uint32_t pn2;
		assert_int_equal(pack_read_trailer(be, &put, name, size, NULL, &pb2, &pn2, &eb), ROOST_OK);
		free(pb2);
		/* the enc key, or any other, fails authentication */
		assert_int_equal(blob_decode(bc, &k, k.enc, pst + bl[0].offset, bl[0].length, raw,
		                             bl[0].raw_len, ids[0], 0), ROOST_ECRYPTO);
		free(pst);
		free(raw);
	}
	/* the pack is named by the hash of its sealed trailer */
	uint8_t *all;
	size_t alln;
	assert_int_equal(be->ops->get(be, name, &all, &alln, &eb), ROOST_OK);
	uint32_t tl = (uint32_t)all[alln - 4] | (uint32_t)all[alln - 3] << 8 |
	              (uint32_t)all[alln - 2] << 16 | (uint32_t)all[alln - 1] << 24;
	uint8_t h[32];
	hash_plain(all + alln - 4 - tl, tl, h);
	assert_memory_equal(h, pid, 32);
	/* put never overwrites */
	assert_int_equal(be->ops->put(be, name, all, 10, &eb), ROOST_EEXIST);
	/* names are checked before they reach the file system */
	assert_int_equal(be->ops->put(be, "../escape", all, 10, &eb), ROOST_EINVAL);
	assert_int_equal(be->ops->put(be, "packs/../../x", all, 10, &eb), ROOST_EINVAL);
	assert_int_equal(be->ops->stat(be, "snapshots/zz", &sz, &eb), ROOST_EINVAL);
	free(all);
	/* a wrong key can not read the trailer */
	struct repo_keys k2;
	uint8_t m2[32] = {5};
	keys_derive(m2, &k2);
	free(tb);
	free(bl);
	struct blob_loc *none;
	uint32_t nn;
	assert_int_equal(pack_read_trailer(be, &k2, name, size, NULL, &none, &nn, &eb), ROOST_ECORRUPT);
	assert_null(none);
	assert_non_null(strstr(eb.msg, "fails authentication"));
	blob_ctx_free(bc);
	roost_backend_close(be);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}


/* Adds blob i (about 1,500 bytes) to *pw through the packer and rolls it. */
static void packer_put(struct roost_repo *r, struct blob_ctx *bc, struct packer *pk,
                       struct pack_writer **pw, uint32_t i, uint8_t id[32])
{
	struct roost_errbuf eb;
	size_t n = 1500 + i;
	uint8_t *p = random_bytes(n, 1000 + i);
	blob_id(&r->keys, p, n, id);
	const uint8_t *enc;
	size_t encn;
	assert_int_equal(blob_encode(bc, p, n, &enc, &encn), ROOST_OK);
	assert_int_equal(packer_add(pk, pw, BLOB_DATA, 0, id, enc, encn, (uint32_t)n, &eb), ROOST_OK);
	assert_int_equal(packer_roll(pk, pw, &eb), ROOST_OK);
	free(p);
}

static size_t count_objects(struct roost_repo *r, const char *type)
{
	struct roost_errbuf eb;
	char **names;
	size_t n;
	assert_int_equal(repo_list_objects(r, type, &names, NULL, &n, &eb), ROOST_OK);
	free_names(names, n);
	return n;
}

static void test_packer(void **st)
{
	(void)st;
	char dir[] = "/tmp/roost-unit-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct roost_errbuf eb;
	struct roost_repo r;
	memset(&r, 0, sizeof(r));
	assert_int_equal(roost_backend_local_open(dir, 1, &r.be, &eb), ROOST_OK);
	uint8_t master[32] = {6};
	keys_derive(master, &r.keys);
	r.pack_size = 8192;
	r.index = index_new();
	struct blob_ctx *bc = blob_ctx_new(1);
	uint8_t ids[40][32];

	/* in the caller (repack): packs roll at the pack size, nothing is
	 * indexed, and every blob comes back in exactly one pack */
	struct packer *pk;
	struct pack_writer *pw = NULL;
	assert_int_equal(packer_new(&r, 0, NULL, NULL, &pk, &eb), ROOST_OK);
	for (uint32_t i = 0; i < 20; i++)
		packer_put(&r, bc, pk, &pw, i, ids[i]);
	assert_int_equal(packer_seal(pk, &pw, &eb), ROOST_OK);
	assert_null(pw);
	struct pack_blobs *v;
	size_t n;
	packer_take(pk, &v, &n);
	packer_free(pk);
	assert_true(n >= 3); /* 20 * ~1.5 KB in 8 KiB packs */
	uint32_t seen = 0;
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n)
			assert_true(v[i].size >= r.pack_size);
		for (uint32_t b = 0; b < v[i].n; b++, seen++)
			assert_memory_equal(v[i].blobs[b].id, ids[seen], 32);
		free(v[i].blobs);
	}
	free(v);
	assert_int_equal(seen, 20);
	assert_int_equal(count_objects(&r, "packs"), n);
	assert_int_equal(count_objects(&r, "index"), 0);
	assert_int_equal(index_npacks(r.index), 0);

	/* on its own thread, indexing (backup): two writers' packs are
	 * committed, in the in-memory index at once, in one index object */
	struct pack_writer *pw2 = NULL;
	assert_int_equal(packer_new(&r, PACKER_THREAD | PACKER_INDEX, NULL, NULL, &pk, &eb),
	                 ROOST_OK);
	for (uint32_t i = 20; i < 40; i++)
		packer_put(&r, bc, pk, i % 2 ? &pw : &pw2, i, ids[i]);
	assert_int_equal(packer_seal(pk, &pw, &eb), ROOST_OK);
	assert_int_equal(packer_seal(pk, &pw2, &eb), ROOST_OK);
	packer_stop(pk);
	for (uint32_t i = 20; i < 40; i++)
		assert_true(index_lookup(r.index, ids[i], NULL));
	assert_int_equal(count_objects(&r, "index"), 0);
	assert_int_equal(packer_flush(pk, &eb), ROOST_OK);
	assert_int_equal(count_objects(&r, "index"), 1);
	packer_take(pk, &v, &n);
	assert_int_equal(n, 0); /* flushed: the index object has them */
	free(v);

	/* after a failure nothing more is committed: the open pack stays the
	 * caller's to abort */
	size_t packs = count_objects(&r, "packs");
	packer_fail(pk, ROOST_EIO);
	uint8_t id[32];
	packer_put(&r, bc, pk, &pw, 99, id);
	assert_int_equal(packer_seal(pk, &pw, &eb), ROOST_EIO);
	assert_non_null(pw);
	pack_writer_abort(pw);
	packer_free(pk);
	assert_int_equal(count_objects(&r, "packs"), packs);

	blob_ctx_free(bc);
	index_free(r.index);
	roost_backend_close(r.be);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* repo_pack_key keeps the keys it derived (one X25519 per pack, not per
 * blob read): right for every epk, also after a slot is taken by another,
 * and wiped by repo_pack_keys_free. */
static void test_pack_key_cache(void **st)
{
	(void)st;
	struct roost_repo r;
	memset(&r, 0, sizeof(r));
	uint8_t master[32] = {7};
	keys_derive(master, &r.keys);
	r.version = 2;
	struct roost_errbuf eb;
	uint8_t epk1[32], key1[32], epk2[32], key2[32], epk3[32], key3[32], got[32];
	assert_int_equal(kx_new_sealing_key(r.keys.data_pk, epk1, key1), 0);
	do /* another epk for the same slot as epk1 */
		assert_int_equal(kx_new_sealing_key(r.keys.data_pk, epk3, key3), 0);
	while (epk3[0] != epk1[0] || epk3[1] != epk1[1]);
	do
		assert_int_equal(kx_new_sealing_key(r.keys.data_pk, epk2, key2), 0);
	while (epk2[0] == epk1[0]);
	assert_int_equal(repo_pack_key(&r, epk1, got, &eb), ROOST_OK);
	assert_memory_equal(got, key1, 32);
	assert_int_equal(repo_pack_key(&r, epk3, got, &eb), ROOST_OK); /* evicts epk1 */
	assert_memory_equal(got, key3, 32);
	assert_int_equal(repo_pack_key(&r, epk1, got, &eb), ROOST_OK);
	assert_memory_equal(got, key1, 32);
	assert_int_equal(repo_pack_key(&r, epk2, got, &eb), ROOST_OK);
	assert_memory_equal(got, key2, 32);
	/* kept: answered without the data secret key (no X25519 again) */
	uint8_t sk[32];
	memcpy(sk, r.keys.data_sk, 32);
	memset(r.keys.data_sk, 0, 32);
	memset(got, 0, 32);
	assert_int_equal(repo_pack_key(&r, epk2, got, &eb), ROOST_OK);
	assert_memory_equal(got, key2, 32);
	assert_int_equal(repo_pack_key(&r, epk1, got, &eb), ROOST_OK);
	assert_memory_equal(got, key1, 32);
	/* wiped: derived again, which without the secret gives no key2 */
	repo_pack_keys_free(&r);
	assert_null(r.pkc);
	enum roost_err err = repo_pack_key(&r, epk2, got, &eb);
	assert_true(err != ROOST_OK || memcmp(got, key2, 32) != 0);
	repo_pack_keys_free(&r); /* what the wrong secret made */
	memcpy(r.keys.data_sk, sk, 32);
	assert_int_equal(repo_pack_key(&r, epk2, got, &eb), ROOST_OK);
	assert_memory_equal(got, key2, 32);
	repo_pack_keys_free(&r);
}

static void test_files_cache(void **st)
{
	(void)st;
	char path[] = "/tmp/roost-fc-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	struct fcache_out *o = fcache_out_new(path);
	struct extent ex[3] = {{.kind = 0, .id = {1, 2, 3}}, {.kind = 1, .len = 4096},
	                       {.kind = 0, .id = {9}}};
	for (int i = 0; i < 1000; i++) {
		char p[64];
		snprintf(p, sizeof(p), "/data/dir%d/file\n%d", i % 7, i);
		struct fc_entry e = {.ino = (uint64_t)i, .size = (uint64_t)i * 10, .mtime_s = 1700000000,
		                     .mtime_ns = (uint32_t)i, .ctime_s = 1700000001, .ctime_ns = 5,
		                     .nextents = (uint32_t)(i % 4)};
		struct node meta = {0};
		struct xattr xa = {"user.k", (uint8_t *)"val", 3};
		if (i % 5 == 0) {
			meta.xattrs = &xa;
			meta.nxattrs = 1;
		}
		fcache_out_add(o, p, strlen(p), &e, ex, &meta);
	}
	struct roost_errbuf eb;
	assert_int_equal(fcache_out_commit(o, path, &eb), ROOST_OK);
	struct filescache *fc = fcache_load(path);
	struct fc_entry e;
	const char *k = "/data/dir3/file\n997";
	assert_int_equal(fcache_get(fc, k, strlen(k), &e), 0);
	assert_int_equal(e.ino, 997);
	assert_int_equal(e.size, 9970);
	assert_int_equal(e.mtime_ns, 997);
	assert_int_equal(e.nextents, 1);
	k = "/data/dir3/file\n3";
	assert_int_equal(fcache_get(fc, k, strlen(k), &e), 0);
	assert_int_equal(e.nextents, 3);
	struct extent *x = fcache_extents(&e);
	assert_int_equal(x[1].kind, 1);
	assert_int_equal(x[1].len, 4096);
	assert_int_equal(x[2].id[0], 9);
	free(x);
	k = "/data/dir5/file\n5"; /* i = 5: one xattr */
	assert_int_equal(fcache_get(fc, k, strlen(k), &e), 0);
	assert_int_equal(e.nxattrs, 1);
	struct node nn = {0};
	assert_int_equal(fcache_xattrs(&e, &nn), 0);
	assert_string_equal(nn.xattrs[0].name, "user.k");
	assert_memory_equal(nn.xattrs[0].value, "val", 3);
	node_release(&nn);
	assert_int_equal(fcache_get(fc, "/nope", 5, &e), -1);
	fcache_free(fc);
	/* a damaged cache is an empty cache, never a crash */
	FILE *f = fopen(path, "r+");
	fseek(f, 50, SEEK_SET);
	fputc(0xff, f);
	fputc(0xff, f);
	fclose(f);
	fc = fcache_load(path);
	assert_non_null(fc);
	fcache_free(fc);
	assert_int_equal(truncate(path, 100), 0);
	fc = fcache_load(path);
	k = "/data/dir3/file\n997";
	assert_int_equal(fcache_get(fc, k, strlen(k), &e), -1);
	fcache_free(fc);
	unlink(path);
}

/* Format 1 -> 2 (issue 18): a v1 repository (config, index, packs and the
 * snapshot under enc) upgrades without re-encrypting anything; the full key
 * still reads and checks everything, and a put-only key deduplicates against
 * the v1 data and reads no blob or snapshot. */
static void test_upgrade_v1(void **st)
{
	(void)st;
	char dir[] = "/tmp/w18-unit-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char repo[600], src[600], cache[600], file[700];
	snprintf(repo, sizeof(repo), "%s/repo", dir);
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	assert_int_equal(mkdir(src, 0700), 0);
	snprintf(file, sizeof(file), "%s/a", src);
	uint8_t *data = random_bytes(900000, 77);
	FILE *f = fopen(file, "wb");
	assert_non_null(f);
	fwrite(data, 1, 900000, f);
	fclose(f);
	free(data);
	struct roost_backend *be;
	struct roost_errbuf eb;
	struct roost_repo *r;
	assert_int_equal(roost_backend_local_open(repo, 1, &be, &eb), ROOST_OK);
	struct roost_repo_params p = {.kdf_ops = 1, .kdf_mem = 8192 * 16};
	assert_int_equal(roost_repo_init(be, "pw", &p, &eb), ROOST_OK);
	/* make it what an older roost made: a format 1 config under enc */
	assert_int_equal(roost_repo_open(be, "pw", &r, &eb), ROOST_OK);
	r->version = 1;
	assert_int_equal(repo_write_config(r, 1, &eb), ROOST_OK);
	roost_repo_close(r);
	assert_int_equal(roost_repo_open(be, "pw", &r, &eb), ROOST_OK);
	assert_int_equal(roost_repo_version(r), 1);
	uint8_t m[ROOST_PUT_MATERIAL_LEN];
	assert_int_equal(roost_repo_put_material(r, m, sizeof(m), &eb), ROOST_ENOTSUP);
	const char *paths[] = {src};
	struct roost_backup_opts o = {.paths = paths, .npaths = 1, .cache_dir = cache, .threads = 1};
	struct roost_backup_result res;
	assert_int_equal(roost_repo_backup(r, &o, &res, &eb), ROOST_OK);
	assert_true(res.summary.bytes_new >= 900000);
	/* more packs (the upgrade once read its packs with the wrong stride:
	 * only a repository of one pack came through) */
	for (int k = 0; k < 3; k++) {
		char more[700];
		snprintf(more, sizeof(more), "%s/more%d", src, k);
		uint8_t *d2 = random_bytes(300000, 100 + (unsigned)k);
		FILE *f2 = fopen(more, "wb");
		assert_non_null(f2);
		fwrite(d2, 1, 300000, f2);
		fclose(f2);
		free(d2);
		assert_int_equal(roost_repo_backup(r, &o, &res, &eb), ROOST_OK);
	}
	int up = 0;
	assert_int_equal(roost_repo_upgrade(r, &up, &eb), ROOST_OK);
	assert_int_equal(up, 1);
	assert_int_equal(roost_repo_put_material(r, m, sizeof(m), &eb), ROOST_OK);
	roost_repo_close(r);
	/* the full key: version 2, the v1 snapshot and packs read and check */
	assert_int_equal(roost_repo_open(be, "pw", &r, &eb), ROOST_OK);
	assert_int_equal(roost_repo_version(r), 2);
	struct roost_snapshot s;
	assert_int_equal(roost_repo_find_snapshot(r, "latest", &s, &eb), ROOST_OK);
	roost_snapshot_release(&s);
	struct roost_check_opts co = {.read_data = 1};
	struct roost_check_result cr;
	assert_int_equal(roost_repo_check(r, &co, &cr, &eb), ROOST_OK);
	assert_int_equal(cr.errors, 0);
	roost_repo_close(r);
	/* an upgrade stopped after it deleted config, before it put the new one:
	 * only config.next is there, and the repository opens (version 2) */
	uint8_t *cfg;
	size_t cfgn;
	assert_int_equal(be->ops->get(be, "config", &cfg, &cfgn, &eb), ROOST_OK);
	assert_int_equal(be->ops->put(be, "config.next", cfg, cfgn, &eb), ROOST_OK);
	assert_int_equal(be->ops->remove(be, "config", &eb), ROOST_OK);
	assert_int_equal(roost_repo_open(be, "pw", &r, &eb), ROOST_OK);
	assert_int_equal(roost_repo_version(r), 2);
	assert_int_equal(roost_repo_find_snapshot(r, "latest", &s, &eb), ROOST_OK);
	roost_snapshot_release(&s);
	roost_repo_close(r);
	assert_int_equal(be->ops->put(be, "config", cfg, cfgn, &eb), ROOST_OK);
	assert_int_equal(be->ops->remove(be, "config.next", &eb), ROOST_OK);
	free(cfg);
	/* a put-only key: nothing re-uploaded, nothing readable */
	assert_int_equal(roost_repo_open_put(be, m, sizeof(m), &r, &eb), ROOST_OK);
	assert_true(roost_repo_put_only(r));
	char cache2[700];
	snprintf(cache2, sizeof(cache2), "%s/cache2", dir); /* no files cache: every file read */
	o.cache_dir = cache2;
	assert_int_equal(roost_repo_backup(r, &o, &res, &eb), ROOST_OK);
	assert_true(res.summary.bytes_new < 1000);
	struct roost_snapshot *v;
	size_t nv;
	assert_int_equal(roost_repo_snapshots(r, &v, &nv, NULL, NULL, &eb), ROOST_EAUTH);
	assert_int_equal(roost_repo_check(r, &co, &cr, &eb), ROOST_EAUTH);
	roost_repo_close(r);
	/* the full key reads every snapshot, the v1 ones and the sealed v2 one */
	assert_int_equal(roost_repo_open(be, "pw", &r, &eb), ROOST_OK);
	assert_int_equal(roost_repo_snapshots(r, &v, &nv, NULL, NULL, &eb), ROOST_OK);
	assert_int_equal(nv, 5);
	roost_snapshots_free(v, nv);
	assert_int_equal(roost_repo_check(r, &co, &cr, &eb), ROOST_OK);
	assert_int_equal(cr.errors, 0);
	roost_repo_close(r);
	roost_backend_close(be);
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunker_bounds_and_shift),
		cmocka_unit_test(test_blob_roundtrip_and_tamper),
		cmocka_unit_test(test_index_and_encoding),
		cmocka_unit_test(test_index_decode_hostile),
		cmocka_unit_test(test_tree_roundtrip_and_hostile),
		cmocka_unit_test(test_pack_and_backend),
		cmocka_unit_test(test_packer),
		cmocka_unit_test(test_pack_key_cache),
		cmocka_unit_test(test_files_cache),
		cmocka_unit_test(test_upgrade_v1),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
