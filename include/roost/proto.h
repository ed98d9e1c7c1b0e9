/* SPDX-License-Identifier: MIT */
/*
 * The agent <-> server protocol (DESIGN.md, "Agent <-> server"): one JSON
 * object per WebSocket text frame, with a "type". This module decodes and
 * validates what an agent sends, strictly and within fixed bounds, so the
 * server only ever sees well-formed values. Times are RFC 3339 UTC on the
 * wire, int64 seconds here.
 */
#ifndef ROOST_PROTO_H
#define ROOST_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "roost/error.h"

#define PROTO_VERSION 1
#define PROTO_MAX_FRAME (1024 * 1024) /* larger frames close the connection */
#define PROTO_MAX_FIRES 10000         /* persisted fires carried by one hello */
#define PROTO_MAX_JOBS 1000           /* job states carried by one hello */

enum proto_type {
	PROTO_HELLO = 1,
	PROTO_FIRE,
	PROTO_JOB_ACCEPTED,
	PROTO_JOB_PROGRESS,
	PROTO_JOB_FINISHED,
};

/* A job as the agent reports it. status: "queued", "running", "succeeded", "failed",
 * "canceled", "interrupted" (lost when the agent died). */
struct proto_job {
	int64_t job_id;
	char status[16];
	char snapshot_id[65]; /* "" if none */
	uint64_t files, bytes, bytes_new;
	int64_t started_at;   /* 0 if unknown */
	char error[512];
};

struct proto_fire {
	int64_t schedule_id;
	int64_t slot;
};

struct proto_msg {
	enum proto_type type;
	/* hello */
	int protocol;
	char agent_version[64], hostname[256], os[128], tz[64];
	int64_t clock;
	struct proto_job *jobs; /* the running one and those finished while offline */
	size_t njobs;
	struct proto_fire *fires;
	size_t nfires;
	/* fire */
	struct proto_fire fire;
	/* job.accepted / job.progress / job.finished */
	struct proto_job job;
};

/* Decodes one agent message; ROOST_EINVAL with a message naming the field. */
enum roost_err proto_decode_agent(const char *buf, size_t len, struct proto_msg *m,
                                  struct roost_errbuf *eb);
void proto_msg_free(struct proto_msg *m);

/* Is s a job status an agent may report as final? */
int proto_status_final(const char *s);

#endif
