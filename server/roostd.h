/* SPDX-License-Identifier: MIT */
/*
 * roostd's shared state and the interfaces between its parts:
 *
 *   main.c      arguments, the data directory (store, TLS, admin token,
 *               default repository), the event loop
 *   http.c      the libwebsockets protocol: HTTP requests and the agent
 *               WebSocket on one TLS port; routing; response writing
 *   api.c       REST handlers (admin routes, enrollment)
 *   bodies.c    strict decoding of REST request bodies (fuzzed)
 *   db.c        store queries and the API's JSON objects
 *   hub.c       agent connections, message handling
 *   dispatch.c  fires, pending runs, catch-up, the job lifecycle
 *             and the append-only object API for agents
 *
 * Everything runs on the one event-loop thread, so no locking: a request,
 * a frame and a timer each run to completion.
 */
#ifndef ROOSTD_ROOSTD_H
#define ROOSTD_ROOSTD_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stdint.h>

#include "auth.h"
#include "roost/backend.h"
#include "roost/error.h"
#include "roost/proto.h"
#include "roost/repo.h"
#include "roostd_sched.h"
#include "store.h"

struct agent_conn;

struct srv {
	struct lws_context *lws;
	struct store *st;
	char *data_dir;
	uint8_t admin_hash[AUTH_HASH_LEN];
	int64_t settle_s;
	int64_t agent_timeout_s; /* silent this long: gone; pinged after a third */
	struct catchup_heap *heap;
	lws_sorted_usec_list_t sul_catchup;
	int sul_armed;
	int64_t sul_due;
	struct roost_backend *repo_be;
	struct roost_repo *repo;  /* opened lazily, for snapshot listings */
	char repo_password[128];
	/* agent connections by host id (open addressing) */
	struct agent_conn **conns;
	size_t conns_cap, nconns;
	volatile int stop;
	/* unit tests: the clock, and the agents, without a network */
	int64_t fake_now;                          /* nonzero: srv_now() returns it */
	int (*send_hook)(int64_t host_id, json_t *msg); /* replaces the hub when set */
	int (*online_hook)(int64_t host_id);
};

extern struct srv *g_srv;

/* ---- time ---- */
int64_t srv_now(void);
json_t *json_time(int64_t t); /* RFC 3339 string, or null for 0 */

/* ---- db.c ---- */
/* Prepares sql and binds args by types: 'i' int64, 't' text (NULL = null),
 * 'b' blob (pointer, then size_t length). NULL on failure (logged). */
sqlite3_stmt *db_q(const char *sql, const char *types, ...);
/* Runs a statement to completion; SQLITE_DONE on success. */
int db_exec(const char *sql, const char *types, ...);
/* First column of the first row as int64, or dflt. */
int64_t db_int(int64_t dflt, const char *sql, const char *types, ...);
int db_begin(void);
int db_commit(void);
void db_rollback(void);

json_t *db_host_json(int64_t host_id);             /* NULL if absent */
json_t *db_group_json(int64_t group_id);
json_t *db_schedule_json(int64_t schedule_id);
json_t *db_job_json(int64_t job_id);
/* Resolves "HOST" as an id or a unique name; 0 if none. */
int64_t db_host_resolve(const char *ref);
/* The host's zone name (malloc'd) or NULL for UTC. */
char *db_host_tz(int64_t host_id);
/* Overdue (schedule, group) pairs of a host as of now, for `overdue` and catch-up.
 * Returns the count; fills out[0..cap). */
size_t db_overdue(int64_t host_id, int64_t now, struct catchup_due *out, size_t cap);
/* The config message pushed to a host. */
json_t *db_config_json(int64_t host_id);

/* ---- hub.c ---- */
int hub_online(int64_t host_id);
/* Queues a message to the host's agent; -1 if not connected or its queue is full. */
int hub_send(int64_t host_id, json_t *msg);
/* Pushes the host's config again (after a change of its groups or schedules). */
void hub_push_config(int64_t host_id);
/* Closes the host's connection (host removed). */
void hub_kick(int64_t host_id);

/* ---- dispatch.c ---- */
int host_busy(int64_t host_id);
/* Creates a job and sends job.start; returns the job id or 0. */
int64_t dispatch_job(int64_t host_id, int64_t schedule_id, int64_t group_id, const char *kind,
                     const char *trigger, const char *params, const char *why);
void dispatch_fire(int64_t host_id, int64_t schedule_id, int64_t slot, const char *via);
void dispatch_hello(int64_t host_id, const struct proto_msg *m);
void dispatch_job_msg(int64_t host_id, const struct proto_msg *m);
void dispatch_disconnected(int64_t host_id);
/* When a host's last job ends: the oldest pending run. */
void dispatch_pending(int64_t host_id);
void catchup_arm(int64_t host_id, int64_t due);
void catchup_timer_cb(lws_sorted_usec_list_t *sul);
/* Sends job.start for every queued job of the host that its agent does not have. */
void dispatch_resend_queued(int64_t host_id);

/* ---- http.c / api.c / repo_api.c ---- */
enum auth_kind { AUTH_NONE = 0, AUTH_ADMIN, AUTH_HOST };

struct req {
	const char *method;
	const char *path;
	const char *query;      /* "a=1&b=2" (decoded values), may be "" */
	const char *body;
	size_t blen;
	enum auth_kind auth;
	int auth_bad;           /* credentials given but wrong */
	int64_t host_id;        /* for AUTH_HOST */
};

struct resp {
	int status;
	json_t *json;           /* body (stolen) */
};

void api_handle(struct req *rq, struct resp *rs);
void resp_error(struct resp *rs, int status, const char *code, const char *msg,
                const char *field);
/* The value of a query parameter (copied into buf), or NULL. */
const char *query_get(const char *query, const char *key, char *buf, size_t cap);

/* ---- bodies.c: request bodies, validated ---- */
struct body_group {
	char name[129];
	json_t *paths, *excludes; /* arrays of strings (owned) */
	int has_name, has_paths, has_excludes;
};
struct body_schedule {
	char name[129];
	char cron[513];
	int enabled; /* -1 absent */
	json_t *group_ids; /* array of positive ints (owned), or NULL */
	int has_name, has_cron;
};
struct body_restore {
	char snapshot_id[129];
	char target[4097];
	json_t *include; /* array of strings (owned), may be NULL */
};
/* Each returns 0, or -1 with rs filled (400 and a message naming the field).
 * `partial` (PATCH) makes every field optional. */
int body_group(const char *b, size_t n, int partial, struct body_group *g, struct resp *rs);
void body_group_free(struct body_group *g);
int body_schedule(const char *b, size_t n, int partial, struct body_schedule *s,
                  struct resp *rs);
void body_schedule_free(struct body_schedule *s);
int body_restore(const char *b, size_t n, struct body_restore *r, struct resp *rs);
void body_restore_free(struct body_restore *r);
/* Generic: a JSON object, or -1 with rs filled. */
json_t *body_object(const char *b, size_t n, struct resp *rs);

#endif
