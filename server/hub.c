/* SPDX-License-Identifier: MIT */
/*
 * The agent hub: one authenticated WebSocket per host. Frames are
 * reassembled up to PROTO_MAX_FRAME (larger: the connection is closed with
 * 1009), decoded by lib/proto and reported, with disconnects, through the
 * struct hub_handler registered at start (server/agents.c): the hub knows
 * nothing of configs, jobs or the store. Outgoing messages wait
 * in a bounded per-connection queue written when the socket is writable.
 * A new connection for a host replaces the old one, which is closed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "roostd.h"
#include "roost/buf.h"
#include "roost/clock.h"
#include "roost/log.h"

#define QUEUE_MAX (8u << 20) /* bytes queued to one agent before it counts as stuck */

struct outmsg {
	struct outmsg *next;
	size_t len;
	unsigned char data[]; /* LWS_PRE + len */
};

struct agent_conn {
	struct lws *wsi;
	int64_t host_id;
	int64_t last_rx_ms; /* monotonic: any frame or pong */
	int64_t last_seen;  /* srv_now() of the same: the host's last_seen_at while connected */
	int want_ping;
	int closing;
	int hello_done;
	char *rx;
	size_t rxlen, rxcap;
	struct outmsg *head, *tail;
	size_t qbytes;
};

static const struct hub_handler *handler;
static int refusing; /* hub_refuse: connections closed as they come */

void hub_set_handler(const struct hub_handler *h)
{
	handler = h;
}

static struct agent_conn *get(int64_t host_id)
{
	struct srv *s = g_srv;
	if (host_id <= 0 || (uint64_t)host_id >= s->conns_cap)
		return NULL;
	return s->conns[host_id];
}

static int put(int64_t host_id, struct agent_conn *c)
{
	struct srv *s = g_srv;
	if (host_id <= 0 || host_id > (1 << 26))
		return -1;
	if ((uint64_t)host_id >= s->conns_cap) {
		size_t nc = s->conns_cap ? s->conns_cap : 1024;
		while (nc <= (uint64_t)host_id)
			nc *= 2;
		struct agent_conn **n = realloc(s->conns, nc * sizeof(*n));
		if (!n)
			return -1;
		memset(n + s->conns_cap, 0, (nc - s->conns_cap) * sizeof(*n));
		s->conns = n;
		s->conns_cap = nc;
	}
	if (!s->conns[host_id] && c)
		s->nconns++;
	else if (s->conns[host_id] && !c)
		s->nconns--;
	s->conns[host_id] = c;
	return 0;
}

int hub_online(int64_t host_id)
{
	if (g_srv->online_hook)
		return g_srv->online_hook(host_id);
	struct agent_conn *c = get(host_id);
	return c && !c->closing;
}

static void close_conn(struct agent_conn *c, enum lws_close_status why, const char *reason)
{
	c->closing = 1;
	lws_close_reason(c->wsi, why, (unsigned char *)reason, strlen(reason));
	lws_callback_on_writable(c->wsi);
}

int64_t hub_last_seen(int64_t host_id)
{
	struct agent_conn *c = get(host_id);
	return c && !c->closing ? c->last_seen : 0;
}

size_t hub_connected(void)
{
	return g_srv->nconns;
}

int hub_send(int64_t host_id, json_t *msg)
{
	if (g_srv->send_hook)
		return g_srv->send_hook(host_id, msg);
	struct agent_conn *c = get(host_id);
	if (!c || c->closing || !c->hello_done)
		return -1;
	char *txt = json_dumps(msg, JSON_COMPACT);
	if (!txt)
		return -1;
	size_t n = strlen(txt);
	if (c->qbytes + n > QUEUE_MAX) {
		free(txt);
		log_warn("agent.queue_full", "host=%lld", (long long)host_id);
		return -1;
	}
	struct outmsg *m = malloc(sizeof(*m) + LWS_PRE + n);
	if (!m) {
		free(txt);
		return -1;
	}
	m->next = NULL;
	m->len = n;
	memcpy(m->data + LWS_PRE, txt, n);
	free(txt);
	if (c->tail)
		c->tail->next = m;
	else
		c->head = m;
	c->tail = m;
	c->qbytes += n;
	lws_callback_on_writable(c->wsi);
	return 0;
}

void hub_kick(int64_t host_id)
{
	struct agent_conn *c = get(host_id);
	if (c)
		close_conn(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "host removed");
}

void hub_drop(int64_t host_id, const char *why)
{
	struct agent_conn *c = get(host_id);
	if (c && !c->closing) {
		close_conn(c, (enum lws_close_status)1012, why);
		log_info("agent.dropped", "host=%lld why=%s", (long long)host_id, roost_lq(why));
	}
}

void hub_refuse(int on, const char *why)
{
	refusing = on;
	if (!on)
		return;
	struct srv *s = g_srv;
	for (size_t i = 0; i < s->conns_cap; i++)
		if (s->conns[i])
			hub_drop((int64_t)i, why);
}

static int64_t mono_ms(void)
{
	return roost_clock_mono_ns(roost_clock_system()) / 1000000;
}

struct agent_conn *hub_established(struct lws *wsi, int64_t host_id)
{
	if (refusing)
		return NULL;
	struct agent_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->wsi = wsi;
	c->host_id = host_id;
	c->last_rx_ms = mono_ms();
	c->last_seen = srv_now();
	struct agent_conn *old = get(host_id);
	if (old) {
		/* the new connection wins; the old one is closed and forgotten */
		put(host_id, NULL);
		close_conn(old, LWS_CLOSE_STATUS_POLICY_VIOLATION, "replaced by a new connection");
		log_info("agent.replaced", "host=%lld", (long long)host_id);
	}
	if (put(host_id, c)) {
		free(c);
		return NULL;
	}
	log_info("agent.connected", "host=%lld", (long long)host_id);
	return c;
}

static void free_queue(struct agent_conn *c)
{
	while (c->head) {
		struct outmsg *m = c->head;
		c->head = m->next;
		free(m);
	}
	c->tail = NULL;
	c->qbytes = 0;
}

void hub_closed(struct agent_conn *c)
{
	if (!c)
		return;
	if (get(c->host_id) == c) {
		put(c->host_id, NULL);
		log_info("agent.disconnected", "host=%lld", (long long)c->host_id);
		if (handler && handler->disconnected)
			handler->disconnected(c->host_id);
	}
	free_queue(c);
	free(c->rx);
	free(c);
}

int hub_writeable(struct agent_conn *c)
{
	if (c->closing)
		return -1;
	if (c->want_ping) {
		uint8_t ping[LWS_PRE + 4];
		memcpy(ping + LWS_PRE, "ping", 4);
		c->want_ping = 0;
		if (lws_write(c->wsi, ping + LWS_PRE, 4, LWS_WRITE_PING) < 4)
			return -1;
		if (c->head)
			lws_callback_on_writable(c->wsi);
		return 0;
	}
	struct outmsg *m = c->head;
	if (!m)
		return 0;
	if (lws_write(c->wsi, m->data + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len)
		return -1;
	c->head = m->next;
	if (!c->head)
		c->tail = NULL;
	c->qbytes -= m->len;
	free(m);
	if (c->head)
		lws_callback_on_writable(c->wsi);
	return 0;
}

static int handle(struct agent_conn *c, const char *buf, size_t len)
{
	struct roost_errbuf eb = {{0}};
	struct proto_msg m;
	enum roost_err err = proto_decode_agent(buf, len, &m, &eb);
	if (err) {
		char src[32];
		snprintf(src, sizeof(src), "host=%lld", (long long)c->host_id);
		/* one agent sending nonsense at will must not flood the log */
		roost_log_limited(ROOST_LOG_WARN, "agent.bad_message", src, "host=%lld msg=%s",
		                  (long long)c->host_id, roost_lq(eb.msg));
		return 0; /* ignore; a peer speaking nonsense is not a reason to drop its jobs */
	}
	if (!c->hello_done && m.type != PROTO_HELLO) {
		char src[32];
		snprintf(src, sizeof(src), "host=%lld", (long long)c->host_id);
		roost_log_limited(ROOST_LOG_WARN, "agent.bad_message", src,
		                  "host=%lld msg=\"message before hello\"", (long long)c->host_id);
		proto_msg_release(&m);
		return 0;
	}
	switch (m.type) {
	case PROTO_HELLO:
		if (m.protocol != PROTO_VERSION) {
			log_warn("agent.protocol", "host=%lld protocol=%d want=%d", (long long)c->host_id,
			         m.protocol, PROTO_VERSION);
			close_conn(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "unsupported protocol version");
			break;
		}
		c->hello_done = 1;
		if (handler && handler->message)
			handler->message(c->host_id, &m);
		break;
	default:
		if (handler && handler->message)
			handler->message(c->host_id, &m);
		break;
	}
	proto_msg_release(&m);
	return 0;
}

void hub_pong(struct agent_conn *c)
{
	if (c) {
		c->last_rx_ms = mono_ms();
		c->last_seen = srv_now();
	}
}

/*
 * Dead-peer detection: an agent silent for a third of the timeout gets a
 * ping (its WebSocket layer answers with a pong); silent for the whole
 * timeout, it is gone and its connection is closed.
 */
static void keepalive_cb(lws_sorted_usec_list_t *sul)
{
	struct srv *s = g_srv;
	int64_t now = mono_ms(), limit = s->agent_timeout_s * 1000;
	for (size_t i = 0; i < s->conns_cap; i++) {
		struct agent_conn *c = s->conns[i];
		if (!c || c->closing)
			continue;
		int64_t idle = now - c->last_rx_ms;
		if (idle >= limit) {
			log_warn("agent.timeout", "host=%lld silent_ms=%lld", (long long)c->host_id,
			         (long long)idle);
			c->closing = 1;
			lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		} else if (idle >= limit / 3) {
			c->want_ping = 1;
			lws_callback_on_writable(c->wsi);
		}
	}
	lws_sul_schedule(s->lws, 0, sul, keepalive_cb, LWS_US_PER_SEC);
}

void hub_start(void)
{
	static lws_sorted_usec_list_t sul;
	if (g_srv->agent_timeout_s <= 0)
		g_srv->agent_timeout_s = 60;
	lws_sul_schedule(g_srv->lws, 0, &sul, keepalive_cb, LWS_US_PER_SEC);
}

int hub_receive(struct agent_conn *c, const void *in, size_t len, int final, int binary)
{
	if (c->closing)
		return -1;
	c->last_rx_ms = mono_ms();
	c->last_seen = srv_now();
	if (binary) {
		close_conn(c, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "text frames only");
		return 0;
	}
	if (c->rxlen + len > PROTO_MAX_FRAME) {
		log_warn("agent.frame_too_large", "host=%lld", (long long)c->host_id);
		close_conn(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
		return 0;
	}
	if (roost_buf_append(&c->rx, &c->rxlen, &c->rxcap, in, len))
		return -1;
	if (!final)
		return 0;
	size_t n = c->rxlen;
	c->rxlen = 0;
	int rc = handle(c, c->rx, n);
	if (c->rxcap > 65536) { /* do not keep a big buffer per idle agent */
		free(c->rx);
		c->rx = NULL;
		c->rxcap = 0;
	}
	return rc;
}
