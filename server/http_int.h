/* SPDX-License-Identifier: MIT */
/*
 * Private to roostd's HTTP layer: the per-connection state that the
 * libwebsockets callback (http.c), the budgets (budgets.c), the responses
 * (respond.c) and the repository object API (repo_api.c) share. One
 * connection is served by the event-loop thread only.
 */
#ifndef ROOSTD_HTTP_INT_H
#define ROOSTD_HTTP_INT_H

#include <libwebsockets.h>
#include <stdint.h>

#include "http.h"
#include "roostd.h"

#define API_BODY_MAX (1u << 20)          /* a REST request body */
#define OBJECT_MAX ((uint64_t)1 << 30)   /* an uploaded object */
#define SLICE (256u * 1024)              /* a response is written in slices of this */

#include "sessions.h"

struct commit;
struct pw_task;
struct objcheck;
struct sse_client;
struct browse_dl;

/* One connection's state (libwebsockets' per-session data). */
struct pss {
	struct agent_conn *conn; /* WebSocket */
	int64_t ws_host;
	int fd_tag;              /* 1 + the connection's descriptor, for its count */
	/* the current HTTP transaction */
	int active;
	char method[8];
	char path[512];
	char query[1024];
	enum auth_kind auth;
	int auth_bad;
	int64_t host_id;
	int is_repo;
	char *body;
	size_t blen, bcap;
	int too_big;
	/* upload */
	struct roost_bwriter *w;
	char objname[128];
	int up_status; /* nonzero: answer this at completion */
	char up_msg[600];
	/* response */
	uint8_t *out; /* LWS_PRE + outlen */
	size_t outlen, outpos;
	char sname[128];
	uint64_t soff, send;
	int streaming, head;
	int dispatched; /* the response is under way: ignore late body events */
	uint64_t put_id;   /* nonzero: the upload's commit is on the committer thread */
	struct commit *committed; /* its result, to answer from the writeable callback */
	uint64_t serve_id;         /* nonzero: a restore's plain object is being made */
	struct serve_res *served;  /* it, to answer from the writeable callback */
	struct objcheck *check;   /* upload: its content against its name (owned) */
	/* framing and progress */
	uint64_t clen;     /* declared Content-Length */
	uint64_t received; /* body bytes that arrived */
	uint64_t sent;     /* response body bytes written */
	uint64_t win_mark; /* received + sent when the rate window began */
	int timed;         /* the rate timer is armed */
	int body_done;
	int close_after;   /* framing refused: close once answered */
	struct sse_client *sse; /* GET /v1/events/stream: the rest of the connection is it */
	struct browse_dl *dl;   /* GET /v1/snapshots/{id}/file: the download under way (owned) */
	struct session_info sess; /* AUTH_SESSION: whose cookie */
	uint64_t pw_id;           /* nonzero: a password task of this request is on the worker */
	struct pw_task *pw_done;  /* it, finished, to answer from the writeable callback */
	/* headers the next response carries besides the usual ones (respond_header) */
	struct {
		char name[24]; /* lower case, with its colon: "set-cookie:" */
		char value[200];
	} xh[2];
	int nxh;
};

/* ---- budgets.c ---- */

/* LWS_CALLBACK_FILTER_NETWORK_CONNECTION on listener: 0 keeps the
 * connection, -1 refuses it; pauses listener while many handshakes are under way. */
int conn_accept(struct lws *listener, const struct lws_filter_network_conn_args *a, int fd);
/* Notes the connection's descriptor while it is open, for its count. */
void conn_tag(struct lws *wsi, struct pss *p);
/* The connection on descriptor fd closed: uncounted. */
void conn_forget(int fd);
/* The peer's address as text into buf ("-" if unknown). */
const char *peer_of(struct lws *wsi, char *buf, size_t cap);
/* The rate window: armed while a body is expected or a response written. */
void rate_arm(struct lws *wsi, struct pss *p);
void rate_disarm(struct lws *wsi, struct pss *p);
/* LWS_CALLBACK_TIMER: -1 closes a connection that moved too little. */
int rate_check(struct lws *wsi, struct pss *p);

/* ---- respond.c (each returns what the callback must return) ---- */

/* Sends headers and arranges for the body (p->out or a stream) to follow;
 * with Cache-Control: no-store. */
int start_response(struct lws *wsi, struct pss *p, int status, const char *ctype, uint64_t len,
                   const char *content_range);
/* One more response header: name lowercase with its colon ("etag:"). */
struct http_hdr {
	const char *name, *value;
};
/* start_response with these headers instead of Cache-Control: no-store. */
int start_response_hdrs(struct lws *wsi, struct pss *p, int status, const char *ctype,
                        uint64_t len, const char *content_range, const struct http_hdr *hdrs,
                        size_t nhdrs);
/* A response whose body the caller wrote itself is complete: the
 * connection is kept for the next request, or closed. */
int respond_done(struct lws *wsi, struct pss *p);
/* Adds a header to the next response of this connection (at most 2; the
 * value is cut to 199 bytes). */
void respond_header(struct pss *p, const char *name, const char *value);
/* j (stolen) as the body. */
int respond_json(struct lws *wsi, struct pss *p, int status, json_t *j);
int respond_error(struct lws *wsi, struct pss *p, int status, const char *code, const char *msg);
/* text[0..n) (copied) as the body, of type ctype. */
int respond_text(struct lws *wsi, struct pss *p, int status, const char *ctype, const char *text,
                 size_t n);

/* ---- repo_api.c ---- */

/* GET, HEAD, listings and DELETE of /v1/repo/... */
int repo_api_request(struct lws *wsi, struct pss *p);
/* PUT: at the headers, decides whether the body is stored or discarded. */
void repo_api_upload_begin(struct pss *p, uint64_t clen);
/* PUT: the body is in; hands it to the committer (answered when done). */
int repo_api_upload_finish(struct lws *wsi, struct pss *p);
/* The answer for a finished commit. */
int repo_api_answer_commit(struct lws *wsi, struct pss *p, const struct commit *c);
/* Event loop: results of finished commits go to their connections. */
void repo_api_commits_done(void);
/* The connection no longer waits for its upload's commit. */
void repo_api_forget(struct pss *p);

/* ---- api_users.c ---- */

/* /v1/users[/ID], /v1/login, /v1/logout, /v1/session: 1 when the request is
 * one of them, with *rc what the callback returns (the answer is sent, or
 * follows when its password task is done). The credential was vetted by
 * http.c's gate (authz.c, CSRF) already. */
int api_users_request(struct lws *wsi, struct pss *p, int *rc);
/* Event loop: finished password tasks go to their connections. */
void api_users_tasks_done(void);
/* The answer for a finished task (writeable callback); frees it. */
int api_users_answer(struct lws *wsi, struct pss *p, struct pw_task *t);
/* The connection no longer waits for its password task. */
void api_users_forget(struct pss *p);

#endif
