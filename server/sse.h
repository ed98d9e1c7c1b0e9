/* SPDX-License-Identifier: MIT */
/*
 * The live event stream, GET /v1/events/stream (server/sse.c): Server-Sent
 * Events to the dashboard and `roost events --follow`. Each client has a
 * bounded buffer; a client that falls that far behind is dropped, never
 * waited for. Event-loop thread only.
 */
#ifndef ROOSTD_SSE_H
#define ROOSTD_SSE_H

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

struct sse_client;

/* An event (its JSON body) to every client; id 0: a live-only event, sent
 * without an `id:` line so that Last-Event-ID stays on stored events. */
void sse_broadcast(int64_t id, const char *type, const char *body);
/* Starts a stream on an HTTP connection: headers, then the events after
 * `after` (at most a bounded replay), then live ones. NULL when refused (too
 * many clients): the caller answers 503. */
struct sse_client *sse_begin(struct lws *wsi, int64_t after);
/* The connection is writable: the next slice of the client's buffer.
 * Returns what the callback must return (-1 closes). */
int sse_writeable(struct sse_client *c);
/* The connection closed: forgets and frees the client. */
void sse_end(struct sse_client *c);
/* Clients connected now. */
size_t sse_clients(void);

#endif
