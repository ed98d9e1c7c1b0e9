/* SPDX-License-Identifier: MIT */
/* Serving an agent's restore (server/restore_serve.c). */
#ifndef ROOSTD_RESTORE_SERVE_H
#define ROOSTD_RESTORE_SERVE_H

#include <stdint.h>

#include "http_int.h"

struct roost_repo;

/* An answer made on the serving thread: a body (LWS_PRE bytes of headroom
 * before len bytes) or an error. A restore's object when work is NULL;
 * other readers of the repository (browse.c) give their own work, run on
 * the serving thread with its repository handle, and their own answer, run
 * on the event loop from the writeable callback (it takes r over). */
struct serve_res {
	struct serve_res *next;
	void (*work)(struct roost_repo *repo, struct serve_res *r);
	int (*answer)(struct lws *wsi, struct pss *p, struct serve_res *r);
	void *ctx; /* the work's own, freed by ctx_free when r is */
	void (*ctx_free)(void *ctx);
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
/* Queues r (taken over; r->work set) for the serving threads; its answer
 * comes to p's writeable callback. 0, or -1 when not served (r freed). At
 * most one per connection at a time. */
int restore_serve_submit(struct lws *wsi, struct pss *p, struct serve_res *r);
/* Frees r and what it holds (NULL: no-op). */
void serve_res_free(struct serve_res *r);
/* Event loop, on wake-up: finished answers go to their connections. */
void restore_serve_done(void);
/* The connection closes: its pending answer is dropped when it comes. */
void restore_serve_forget(struct pss *p);
/* Writeable: sends p->served. */
int restore_serve_answer(struct lws *wsi, struct pss *p);

#endif
