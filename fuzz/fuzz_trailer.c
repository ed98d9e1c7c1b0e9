/* SPDX-License-Identifier: MIT */
/* Fuzz target: the pack trailer decoder (plaintext after unsealing). */
#include <stdint.h>
#include <stdlib.h>

#include "repo/repo_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blob_loc *b;
	uint32_t n;
	uint8_t epk[32];
	struct roost_errbuf eb = {{0}};
	uint64_t limit = size > 4 ? (uint64_t)data[0] << 16 | (uint64_t)data[1] << 8 : 1 << 20;
	if (pack_trailer_decode(data, size, limit, epk, &b, &n, &eb) == ROOST_OK) {
		for (uint32_t i = 0; i < n; i++)
			if ((uint64_t)b[i].offset + b[i].length > limit)
				abort(); /* every accepted entry lies inside the pack */
		free(b);
	} else if (!eb.msg[0]) {
		abort();
	}
	return 0;
}
