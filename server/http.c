/* SPDX-License-Identifier: MIT */
/*
 * roostd's one libwebsockets protocol: HTTP/1.1 requests (the REST API and
 * the repository object API) and the agent WebSocket, on one TLS port.
 *
 * Bodies arrive in pieces (LWS_CALLBACK_HTTP_BODY): REST bodies are
 * gathered up to 1 MiB; object uploads are streamed into a backend writer
 * as they come, so a pack is never held whole in memory and a slow upload
 * only occupies its own connection. Responses are written from
 * LWS_CALLBACK_HTTP_WRITEABLE, objects in 256 KiB slices. Every buffer handed
 * to lws_write has LWS_PRE bytes in front (DESIGN.md, pitfalls).
 *
 * Framing: a body is read only by Content-Length. Transfer-Encoding
 * (chunked or any other) is refused (411, 501), as are both headers at once
 * and malformed or repeated lengths (400); such a connection is closed
 * after the answer, since where its next request starts is unknown.
 *
 * Budgets (http.h): the TLS handshake and the headers have libwebsockets'
 * deadlines (timeout_secs, timeout_secs_ah_idle, set in main.c); a body or
 * a response must move at least body_min_rate bytes a second, checked by a
 * per-connection timer every body_window_s; connections are counted per
 * address (refused beyond max_per_addr) and in all, where libwebsockets
 * stops polling the listening socket at max_conns. What peers can repeat
 * at will is logged through roost_log_limited.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "committer.h"
#include "http.h"
#include "hub.h"
#include "objcheck.h"
#include "roost/buf.h"
#include "roost/log.h"
#include "roostd.h"

#define API_BODY_MAX (1u << 20)
#define OBJECT_MAX ((uint64_t)1 << 30)
#define SLICE (256u * 1024)

struct pss {
	struct agent_conn *conn; /* WebSocket */
	int64_t ws_host;
	int fd_tag;              /* 1 + the connection's descriptor, for its count */
	/* the current HTTP transaction */
	int active;
	char method[8];
	char path[512];
	char query[1024];
	enum auth_kind auth;
	int auth_bad;
	int64_t host_id;
	int is_repo;
	char *body;
	size_t blen, bcap;
	int too_big;
	/* upload */
	struct roost_bwriter *w;
	char objname[128];
	int up_status; /* nonzero: answer this at completion */
	char up_msg[600];
	/* response */
	uint8_t *out; /* LWS_PRE + outlen */
	size_t outlen, outpos;
	char sname[128];
	uint64_t soff, send;
	int streaming, head;
	int dispatched; /* the response is under way: ignore late body events */
	uint64_t put_id;   /* nonzero: the upload's commit is on the committer thread */
	struct commit *committed; /* its result, to answer from the writeable callback */
	struct objcheck *check;   /* upload: its content against its name (owned) */
	/* framing and progress */
	uint64_t clen;     /* declared Content-Length */
	uint64_t received; /* body bytes that arrived */
	uint64_t sent;     /* response body bytes written */
	uint64_t win_mark; /* received + sent when the rate window began */
	int timed;         /* the rate timer is armed */
	int body_done;
	int close_after;   /* framing refused: close once answered */
};

/* ---- connection budgets ---- */

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
};
static struct fd_rec *fds;
static size_t nfds;
static unsigned nconns, peak_conns;

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

static void conn_forget(int fd)
{
	if (fd < 0 || (size_t)fd >= nfds || !fds[fd].tracked)
		return;
	fds[fd].tracked = 0;
	addr_release(fds[fd].addr);
	nconns--;
}

/* A new connection (LWS_CALLBACK_FILTER_NETWORK_CONNECTION): 0 keeps it,
 * -1 has libwebsockets close it. */
static int conn_accept(const struct lws_filter_network_conn_args *a, int fd)
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
	e->count++;
	memcpy(fds[fd].addr, addr, 16);
	fds[fd].tracked = 1;
	nconns++;
	if (nconns > peak_conns)
		peak_conns = nconns;
	if (nconns >= limits.max_conns)
		roost_log_limited(ROOST_LOG_WARN, "net.saturated", NULL,
		                  "connections=%u limit=%u what=\"accepting paused until one closes\"",
		                  nconns, limits.max_conns);
	return 0;
}

/* The connection's descriptor, noted while it is open so that
 * LWS_CALLBACK_WSI_DESTROY (after the close) can release its count. */
static void conn_tag(struct lws *wsi, struct pss *p)
{
	int fd = lws_get_socket_fd(wsi);
	if (p && !p->fd_tag && fd >= 0 && (size_t)fd < nfds && fds[fd].tracked)
		p->fd_tag = fd + 1;
}

/* A safety net for connections whose close was not seen (no tag): a
 * counted descriptor that is no longer a socket was closed. */
static void conn_sweep(void)
{
	for (size_t fd = 0; fd < nfds; fd++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		if (fds[fd].tracked && getpeername((int)fd, (struct sockaddr *)&ss, &sl) &&
		    errno != ENOTCONN)
			conn_forget((int)fd);
	}
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

static const char *peer_of(struct lws *wsi, char *buf, size_t cap)
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
static void rate_arm(struct lws *wsi, struct pss *p)
{
	p->win_mark = p->received + p->sent;
	p->timed = 1;
	lws_set_timer_usecs(wsi, (lws_usec_t)limits.body_window_s * LWS_US_PER_SEC);
}

static void rate_disarm(struct lws *wsi, struct pss *p)
{
	if (p->timed)
		lws_set_timer_usecs(wsi, LWS_SET_TIMER_USEC_CANCEL);
	p->timed = 0;
}

/* LWS_CALLBACK_TIMER: -1 closes a connection that moved too little. */
static int rate_check(struct lws *wsi, struct pss *p)
{
	if (!p || !p->timed)
		return 0;
	p->timed = 0;
	int body = p->active && !p->body_done;
	int writing = p->active && p->dispatched && (p->streaming || p->outpos < p->outlen);
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

/* Uploads waiting for their commit, so a result finds its connection (or
 * learns that it closed meanwhile). Few at a time: a linear list. */
struct pending_put {
	uint64_t id;
	struct lws *wsi;
	struct pss *p;
};
static struct pending_put *pending;
static size_t npending, cappending;
static uint64_t next_put_id = 1;

static void pending_forget(struct pss *p)
{
	for (size_t i = 0; i < npending; i++)
		if (pending[i].p == p) {
			pending[i] = pending[--npending];
			return;
		}
}

static void reset(struct pss *p)
{
	if (p->put_id)
		pending_forget(p);
	objcheck_free(p->check);
	free(p->committed);
	if (p->w)
		g_srv->repo_be->ops->writer_abort(p->w);
	free(p->body);
	free(p->out);
	struct agent_conn *c = p->conn;
	int64_t wh = p->ws_host;
	int tag = p->fd_tag;
	memset(p, 0, sizeof(*p));
	p->conn = c;
	p->ws_host = wh;
	p->fd_tag = tag;
}

static const char *method_of(struct lws *wsi)
{
	static const struct {
		enum lws_token_indexes tok;
		const char *name;
	} m[] = {
		{WSI_TOKEN_GET_URI, "GET"},       {WSI_TOKEN_POST_URI, "POST"},
		{WSI_TOKEN_PUT_URI, "PUT"},       {WSI_TOKEN_PATCH_URI, "PATCH"},
		{WSI_TOKEN_DELETE_URI, "DELETE"}, {WSI_TOKEN_HEAD_URI, "HEAD"},
		{WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (lws_hdr_total_length(wsi, m[i].tok))
			return m[i].name;
	return NULL;
}

/* Who is calling: the admin token, a host credential, or nobody. */
static void resolve_auth(struct lws *wsi, enum auth_kind *kind, int *bad, int64_t *host)
{
	char h[600];
	*kind = AUTH_NONE;
	*bad = 0;
	*host = 0;
	int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n <= 0)
		return;
	*bad = 1;
	if (n >= (int)sizeof(h) || lws_hdr_copy(wsi, h, sizeof(h), WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
		return;
	uint8_t hash[AUTH_HASH_LEN];
	if (!strncmp(h, "Bearer ", 7) && !strchr(h + 7, '.')) {
		if (auth_hash_text(h + 7, strlen(h + 7), hash) == ROOST_OK &&
		    auth_hash_equal(hash, g_srv->admin_hash)) {
			*kind = AUTH_ADMIN;
			*bad = 0;
		}
		return;
	}
	int64_t hid;
	if (auth_parse_bearer(h, &hid, hash) != ROOST_OK)
		return;
	sqlite3_stmt *st = db_q("SELECT secret_hash FROM hosts WHERE id=?", "i", hid);
	if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == AUTH_HASH_LEN &&
	    auth_hash_equal(hash, sqlite3_column_blob(st, 0))) {
		*kind = AUTH_HOST;
		*bad = 0;
		*host = hid;
	}
	sqlite3_finalize(st);
}

/* Sends headers and arranges for the body (p->out or a stream) to follow. */
static int start_response(struct lws *wsi, struct pss *p, int status, const char *ctype,
                          uint64_t len, const char *content_range)
{
	uint8_t buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *q = start, *end = buf + sizeof(buf) - 1;
	if (lws_add_http_common_headers(wsi, (unsigned int)status, ctype, (lws_filepos_t)len, &q,
	                                end))
		return -1;
	if (content_range &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"content-range:",
	                                (const unsigned char *)content_range,
	                                (int)strlen(content_range), &q, end))
		return -1;
	if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
	                                (const unsigned char *)"no-store", 8, &q, end))
		return -1;
	if (p->close_after &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
	                                (const unsigned char *)"close", 5, &q, end))
		return -1;
	if (lws_finalize_write_http_header(wsi, start, &q, end))
		return -1;
	if (p->head || len == 0) {
		p->outlen = p->outpos = 0;
		p->streaming = 0;
		if (p->close_after || lws_http_transaction_completed(wsi))
			return -1;
		return 0;
	}
	rate_arm(wsi, p); /* the reader must keep up, too */
	lws_callback_on_writable(wsi);
	return 0;
}

static int respond_json(struct lws *wsi, struct pss *p, int status, json_t *j)
{
	char *txt = json_dumps(j ? j : json_null(), JSON_COMPACT);
	json_decref(j);
	if (!txt)
		return -1;
	size_t n = strlen(txt);
	free(p->out);
	p->out = malloc(LWS_PRE + n + 1);
	if (!p->out) {
		free(txt);
		return -1;
	}
	memcpy(p->out + LWS_PRE, txt, n);
	p->out[LWS_PRE + n] = '\n';
	free(txt);
	p->outlen = n + 1;
	p->outpos = 0;
	return start_response(wsi, p, status, "application/json", p->outlen, NULL);
}

static int respond_error(struct lws *wsi, struct pss *p, int status, const char *code,
                         const char *msg)
{
	struct resp rs = {0};
	resp_error(&rs, status, code, msg, NULL);
	return respond_json(wsi, p, rs.status, rs.json);
}

/* ---- repository object API ---- */

static int type_ok(const char *t)
{
	return !strcmp(t, "keys") || !strcmp(t, "packs") || !strcmp(t, "index") ||
	       !strcmp(t, "snapshots") || !strcmp(t, "marks");
}

static int list_cb(void *ctx, const char *name, uint64_t size)
{
	json_array_append_new((json_t *)ctx,
	                      json_pack("{s:s, s:I}", "name", name, "size", (json_int_t)size));
	return 0;
}

/* Parses "bytes=a-b" / "bytes=a-" against size; 0 ok, -1 unsatisfiable. */
static int parse_range(const char *r, uint64_t size, uint64_t *a, uint64_t *b)
{
	unsigned long long x, y;
	char dash;
	if (sscanf(r, "bytes=%llu%c", &x, &dash) != 2 || dash != '-')
		return -1;
	const char *after = strchr(r, '-') + 1;
	if (*after == 0)
		y = size ? size - 1 : 0;
	else if (sscanf(after, "%llu", &y) != 1)
		return -1;
	if (x > y || x >= size)
		return -1;
	if (y >= size)
		y = size - 1;
	*a = x;
	*b = y;
	return 0;
}

static int repo_request(struct lws *wsi, struct pss *p)
{
	struct srv *s = g_srv;
	if (p->auth == AUTH_NONE)
		return respond_error(wsi, p, 401, "unauthorized",
		                     p->auth_bad ? "invalid credentials" : "missing credentials");
	const char *rest = p->path + strlen("/v1/repo/");
	size_t rl = strlen(rest);
	struct roost_errbuf eb = {{0}};
	/* listing: /v1/repo/<type>/ or /v1/repo/<type> */
	char type[32];
	if (rl < sizeof(type) && strcspn(rest, "/") >= rl - 1 &&
	    (rest[rl - 1] == '/' || type_ok(rest))) {
		snprintf(type, sizeof(type), "%.*s", (int)strcspn(rest, "/"), rest);
		if (!type_ok(type))
			return respond_error(wsi, p, 404, "not_found", "no such object type");
		if (strcmp(p->method, "GET"))
			return respond_error(wsi, p, 405, "method_not_allowed", "listings are GET only");
		json_t *arr = json_array();
		if (s->repo_be->ops->list(s->repo_be, type, list_cb, arr, &eb)) {
			json_decref(arr);
			return respond_error(wsi, p, 500, "repository", eb.msg);
		}
		return respond_json(wsi, p, 200, arr);
	}
	if (!roost_backend_name_valid(rest))
		return respond_error(wsi, p, 404, "not_found", "invalid object name");
	snprintf(p->objname, sizeof(p->objname), "%s", rest);
	if (!strcmp(p->method, "DELETE"))
		return p->auth == AUTH_HOST
		               ? respond_error(wsi, p, 403, "forbidden",
		                               "the repository is append-only for hosts")
		               : respond_error(wsi, p, 405, "method_not_allowed",
		                               "objects are removed by prune on the server");
	if (!strcmp(p->method, "GET") || !strcmp(p->method, "HEAD")) {
		uint64_t size;
		enum roost_err err = s->repo_be->ops->stat(s->repo_be, p->objname, &size, &eb);
		if (err == ROOST_ENOENT)
			return respond_error(wsi, p, 404, "not_found", "no such object");
		if (err)
			return respond_error(wsi, p, 500, "repository", eb.msg);
		char range[128], cr[128];
		uint64_t a = 0, b = size ? size - 1 : 0;
		int ranged = 0;
		if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_RANGE) > 0 &&
		    lws_hdr_copy(wsi, range, sizeof(range), WSI_TOKEN_HTTP_RANGE) > 0) {
			if (parse_range(range, size, &a, &b)) {
				snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)size);
				return respond_error(wsi, p, 416, "range", "range not satisfiable");
			}
			ranged = 1;
			snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)a,
			         (unsigned long long)b, (unsigned long long)size);
		}
		snprintf(p->sname, sizeof(p->sname), "%s", p->objname);
		p->soff = a;
		p->send = size ? b + 1 : 0;
		p->streaming = 1;
		return start_response(wsi, p, ranged ? 206 : 200, "application/octet-stream",
		                      p->send - p->soff, ranged ? cr : NULL);
	}
	return respond_error(wsi, p, 405, "method_not_allowed", "GET, HEAD or PUT");
}

/* PUT: decides at the start whether the body will be stored or discarded. */
static void upload_begin(struct pss *p, uint64_t clen)
{
	struct srv *s = g_srv;
	const char *rest = p->path + strlen("/v1/repo/");
	struct roost_errbuf eb = {{0}};
	p->up_status = 0;
	if (p->auth == AUTH_NONE) {
		p->up_status = 401;
		snprintf(p->up_msg, sizeof(p->up_msg), "%s",
		         p->auth_bad ? "invalid credentials" : "missing credentials");
		return;
	}
	if (!roost_backend_name_valid(rest)) {
		p->up_status = 404;
		snprintf(p->up_msg, sizeof(p->up_msg), "invalid object name");
		return;
	}
	snprintf(p->objname, sizeof(p->objname), "%s", rest);
	int data = !strncmp(rest, "packs/", 6) || !strncmp(rest, "index/", 6) ||
	           !strncmp(rest, "snapshots/", 10);
	if (p->auth == AUTH_HOST && !data) {
		p->up_status = 403;
		snprintf(p->up_msg, sizeof(p->up_msg),
		         "hosts may add packs, index and snapshot objects only");
		return;
	}
	if (clen > OBJECT_MAX) {
		p->up_status = 413;
		snprintf(p->up_msg, sizeof(p->up_msg), "object larger than 1 GiB");
		return;
	}
	uint64_t existing;
	if (s->repo_be->ops->stat(s->repo_be, p->objname, &existing, &eb) == ROOST_OK) {
		p->up_status = 409;
		snprintf(p->up_msg, sizeof(p->up_msg), "object exists; objects are never overwritten");
		return;
	}
	if (s->repo_be->ops->writer_open(s->repo_be, &p->w, &eb)) {
		p->up_status = 500;
		snprintf(p->up_msg, sizeof(p->up_msg), "%s", eb.msg);
		return;
	}
	if (!(p->check = objcheck_new(p->objname))) {
		p->up_status = 500;
		snprintf(p->up_msg, sizeof(p->up_msg), "out of memory");
	}
}

static int answer_commit(struct lws *wsi, struct pss *p, const struct commit *c)
{
	if (c->err == ROOST_EEXIST)
		return respond_error(wsi, p, 409, "exists", "object exists; objects are never overwritten");
	if (c->err == ROOST_ECORRUPT) {
		char ip[INET6_ADDRSTRLEN];
		peer_of(wsi, ip, sizeof(ip));
		roost_log_limited(ROOST_LOG_WARN, "repo.put_refused", ip,
		                  "peer=%s host=%lld object=%s status=400 why=%s", ip,
		                  (long long)p->host_id, roost_lq(c->name), roost_lq(c->msg));
		return respond_error(wsi, p, 400, "bad_content", c->msg);
	}
	if (c->err) {
		log_error("repo.commit_failed", "host=%lld object=%s msg=%s", (long long)p->host_id,
		          roost_lq(c->name), roost_lq(c->msg));
		return respond_error(wsi, p, 500, "repository", c->msg);
	}
	log_debug("repo.put", "host=%lld object=%s", (long long)p->host_id, roost_lq(c->name));
	return respond_json(wsi, p, 201, json_pack("{s:s}", "name", c->name));
}

static int upload_finish(struct lws *wsi, struct pss *p)
{
	struct srv *s = g_srv;
	if (p->up_status) {
		if (p->w) {
			s->repo_be->ops->writer_abort(p->w);
			p->w = NULL;
		}
		if (p->up_status != 409) {
			char ip[INET6_ADDRSTRLEN];
			peer_of(wsi, ip, sizeof(ip));
			roost_log_limited(ROOST_LOG_WARN, "repo.put_refused", ip,
			                  "peer=%s host=%lld object=%s status=%d why=%s", ip,
			                  (long long)p->host_id, roost_lq(p->objname), p->up_status,
			                  roost_lq(p->up_msg));
		}
		return respond_error(wsi, p, p->up_status,
		                     p->up_status == 409   ? "exists"
		                     : p->up_status == 403 ? "forbidden"
		                     : p->up_status == 401 ? "unauthorized"
		                     : p->up_status == 404 ? "not_found"
		                     : p->up_status == 413 ? "too_large"
		                     : p->up_status == 400 ? "bad_length"
		                                           : "repository",
		                     p->up_msg);
	}
	struct roost_bwriter *w = p->w;
	struct objcheck *check = p->check;
	p->w = NULL;
	p->check = NULL;
	if (npending == cappending) {
		size_t nc = cappending ? cappending * 2 : 16;
		struct pending_put *np = realloc(pending, nc * sizeof(*np));
		if (!np) {
			s->repo_be->ops->writer_abort(w);
			objcheck_free(check);
			return respond_error(wsi, p, 500, "repository", "out of memory");
		}
		pending = np;
		cappending = nc;
	}
	uint64_t id = next_put_id++;
	if (committer_submit(id, w, check, p->objname)) {
		/* no committer thread (unit tests): commit here */
		struct commit c = {.w = w, .check = check};
		snprintf(c.name, sizeof(c.name), "%s", p->objname);
		committer_run(&c);
		return answer_commit(wsi, p, &c);
	}
	pending[npending++] = (struct pending_put){id, wsi, p};
	p->put_id = id;
	return 0; /* answered when the commit is done */
}

/* Event loop: results of finished commits go to their connections. */
static void commits_done(void)
{
	struct commit *c;
	while ((c = committer_take_done())) {
		size_t i;
		for (i = 0; i < npending && pending[i].id != c->id; i++)
			;
		if (i == npending) { /* the client went away; the object is stored all the same */
			free(c);
			continue;
		}
		struct pss *p = pending[i].p;
		struct lws *wsi = pending[i].wsi;
		pending[i] = pending[--npending];
		p->put_id = 0;
		free(p->committed);
		p->committed = c;
		lws_callback_on_writable(wsi);
	}
}

/* ---- REST ---- */

static int api_request(struct lws *wsi, struct pss *p)
{
	if (p->too_big)
		return respond_error(wsi, p, 413, "too_large", "request body larger than 1 MiB");
	struct req rq = {
		.method = p->method,
		.path = p->path,
		.query = p->query,
		.body = p->body,
		.blen = p->blen,
		.auth = p->auth,
		.auth_bad = p->auth_bad,
		.host_id = p->host_id,
	};
	struct resp rs = {0};
	api_handle(&rq, &rs);
	if (!rs.json)
		resp_error(&rs, 500, "internal", "no response", NULL);
	log_debug("http", "method=%s path=%s status=%d", p->method, roost_lq(p->path), rs.status);
	return respond_json(wsi, p, rs.status, rs.json);
}

static int dispatch_request(struct lws *wsi, struct pss *p)
{
	if (p->dispatched)
		return 0;
	p->dispatched = 1;
	p->body_done = 1;
	rate_disarm(wsi, p);
	/* libwebsockets' content timeout would also run through a slow commit;
	 * the response is timed by the rate window instead */
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	if (p->received != p->clen) {
		/* libwebsockets counts by Content-Length too: a broken invariant, but
		 * never store or act on a body that is not the declared one */
		p->close_after = 1;
		if (p->is_repo && !strcmp(p->method, "PUT") && !p->up_status) {
			p->up_status = 400;
			snprintf(p->up_msg, sizeof(p->up_msg),
			         "body of %llu bytes, Content-Length said %llu",
			         (unsigned long long)p->received, (unsigned long long)p->clen);
		} else if (!(p->is_repo && !strcmp(p->method, "PUT"))) {
			return respond_error(wsi, p, 400, "bad_length",
			                     "the body's length differs from Content-Length");
		}
	}
	if (p->is_repo)
		return !strcmp(p->method, "PUT") ? upload_finish(wsi, p) : repo_request(wsi, p);
	return api_request(wsi, p);
}

/* The request's framing: NULL when its body (if any) is Content-Length
 * bytes (*clen), else why not, with *status set to 400, 411 or 501. */
static const char *framing(struct lws *wsi, uint64_t *clen, int *status)
{
	char v[64];
	*clen = 0;
	int te = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING);
	int cl = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
	*status = 400;
	if (te > 0 && cl > 0)
		return "both Content-Length and Transfer-Encoding: ambiguous framing";
	if (te > 0) {
		if (lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0 &&
		    !strcasecmp(v, "chunked")) {
			*status = 411;
			return "chunked request bodies are not accepted: send Content-Length";
		}
		*status = 501;
		return "Transfer-Encoding is not supported: send Content-Length";
	}
	if (cl <= 0)
		return NULL;
	if (lws_hdr_copy_fragment(wsi, v, sizeof(v), WSI_TOKEN_HTTP_CONTENT_LENGTH, 1) > 0)
		return "Content-Length given more than once";
	int n = lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_HTTP_CONTENT_LENGTH);
	if (n <= 0 || n > 19)
		return "malformed Content-Length";
	uint64_t x = 0;
	for (int i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return "malformed Content-Length";
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*clen = x;
	return NULL;
}

static int on_http(struct lws *wsi, struct pss *p, const char *uri)
{
	conn_tag(wsi, p);
	rate_disarm(wsi, p);
	reset(p);
	p->active = 1;
	const char *m = method_of(wsi);
	if (!m)
		return respond_error(wsi, p, 405, "method_not_allowed", "unsupported method");
	snprintf(p->method, sizeof(p->method), "%s", m);
	p->head = !strcmp(m, "HEAD"); /* headers only, whatever the route */
	if (strlen(uri) >= sizeof(p->path))
		return respond_error(wsi, p, 414, "too_long", "URI too long");
	snprintf(p->path, sizeof(p->path), "%s", uri);
	/* query: "k=v&k=v" from lws's decoded fragments */
	size_t qn = 0;
	char frag[512];
	for (int i = 0; i < 16; i++) {
		int n = lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n <= 0)
			break;
		if (qn + (size_t)n + 2 >= sizeof(p->query))
			break;
		qn += (size_t)snprintf(p->query + qn, sizeof(p->query) - qn, "%s%s", qn ? "&" : "",
		                       frag);
	}
	uint64_t clen = 0;
	int st;
	const char *bad = framing(wsi, &clen, &st);
	if (bad) {
		char ip[INET6_ADDRSTRLEN];
		peer_of(wsi, ip, sizeof(ip));
		p->close_after = 1;
		p->dispatched = 1;
		p->body_done = 1;
		roost_log_limited(ROOST_LOG_WARN, "http.bad_framing", ip,
		                  "peer=%s method=%s path=%s status=%d why=%s", ip, m,
		                  roost_lq(p->path), st, roost_lq(bad));
		return respond_error(wsi, p, st,
		                     st == 411   ? "length_required"
		                     : st == 501 ? "not_implemented"
		                                 : "bad_framing",
		                     bad);
	}
	resolve_auth(wsi, &p->auth, &p->auth_bad, &p->host_id);
	p->is_repo = !strncmp(p->path, "/v1/repo/", 9);
	int has_body = !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH");
	p->clen = has_body ? clen : 0;
	if (p->is_repo && !strcmp(m, "PUT"))
		upload_begin(p, clen);
	else if (clen > API_BODY_MAX)
		p->too_big = 1;
	if (has_body && clen > 0) {
		rate_arm(wsi, p);
		return 0; /* wait for the body */
	}
	return dispatch_request(wsi, p);
}

static int on_body(struct pss *p, const void *in, size_t len)
{
	if (!len || !in)
		return 0;
	p->received += len;
	if (p->is_repo && !strcmp(p->method, "PUT")) {
		if (p->up_status || !p->w)
			return 0; /* discarded */
		if (p->received > p->clen) {
			p->up_status = 400;
			snprintf(p->up_msg, sizeof(p->up_msg), "more body than Content-Length said");
			return 0;
		}
		struct roost_errbuf eb = {{0}};
		if (g_srv->repo_be->ops->writer_write(p->w, in, len, &eb)) {
			p->up_status = 500;
			snprintf(p->up_msg, sizeof(p->up_msg), "%s", eb.msg);
			return 0;
		}
		objcheck_update(p->check, in, len);
		return 0;
	}
	if (p->too_big || p->blen + len > API_BODY_MAX) {
		p->too_big = 1;
		return 0;
	}
	return roost_buf_append(&p->body, &p->blen, &p->bcap, in, len);
}

static int on_writeable(struct lws *wsi, struct pss *p)
{
	if (p->committed) {
		struct commit *c = p->committed;
		p->committed = NULL;
		int rc = answer_commit(wsi, p, c);
		free(c);
		return rc;
	}
	if (p->streaming) {
		static uint8_t buf[LWS_PRE + SLICE];
		uint64_t left = p->send - p->soff;
		size_t n = left > SLICE ? SLICE : (size_t)left;
		struct roost_errbuf eb = {{0}};
		if (g_srv->repo_be->ops->get_range(g_srv->repo_be, p->sname, p->soff, n, buf + LWS_PRE,
		                                   &eb)) {
			log_error("repo.read", "object=%s msg=%s", roost_lq(p->sname), roost_lq(eb.msg));
			return -1; /* headers are out: all we can do is close */
		}
		p->soff += n;
		p->sent += n;
		int last = p->soff >= p->send;
		if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) <
		    (int)n)
			return -1;
		if (!last) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	} else if (p->out && p->outpos < p->outlen) {
		size_t n = p->outlen - p->outpos;
		if (n > SLICE)
			n = SLICE;
		/* the LWS_PRE bytes before this slice were already sent or are the preamble */
		uint8_t *at = p->out + LWS_PRE + p->outpos;
		int last = p->outpos + n >= p->outlen;
		if (p->outpos > 0) {
			uint8_t *tmp = malloc(LWS_PRE + n);
			if (!tmp)
				return -1;
			memcpy(tmp + LWS_PRE, at, n);
			int w = lws_write(wsi, tmp + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
			free(tmp);
			if (w < (int)n)
				return -1;
		} else if (lws_write(wsi, at, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n) {
			return -1;
		}
		p->outpos += n;
		p->sent += n;
		if (!last) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	} else {
		return 0;
	}
	p->active = 0;
	rate_disarm(wsi, p);
	if (p->close_after || lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}

static int ws_filter(struct lws *wsi, struct pss *p)
{
	char uri[64];
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, "/v1/agent")) {
		char ip[INET6_ADDRSTRLEN];
		roost_log_limited(ROOST_LOG_WARN, "agent.refused", peer_of(wsi, ip, sizeof(ip)),
		                  "peer=%s why=\"WebSocket only at /v1/agent\"", ip);
		lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
		return -1;
	}
	enum auth_kind k;
	int bad;
	int64_t hid;
	resolve_auth(wsi, &k, &bad, &hid);
	if (k != AUTH_HOST) {
		char ip[INET6_ADDRSTRLEN];
		roost_log_limited(ROOST_LOG_WARN, "agent.refused", peer_of(wsi, ip, sizeof(ip)),
		                  "peer=%s why=%s", ip,
		                  bad ? "\"invalid credentials\"" : "\"missing credentials\"");
		lws_return_http_status(wsi, HTTP_STATUS_UNAUTHORIZED, NULL);
		return -1;
	}
	p->ws_host = hid;
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	struct pss *p = user;
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_http(wsi, p, in ? (const char *)in : "/");
	case LWS_CALLBACK_HTTP_BODY:
		return p->active && !p->dispatched ? on_body(p, in, len) : 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return p->active ? dispatch_request(wsi, p) : 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return on_writeable(wsi, p);
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		commits_done();
		return 0;
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		return conn_accept(user, (int)(lws_intptr_t)in);
	case LWS_CALLBACK_HTTP_BIND_PROTOCOL:
		conn_tag(wsi, p);
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		if (p && p->fd_tag) {
			conn_forget(p->fd_tag - 1);
			p->fd_tag = 0;
		}
		break;
	case LWS_CALLBACK_TIMER:
		return rate_check(wsi, p);
	case LWS_CALLBACK_CLOSED_HTTP:
		if (p)
			reset(p);
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return ws_filter(wsi, p);
	case LWS_CALLBACK_ESTABLISHED:
		conn_tag(wsi, p);
		reset(p);
		p->conn = hub_established(wsi, p->ws_host);
		return p->conn ? 0 : -1;
	case LWS_CALLBACK_RECEIVE:
		if (!p->conn)
			return -1;
		return hub_receive(p->conn, in, len, lws_is_final_fragment(wsi),
		                   lws_frame_is_binary(wsi));
	case LWS_CALLBACK_RECEIVE_PONG:
		hub_pong(p->conn);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return p->conn ? hub_writeable(p->conn) : -1;
	case LWS_CALLBACK_CLOSED:
		hub_closed(p->conn);
		p->conn = NULL;
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

const struct lws_protocols roostd_protocols[] = {
	{"roost", callback, sizeof(struct pss), 16384, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};
