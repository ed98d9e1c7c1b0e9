/* SPDX-License-Identifier: MIT */
/*
 * roostd's shared state and the map of its files (docs/architecture.md has
 * the whole tree). One section per file below; self-contained pieces have
 * headers of their own (store.h, dueheap.h, hub.h, auth.h, committer.h).
 *
 *   main.c       arguments, the data directory (store, TLS, admin token,
 *                default repository), wiring, the event loop
 *   srv.c        struct srv (g_srv) and the clock, srv_now()
 *   store.c      the store's API over its engines (store_sqlite.c, store_pg.c)
 *                and the numbered migrations
 *   db.c         bound-parameter queries and small host/schedule facts
 *   views.c      the REST API's JSON objects: host, group, schedule, job
 *   http.c       the libwebsockets callback: a request's path (framing,
 *                auth, routing), the agent WebSocket handed to the hub
 *   budgets.c    connection budgets: per-address and total counts, the
 *                rate window, housekeeping (http.h, http_int.h)
 *   respond.c    HTTP responses (headers, JSON bodies, streams)
 *   repo_api.c   the repository object API: listings, GET/HEAD, PUT
 *   objcheck.c   an upload's content checked against its name
 *   api.c        REST handlers (admin routes, enrollment)
 *   api_common.c what handler files share: query parameters, answers
 *   api_repository.c  snapshots, GET /v1/repository, maintenance routes
 *   maintenance.c     maintenance runs on their own thread (maintenance.h)
 *   retention.c  which snapshots a run removes, and why (retention.h)
 *   bodies.c     strict decoding of REST request bodies (fuzzed)
 *   committer.c  the thread that makes uploaded objects durable
 *   fault.c      ROOST_FAULT: failures injected at named sites (tests)
 *   hub.c        agent connections: frames in, queued messages out
 *   agents.c     what an agent's hello, messages and disconnect lead to;
 *                the config message
 *   jobs.c       the job lifecycle: create, start, report, finish, cancel
 *   fires.c      fires from always-on hosts, idempotent per slot
 *   pending.c    pending runs: fires while busy, coalesced, FIFO
 *   catchup.c    catch-up of intermittent hosts: the overdue rule, arm, run
 *   dueheap.c    due times by id (the catch-up timer's heap)
 *   defer.c      deferred jobs: the rule, create, release, the timer (defer.h)
 *   auth.c       secrets, hashes, constant-time comparison
 *   events.c     the append-only event log: emit, list (events.h)
 *   sse.c        the live event stream, Server-Sent Events (sse.h)
 *   api_events.c REST routes of events and webhooks
 *   presence.c   sessions and last_seen_at of hosts (presence.h)
 *   health.c     a host's health: the rule and its facts (health.h)
 *   healthwatch.c the health sweep: changes stored, announced, flap-limited
 *   webhooks.c   the delivery thread: webhooks and mail (webhooks.h)
 *   whsign.c     Standard Webhooks secrets and signatures (whsign.h)
 *   mail.c       a notification mail's text (mail.h)
 *   metrics.c    GET /metrics, Prometheus text (metrics.h)
 *   authz.c      who may do what: the role table (authz.h)
 *   users.c      users: names, roles, Argon2id hashes (users.h)
 *   sessions.c   sessions: the cookie, expiry, CSRF tokens (sessions.h)
 *   login_throttle.c  failed logins per name and address (login_throttle.h)
 *   pwworker.c   the password thread: hashing, verifying (pwworker.h)
 *   api_users.c  /v1/users, /v1/login, /v1/logout, /v1/session (http_int.h)
 *   instances.c  several roostd over one store: this one's row, heartbeat,
 *                split brain (instances.h; docs/scale-out.md)
 *   leases.c     one holder of a fleet-wide chore, fenced by epochs (leases.h)
 *   route.c      a host's actions done by its owner: here or a poke (route.h)
 *   notify.c     the LISTEN connection's thread (notify.h)
 *   sweeper.c    dead instances' hosts let go, under a lease (sweeper.h)
 *   cluster.c    the wiring of the above that main.c starts (cluster.h)
 *
 * Calls go one way (scripts/server-deps.py checks it in make check):
 * http -> api -> agents -> fires -> pending -> jobs -> db; catchup -> jobs;
 * views -> catchup; the hub calls nothing of the scheduling core and is
 * reached from it only through hub_send/hub_online.
 *
 * Everything runs on the one event-loop thread, so no locking: a request,
 * a frame and a timer each run to completion (the committer thread hands
 * its results back through the event loop).
 */
#ifndef ROOSTD_ROOSTD_H
#define ROOSTD_ROOSTD_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stdint.h>

#include "auth.h"
#include "authz.h"
#include "dueheap.h"
#include "hub.h"
#include "roost/backend.h"
#include "roost/error.h"
#include "roost/proto.h"
#include "roost/repo.h"
#include "store.h"

struct agent_conn;

/* ---- srv.c ---- */

struct srv {
	struct lws_context *lws;
	struct store *st;
	char *data_dir;
	uint8_t admin_hash[AUTH_HASH_LEN];
	uint8_t metrics_hash[AUTH_HASH_LEN]; /* DIR/metrics.token, when has_metrics_token */
	int has_metrics_token;
	/* health (health.c, healthwatch.c) */
	int64_t overdue_grace_s;  /* a missed window is overdue this long after it (online) */
	int64_t unseen_after_s;   /* no connection this long: unseen */
	int64_t health_flap_s;    /* health events of a host at most one per this, held meanwhile */
	int64_t settle_s;        /* catch-up settle window */
	int64_t agent_timeout_s; /* silent this long: gone; pinged after a third */
	struct due_heap *catchups; /* intermittent hosts in their settle window */
	lws_sorted_usec_list_t sul_catchup;
	int sul_armed;
	int64_t sul_due;
	int64_t catchup_jitter_s;  /* --catchup-jitter: a host's stable extra delay is in [0, this) */
	uint8_t jitter_key[16];    /* keys the per-host offset (catchup_jitter) */
	struct due_heap *deferrals; /* hosts with window-deferred jobs, at their next opening */
	lws_sorted_usec_list_t sul_defer;
	int sul_defer_armed;
	int64_t sul_defer_due;
	struct roost_backend *repo_be;
	struct roost_repo *repo;  /* opened lazily, for snapshot listings */
	const char *repo_dir;     /* the repository's location: a directory or s3:... */
	int64_t prune_grace_s;    /* --prune-grace */
	unsigned check_sample;    /* --check-sample */
	char repo_password[128];
	/* the dashboard's users (sessions.c, api_users.c) */
	int64_t session_ttl_s;    /* --session-ttl: a session ends this long after login */
	int64_t session_idle_s;   /* --session-idle: ... or this long after its last request */
	char fingerprint[65];     /* the TLS certificate's SHA-256, hex (GET /v1/session) */
	uint8_t repo_put[ROOST_PUT_MATERIAL_LEN]; /* the put-only material agents get */
	/* the hub's connections, indexed by host id (NULL: not connected) */
	struct agent_conn **conns;
	size_t conns_cap, nconns;
	volatile int stop;
	/* unit tests: the clock, and the agents, without a network */
	int64_t fake_now;                          /* nonzero: srv_now() returns it */
	int (*send_hook)(int64_t host_id, json_t *msg); /* replaces the hub when set */
	int (*online_hook)(int64_t host_id);
};

extern struct srv *g_srv;

/* Seconds since the epoch, UTC (fake_now when a test set it). */
int64_t srv_now(void);
/* RFC 3339 string, or null for 0 (new reference). */
json_t *json_time(int64_t t);

/* ---- db.c ---- */

/* Prepares sql and binds args by types: 'i' int64, 't' text (NULL = null),
 * 'b' blob (pointer, then size_t length). NULL on failure (logged). The
 * statement comes from the store's cache; the caller gives it back with
 * db_done or db_finalize (both reset a cached one). */
struct db_stmt *db_q(const char *sql, const char *types, ...);
/* As db_q, for the questions asked again and again (a view of every host):
 * the statement is prepared once and kept in the store's cache. Give it back
 * with db_done. */
struct db_stmt *db_qc(const char *sql, const char *types, ...);
/* Gives back a statement of db_qc (reset for its next use); any other is
 * finalized. NULL: no-op. */
void db_done(struct db_stmt *st);
/* Runs a statement to completion; DB_DONE on success. A failure (a
 * constraint, a full disk, an I/O error) is logged and counted. */
int db_exec(const char *sql, const char *types, ...);
/* A write with RETURNING (an INSERT's id, a claim's value): the first
 * column of its row, 0 when it gave no row (ON CONFLICT DO NOTHING, a
 * condition that did not hold), -1 on failure (logged and counted, as
 * db_exec's). */
int64_t db_returning(const char *sql, const char *types, ...);
/* First column of the first row as int64, or dflt. */
int64_t db_int(int64_t dflt, const char *sql, const char *types, ...);
/* A transaction: db_begin() resets the failure count; db_commit() commits
 * only when no write since db_begin() failed, else rolls back; 0 or -1.
 * Every API write goes through one, so a 2xx means the store kept it. */
int db_begin(void);
int db_commit(void);
void db_rollback(void);
/* Rows changed by the last write; the id the last INSERT gave its row. */
int64_t db_changes(void);
int64_t db_last_id(void);
/* Failed writes since the last db_begin(), and the last failure's message. */
int db_failures(void);
const char *db_last_error(void);
/* Resolves "HOST" as an id or a unique name; 0 if none. */
int64_t db_host_resolve(const char *ref);
/* The host's zone name (malloc'd) or NULL for UTC. */
char *db_host_tz(int64_t host_id);
/* The host's mode into mode[cap]; 0, or -1 if there is no such host. */
int db_host_mode(int64_t host_id, char *mode, size_t cap);
/* Has the host a current (queued or running) job? */
int db_host_busy(int64_t host_id);
/* hosts.current_job_id := its running job, else its oldest queued one, else null. */
void db_host_refresh_current(int64_t host_id);
/* The groups of one of the host's schedules into out[0..cap); *enabled is
 * the schedule's flag, or -1 when the host has no such schedule. Count. */
size_t db_schedule_groups(int64_t host_id, int64_t schedule_id, int64_t *out, size_t cap,
                          int *enabled);
/* A group as the protocol carries it (config, job.start) into *g, zeroed by
 * the caller and released with proto_group_release; 0, or -1 if absent. */
int db_group_load(int64_t group_id, struct proto_group *g);

/* ---- views.c: the API's objects (new references; NULL if absent) ---- */

json_t *view_host(int64_t host_id);
json_t *view_group(int64_t group_id);
json_t *view_schedule(int64_t schedule_id);
json_t *view_job(int64_t job_id);

/* ---- agents.c ---- */

/* Registered with the hub by main.c. */
extern const struct hub_handler agents_handler;
/* Starts the once-a-second retry of unrecorded job ends (after the lws context exists). */
void agents_start(void);
/* The retry itself: records what it can, then each such idle host's next pending run. */
void agents_retry_unrecorded(void);
void agents_on_hello(int64_t host_id, const struct proto_msg *m);
/* Any message (a hello included): what it leads to. */
void agents_on_message(int64_t host_id, const struct proto_msg *m);
void agents_on_disconnect(int64_t host_id);
/* The config message of a host (new reference). */
json_t *agents_config_msg(int64_t host_id);
/* Pushes the host's config again, if connected (after a change of its host
 * row, groups or schedules). */
void agents_push_config(int64_t host_id);
/* ... on this instance's own connection (route.c's local action): 0 sent. */
int agents_push_config_here(int64_t host_id);

/* ---- jobs.c ---- */

/* A queued job in the store (current_job_id set if none); its id, or 0. */
int64_t jobs_create(int64_t host_id, int64_t schedule_id, int64_t group_id, const char *kind,
                    const char *trigger, const char *params);
/* Sends job.start for the job (through its host's owner, route.c); 0, or -1
 * if the agent can not be reached. */
int jobs_send_start(int64_t host_id, int64_t job_id);
/* The same, and job.cancel, on this instance's own connection (route.c's
 * local actions). */
int jobs_send_start_here(int64_t host_id, int64_t job_id);
int jobs_send_cancel_here(int64_t host_id, int64_t job_id);
/* jobs_create + jobs_send_start, logged with why; the job id or 0. A job
 * whose send fails stays queued: it is sent on the agent's next hello. */
int64_t jobs_dispatch(int64_t host_id, int64_t schedule_id, int64_t group_id, const char *kind,
                      const char *trigger, const char *params, const char *why);
/* Automatic dispatch (docs/scale-out.md 2.3), inside the caller's
 * transaction: claims the host, 1 when it was idle (current_job_id NULL; now
 * a placeholder the batch's first jobs_insert replaces), 0 busy, -1 failed. */
int jobs_claim_host(int64_t host_id);
/* A queued backup of a claimed host; the first names itself current. Its id, or 0. */
int64_t jobs_insert(int64_t host_id, int64_t schedule_id, int64_t group_id, const char *trigger);
/* A backup created `deferred` with its reason in error (not current, never
 * sent); 0 when one of its (host, schedule, group) waits already, -1 failed. */
int64_t jobs_insert_deferred(int64_t host_id, int64_t schedule_id, int64_t group_id,
                             const char *trigger, const char *reason);
/* deferred -> queued inside a transaction that claimed the host (the first
 * names itself current): 1 done, 0 not deferred any more (released
 * elsewhere, canceled), -1 failed. */
int jobs_requeue_deferred(int64_t host_id, int64_t job_id);
/* After the commit: a queued job announced (job.queued), sent, its dispatch
 * logged; 0 sent, -1 not (must_send: then neither announced nor logged). */
int jobs_send_logged(int64_t host_id, int64_t schedule_id, int64_t group_id, int64_t job_id,
                     const char *trigger, const char *why, int must_send);
/* Tells the live streams a job was created (job.queued): jobs_dispatch does
 * it itself; catch-up, which creates and sends on its own, once it is sent. */
void jobs_announce_queued(int64_t host_id, int64_t job_id);
/* Removes a job that was never sent (catch-up's send failure). */
void jobs_withdraw(int64_t host_id, int64_t job_id);
/* Applies a final state to a job of this host, once; records a backup's
 * success. -1 when the store could not record it: the report is then kept
 * and retried by jobs_retry_unrecorded (never lost). */
int jobs_finish(int64_t host_id, const struct proto_job *pj, const char *how);
/* Retries the kept reports; the hosts whose job they ended go to hosts[0..cap)
 * (their next pending run is the caller's). Count written. */
size_t jobs_retry_unrecorded(int64_t *hosts, size_t cap);
/* Reports kept because the store could not record them. */
size_t jobs_unrecorded(void);
/* job.accepted, job.progress, job.finished; 1 when a job ended (or its end
 * was kept for a retry). */
int jobs_on_report(int64_t host_id, const struct proto_msg *m);
/* A hello's job states: finished offline, running (accepted lost), or lost
 * (running here, unknown to the agent: interrupted). */
void jobs_resolve_hello(int64_t host_id, const struct proto_msg *m, int64_t now);
/* Sends job.start for every queued job of the host. */
void jobs_resend_queued(int64_t host_id);
enum jobs_cancel_result {
	JOBS_CANCEL_UNKNOWN = 1, /* no such job */
	JOBS_CANCEL_ENDED,       /* it had already ended */
	JOBS_CANCEL_SENT,        /* its agent was told; it reports the end */
	JOBS_CANCEL_ENDED_HERE,  /* queued, or its agent unreachable: canceled now */
	JOBS_CANCEL_STORE_FAILED, /* it should have ended here, but the store failed */
};
/* Cancels a job; *host_id is its host (0 if unknown). */
int jobs_cancel(int64_t job_id, int64_t *host_id);

/* ---- fires.c (always-on hosts) ---- */

enum fire_action {
	FIRE_DROP_SEEN = 1,  /* (host, schedule, slot) already handled */
	FIRE_DROP_COVERED,   /* a job of this schedule was created at or after the slot */
	FIRE_DISPATCH,       /* host idle: one backup job per group of the schedule */
	FIRE_COALESCE,       /* host busy: upsert the one pending run of (host, schedule) */
	FIRE_DROP_DISABLED,  /* schedule disabled, gone, or without groups */
};

struct fire_facts {
	int seen;                  /* the (host, schedule, slot) fire was recorded before */
	int schedule_usable;       /* exists, enabled, has at least one group */
	int64_t last_job_created;  /* newest job of this schedule on this host, or INT64_MIN */
	int host_busy;             /* the host has a queued or running job */
};

/* The rule: what to do with a fire of `slot` (seconds, UTC) given the facts. */
enum fire_action fires_decide(const struct fire_facts *f, int64_t slot);
const char *fires_action_name(enum fire_action a);
/* A fire from the host (via "live" or "persisted"): facts, rule, action. */
void fires_handle(int64_t host_id, int64_t schedule_id, int64_t slot, const char *via);

/* ---- pending.c ---- */

/* A fire while busy: upserts the one pending run of (host, schedule). */
void pending_coalesce(int64_t host_id, int64_t schedule_id, int64_t slot);
/* While the host is idle: dispatches its oldest pending run (trigger pending). */
void pending_dispatch(int64_t host_id);

/* ---- catchup.c (intermittent hosts) ---- */

struct catchup_group {
	int64_t group_id;
	int succeeded;          /* this (schedule, group) ever succeeded */
	int64_t last_success;   /* started_at of its last success */
};

struct catchup_schedule {
	int64_t schedule_id;
	const char *cron;       /* as stored; unparseable = never overdue */
	const char *tz;         /* the host's zone, or NULL for UTC */
	int enabled;
	const struct catchup_group *groups;
	size_t ngroups;
};

enum catchup_skip {
	CATCHUP_RUN = 0,
	CATCHUP_SKIP_OFFLINE,   /* not connected any more: re-arms on its next hello */
	CATCHUP_SKIP_ALWAYS_ON, /* switched to always-on during the settle window */
	CATCHUP_SKIP_BUSY,      /* a job is queued or running */
};

struct catchup_host {
	int connected;
	int intermittent;
	int busy;
};

struct catchup_due {
	int64_t schedule_id, group_id;
};

/* The rule, host part: may a due catch-up run now? */
enum catchup_skip catchup_gate(const struct catchup_host *h);
/* The rule, pair part: the overdue (schedule, group) pairs into out[0..cap);
 * returns how many there are (more than cap are counted, not written). A
 * pair is overdue when it never succeeded, or next(last_success) <= now.
 * Disabled schedules, schedules without groups and unparseable expressions
 * never are. */
size_t catchup_eval_overdue(const struct catchup_schedule *s, size_t ns, int64_t now,
                            struct catchup_due *out, size_t cap);
/* Both parts: the skip reason, or CATCHUP_RUN with the pairs in out, *n counted. */
enum catchup_skip catchup_eval(const struct catchup_host *h, const struct catchup_schedule *s,
                               size_t ns, int64_t now, struct catchup_due *out, size_t cap,
                               size_t *n);
const char *catchup_skip_name(enum catchup_skip s);
/* The pair rule over the store's rows of one host (the API's `overdue` too). */
size_t catchup_overdue(int64_t host_id, int64_t now, struct catchup_due *out, size_t cap);
/* Arms the host's catch-up at due for its connection epoch (re-arming
 * overwrites both); the timer follows. */
void catchup_arm(int64_t host_id, int64_t due, int64_t epoch);
/* A hello: the host's new connection epoch (hosts.conn_epoch + 1, one
 * statement; docs/scale-out.md 2.2), or 0 if the store failed. */
int64_t catchup_hello_epoch(int64_t host_id);
/* A host's stable catch-up offset in [0, jitter_s) (pure): the host id's place
 * in a golden-ratio sequence, rotated by a phase keyed with key (SipHash), so
 * consecutive ids spread evenly; 0 when jitter_s <= 0. */
int64_t catchup_jitter(const uint8_t key[16], int64_t host_id, int64_t jitter_s);
/* After a hello at now: arms the host's catch-up at now + settle + its offset,
 * for the hello's epoch. */
void catchup_arm_hello(int64_t host_id, int64_t now, int64_t epoch);
void catchup_disarm(int64_t host_id);
/* A due catch-up: gate, overdue pairs, then in one transaction the epoch's
 * claim (hosts.catchup_epoch: once per epoch, skipped when the host has
 * reconnected since), the host's, one backup each (trigger catchup); a failed
 * send withdraws the unsent jobs, gives the claim back and re-arms at now +
 * settle. */
void catchup_run(int64_t host_id, int64_t now, int64_t epoch);
/* The event loop's timer: runs every catch-up due by now, then re-arms. */
void catchup_timer_cb(lws_sorted_usec_list_t *sul);

/* ---- http.c (the lws protocol, routing) and api.c (REST handlers) ---- */
enum auth_kind {
	AUTH_NONE = 0,
	AUTH_ADMIN,
	AUTH_HOST,
	AUTH_METRICS, /* DIR/metrics.token */
	AUTH_SESSION, /* a dashboard user's cookie (sessions.c); its role decides (authz.c) */
};

struct req {
	const char *method;
	const char *path;
	const char *query;      /* "a=1&b=2" (decoded values), may be "" */
	const char *body;
	size_t blen;
	enum auth_kind auth;
	int auth_bad;           /* credentials given but wrong */
	int64_t host_id;        /* for AUTH_HOST */
	enum role role;         /* for AUTH_SESSION */
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
/* What every handler file answers with (api.c): j (stolen) with status; 503
 * when the store did not keep a write; 404 "WHAT not found"; 405. */
void api_ok(struct resp *rs, int status, json_t *j);
void api_store_failed(struct resp *rs, const char *what);
void api_not_found(struct resp *rs, const char *what);
void api_method_not_allowed(struct resp *rs);
int api_is(const struct req *rq, const char *method);
/* A positive decimal id; 0, or -1 if s is not one. */
int api_parse_id(const char *s, int64_t *out);

/* ---- api_repository.c: snapshots, the repository, maintenance ---- */
/* seg[0]="v1", seg[1] is "snapshots", "repository" or "maintenance" */
void api_repository_route(char **seg, int ns, struct req *rq, struct resp *rs);

/* ---- api_fleet.c: GET /v1/fleet and GET /v1/cron/next (api.c's router calls it) ---- */
/* 1 when seg names one of its routes (rs filled), else 0. */
int api_fleet_route(char **seg, int ns, struct req *rq, struct resp *rs);

/* ---- bodies.c: request bodies, validated ---- */
struct body_group {
	char name[129];
	json_t *paths, *excludes; /* arrays of strings (owned) */
	int has_name, has_paths, has_excludes;
	char dedup[8]; /* "fleet", "host" or "" (absent) */
	/* hooks: "" clears one; has_* when present; hook_timeout_s 0 when absent */
	char pre_hook[4097], post_hook[4097];
	int has_pre_hook, has_post_hook;
	int hook_timeout_s;
};
struct body_schedule {
	char name[129];
	char cron[513];
	char window[16];   /* "HH:MM-HH:MM" or "" (always), when has_window */
	int enabled; /* -1 absent */
	json_t *group_ids; /* array of positive ints (owned), or NULL */
	int has_name, has_cron, has_window;
	/* "retention": has_retention; null clears every rule, else the rules in
	 * keep_given (bit per rule, body_keep_names' order) are set to keep[] */
	int has_retention, retention_null;
	unsigned keep_given;
	int keep[6];
};
#define BODY_KEEP_RULES 6
/* keep_last ... keep_yearly: the JSON names, which are also the store's columns */
extern const char *const body_keep_names[BODY_KEEP_RULES];
struct body_restore {
	char snapshot_id[129];
	char from_host[160]; /* "": the host itself; else a cross-host restore's source */
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

/* ---- api_events.c: events and webhook routes (api.c's router calls it) ---- */
struct body_webhook {
	char url[2001];
	json_t *events; /* array of known event types or "*" (owned) */
	char format[16]; /* standard, ntfy or healthchecks */
};
/* POST /v1/webhooks's body, strictly (fuzzed); 0, or -1 with rs filled (400).
 * On 0 the caller releases w->events. */
int body_webhook(const char *b, size_t n, struct body_webhook *w, struct resp *rs);
/* /v1/events and /v1/webhooks...: 1 when the route is one of them (rs filled). */
int api_events_route(char **seg, int ns, struct req *rq, struct resp *rs);

#endif
