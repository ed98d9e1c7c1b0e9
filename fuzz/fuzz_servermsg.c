/* SPDX-License-Identifier: MIT */
/* Fuzz target: the decoder of server messages (lib/proto), what the agent
 * runs on every WebSocket frame roostd sends and on the config it keeps;
 * and the round trip: whatever it accepts, the encoder writes back, and
 * that decodes to the same message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "roost/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* decode(text) -> encode -> compact text; NULL if either step fails */
static char *reencode(const char *text, size_t len, struct proto_server_msg *m)
{
	struct roost_errbuf eb = {{0}};
	json_t *o = NULL;
	char *out = NULL;
	if (proto_decode_server(text, len, m, &eb) == ROOST_OK &&
	    proto_encode_server(m, &o, &eb) == ROOST_OK)
		out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return out;
}

static void check_group(const struct proto_group *g)
{
	if (g->id <= 0 || g->host_id <= 0 || g->npaths > PROTO_MAX_LIST ||
	    g->nexcludes > PROTO_MAX_LIST)
		abort();
	for (size_t i = 0; i < g->npaths; i++)
		if (!g->paths[i][0] || strlen(g->paths[i]) > PROTO_MAX_PATH)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_server_msg m;
	struct roost_errbuf eb = {{0}};
	if (proto_decode_server((const char *)data, size, &m, &eb) != ROOST_OK) {
		/* a failed decode leaves nothing allocated, at most a job id to report */
		if (!eb.msg[0] || m.config.groups || m.start.group.paths || m.start.restore.include ||
		    (m.start.job_id && m.type != PROTO_JOB_START))
			abort();
		return 0;
	}
	/* what it accepts is bounded and well-formed */
	const struct proto_config *c = &m.config;
	if (m.type == PROTO_CONFIG &&
	    (c->host_id <= 0 || c->ngroups > PROTO_MAX_GROUPS ||
	     c->nschedules > PROTO_MAX_SCHEDULES))
		abort();
	for (size_t i = 0; m.type == PROTO_CONFIG && i < c->ngroups; i++)
		check_group(&c->groups[i]);
	for (size_t i = 0; m.type == PROTO_CONFIG && i < c->nschedules; i++)
		for (size_t k = 0; k < c->schedules[i].ngroup_ids; k++)
			if (c->schedules[i].group_ids[k] <= 0)
				abort();
	if (m.type == PROTO_JOB_START) {
		if (m.start.job_id <= 0 || !m.start.kind[0])
			abort();
		if (m.start.has_group)
			check_group(&m.start.group);
		if (m.start.has_restore && m.start.restore.target[0] != '/')
			abort();
	}
	if (m.type == PROTO_JOB_CANCEL && m.cancel.job_id <= 0)
		abort();
	proto_server_msg_release(&m);
	/* and survives the round trip unchanged */
	struct proto_server_msg m1, m2;
	char *t1 = reencode((const char *)data, size, &m1);
	char *t2 = t1 ? reencode(t1, strlen(t1), &m2) : NULL;
	if (!t1 || !t2 || strcmp(t1, t2) || m1.type != m2.type)
		abort();
	proto_server_msg_release(&m1);
	proto_server_msg_release(&m2);
	free(t1);
	free(t2);
	return 0;
}
