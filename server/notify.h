/* SPDX-License-Identifier: MIT */
/*
 * Notifications between instances (docs/scale-out.md, 2.4, 2.6): pokes on
 * the instance's own channel, events on roost_events and roost_live, a
 * prune's deleted packs on roost_repo. A dedicated
 * store connection that LISTENs, on a thread of its own that waits on its
 * socket and hands what arrives to the event loop (lws_cancel_service,
 * then notify_poll on the loop). After its connection drops the thread
 * reconnects with backoff, listens again, and tells the loop (relistened),
 * which re-sends what a lost poke may have carried. Sending is a plain
 * statement on any connection (`SELECT pg_notify(channel, payload)`,
 * delivered at commit; route.c). SQLite: no-op (one instance).
 */
#ifndef ROOSTD_NOTIFY_H
#define ROOSTD_NOTIFY_H

struct notify_handler {
	/* a notification on one of the channels listened to (event loop) */
	void (*notified)(const char *channel, const char *payload);
	/* the connection came back after a drop (event loop) */
	void (*relistened)(void);
};

/* Starts the thread for the store at url (PostgreSQL; SQLite: 0, nothing
 * started) listening on channel; waits up to 5 s for the first LISTEN.
 * 0, or -1. */
int notify_start(const char *url, const char *channel, const struct notify_handler *h);
/* Listens on channel instead of the previous one (a new instance id). */
void notify_channel(const char *channel);
/* The event loop: delivers what the thread received. */
void notify_poll(void);
/* Stops the thread and closes its connection. */
void notify_stop(void);

#endif
