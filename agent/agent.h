/* SPDX-License-Identifier: MIT */
/*
 * roost-agent (DESIGN.md, "roost-agent" and "Agent <-> server"), one file
 * per role; this header is the map, a section per file:
 *
 *   main.c     commands (enroll, run, --help); owns the parts and wires them
 *   conn.c     the connection to roostd: libwebsockets client, pinned
 *              certificate, reconnect backoff, keepalive, the 250 ms tick
 *   cronrun.c  the local cron: fires the host's schedules from the clock it
 *              is given, persists cursors and fires
 *   jobs.c     the job queue and the job thread that runs backups/restores
 *   msg.c      every message the agent builds or reads, one function each
 *   state.c    the state directory's files
 *
 * Threads: the main thread runs conn.c and cronrun.c and owns their
 * structs; the job thread runs jobs.c's worker. struct jobs is the only
 * thing the two threads share, always under its mutex (jobs_* functions
 * lock it themselves). The job thread wakes the main thread through the
 * callback given to jobs_start (lws_cancel_service()).
 *
 * What survives a restart (state directory): identity.json (host id,
 * secret, pinned fingerprint), config.json (the last config), cursor.json
 * (per schedule, the time up to which it was evaluated), fires.json (recent
 * fires, re-sent with every hello; the server drops those it has seen) and
 * jobs.json (queued jobs, the running one, the last finished ones, all
 * reported with every hello so nothing stays running on the server).
 */
#ifndef ROOST_AGENT_H
#define ROOST_AGENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct roost_progress;

/* ---------------------------------------------------------------- state.c */

/* Replaces DIR/name with j atomically (0600). 0 on success. */
int state_write(const char *dir, const char *name, json_t *j);
/* DIR/name parsed, or NULL if absent or unreadable. Caller decrefs. */
json_t *state_read(const char *dir, const char *name);

/* Who this agent is (identity.json). Plain data, immutable once loaded:
 * any thread may read it. */
struct agent_identity {
	char url[512];  /* https://HOST[:PORT] */
	char host[256]; /* from url */
	int port;       /* from url, 443 if absent */
	char fp[65];    /* pinned SHA-256 of the server's certificate, lowercase hex */
	char auth[160]; /* "Bearer <host_id>.<secret>" */
	char name[160]; /* the host's name at enrollment, "" if unknown */
	int64_t host_id;
};

/* Loads DIR/identity.json into *id. 0, or 2 (usage-level failure: not
 * enrolled, incomplete, bad URL) after a message on stderr. */
int state_load_identity(const char *dir, struct agent_identity *id);

/* ------------------------------------------------------------------ msg.c */
/*
 * The agent's side of the protocol, wire format unchanged: builders return
 * a new object (caller decrefs), readers borrow from the message they are
 * given. Nothing here keeps state; any thread may call them.
 */

/* agent -> server */
/* jobs: stolen; fires: borrowed (referenced by the result). */
json_t *msg_hello(const char *tz, int64_t clock, json_t *jobs, json_t *fires);
json_t *msg_fire(int64_t schedule_id, const char *slot);
json_t *msg_job_accepted(int64_t job_id, int64_t started_at);
json_t *msg_job_progress(int64_t job_id, const struct roost_progress *p);
/* A copy of a job's final state (msg_job_final*) with its type. */
json_t *msg_job_finished(json_t *final_state);
/* A job's final state as kept in jobs.json, reported in hello and sent in
 * job.finished. error may be NULL or "". */
json_t *msg_job_final(int64_t job_id, const char *status, int64_t started_at, uint64_t files,
                      uint64_t bytes, uint64_t bytes_new, const char *snapshot_id,
                      const char *error);
/* The short form, for a job that never ran (canceled while queued, lost). */
json_t *msg_job_final_short(int64_t job_id, const char *status, const char *error);
/* One entry of hello's "jobs" for a job not finished yet ("running", "queued"). */
json_t *msg_hello_job(int64_t job_id, const char *status);
/* One entry of hello's "fires" (as kept in fires.json), and its slot (0 if
 * unreadable). */
json_t *msg_hello_fire(int64_t schedule_id, const char *slot);
int64_t msg_hello_fire_slot(const json_t *f);

/* server -> agent */
/* Parses one frame. NULL if it is not a JSON object with a "type"; then
 * err holds the parser's message ("" when it parsed). *type borrows from
 * the result. */
json_t *msg_decode(const char *buf, size_t len, const char **type, char *err, size_t errcap);
/* The job_id of any job message or job state; 0 if absent. */
int64_t msg_job_id(const json_t *m);
/* job.start: 0 and *id, or -1 if job_id is not an integer. */
int msg_job_start_id(const json_t *m, int64_t *id);

/* job.start's content. Strings borrow from the message; the vectors are
 * allocated (msg_job_start_release frees them). */
struct msg_job_start {
	int64_t job_id;
	const char *kind;         /* "backup", "restore", or anything else */
	const char *group_name;   /* backup; NULL if absent */
	const char **paths, **excludes;
	size_t npaths, nexcludes;
	const char *snapshot_id;  /* restore */
	const char *target;       /* restore */
	const char **includes;    /* restore */
	size_t nincludes;
};
/* 0, or -1 when out of memory (a vector is then NULL). Always release. */
int msg_job_start_read(const json_t *m, struct msg_job_start *js);
void msg_job_start_release(struct msg_job_start *js);

/* config (also config.json, which is the last config as received) */
int msg_config_intermittent(const json_t *config); /* mode is "intermittent" */
const char *msg_config_mode(const json_t *config); /* NULL if absent */
const char *msg_config_name(const json_t *config); /* NULL if absent */
json_t *msg_config_repository(const json_t *config); /* borrowed; NULL if absent */
json_t *msg_config_schedules(const json_t *config);  /* borrowed array */
size_t msg_config_ngroups(const json_t *config);
/* timeout_s in ms when it is within 3..3600 s, else dflt. */
int64_t msg_config_timeout_ms(const json_t *config, int64_t dflt);
/* One element of msg_config_schedules. *expr may be NULL (invalid);
 * *enabled: enabled and with at least one group. */
void msg_schedule_read(const json_t *s, int64_t *id, int *enabled, const char **expr);

/* -------------------------------------------------------------- cronrun.c */
/*
 * The local cron. Single-threaded (the main thread); time is always a
 * parameter, so the decisions are testable without a clock.
 *
 * Semantics (DESIGN.md, "Scheduling semantics"): each schedule has a
 * cursor, the time up to which it was evaluated. A tick at `now` finds the
 * latest slot in (cursor, now], moves the cursor to now and fires that one
 * slot (missed slots coalesce into one fire). Always-on hosts persist every
 * fire (fires.json) and hand it to the sink; one not delivered now goes
 * with the next hello. Intermittent hosts leave missed windows to the
 * server's catch-up: at start-up every cursor jumps to now, and a slot more
 * than CRONRUN_LATE_S old at the tick that finds it (a laptop that slept
 * through it) is skipped. Disabled schedules and schedules without groups
 * move their cursor and never fire. A schedule seen for the first time
 * starts at now.
 */
#define CRONRUN_LATE_S 5

struct cronrun;

/* Delivers one fire; returns 1 if it was sent now, 0 if it waits for the
 * next hello (it is persisted either way). slot is RFC 3339 UTC. */
typedef int (*cronrun_fire_fn)(void *ctx, int64_t schedule_id, const char *slot);

/* Opens the cron of state directory `state` (borrowed, must outlive the
 * result): reads cursor.json and fires.json, applies the start-up rule of
 * config's mode, loads config's schedules (host zone tz for expressions
 * without CRON_TZ=; NULL or "" is UTC). NULL when out of memory. Free with
 * cronrun_free. */
struct cronrun *cronrun_open(const char *state, const char *tz, const json_t *config,
                             int64_t now);
/* A new config (schedules, mode) received at now. */
void cronrun_load(struct cronrun *cr, const json_t *config, int64_t now);
/* Evaluates every schedule at now; fires go to fire(ctx, ...). */
void cronrun_tick(struct cronrun *cr, int64_t now, cronrun_fire_fn fire, void *ctx);
/* The persisted fires, [{schedule_id, slot}] (borrowed; valid until the
 * next cronrun_tick or cronrun_free). */
json_t *cronrun_fires(const struct cronrun *cr);
/* NULL is a no-op. */
void cronrun_free(struct cronrun *cr);

/* ----------------------------------------------------------------- jobs.c */
/*
 * The job queue and the job thread: job.start messages are queued, run one
 * at a time (backup or restore through the server's object API), and their
 * final states kept (the last 20) and reported with every hello. Every
 * function is thread-safe (one mutex) unless it says otherwise.
 */
struct jobs;

/* Opens the queue of state directory `state` and identity id (both
 * borrowed, must outlive the result): reads jobs.json, turns a job that
 * was running when the agent died into "interrupted", creates the cache
 * directory. config: the last config (repository access). NULL when out of
 * memory. Not thread-safe (before jobs_start). */
struct jobs *jobs_open(const char *state, const struct agent_identity *id,
                       const json_t *config);
/* Starts the job thread; wake(ctx) is called from it whenever there is
 * something in the outbox. 0 or -1. */
int jobs_start(struct jobs *j, void (*wake)(void *ctx), void *ctx);
/* Async-signal-safe: cancels the running job, starts no other. */
void jobs_interrupt(struct jobs *j);
/* Stops and joins the job thread (the running job is canceled). */
void jobs_stop(struct jobs *j);
/* After jobs_stop (or without jobs_start). NULL is a no-op. */
void jobs_free(struct jobs *j);

/* config: repository access (deep-copied), the host's name if not NULL. */
void jobs_set_config(struct jobs *j, const json_t *repository, const char *name);
/* Queues a job.start (copied) unless a job with its id is already known. */
void jobs_enqueue(struct jobs *j, const json_t *start, int64_t job_id);
/* job.cancel: cancels the running job or drops the queued one. */
void jobs_cancel(struct jobs *j, int64_t job_id);
/* The jobs for hello: running, queued, then the final states. New array. */
json_t *jobs_report(struct jobs *j);
/* Takes the messages waiting to be sent (new array, caller decrefs); with
 * *progress a job.progress when one is due at now_ms (at most 1/s), else
 * NULL. */
json_t *jobs_take_outbox(struct jobs *j, int64_t now_ms, json_t **progress);

/* ----------------------------------------------------------------- conn.c */
/*
 * The connection to roostd. Everything here runs on the main thread, in
 * the libwebsockets service loop, except conn_wake and conn_interrupt.
 */
struct conn;

/* The connection for identity id (borrowed), reporting zone tz (borrowed),
 * driving cr and j (borrowed). config: the last config (timeout_s). NULL
 * if the libwebsockets context could not be created. */
struct conn *conn_new(const struct agent_identity *id, const char *state, const char *tz,
                      const json_t *config, struct cronrun *cr, struct jobs *j);
/* Connects and services until conn_interrupt. */
void conn_run(struct conn *c);
/* Thread-safe: wakes the service loop to drain the jobs outbox. */
void conn_wake(void *c);
/* Async-signal-safe: makes conn_run return. */
void conn_interrupt(struct conn *c);
/* NULL is a no-op. */
void conn_free(struct conn *c);

#endif
