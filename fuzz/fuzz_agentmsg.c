/* SPDX-License-Identifier: MIT */
/* Fuzz target: the decoder of agent messages (lib/proto), what roostd runs
 * on every WebSocket frame an agent sends. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "roost/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_msg m;
	struct roost_errbuf eb = {{0}};
	if (proto_decode_agent((const char *)data, size, &m, &eb) == ROOST_OK) {
		/* what it accepts is bounded and well-formed */
		if (m.njobs > PROTO_MAX_JOBS || m.nfires > PROTO_MAX_FIRES)
			abort();
		for (size_t i = 0; i < m.njobs; i++)
			if (m.jobs[i].job_id <= 0 || strlen(m.jobs[i].status) >= sizeof(m.jobs[i].status))
				abort();
		if (m.type == PROTO_FIRE && m.fire.schedule_id <= 0)
			abort();
		proto_msg_free(&m);
	} else if (!eb.msg[0]) {
		abort();
	}
	return 0;
}
