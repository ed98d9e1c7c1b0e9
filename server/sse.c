/* SPDX-License-Identifier: MIT */
/*
 * Server-Sent Events: the live stream of the event log (GET /v1/events/stream).
 * Headers go out without a length (the body ends when the connection does);
 * each event is "id: N\nevent: TYPE\ndata: JSON\n\n" with the stored body, so
 * a client that reconnects with ?after=N (or Last-Event-ID) misses nothing the
 * replay bound keeps; a stored event is sent to a client once, in id order
 * (with several instances the replay and the broadcast can overlap). A
 * comment line every HEARTBEAT_S keeps proxies from
 * closing an idle stream and finds dead peers.
 *
 * Bounded: at most MAX_CLIENTS streams, and per client at most BUF_MAX bytes
 * not yet written. A client beyond that is dropped (logged), so a slow reader
 * costs its own connection and never the event loop or anyone else.
 *
 * A client that goes away (roost job wait returning) is noticed within
 * CHECK_MS by looking at its socket: libwebsockets 4.1 does not close an
 * HTTP connection whose response has no length when its peer hangs up, and
 * its poll loop then spins on the hung-up socket (60% of a CPU) until the
 * next heartbeat write fails.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roost/buf.h"
#include "roost/log.h"
#include "fault.h"
#include "roostd.h"
#include "sse.h"

#define MAX_CLIENTS 64
#define BUF_MAX (512u * 1024)  /* bytes not yet written to one client */
#define REPLAY_MAX 1000        /* events replayed at the start of a stream */
#define HEARTBEAT_S 15
#define WRITE_SLICE 16384
#define CHECK_MS 200           /* how soon a client's hang-up is noticed */

struct sse_client {
	struct sse_client *next;
	struct lws *wsi;
	char *buf;          /* pending bytes: buf[off..len) */
	size_t len, cap, off;
	int dropped;
	int64_t last_id; /* the largest stored event's id it was sent: none again */
};

static struct sse_client *clients;
static size_t nclients;
static lws_sorted_usec_list_t sul_beat, sul_check;
static int beat_armed, check_armed;

size_t sse_clients(void)
{
	return nclients;
}

static void drop(struct sse_client *c, const char *why)
{
	if (c->dropped)
		return;
	c->dropped = 1;
	log_warn("events.stream_dropped", "why=%s pending=%zu", roost_lq(why), c->len - c->off);
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void push(struct sse_client *c, const char *s, size_t n)
{
	if (c->dropped)
		return;
	if (c->off && c->off == c->len)
		c->off = c->len = 0;
	if (c->len - c->off + n > BUF_MAX) {
		drop(c, "the client fell behind the stream's buffer");
		return;
	}
	if (c->off > c->cap / 2) { /* reuse the written half */
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (roost_buf_append(&c->buf, &c->len, &c->cap, s, n)) {
		drop(c, "out of memory");
		return;
	}
	lws_callback_on_writable(c->wsi);
}

static void push_event(struct sse_client *c, int64_t id, const char *type, const char *body)
{
	if (id > 0 && id <= c->last_id)
		return; /* replayed already (several instances: the store's word came first) */
	if (id > 0)
		c->last_id = id;
	char head[128];
	int n = id > 0 ? snprintf(head, sizeof(head), "id: %lld\nevent: %s\ndata: ", (long long)id,
	                          type)
	               : snprintf(head, sizeof(head), "event: %s\ndata: ", type);
	push(c, head, (size_t)n);
	push(c, body, strlen(body)); /* compact JSON: no newline inside */
	push(c, "\n\n", 2);
}

void sse_broadcast(int64_t id, const char *type, const char *body)
{
	for (struct sse_client *c = clients; c; c = c->next)
		push_event(c, id, type, body);
}

/* Clients whose peer hung up (it never sends after its request) are closed. */
static void check_cb(lws_sorted_usec_list_t *sul)
{
	for (struct sse_client *c = clients; c; c = c->next) {
		struct pollfd pf = {.fd = lws_get_socket_fd(c->wsi), .events = POLLIN | POLLRDHUP};
		if (c->dropped || pf.fd < 0 || poll(&pf, 1, 0) != 1 ||
		    !(pf.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			continue;
		c->dropped = 1;
		log_info("events.stream_closed", "by=client");
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
	check_armed = 0;
	if (clients && g_srv->lws) {
		lws_sul_schedule(g_srv->lws, 0, sul, check_cb, CHECK_MS * LWS_US_PER_MS);
		check_armed = 1;
	}
}

static void beat_cb(lws_sorted_usec_list_t *sul)
{
	for (struct sse_client *c = clients; c; c = c->next)
		push(c, ": keepalive\n\n", 13);
	beat_armed = 0;
	if (clients && g_srv->lws) {
		lws_sul_schedule(g_srv->lws, 0, sul, beat_cb, HEARTBEAT_S * LWS_US_PER_SEC);
		beat_armed = 1;
	}
}

struct sse_client *sse_begin(struct lws *wsi, int64_t after)
{
	if (nclients >= MAX_CLIENTS || fault_hit("sse_open"))
		return NULL;
	struct sse_client *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	uint8_t hb[LWS_PRE + 512], *start = hb + LWS_PRE, *q = start, *end = hb + sizeof(hb) - 1;
	if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "text/event-stream",
	                                LWS_ILLEGAL_HTTP_CONTENT_LEN, &q, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
	                                (const unsigned char *)"no-store", 8, &q, end) ||
	    lws_finalize_write_http_header(wsi, start, &q, end)) {
		free(c);
		return NULL;
	}
	c->wsi = wsi;
	c->next = clients;
	clients = c;
	nclients++;
	push(c, ": roost events\n\n", 16);
	if (after >= 0) {
		/* the newest REPLAY_MAX after `after`, oldest first */
		struct db_stmt *st = db_q("SELECT id, type, body FROM (SELECT id, type, body FROM events "
		                        "WHERE id > ? ORDER BY id DESC LIMIT ?) AS recent ORDER BY id", "ii",
		                        after, (int64_t)REPLAY_MAX);
		while (st && db_step(st) == DB_ROW && !c->dropped)
			push_event(c, db_col_int(st, 0), db_col_text(st, 1),
			           db_col_text(st, 2));
		db_done(st);
	}
	if (!beat_armed && g_srv->lws) {
		lws_sul_schedule(g_srv->lws, 0, &sul_beat, beat_cb, HEARTBEAT_S * LWS_US_PER_SEC);
		beat_armed = 1;
	}
	if (!check_armed && g_srv->lws) {
		lws_sul_schedule(g_srv->lws, 0, &sul_check, check_cb, CHECK_MS * LWS_US_PER_MS);
		check_armed = 1;
	}
	log_info("events.stream", "clients=%zu after=%lld", nclients, (long long)after);
	return c;
}

int sse_writeable(struct sse_client *c)
{
	if (c->dropped)
		return -1;
	size_t n = c->len - c->off;
	if (!n)
		return 0;
	if (n > WRITE_SLICE)
		n = WRITE_SLICE;
	uint8_t out[LWS_PRE + WRITE_SLICE];
	memcpy(out + LWS_PRE, c->buf + c->off, n);
	if (lws_write(c->wsi, out + LWS_PRE, n, LWS_WRITE_HTTP) < (int)n)
		return -1;
	c->off += n;
	if (c->off < c->len)
		lws_callback_on_writable(c->wsi);
	return 0;
}

void sse_end(struct sse_client *c)
{
	if (!c)
		return;
	for (struct sse_client **pp = &clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			nclients--;
			break;
		}
	free(c->buf);
	free(c);
	if (!clients && beat_armed) {
		lws_sul_cancel(&sul_beat);
		beat_armed = 0;
	}
	if (!clients && check_armed) {
		lws_sul_cancel(&sul_check);
		check_armed = 0;
	}
}
