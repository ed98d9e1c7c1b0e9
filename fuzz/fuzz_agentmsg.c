/* SPDX-License-Identifier: MIT */
/* Fuzz target: the decoder of agent messages (lib/proto), what roostd runs
 * on every WebSocket frame an agent sends; and the round trip: whatever it
 * accepts, the encoder writes back, and that decodes to the same message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "roost/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* decode(text) -> encode -> compact text; NULL if either step fails */
static char *reencode(const char *text, size_t len, struct proto_msg *m)
{
	struct roost_errbuf eb = {{0}};
	json_t *o = NULL;
	char *out = NULL;
	if (proto_decode_agent(text, len, m, &eb) == ROOST_OK &&
	    proto_encode_agent(m, &o, &eb) == ROOST_OK)
		out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_msg m;
	struct roost_errbuf eb = {{0}};
	if (proto_decode_agent((const char *)data, size, &m, &eb) != ROOST_OK) {
		if (!eb.msg[0])
			abort();
		return 0;
	}
	/* what it accepts is bounded and well-formed */
	if (m.njobs > PROTO_MAX_JOBS || m.nfires > PROTO_MAX_FIRES)
		abort();
	for (size_t i = 0; i < m.njobs; i++)
		if (m.jobs[i].job_id <= 0 || strlen(m.jobs[i].status) >= sizeof(m.jobs[i].status))
			abort();
	if (m.type == PROTO_FIRE && m.fire.schedule_id <= 0)
		abort();
	proto_msg_release(&m);
	/* and survives the round trip unchanged */
	struct proto_msg m1, m2;
	char *t1 = reencode((const char *)data, size, &m1);
	char *t2 = t1 ? reencode(t1, strlen(t1), &m2) : NULL;
	if (!t1 || !t2 || strcmp(t1, t2) || m1.type != m2.type || m1.njobs != m2.njobs ||
	    m1.nfires != m2.nfires)
		abort();
	proto_msg_release(&m1);
	proto_msg_release(&m2);
	free(t1);
	free(t2);
	return 0;
}
