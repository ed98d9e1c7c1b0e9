/* SPDX-License-Identifier: MIT */
/*
 * Which instance acts for a host (docs/scale-out.md, 2.4). A host is owned
 * by the instance holding its agent's connection: hosts.instance_id, with
 * hosts.conn_epoch bumped by every hello (the takeover). Anything that
 * needs the agent - job.start, job.cancel, the config, a pending run's
 * dispatch, closing its connection - goes through route_host: done here
 * when this instance owns the host (or nobody live does, or the store is
 * SQLite's: one instance), else a poke `NOTIFY roost_i<owner>, 'KIND HOST
 * ID EPOCH'` that the owner acts on if it still owns the host with that
 * epoch. The local actions are registered by main.c (route.c calls no
 * scheduling file itself). Event-loop thread only.
 */
#ifndef ROOSTD_ROUTE_H
#define ROOSTD_ROUTE_H

#include <stdint.h>

enum route_kind {
	ROUTE_JOB = 0, /* id: the job to start */
	ROUTE_CANCEL,  /* id: the job to cancel */
	ROUTE_CONFIG,  /* push the config again */
	ROUTE_PENDING, /* dispatch the oldest pending run if idle */
	ROUTE_KICK,    /* close the agent's connection (id 1: it moved to another instance) */
	ROUTE_NKINDS,
};

/* A local action: what jobs_send_start etc. did before routing; 0 done, -1
 * the agent could not be reached. */
typedef int (*route_fn)(int64_t host_id, int64_t id);
void route_set_local(enum route_kind k, route_fn fn);

enum route_way { ROUTE_LOCAL = 0, ROUTE_POKE };
/* The rule (pure): me 0 = alone; owner 0 = nobody holds the host. */
enum route_way route_decide(int64_t me, int64_t owner, int owner_live);
const char *route_kind_name(enum route_kind k);

/* Does k for the host here (the caller's `here`, or the registered action
 * when NULL) or pokes its owner: the local action's answer, or 0 when the
 * owner was poked, -1 when the poke could not be sent. */
int route_host(int64_t host_id, enum route_kind k, int64_t id, route_fn here);
/* Sends the poke (inside a transaction: at its commit); 0, or -1. */
int route_poke(int64_t owner, enum route_kind k, int64_t host_id, int64_t id, int64_t epoch);
/* notify.c's handler: a poke for this instance, checked and acted on. */
void route_on_notify(const char *channel, const char *payload);
/* The channel this instance listens on, into buf. */
void route_channel(int64_t instance_id, char *buf, size_t cap);

/* The hello's first write: this instance takes the host (instance_id, the
 * epoch bumped, session_started_at now) under its row lock, and pokes the
 * previous owner to close its stale connection. 0, or -1 (store). Alone
 * (SQLite): the epoch and session_started_at only. */
int route_takeover(int64_t host_id, int64_t now);
/* The conn_epoch of the host's session taken here (0: none): what owner-side
 * claims compare (a catch-up armed at this epoch). */
int64_t route_epoch(int64_t host_id);
/* The disconnect of the connection taken at route_takeover: the host is
 * let go unless it was taken since (epoch). */
void route_release(int64_t host_id);
/* Is the host's agent connected, here or to another live instance? */
int route_online(int64_t host_id);
/* Calls fn for each host this instance owns (after a LISTEN came back). */
void route_each_owned(void (*fn)(int64_t host_id));
/* Forgets the hosts it owned (split brain: a new id, nothing owned). */
void route_forget_all(void);

#endif
