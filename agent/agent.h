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
 *   hooks.c    a group's pre-/post-hook: one shell command, bounded in time
 *              and output, in a process group of its own
 *   power.c    on battery? on a metered network? (polled; docs/policies.md)
 *   msg.c      thin glue to lib/proto, which encodes and decodes every
 *              message (the agent spells no wire key)
 *   state.c    the state directory's files
 *
 * Threads: the main thread runs conn.c and cronrun.c and owns their
 * structs; the job thread runs jobs.c's worker. struct jobs is the only
 * thing the two threads share, under its mutex (jobs_* functions lock it
 * themselves; the running job.start, which only the job thread changes, it
 * also reads unlocked: jobs.c). The job thread wakes the main thread
 * through the callback given to jobs_start (lws_cancel_service()).
 *
 * What survives a restart (state directory): identity.json (host id,
 * secret, pinned fingerprint), config.json (the last config), cursor.json
 * (per schedule, the time up to which it was evaluated), fires.json (recent
 * fires, re-sent with every hello; the server drops those it has seen) and
 * jobs.json (queued jobs, the running one, the last finished ones, all
 * reported with every hello so nothing stays running on the server).
 * config.json, fires.json and jobs.json hold protocol messages and entries,
 * read and written through lib/proto like the frames.
 */
#ifndef ROOST_AGENT_H
#define ROOST_AGENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/proto.h"

/* ---------------------------------------------------------------- state.c */

/* Replaces DIR/name with j atomically (0600). 0 on success. */
int state_write(const char *dir, const char *name, json_t *j);
/* DIR/name parsed, or NULL if absent or unreadable. Caller decrefs. */
json_t *state_read(const char *dir, const char *name);

/* Who this agent is (identity.json). Plain data, immutable once loaded:
 * any thread may read it. */
/* One roostd the agent may use (enroll --server URL, repeatable). */
struct agent_server {
	char url[512];  /* https://HOST[:PORT] */
	char host[256]; /* from url */
	int port;       /* from url, 443 if absent */
};
#define AGENT_MAX_SERVERS 8

struct agent_identity {
	/* Every instance of the fleet's roostd, in the order given at enrollment;
	 * they share one certificate (fp). The agent uses one at a time: conn.c
	 * moves on to the next when a connection fails or drops (agent_server_next),
	 * and a job's uploads go to the one in use when it starts. */
	struct agent_server servers[AGENT_MAX_SERVERS];
	int nservers;
	_Atomic int current; /* index into servers: the one in use */
	char fp[65];    /* pinned SHA-256 of the server's certificate, lowercase hex */
	char auth[160]; /* "Bearer <host_id>.<secret>" */
	char name[160]; /* the host's name at enrollment, "" if unknown */
	int64_t host_id;
	int allow_hooks; /* enrolled with --allow-hooks: groups' hooks may run here */
};

/* The server in use (any thread). */
const struct agent_server *agent_server(const struct agent_identity *id);
/* Moves to the next server in turn (the connection's thread); returns 1 when
 * that completes a round of all of them (0 with a single server: always). */
int agent_server_next(struct agent_identity *id);
/* Parses an https://HOST[:PORT] URL into *s. 0, or -1 after a message. */
int agent_server_parse(const char *url, struct agent_server *s);

/* Loads DIR/identity.json into *id. 0, or 2 (usage-level failure: not
 * enrolled, incomplete, bad URL) after a message on stderr. */
int state_load_identity(const char *dir, struct agent_identity *id);

/* DIR/config.json (the last config message) decoded by lib/proto into *c
 * (overwritten; the caller proto_config_release()s it). 0; -1 when it is
 * absent, or unreadable (then after a log line), with *c left zeroed: the
 * agent runs with no schedules until the server sends a config. */
int state_load_config(const char *dir, struct proto_config *c);
/* Replaces DIR/config.json with c. 0 on success. */
int state_save_config(const char *dir, const struct proto_config *c);

/* ------------------------------------------------------------------ msg.c */
/*
 * Glue between the parts and lib/proto (include/roost/proto.h), which
 * encodes and decodes every message both ways: the parts fill and read
 * proto structs, and no wire key is spelled in agent/. Encoders return a
 * new object (caller decrefs), or NULL after a log line when lib/proto
 * refuses the value (the agent sends only what it made, so that is a bug,
 * not the peer's fault). Nothing here keeps state; any thread may call
 * them.
 */

/* hello: fills h's protocol, agent_version, hostname, os, tz (NULL: "")
 * and clock, leaves its jobs and fires as given, and encodes it. */
json_t *msg_hello(struct proto_msg *h, const char *tz, int64_t clock);
/* fire {schedule_id, slot}. */
json_t *msg_fire(const struct proto_fire *f);
/* job.accepted, job.progress or job.finished of j. */
json_t *msg_job(enum proto_type type, const struct proto_job *j);
/* Zeroes *j and sets job_id, status and error (NULL or "" for none). */
void msg_job_state(struct proto_job *j, int64_t job_id, const char *status, const char *error);
/* The config's timeout_s in ms when it is within 3..3600 s, else dflt. */
int64_t msg_config_timeout_ms(const struct proto_config *c, int64_t dflt);

/* status {on_battery, metered}. */
json_t *msg_status(int on_battery, int metered);
/* --------------------------------------------------------------- power.c */
/*
 * The host's power and network (the main thread's; not thread-safe).
 * Environment: ROOST_AGENT_POWER_SUPPLY_DIR, ROOST_AGENT_POWER_POLL_MS
 * (default 2000), ROOST_AGENT_METERED=1|0 (else nmcli, at most every 30 s,
 * in a child process never waited for).
 */
struct power;
/* Reads the state once. NULL when out of memory; free with power_free. */
struct power *power_new(void);
/* Called often (the tick); checks every poll interval. 1 when the state changed. */
int power_poll(struct power *p, int64_t now_ms);
void power_state(const struct power *p, int *on_battery, int *metered);
/* The battery rule over a power_supply directory (tests call it on their own). */
int power_read_battery(const char *dir);
/* NULL is a no-op. */
void power_free(struct power *p);
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
 * next hello (it is persisted either way). */
typedef int (*cronrun_fire_fn)(void *ctx, const struct proto_fire *f);

/* Opens the cron of state directory `state` (borrowed, must outlive the
 * result): reads cursor.json and fires.json, applies the start-up rule of
 * config's mode, loads config's schedules (host zone tz for expressions
 * without CRON_TZ=; NULL or "" is UTC). NULL when out of memory. Free with
 * cronrun_free. */
struct cronrun *cronrun_open(const char *state, const char *tz,
                             const struct proto_config *config, int64_t now);
/* A new config (schedules, mode) received at now; config is not kept. */
void cronrun_load(struct cronrun *cr, const struct proto_config *config, int64_t now);
/* Evaluates every schedule at now; fires go to fire(ctx, ...). */
void cronrun_tick(struct cronrun *cr, int64_t now, cronrun_fire_fn fire, void *ctx);
/* The persisted fires, oldest first, *n of them (borrowed; valid until the
 * next cronrun_tick or cronrun_free). */
const struct proto_fire *cronrun_fires(const struct cronrun *cr, size_t *n);
/* NULL is a no-op. */
void cronrun_free(struct cronrun *cr);

/* ----------------------------------------------------------------- jobs.c */
/*
 * The job queue and the job thread: job.start messages are queued, run one
 * at a time (backup or restore through the server's object API), and their
 * final states kept (the last 20) and reported with every hello. jobs.json
 * holds them in the protocol's form (job.start messages, job entries).
 * Every function is thread-safe (one mutex) unless it says otherwise.
 */
struct jobs;

/* Opens the queue of state directory `state` and identity id (both
 * borrowed, must outlive the result): reads jobs.json, turns a job that
 * was running when the agent died into "interrupted", creates the cache
 * directory. config: the last config (repository access, the upload
 * limit). NULL when out of
 * memory. Not thread-safe (before jobs_start). */
struct jobs *jobs_open(const char *state, const struct agent_identity *id,
                       const struct proto_config *config);
/* Starts the job thread; wake(ctx) is called from it whenever there is
 * something in the outbox. 0 or -1. */
int jobs_start(struct jobs *j, void (*wake)(void *ctx), void *ctx);
/* Async-signal-safe: cancels the running job, starts no other. */
void jobs_interrupt(struct jobs *j);
/* Stops and joins the job thread (the running job is canceled). */
void jobs_stop(struct jobs *j);
/* After jobs_stop (or without jobs_start). NULL is a no-op. */
void jobs_free(struct jobs *j);

/* config: repository access (copied), the host's name if not "", and the
 * upload limit, which paces a running job's uploads from now on. */
void jobs_set_config(struct jobs *j, const struct proto_config *config);
/* Queues a job.start unless a job with its id is already known; takes
 * *start's contents either way (leaves it zeroed). A full queue fails the
 * job (reported like any final state). */
void jobs_enqueue(struct jobs *j, struct proto_job_start *start);
/* A job.start the agent could not decode (why: the decoder's message):
 * unless the job is known, it is failed at once and reported so. */
void jobs_reject(struct jobs *j, int64_t job_id, const char *why);
/* job.cancel: cancels the running job or drops the queued one. (Not
 * jobs_cancel: roostd's server/jobs.c has one, and the unit tests link
 * both.) */
void jobs_cancel_job(struct jobs *j, int64_t job_id);
/* The jobs for hello into h->jobs, h->njobs (allocated; proto_msg_release
 * frees them): running, queued, then the final states. 0, or -1 when out
 * of memory (h unchanged). */
int jobs_report(struct jobs *j, struct proto_msg *h);
/* Takes the messages waiting to be sent, encoded (new array, caller
 * decrefs); with *progress a job.progress when one is due at now_ms (at
 * most 1/s), else NULL. */
json_t *jobs_take_outbox(struct jobs *j, int64_t now_ms, json_t **progress);

/* ---------------------------------------------------------------- hooks.c */
/*
 * One hook run: `/bin/sh -c cmd` in a new process group, stdin /dev/null,
 * the agent's environment plus env, stdout and stderr captured. At
 * timeout_s, or when *cancel becomes non-zero, the whole group gets
 * SIGTERM and, grace_ms later, SIGKILL; processes the shell leaves running
 * in its group when it exits are ended the same way. Blocking: the job
 * thread runs it. Thread-safe (no shared state); forks.
 */
#define HOOK_OUTPUT_MAX (64 * 1024) /* the last bytes of output kept */
#define HOOK_GRACE_MS 5000          /* SIGTERM to SIGKILL */

/* One line of output (is_err: from stderr), without its newline. */
typedef void (*hook_line_fn)(void *ctx, int is_err, const char *line);

struct hook_spec {
	const char *cmd;
	char *const *env;     /* "NAME=value" strings, NULL-terminated; may be NULL */
	int timeout_s;        /* > 0 */
	int grace_ms;         /* HOOK_GRACE_MS (tests use less) */
	volatile int *cancel; /* may be NULL */
	hook_line_fn on_line; /* may be NULL */
	void *ctx;
};

struct hook_result {
	int exit_code;        /* the shell's exit status; -1 when killed by a signal */
	int signal;           /* the signal that ended it, 0 if it exited */
	int timed_out, canceled; /* it was stopped at its timeout / by a cancel */
	char start_error[128]; /* "" unless it could not be started */
	char last_err_line[256]; /* the last non-empty line on stderr (cut), "" if none */
	char *output;         /* the last HOOK_OUTPUT_MAX bytes of stdout+stderr, NUL-terminated */
	size_t len;
};

/* Runs spec->cmd; *r (hook_result_release) says how it ended. 0, or -1
 * when it could not be started (r->start_error says why). */
int hook_run(const struct hook_spec *spec, struct hook_result *r);
/* Did it exit 0 by itself? */
int hook_ok(const struct hook_result *r);
/* "<which> failed: exit status 3; last stderr line: ..." (or "killed by
 * signal N", "timed out after N s", "canceled") into buf. */
void hook_describe(const char *which, const struct hook_spec *spec,
                   const struct hook_result *r, char *buf, size_t cap);
/* Frees r->output; NULL is a no-op. */
void hook_result_release(struct hook_result *r);

/*
 * A backup job's hook: which is "pre-hook" or "post-hook" (js->group's
 * command of that name, which must not be ""), run with the job's facts in
 * its environment (ROOST_JOB_ID, ROOST_HOST = host, ROOST_GROUP,
 * ROOST_SCHEDULE when the job has one, ROOST_PATHS one per line, ROOST_HOOK
 * = pre|post; for the post-hook ROOST_STATUS = status and
 * ROOST_SNAPSHOT_ID when snapshot is not "") and the group's
 * hook_timeout_s; each output line goes to the agent's log, and
 * "--- which: how it ended" with the end of its output is appended to out
 * (outcap bytes, NUL-terminated; NULL for none), for the job's
 * hook_output. 0 when it exited 0; else -1 with hook_describe's text in
 * err, and *canceled set when a cancel stopped it.
 */
int hook_run_for_job(const char *which, const struct proto_job_start *js, const char *host,
                     const char *status, const char *snapshot, volatile int *cancel,
                     int *canceled, char *err, size_t cap, char *out, size_t outcap);

/* ----------------------------------------------------------------- conn.c */
/*
 * The connection to roostd. Everything here runs on the main thread, in
 * the libwebsockets service loop, except conn_wake and conn_interrupt.
 */
struct conn;

/* The connection for identity id (borrowed), reporting zone tz (borrowed),
 * driving cr and j (borrowed). config: the last config (timeout_s). NULL
 * if the libwebsockets context could not be created. */
struct conn *conn_new(struct agent_identity *id, const char *state, const char *tz,
                      const struct proto_config *config, struct cronrun *cr, struct jobs *j);
/* Connects and services until conn_interrupt. */
void conn_run(struct conn *c);
/* Thread-safe: wakes the service loop to drain the jobs outbox. */
void conn_wake(void *c);
/* Async-signal-safe: makes conn_run return. */
void conn_interrupt(struct conn *c);
/* NULL is a no-op. */
void conn_free(struct conn *c);

#endif
