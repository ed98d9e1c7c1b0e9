/* SPDX-License-Identifier: MIT */
/* Fuzz target: the snapshot JSON decoder, and re-encoding what it accepts. */
#include <stdint.h>
#include <stdlib.h>

#include "repo/repo_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct roost_snapshot s;
	struct roost_errbuf eb = {{0}};
	if (snapshot_decode((const char *)data, size, &s, &eb) == ROOST_OK) {
		char *js;
		if (snapshot_encode(&s, &js) == ROOST_OK)
			free(js);
		roost_snapshot_release(&s);
	} else if (!eb.msg[0]) {
		abort();
	}
	return 0;
}
