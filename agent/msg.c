/* SPDX-License-Identifier: MIT */
/*
 * The agent's glue to lib/proto (include/roost/proto.h), which encodes and
 * decodes every message of the protocol both ways (DESIGN.md, "Agent <->
 * server"). The parts fill and read proto structs; what is here is what
 * the agent adds: the host's description in hello, a log line when an
 * encoder refuses a value, and the agent's reading of timeout_s.
 */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent.h"
#include "roost/log.h"

/* m encoded by lib/proto, or NULL after a log line. */
static json_t *encode(const struct proto_msg *m)
{
	json_t *o;
	struct roost_errbuf eb = {{0}};
	if (proto_encode_agent(m, &o, &eb)) {
		log_error("agent.encode", "type=%s msg=%s", proto_type_name(m->type),
		          roost_lq(eb.msg));
		return NULL;
	}
	return o;
}

json_t *msg_hello(struct proto_msg *h, const char *tz, int64_t clock)
{
	struct utsname u;
	h->type = PROTO_HELLO;
	h->protocol = PROTO_VERSION;
	snprintf(h->agent_version, sizeof(h->agent_version), "%s", ROOST_VERSION);
	char os[sizeof(u.sysname) + sizeof(u.release) + 1] = "unknown";
	if (uname(&u) == 0)
		snprintf(os, sizeof(os), "%s %s", u.sysname, u.release);
	snprintf(h->os, sizeof(h->os), "%.*s", (int)sizeof(h->os) - 1, os);
	memset(h->hostname, 0, sizeof(h->hostname));
	gethostname(h->hostname, sizeof(h->hostname) - 1);
	snprintf(h->tz, sizeof(h->tz), "%s", tz ? tz : "");
	h->clock = clock;
	return encode(h);
}

json_t *msg_fire(const struct proto_fire *f)
{
	struct proto_msg m = {.type = PROTO_FIRE, .fire = *f};
	return encode(&m);
}

json_t *msg_status(int on_battery, int metered)
{
	struct proto_msg m = {.type = PROTO_STATUS, .on_battery = on_battery, .metered = metered};
	return encode(&m);
}

json_t *msg_job(enum proto_type type, const struct proto_job *j)
{
	struct proto_msg m = {.type = type, .job = *j};
	return encode(&m);
}

void msg_job_state(struct proto_job *j, int64_t job_id, const char *status, const char *error)
{
	memset(j, 0, sizeof(*j));
	j->job_id = job_id;
	snprintf(j->status, sizeof(j->status), "%s", status);
	snprintf(j->error, sizeof(j->error), "%s", error ? error : "");
}

int64_t msg_config_timeout_ms(const struct proto_config *c, int64_t dflt)
{
	if (c->timeout_s >= 3 && c->timeout_s <= 3600)
		return c->timeout_s * 1000;
	return dflt;
}
