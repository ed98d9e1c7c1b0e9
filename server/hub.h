/* SPDX-License-Identifier: MIT */
/*
 * The agent hub (server/hub.c): one authenticated WebSocket per host, frames
 * reassembled and decoded by lib/proto, outgoing messages queued per
 * connection. It delivers messages and reports what happens on its
 * connections through a struct hub_handler; it knows nothing of configs,
 * jobs or the store. Event-loop thread only.
 */
#ifndef ROOSTD_HUB_H
#define ROOSTD_HUB_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

#include "roost/proto.h"

struct agent_conn;

/* What the hub reports. Each callback runs on the event loop, to completion. */
struct hub_handler {
	/* A decoded message from an authenticated host; a hello only once its
	 * protocol version is accepted, and nothing before the hello. */
	void (*message)(int64_t host_id, const struct proto_msg *m);
	/* The host's current connection closed (not a replaced one). */
	void (*disconnected)(int64_t host_id);
};

/* Registers the handler (main.c: server/agents.c's agents_handler). */
void hub_set_handler(const struct hub_handler *h);
/* Starts the keepalive timer (after the lws context exists). */
void hub_start(void);

/* Is the host's agent connected (and not being closed)? */
int hub_online(int64_t host_id);
/* When the connected host's agent was last heard from (any frame or pong; srv_now()
 * seconds), or 0 if it is not connected. Cheap: kept in memory per connection. */
int64_t hub_last_seen(int64_t host_id);
/* Agents connected now. */
size_t hub_connected(void);
/* Queues a message (not stolen) to the host's agent; -1 if not connected, before its
 * hello, or its queue is full. */
int hub_send(int64_t host_id, json_t *msg);
/* Closes the host's connection (host removed). */
void hub_kick(int64_t host_id);
/* Closes it with 1012 (service restart: the agent goes to its next server),
 * e.g. when another instance took the host. */
void hub_drop(int64_t host_id, const char *why);
/* on: every connection is dropped (1012) and new ones refused (an instance
 * that lost the store); off: accepted again. */
void hub_refuse(int on, const char *why);

/* The libwebsockets callback's entry points (server/http.c). */
struct agent_conn *hub_established(struct lws *wsi, int64_t host_id);
int hub_receive(struct agent_conn *c, const void *in, size_t len, int final, int binary);
int hub_writeable(struct agent_conn *c);
void hub_closed(struct agent_conn *c);
void hub_pong(struct agent_conn *c);

#endif
