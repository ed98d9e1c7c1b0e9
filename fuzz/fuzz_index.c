/* SPDX-License-Identifier: MIT */
/* Fuzz target: the index object decoder, feeding a real in-memory index. */
#include <stdint.h>
#include <stdlib.h>

#include "repo/repo_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum roost_err add(void *ctx, const struct pack_blobs *pb)
{
	return index_add_pack(ctx, pb->id, 0, pb->epk, pb->blobs, pb->n, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct repo_index *ix = index_new();
	struct roost_errbuf eb = {{0}};
	if (index_decode(data, size, add, ix, &eb) != ROOST_OK && !eb.msg[0])
		abort();
	index_free(ix);
	return 0;
}
