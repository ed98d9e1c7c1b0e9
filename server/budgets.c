/* SPDX-License-Identifier: MIT */
/*
 * The connection budgets of roostd's one port (http.h): connections counted
 * per address (refused beyond max_per_addr) and in all (accepting pauses at
 * max_conns, and while PENDING_MAX handshakes are under way), the rate window every body and response must keep up with,
 * and a once-a-second housekeeping timer (summaries of rate-limited log
 * lines, a sweep of descriptors whose close was not seen, memory given back
 * after a burst), and libwebsockets' own log lines made ours (http_lws_log).
 * The TLS handshake and header deadlines are libwebsockets'
 * own (timeout_secs, set in main.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http_int.h"
#include "roost/log.h"

static struct http_limits limits = {10, 1024, 0, 1000};

void http_configure(const struct http_limits *l)
{
	limits = *l;
	if (limits.body_window_s < 1)
		limits.body_window_s = 1;
}

/* Connections by address: open addressing, deletion by backward shift; at
 * most max_conns entries in a table of at least twice as many slots. */
struct addr_slot {
	uint8_t addr[16]; /* IPv6, or IPv4-mapped */
	unsigned count;   /* 0: free */
};
static struct addr_slot *atab;
static size_t amask;
/* Per descriptor: 1 + the accepted connection's place in the count, kept
 * only to find its address again when it closes. */
struct fd_rec {
	uint8_t addr[16];
	uint8_t tracked;
	uint8_t pending; /* accepted, handshake and first headers not yet done */
};
static struct fd_rec *fds;
static size_t nfds;
static unsigned nconns, peak_conns;
/* Handshakes under way at once (issue 17). All 20,000 agents of a fleet
 * connect together after a restart; accepting them all at once started
 * 20,000 TLS handshakes that no single loop finishes within the handshake
 * deadline (--header-timeout), so they all timed out, reconnected and
 * started over: 0 of 20,000 configured in 120 s. At this many roostd stops
 * taking connections from the listen queue (the kernel's backlog, 4096,
 * holds them, and beyond it the clients' SYNs are retried by their kernels)
 * and takes them again once a quarter of those under way are done: a
 * waiting agent costs neither side anything, where closing it made it redo
 * its TCP and TLS handshakes after a backoff. Above the default per-address
 * limit (512), so that one address can not take it all. Should accepting go
 * on anyway (libwebsockets re-enables its listener after its own pause at
 * the descriptor limit), a connection beyond twice this many is closed. */
#define PENDING_MAX 1024u
static unsigned npending;
/* The listener roostd paused (lws_rx_flow_control: it stops polling it),
 * or NULL. roostd pauses it itself, at max_conns too: left to
 * libwebsockets (fd_limit_per_thread below the descriptor limit), lws
 * found a connection by its descriptor with a walk over every slot
 * (wsi_from_fd: 23% of roostd's CPU with 17,000 agents). libwebsockets
 * polls its listener again whenever a connection closes, so each accept
 * checks anew. */
static struct lws *paused_listener;

static int accept_full(void)
{
	return npending >= PENDING_MAX || nconns >= limits.max_conns;
}

static void accept_resume(void)
{
	if (paused_listener && npending <= PENDING_MAX * 3 / 4 && nconns < limits.max_conns) {
		lws_rx_flow_control(paused_listener, 1);
		paused_listener = NULL;
		log_debug("net.accepting", "handshakes=%u connections=%u", npending, nconns);
	}
}

static void pending_done(int fd)
{
	if (fd >= 0 && (size_t)fd < nfds && fds[fd].pending) {
		fds[fd].pending = 0;
		npending--;
		accept_resume();
	}
}


static size_t addr_home(const uint8_t a[16])
{
	uint64_t h = 1469598103934665603ull;
	for (int i = 0; i < 16; i++)
		h = (h ^ a[i]) * 1099511628211ull;
	return (size_t)h & amask;
}

static int addr_table(void)
{
	if (atab)
		return 0;
	size_t n = 64;
	while (n < 2 * (size_t)limits.max_conns + 2)
		n *= 2;
	atab = calloc(n, sizeof(*atab));
	if (!atab)
		return -1;
	amask = n - 1;
	return 0;
}

static struct addr_slot *addr_find(const uint8_t a[16], int add)
{
	for (size_t i = addr_home(a);; i = (i + 1) & amask) {
		if (!atab[i].count) {
			if (!add)
				return NULL;
			memcpy(atab[i].addr, a, 16);
			return &atab[i];
		}
		if (!memcmp(atab[i].addr, a, 16))
			return &atab[i];
	}
}

static void addr_release(const uint8_t a[16])
{
	struct addr_slot *e = addr_find(a, 0);
	if (!e || --e->count)
		return;
	size_t i = (size_t)(e - atab), j = i;
	for (;;) { /* backward shift: keep every entry reachable from its home */
		j = (j + 1) & amask;
		if (!atab[j].count)
			break;
		size_t k = addr_home(atab[j].addr);
		if (i <= j ? (k <= i || k > j) : (k <= i && k > j)) {
			atab[i] = atab[j];
			i = j;
		}
	}
	atab[i].count = 0;
}

static void addr_text(const uint8_t a[16], char *out, size_t cap)
{
	static const uint8_t v4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (!memcmp(a, v4, 12))
		inet_ntop(AF_INET, a + 12, out, (socklen_t)cap);
	else
		inet_ntop(AF_INET6, a, out, (socklen_t)cap);
}

void conn_forget(int fd)
{
	if (fd < 0 || (size_t)fd >= nfds || !fds[fd].tracked)
		return;
	pending_done(fd);
	fds[fd].tracked = 0;
	addr_release(fds[fd].addr);
	nconns--;
	accept_resume();
}

/* A new connection (LWS_CALLBACK_FILTER_NETWORK_CONNECTION): 0 keeps it,
 * -1 has libwebsockets close it. */
int conn_accept(struct lws *listener, const struct lws_filter_network_conn_args *a, int fd)
{
	uint8_t addr[16] = {0};
	if (a && a->cli_addr.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->cli_addr;
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &s4->sin_addr, 4);
	} else if (a && a->cli_addr.ss_family == AF_INET6) {
		memcpy(addr, &((const struct sockaddr_in6 *)&a->cli_addr)->sin6_addr, 16);
	}
	if (fd < 0 || addr_table())
		return 0;
	if ((size_t)fd >= nfds) {
		size_t n = nfds ? nfds : 1024;
		while (n <= (size_t)fd)
			n *= 2;
		struct fd_rec *nf = realloc(fds, n * sizeof(*nf));
		if (!nf)
			return 0;
		memset(nf + nfds, 0, (n - nfds) * sizeof(*nf));
		fds = nf;
		nfds = n;
	}
	conn_forget(fd); /* a record left by a connection that never reached poll */
	struct addr_slot *e = addr_find(addr, 1);
	char ip[INET6_ADDRSTRLEN];
	if (limits.max_per_addr && e->count >= limits.max_per_addr) {
		addr_text(addr, ip, sizeof(ip));
		roost_log_limited(ROOST_LOG_WARN, "net.refused", ip,
		                  "peer=%s why=per_address_limit limit=%u", ip, limits.max_per_addr);
		return -1;
	}
	if (nconns >= limits.max_conns) { /* libwebsockets polled its listener again */
		if (listener) {
			paused_listener = listener;
			lws_rx_flow_control(listener, 0);
		}
		roost_log_limited(ROOST_LOG_WARN, "net.saturated", NULL,
		                  "connections=%u limit=%u what=\"accepting paused until one closes\"",
		                  nconns, limits.max_conns);
		return -1;
	}
	if (npending >= 2 * PENDING_MAX) {
		addr_text(addr, ip, sizeof(ip));
		roost_log_limited(ROOST_LOG_WARN, "net.shed", NULL,
		                  "peer=%s why=handshakes_under_way limit=%u", ip, 2 * PENDING_MAX);
		return -1;
	}
	e->count++;
	memcpy(fds[fd].addr, addr, 16);
	fds[fd].tracked = 1;
	fds[fd].pending = 1;
	npending++;
	nconns++;
	if (nconns > peak_conns)
		peak_conns = nconns;
	if (accept_full() && listener) {
		paused_listener = listener;
		lws_rx_flow_control(listener, 0);
		if (nconns >= limits.max_conns)
			roost_log_limited(ROOST_LOG_WARN, "net.saturated", NULL,
			                  "connections=%u limit=%u what=\"accepting paused until one closes\"",
			                  nconns, limits.max_conns);
		else
			roost_log_limited(ROOST_LOG_INFO, "net.accept_paused", NULL,
			                  "handshakes=%u what=\"new connections wait in the listen queue\"",
			                  npending);
	}
	return 0;
}

/* The connection's descriptor, noted while it is open so that
 * LWS_CALLBACK_WSI_DESTROY (after the close) can release its count. */
void conn_tag(struct lws *wsi, struct pss *p)
{
	int fd = lws_get_socket_fd(wsi);
	if (p && !p->fd_tag && fd >= 0 && (size_t)fd < nfds && fds[fd].tracked)
		p->fd_tag = fd + 1;
	pending_done(fd); /* its first request (or upgrade) is here */
}

/* A safety net for connections whose close was not seen (no tag): a
 * counted descriptor that is no longer a socket was closed. At most
 * SWEEP_SLICE descriptors a second, from where the last call stopped: all
 * of them at once was a getpeername() per agent every second (5% of
 * roostd's CPU with 17,000 agents, in one stall of the loop). */
#define SWEEP_SLICE 1024u
static void conn_sweep(void)
{
	static size_t next;
	for (size_t k = 0; k < SWEEP_SLICE && k < nfds; k++, next++) {
		size_t fd = next % nfds;
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		if (fds[fd].tracked && getpeername((int)fd, (struct sockaddr *)&ss, &sl) &&
		    errno != ENOTCONN)
			conn_forget((int)fd);
	}
	next %= nfds ? nfds : 1;
}

static lws_sorted_usec_list_t sul_house;
static struct lws_context *house_ctx;

/* Once a second: summaries of suppressed log lines; memory back to the
 * system once a burst of connections is over (glibc keeps freed heap). */
static void housekeeping(lws_sorted_usec_list_t *sul)
{
	roost_log_limit_flush(0);
	conn_sweep();
	if (peak_conns >= 64 && nconns <= peak_conns / 4) {
		malloc_trim(0);
		log_debug("net.trimmed", "peak=%u connections=%u", peak_conns, nconns);
		peak_conns = nconns;
	}
	lws_sul_schedule(house_ctx, 0, sul, housekeeping, LWS_US_PER_SEC);
}

/* libwebsockets' own lines, rate-limited by their first word ("accept:"
 * repeats at the descriptor limit), as event "lws". */
void http_lws_log(int level, const char *line)
{
	char key[32], msg[512];
	size_t k = strcspn(line, " \n");
	snprintf(key, sizeof(key), "%.*s", (int)(k < sizeof(key) - 1 ? k : sizeof(key) - 1), line);
	snprintf(msg, sizeof(msg), "%s", line);
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = 0;
	roost_log_limited(level == LLL_ERR ? ROOST_LOG_ERROR : ROOST_LOG_WARN, "lws", key,
	                  "msg=%s", roost_lq(msg));
}

void http_start(struct lws_context *ctx)
{
	house_ctx = ctx;
	lws_sul_schedule(ctx, 0, &sul_house, housekeeping, LWS_US_PER_SEC);
}

void http_stop(void)
{
	free(atab);
	free(fds);
	atab = NULL;
	fds = NULL;
	nfds = 0;
	nconns = peak_conns = 0;
	roost_log_limit_flush(1);
}

const char *peer_of(struct lws *wsi, char *buf, size_t cap)
{
	int fd = lws_get_socket_fd(wsi);
	if (fd >= 0 && (size_t)fd < nfds && fds[fd].tracked)
		addr_text(fds[fd].addr, buf, cap);
	else
		snprintf(buf, cap, "-");
	return buf;
}

/* The rate window: armed while a body is expected or a response is being
 * written. */
void rate_arm(struct lws *wsi, struct pss *p)
{
	p->win_mark = p->received + p->sent;
	p->timed = 1;
	lws_set_timer_usecs(wsi, (lws_usec_t)limits.body_window_s * LWS_US_PER_SEC);
}

void rate_disarm(struct lws *wsi, struct pss *p)
{
	if (p->timed)
		lws_set_timer_usecs(wsi, LWS_SET_TIMER_USEC_CANCEL);
	p->timed = 0;
}

/* LWS_CALLBACK_TIMER: -1 closes a connection that moved too little. */
int rate_check(struct lws *wsi, struct pss *p)
{
	if (!p || !p->timed)
		return 0;
	p->timed = 0;
	int body = p->active && !p->body_done;
	int writing = p->active && p->dispatched && (p->streaming || p->dl || p->outpos < p->outlen);
	if (!body && !writing)
		return 0; /* waiting for the committer, or between requests */
	uint64_t moved = p->received + p->sent - p->win_mark;
	uint64_t need = (uint64_t)limits.body_min_rate * (uint64_t)limits.body_window_s;
	if (moved < need) {
		char ip[INET6_ADDRSTRLEN];
		peer_of(wsi, ip, sizeof(ip));
		roost_log_limited(ROOST_LOG_WARN, body ? "http.slow_body" : "http.slow_reader", ip,
		                  "peer=%s method=%s path=%s moved=%llu window_s=%d min_rate=%u",
		                  ip, p->method, roost_lq(p->path), (unsigned long long)moved,
		                  limits.body_window_s, limits.body_min_rate);
		return -1;
	}
	rate_arm(wsi, p);
	return 0;
}
