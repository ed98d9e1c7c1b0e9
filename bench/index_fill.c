/* SPDX-License-Identifier: MIT */
/*
 * bench_index_fill: adds N synthetic blobs to a repository's index, for
 * bench/index_memory (issue 17: memory as the repository grows).
 *
 *     bench_index_fill DIR N [BLOBS_PER_PACK] [PACKS_PER_INDEX]
 *
 * The password comes from ROOST_PASSWORD. Writes real, sealed index objects
 * (as the packer does: one per PACKS_PER_INDEX packs, default 64, of
 * BLOBS_PER_PACK blobs each, default 32) naming random pack and blob ids.
 * The packs themselves are not written: a backup only needs the index to
 * deduplicate, and none of these ids can match a real chunk. `roost repo
 * check` would report the missing packs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/repo_int.h"

/* splitmix64: a fixed, fast stream of random-looking ids */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rnd_bytes(uint64_t *s, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rnd(s);
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench_index_fill DIR N [BLOBS_PER_PACK] [PACKS_PER_INDEX]\n");
		return 2;
	}
	unsigned long long n = strtoull(argv[2], NULL, 10);
	uint32_t per_pack = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 32;
	size_t per_index = argc > 4 ? (size_t)strtoul(argv[4], NULL, 10) : 64;
	const char *pw = getenv("ROOST_PASSWORD");
	if (!pw || !per_pack || !per_index) {
		fprintf(stderr, "bench_index_fill: set ROOST_PASSWORD; counts must be > 0\n");
		return 2;
	}
	struct roost_errbuf eb = {0};
	struct roost_backend *be;
	struct roost_repo *r;
	if (roost_backend_local_open(argv[1], 0, &be, &eb) ||
	    roost_repo_open(be, pw, &r, &eb)) {
		fprintf(stderr, "bench_index_fill: %s\n", eb.msg);
		return 1;
	}
	int v2 = roost_repo_version(r) >= 2;
	uint64_t seed = n * 0x2545f4914f6cdd1dULL + 17;
	struct pack_blobs *pk = calloc(per_index, sizeof(*pk));
	struct blob_loc *bl = calloc(per_index * per_pack, sizeof(*bl));
	if (!pk || !bl)
		return 1;
	unsigned long long done = 0, objects = 0;
	while (done < n) {
		size_t np = 0;
		for (; np < per_index && done < n; np++) {
			struct pack_blobs *p = &pk[np];
			rnd_bytes(&seed, p->id, ID_LEN);
			if (v2)
				rnd_bytes(&seed, p->epk, 32);
			p->blobs = bl + np * per_pack;
			p->n = 0;
			uint32_t off = 0;
			for (; p->n < per_pack && done < n; p->n++, done++) {
				struct blob_loc *b = &p->blobs[p->n];
				memset(b, 0, sizeof(*b));
				rnd_bytes(&seed, b->id, ID_LEN);
				b->type = BLOB_DATA;
				b->raw_len = (uint32_t)(rnd(&seed) % (1u << 20)) + 1024;
				b->length = b->raw_len / 2 + SEAL_OVERHEAD + 1;
				b->offset = off;
				off += b->length;
			}
			p->size = off + 4096;
		}
		if (repo_write_index(r, pk, np, NULL, &eb)) {
			fprintf(stderr, "bench_index_fill: %s\n", eb.msg);
			return 1;
		}
		objects++;
	}
	printf("%llu blobs in %llu index objects\n", done, objects);
	free(pk);
	free(bl);
	roost_repo_close(r);
	roost_backend_close(be);
	return 0;
}
