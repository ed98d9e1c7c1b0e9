/* SPDX-License-Identifier: MIT */
/* Fuzz target: the tree decoder. Whatever it accepts re-encodes to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "repo/repo_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tree t;
	struct roost_errbuf eb = {{0}};
	if (tree_decode(data, size, &t, &eb) != ROOST_OK) {
		if (!eb.msg[0])
			abort();
		return 0;
	}
	uint8_t *enc;
	size_t n;
	if (tree_encode(&t, &enc, &n) == ROOST_OK) {
		if (n != size || memcmp(enc, data, n) != 0)
			abort(); /* decoding is exact: same bytes back */
		free(enc);
	}
	tree_release(&t);
	return 0;
}
