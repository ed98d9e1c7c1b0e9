/* SPDX-License-Identifier: MIT */
/*
 * When each host was connected (server/presence.c): its sessions (hello to
 * disconnect) kept in the store, the current one in memory, and its
 * last_seen_at, kept current cheaply. What availability-aware health reads:
 * how long an intermittent host was online since a window it missed, and how
 * long since it was last heard from. Event-loop thread only.
 */
#ifndef ROOSTD_PRESENCE_H
#define ROOSTD_PRESENCE_H

#include <stdint.h>

/* A hello: the host's session begins (if it had none running: a replaced
 * connection continues its session). */
void presence_hello(int64_t host_id, int64_t now);
/* The host disconnected: its session is stored and last_seen_at written. */
void presence_gone(int64_t host_id, int64_t now);
/* Seconds the host was online within [from, now]: stored sessions and the
 * running one. */
int64_t presence_online_within(int64_t host_id, int64_t from, int64_t now);
/* When the host was last heard from: the hub's time while connected, else
 * the store's last_seen_at; 0 if never. */
int64_t presence_last_seen(int64_t host_id);
/* Writes a connected host's last_seen_at if the stored one is older than
 * PRESENCE_FLUSH_S (called by the health sweep; cheap when nothing is due). */
void presence_flush(int64_t host_id, int64_t now);
/* Frees what presence.c holds. */
void presence_release(void);

#define PRESENCE_FLUSH_S 60

#endif
