/* SPDX-License-Identifier: MIT */
/*
 * The agent <-> server protocol (DESIGN.md, "Agent <-> server";
 * docs/server.md, "Agent protocol"): one JSON object per WebSocket text
 * frame, with a "type". This module is its one home, both directions: a C
 * struct per message, one encoder and one decoder per message, used by
 * roostd and roost-agent alike.
 *
 *   agent -> server: hello, fire, job.accepted, job.progress, job.finished, status
 *                    (struct proto_msg; lib/proto/proto_agent.c)
 *   server -> agent: config, job.start, job.cancel
 *                    (struct proto_server_msg; lib/proto/proto_server.c)
 *
 * Conventions, the same for every message:
 * - Decoders are strict and bounded: every array and string has a cap
 *   below, a value of the wrong type or out of range is refused with
 *   ROOST_EINVAL (ROOST_ERANGE for a cap) and a message naming the field.
 *   Unknown members are ignored, so either side may add optional ones.
 * - Encoders return a new json_t reference in *out (the caller
 *   json_decref()s it; json_dumps(m, JSON_COMPACT) gives the frame). They
 *   refuse, with the decoder's message, any value the decoder would refuse,
 *   so a bad value is caught where it is made, not by the peer.
 * - Times are RFC 3339 UTC on the wire, int64 seconds here; 0 is "none"
 *   (omitted, or null where the field has always been sent as null).
 * - Structs are zero-initialized by the caller (`= {0}` or memset). What
 *   they point to is owned by them, allocated with malloc, and freed by the
 *   matching _release (frees the contents, leaves the struct zeroed, safe
 *   on a zeroed struct); a decoder releases partial state when it fails.
 * All functions are thread-safe (no shared state; jansson values are not
 * shared between calls).
 */
#ifndef ROOST_PROTO_H
#define ROOST_PROTO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/error.h"

#define PROTO_VERSION 1
#define PROTO_MAX_FRAME (1024 * 1024) /* agent -> server; larger frames close the connection */
#define PROTO_MAX_SERVER_FRAME (4 * PROTO_MAX_FRAME) /* server -> agent (a config can be big) */
#define PROTO_MAX_FIRES 10000         /* persisted fires carried by one hello */
#define PROTO_MAX_JOBS 1000           /* job states carried by one hello */
#define PROTO_MAX_GROUPS 1000         /* source groups in one config */
#define PROTO_MAX_SCHEDULES 1000      /* schedules in one config */
#define PROTO_MAX_LIST 1000           /* paths, excludes, include, group_ids */
#define PROTO_MAX_PATH 4096           /* one entry of paths, excludes, include */
#define PROTO_MAX_TIMEOUT 86400       /* config timeout_s */
#define PROTO_MAX_UPLOAD_LIMIT 10000000 /* config upload_limit_kbps (KiB/s): ~10 GiB/s */
#define PROTO_MAX_HOOK 4096           /* a group's pre_hook, post_hook (bytes) */
#define PROTO_MAX_HOOK_TIMEOUT 86400  /* a group's hook_timeout_s */
#define PROTO_HOOK_TIMEOUT_DEFAULT 600
#define PROTO_MAX_HOOK_OUTPUT 4096    /* a job report's hook_output (bytes) */
#define PROTO_TIME_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

enum proto_type {
	/* agent -> server */
	PROTO_HELLO = 1,
	PROTO_FIRE,
	PROTO_JOB_ACCEPTED,
	PROTO_JOB_PROGRESS,
	PROTO_JOB_FINISHED,
	/* server -> agent */
	PROTO_CONFIG,
	PROTO_JOB_START,
	PROTO_JOB_CANCEL,
	/* agent -> server, added later (docs/policies.md) */
	PROTO_STATUS,
};

/* The "type" string of a message type ("hello", "job.start", ...); never NULL. */
const char *proto_type_name(enum proto_type t);

/* ---- agent -> server (lib/proto/proto_agent.c) ---- */

/*
 * A job as the agent reports it: in job.accepted {job_id, started_at},
 * job.progress {job_id, stats}, job.finished {job_id, status, started_at,
 * stats, snapshot_id, error, hook_output} and in a hello's jobs[].
 * status: "queued", "running", "succeeded", "failed", "canceled",
 * "interrupted" (lost when the agent died); "" when absent. On the wire a
 * field is omitted when it is empty/0, except stats, which is sent when
 * has_stats is set (the decoder sets it when the object is present).
 */
struct proto_job {
	int64_t job_id;       /* > 0 */
	char status[16];
	char snapshot_id[65]; /* "" or 64 lowercase hex digits */
	int has_stats;
	uint64_t files, bytes, bytes_new; /* each <= INT64_MAX */
	int64_t started_at;   /* 0 if unknown */
	char error[1024];     /* any bytes: the encoder makes them UTF-8 and cuts them to fit */
	/* the end of a backup's hooks' output (docs/policies.md, "Hooks"), "" none;
	 * like error, any bytes made UTF-8 and cut to fit */
	char hook_output[PROTO_MAX_HOOK_OUTPUT + 1];
};

/* A cron slot the agent fired: {schedule_id, slot}. slot is always sent. */
struct proto_fire {
	int64_t schedule_id; /* > 0 */
	int64_t slot;
};

/*
 * Any agent message; which members count depends on type. jobs and fires
 * (hello only) are arrays of njobs and nfires entries, NULL when empty is
 * allowed; they are owned and freed by proto_msg_release.
 */
struct proto_msg {
	enum proto_type type;
	/* hello: everything is sent, strings as "" when empty; clock if not 0 */
	int protocol;
	char agent_version[64], hostname[256], os[128], tz[64];
	int64_t clock;
	struct proto_job *jobs; /* the running one, the queue, those finished lately */
	size_t njobs;           /* <= PROTO_MAX_JOBS */
	struct proto_fire *fires;
	size_t nfires;          /* <= PROTO_MAX_FIRES */
	/* hello (optional, absent = false: sent only when true) and status (both
	 * always sent): the host runs on battery / on a metered network */
	int on_battery, metered;
	/* fire */
	struct proto_fire fire;
	/* job.accepted / job.progress / job.finished */
	struct proto_job job;
};

/*
 * Decodes one agent message of len bytes (at most PROTO_MAX_FRAME). On
 * success *m holds it (proto_msg_release); on failure *m is released and
 * eb names the field. A hello's jobs[] need a known status, a job.finished
 * a final one.
 */
enum roost_err proto_decode_agent(const char *buf, size_t len, struct proto_msg *m,
                                  struct roost_errbuf *eb);
/* The same from a parsed object (borrowed), e.g. one read back from a file. */
enum roost_err proto_decode_agent_json(const json_t *o, struct proto_msg *m,
                                       struct roost_errbuf *eb);
/* Frees jobs and fires; *m stays usable (zeroed arrays). NULL is a no-op. */
void proto_msg_release(struct proto_msg *m);
/* Old name of proto_msg_release, kept until every caller has moved. */
void proto_msg_free(struct proto_msg *m);

/* One encoder per agent message; *out is a new reference (see the top). */
enum roost_err proto_encode_hello(const struct proto_msg *m, json_t **out,
                                  struct roost_errbuf *eb);
enum roost_err proto_encode_fire(const struct proto_fire *f, json_t **out,
                                 struct roost_errbuf *eb);
/* status {on_battery, metered}: sent at once when either changes. */
enum roost_err proto_encode_status(const struct proto_msg *m, json_t **out,
                                   struct roost_errbuf *eb);
enum roost_err proto_encode_job_accepted(const struct proto_job *j, json_t **out,
                                         struct roost_errbuf *eb);
enum roost_err proto_encode_job_progress(const struct proto_job *j, json_t **out,
                                         struct roost_errbuf *eb);
enum roost_err proto_encode_job_finished(const struct proto_job *j, json_t **out,
                                         struct roost_errbuf *eb);
/* Calls the encoder of m->type (hello, status: m; fire: &m->fire; job.*: &m->job). */
enum roost_err proto_encode_agent(const struct proto_msg *m, json_t **out,
                                  struct roost_errbuf *eb);
/*
 * Entries without a "type": a job report as a hello's jobs[] carries it
 * (and as the agent keeps its finished jobs on disk; its status must be
 * known), a fire as a hello's fires[] carries it (and fires.json). The
 * decoders are the ones of hello's entries; *out is a new reference.
 */
enum roost_err proto_encode_job_entry(const struct proto_job *j, json_t **out,
                                      struct roost_errbuf *eb);
enum roost_err proto_decode_job_entry(const json_t *o, struct proto_job *j,
                                      struct roost_errbuf *eb);
enum roost_err proto_encode_fire_entry(const struct proto_fire *f, json_t **out,
                                       struct roost_errbuf *eb);
enum roost_err proto_decode_fire_entry(const json_t *o, struct proto_fire *f,
                                       struct roost_errbuf *eb);

/* Is s a job status an agent may report as final? */
int proto_status_final(const char *s);

/* ---- server -> agent (lib/proto/proto_server.c) ---- */

/* A source group: in config.groups[] and in a backup's job.start. */
struct proto_group {
	int64_t id;      /* > 0 */
	int64_t host_id; /* > 0 */
	char name[256];  /* null on the wire when "" */
	char **paths;    /* npaths strings of 1..PROTO_MAX_PATH bytes */
	size_t npaths;   /* <= PROTO_MAX_LIST (0 is decoded; the agent fails such a job) */
	char **excludes;
	size_t nexcludes; /* <= PROTO_MAX_LIST */
	int dedup_host;   /* "dedup": "host" (a per-host blob-id key); absent or "fleet": 0 */
	/* shell commands the agent runs around the group's backups (docs/policies.md);
	 * "" none (omitted on the wire); at most PROTO_MAX_HOOK bytes, no NUL */
	char pre_hook[PROTO_MAX_HOOK + 1], post_hook[PROTO_MAX_HOOK + 1];
	/* 1..PROTO_MAX_HOOK_TIMEOUT; 0 on the wire (absent) means the default,
	 * PROTO_HOOK_TIMEOUT_DEFAULT, which the decoder fills in */
	int64_t hook_timeout_s;
};

/* A schedule as the agent evaluates it: in config.schedules[]. */
struct proto_schedule {
	int64_t id;      /* > 0 */
	int64_t host_id; /* > 0 */
	char name[256];  /* null on the wire when "" */
	char cron[1024]; /* the expression as stored, CRON_TZ= prefix and all */
	int enabled;     /* 0 or 1; a JSON boolean */
	int64_t *group_ids; /* ngroup_ids ids > 0 */
	size_t ngroup_ids;  /* <= PROTO_MAX_LIST */
	int64_t next_at;    /* 0: none (null on the wire) */
};

/*
 * config: everything the agent needs to run on its own; sent after hello
 * and on every change. Wire form:
 * {type, host_id, name, mode, groups, schedules, repository: {url, put_key},
 *  timeout_s, upload_limit_kbps}; name and mode are null when "", timeout_s
 * and upload_limit_kbps are omitted when 0.
 * put_key: base64 of the put-only material (ROOST_PUT_MATERIAL_LEN bytes): it
 * writes and deduplicates but decrypts nothing. password: what servers before
 * format 2 sent instead (decoded for them; omitted when "").
 */
struct proto_config {
	int64_t host_id; /* > 0 */
	char name[256];
	char mode[16];   /* "always-on", "intermittent" or "" */
	struct proto_group *groups;
	size_t ngroups;  /* <= PROTO_MAX_GROUPS */
	struct proto_schedule *schedules;
	size_t nschedules; /* <= PROTO_MAX_SCHEDULES */
	char repo_url[512];      /* repository.url, "/v1/repo" today */
	char repo_password[256]; /* repository.password (old servers) */
	char repo_put_key[256];  /* repository.put_key, base64 */
	/* repository.put_key_host: the host-dedup material (ROOST_PUT_HOST_LEN
	 * bytes, base64), sent when one of the host's groups has dedup host;
	 * put_key is then sent only if one has dedup fleet. */
	char repo_put_key_host[256];
	int64_t timeout_s;       /* 0 (absent) or 1..PROTO_MAX_TIMEOUT */
	/* the host's upload limit in KiB/s, all streams together: 0 (absent or
	 * 0 on the wire) = none, else 1..PROTO_MAX_UPLOAD_LIMIT */
	int64_t upload_limit_kbps;
};

/* A restore's parameters; on the wire merged into job.start's top level. */
struct proto_restore {
	char snapshot_id[129]; /* an id, a prefix or "latest"; required */
	char target[4097];     /* absolute; required */
	char **include;        /* ninclude paths; sent as [] when none */
	size_t ninclude;       /* <= PROTO_MAX_LIST */
};

/*
 * job.start: {type, job_id, kind, [group], [schedule], [snapshot_id, target,
 * include], trigger}. schedule: the name of the schedule that made the job
 * (for a hook's ROOST_SCHEDULE), omitted when "". group is sent when has_group (a backup whose group still
 * exists), the restore fields when has_restore (the decoder sets it when
 * any of them is present, and then wants snapshot_id and target).
 */
struct proto_job_start {
	int64_t job_id;  /* > 0 */
	char kind[16];   /* "backup" or "restore" today; other kinds decode, the agent fails them */
	char trigger[16]; /* "schedule", "pending", "catchup", "manual"; omitted when "" */
	char schedule[256]; /* the schedule's name, "" when none */
	int has_group;
	struct proto_group group;
	int has_restore;
	struct proto_restore restore;
};

/* job.cancel: {type, job_id}. */
struct proto_job_cancel {
	int64_t job_id; /* > 0 */
};

/* Any server message; which member counts depends on type. */
struct proto_server_msg {
	enum proto_type type; /* PROTO_CONFIG, PROTO_JOB_START or PROTO_JOB_CANCEL */
	struct proto_config config;
	struct proto_job_start start;
	struct proto_job_cancel cancel;
};

/*
 * Decodes one server message of len bytes (at most PROTO_MAX_SERVER_FRAME).
 * On success *m holds it (proto_server_msg_release). On failure *m is
 * released and eb names the field, except that when a job.start's job_id
 * was readable, m->type is PROTO_JOB_START and m->start.job_id is set, so
 * the agent can report that job failed instead of leaving it queued.
 */
enum roost_err proto_decode_server(const char *buf, size_t len, struct proto_server_msg *m,
                                   struct roost_errbuf *eb);
/* The same from a parsed object (borrowed), e.g. the config.json the agent kept. */
enum roost_err proto_decode_server_json(const json_t *o, struct proto_server_msg *m,
                                        struct roost_errbuf *eb);

/* One encoder per server message; *out is a new reference (see the top). */
enum roost_err proto_encode_config(const struct proto_config *c, json_t **out,
                                   struct roost_errbuf *eb);
enum roost_err proto_encode_job_start(const struct proto_job_start *s, json_t **out,
                                      struct roost_errbuf *eb);
enum roost_err proto_encode_job_cancel(const struct proto_job_cancel *c, json_t **out,
                                       struct roost_errbuf *eb);
/* Calls the encoder of m->type. */
enum roost_err proto_encode_server(const struct proto_server_msg *m, json_t **out,
                                   struct roost_errbuf *eb);

/* Free the contents (owned arrays and strings) and zero the struct; NULL is a no-op. */
void proto_group_release(struct proto_group *g);
void proto_schedule_release(struct proto_schedule *s);
void proto_config_release(struct proto_config *c);
void proto_restore_release(struct proto_restore *r);
void proto_job_start_release(struct proto_job_start *s);
void proto_server_msg_release(struct proto_server_msg *m);

/*
 * Appends a copy of s to the string array *v of *n entries (for filling
 * paths, excludes, include). ROOST_ENOMEM leaves *v and *n unchanged.
 */
enum roost_err proto_strv_push(char ***v, size_t *n, const char *s);

#endif
