/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: format 2's objects sealed to the data public key (snapshots):
 * pkseal_open with a fixed repository key, then the snapshot decoder on
 * whatever opens. Hostile bytes must never crash, and only authentic objects
 * open. The corpus holds real sealed snapshots under this key (made by
 * fuzz_sealed_corpus in tests), cut and flipped.
 */
#include <stdint.h>
#include <stdlib.h>

#include "repo/repo_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct repo_keys k;
	static int ready;
	if (!ready) {
		uint8_t master[32] = {0x18};
		keys_derive(master, &k);
		ready = 1;
	}
	uint8_t *pt;
	size_t n;
	if (pkseal_open(&k, data, size, &pt, &n) == ROOST_OK) {
		if (n + PKSEAL_OVERHEAD != size)
			abort();
		struct roost_snapshot s;
		struct roost_errbuf eb = {{0}};
		if (snapshot_decode((const char *)pt, n, &s, &eb) == ROOST_OK)
			roost_snapshot_release(&s);
		else if (!eb.msg[0])
			abort();
		free(pt);
	} else if (pt) {
		abort(); /* a failed open hands out nothing */
	}
	return 0;
}
