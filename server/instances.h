/* SPDX-License-Identifier: MIT */
/*
 * Instances: several roostd serving one fleet over one PostgreSQL store
 * (docs/scale-out.md, sections 1 and 3). Each start of roostd is a row of
 * `instances` with a fresh id, heart-beaten every heartbeat_s with the
 * database's clock (roost_now()); an instance is dead once its heartbeat
 * is older than ttl_s, or marked so. An instance that could not renew its
 * heartbeat by its local monotonic deadline stops acting (split brain,
 * 3.2): its agents are told to go elsewhere, requests get 503, and it
 * registers a new id once the store answers again, never resuming the old.
 *
 * On SQLite there is one instance: nothing is registered, instances_me()
 * is 0 and everything routes locally (route.c). The store-level functions
 * work on either engine (unit tests use both). Event-loop thread only.
 */
#ifndef ROOSTD_INSTANCES_H
#define ROOSTD_INSTANCES_H

#include <stdint.h>

#include "roost/error.h"

#define INSTANCE_HEARTBEAT_S 5
#define INSTANCE_TTL_S 30
#define INSTANCE_SKEW_MAX_S 5 /* refuse to start beyond this */
#define INSTANCE_SKEW_WARN_S 1

/* ---- the rows (any engine, through db.c's store) ---- */

/* A new live instance row; its id, or 0 when the store failed. */
int64_t instances_register(const char *name, const char *url);
/* Renews the heartbeat of id: 0 renewed (*db_now the database's time), 1
 * the row is dead (marked, or its heartbeat older than ttl_s: never
 * revived), -1 the store failed. */
int instances_heartbeat(int64_t id, int64_t ttl_s, int64_t *db_now);
/* 1 when id is a live instance (heartbeat within ttl_s, not marked dead). */
int instances_live(int64_t id, int64_t ttl_s);
/* Marks every live instance whose heartbeat is older than ttl_s dead; their
 * ids and last heartbeats into ids/beats[0..cap). Count written, -1 when
 * the store failed. (The sweeper's.) */
int instances_reap(int64_t ttl_s, int64_t *ids, int64_t *beats, int cap);
/* The database's clock (seconds), or 0 when the store failed. */
int64_t instances_db_now(void);

/* ---- this process ---- */

struct instances_config {
	const char *name;       /* --instance-name: default host:port */
	const char *url;        /* how others reach it (informative) */
	int64_t heartbeat_s;    /* ROOSTD_HEARTBEAT_S */
	int64_t ttl_s;          /* ROOSTD_INSTANCE_TTL_S */
	/* called when it stops acting (split brain), and when it has a new id */
	void (*stopped)(void);
	void (*renamed)(int64_t new_id);
	int force_shared;       /* tests: register on SQLite too */
};

/* Registers this process (PostgreSQL only; on SQLite a no-op returning 0)
 * after checking the clocks: beyond INSTANCE_SKEW_MAX_S it refuses
 * (ROOST_EINVAL, eb says by how much). Starts the heartbeat timer when an
 * lws context exists (g_srv->lws); tests drive instances_tick instead. */
enum roost_err instances_start(const struct instances_config *c, struct roost_errbuf *eb);
/* This instance's id; 0 when alone (SQLite) or not acting. */
int64_t instances_me(void);
/* Several instances may share the store (PostgreSQL). */
int instances_shared(void);
/* The same, for any thread (the delivery and maintenance threads); 0 when
 * alone: they then need no lease. */
int64_t instances_me_shared(void);
/* 0 while split (it lost the store past its deadline), else 1. */
int instances_acting(void);
/* The heartbeat's ttl (route.c and the sweeper judge liveness with it). */
int64_t instances_ttl(void);
/* One heartbeat step at monotonic time now_ms (the timer's; tests call it). */
void instances_tick(int64_t now_ms);
/* The last measured difference of this clock and the database's (s). */
int64_t instances_skew(void);
/* Forgets this process's state (tests). */
void instances_reset(void);

#endif
