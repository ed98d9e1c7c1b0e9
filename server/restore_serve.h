/* SPDX-License-Identifier: MIT */
/* Serving an agent's restore (server/restore_serve.c). */
#ifndef ROOSTD_RESTORE_SERVE_H
#define ROOSTD_RESTORE_SERVE_H

#include <stdint.h>

#include "http_int.h"

/* An answer made on the serving thread: a body (LWS_PRE bytes of headroom
 * before len bytes) or an error. */
struct serve_res {
	struct serve_res *next;
	uint64_t id;
	int64_t job;
	int status; /* 200, or an error status with code and msg */
	char code[32];
	char msg[600];
	uint8_t *out;
	size_t len;
	/* the request */
	int is_snapshot;
	char snap[65];
	uint8_t blob[32];
};

/* Starts the serving thread (it opens its own handle on the repository). */
int restore_serve_start(void);
void restore_serve_stop(void);
/* GET /v1/repo/plain/{blobs|snapshots}/<id>?job=N from a host (rest is after
 * "plain/"): checked here, then queued; answered when the thread is done. */
int restore_serve_request(struct lws *wsi, struct pss *p, const char *rest);
/* Event loop, on wake-up: finished answers go to their connections. */
void restore_serve_done(void);
/* The connection closes: its pending answer is dropped when it comes. */
void restore_serve_forget(struct pss *p);
/* Writeable: sends p->served. */
int restore_serve_answer(struct lws *wsi, struct pss *p);

#endif
