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
 * address (refused beyond max_per_addr) and in all, where budgets.c
 * stops polling the listening socket at max_conns. What peers can repeat
 * at will is logged through roost_log_limited.
 *
 * This file is the callback and the request's path through it; the budgets
 * are budgets.c, responses respond.c, the object API repo_api.c
 * (http_int.h is what they share).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "browse.h"
#include "committer.h"
#include "http_int.h"
#include "instances.h"
#include "maintenance.h"
#include "metrics.h"
#include "notify.h"
#include "sse.h"
#include "ui_serve.h"
#include "objcheck.h"
#include "restore_serve.h"
#include "authz.h"
#include "sessions.h"
#include "roost/buf.h"
#include "roost/log.h"

static void reset(struct pss *p)
{
	if (p->put_id)
		repo_api_forget(p);
	if (p->pw_id || p->pw_done)
		api_users_forget(p);
	restore_serve_forget(p);
	objcheck_free(p->check);
	free(p->committed);
	if (p->w)
		g_srv->repo_be->ops->writer_abort(p->w);
	free(p->body);
	free(p->out);
	sse_end(p->sse);
	browse_dl_free(p->dl);
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

/* Without an Authorization header: the session of the roost_session cookie,
 * if any (AUTH_SESSION, *si filled); a cookie that names no live session is
 * wrong credentials. */
static void resolve_cookie(struct lws *wsi, enum auth_kind *kind, int *bad,
                           struct session_info *si)
{
	char c[4097], token[AUTH_TEXT_LEN + 1];
	int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_COOKIE);
	if (n <= 0)
		return;
	if (n >= (int)sizeof(c) || lws_hdr_copy(wsi, c, sizeof(c), WSI_TOKEN_HTTP_COOKIE) < 0) {
		*bad = 1;
		return;
	}
	int t = sessions_cookie_token(c, token);
	if (t == 0)
		return; /* other cookies only */
	*bad = 1;
	if (t > 0 && sessions_lookup(token, srv_now(), si) == 0) {
		*kind = AUTH_SESSION;
		*bad = 0;
	}
}

/* Who is calling: the admin token, a host credential, a user's session
 * (when si is given: the cookie counts only without an Authorization
 * header), or nobody. */
static void resolve_auth(struct lws *wsi, enum auth_kind *kind, int *bad, int64_t *host,
                         struct session_info *si)
{
	char h[600];
	*kind = AUTH_NONE;
	*bad = 0;
	*host = 0;
	int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n <= 0) {
		if (si)
			resolve_cookie(wsi, kind, bad, si);
		return;
	}
	*bad = 1;
	if (n >= (int)sizeof(h) || lws_hdr_copy(wsi, h, sizeof(h), WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
		return;
	uint8_t hash[AUTH_HASH_LEN];
	if (!strncmp(h, "Bearer ", 7) && !strchr(h + 7, '.')) {
		if (auth_hash_text(h + 7, strlen(h + 7), hash) != ROOST_OK)
			return;
		if (auth_hash_equal(hash, g_srv->admin_hash)) {
			*kind = AUTH_ADMIN;
			*bad = 0;
		} else if (g_srv->has_metrics_token && auth_hash_equal(hash, g_srv->metrics_hash)) {
			*kind = AUTH_METRICS;
			*bad = 0;
		}
		return;
	}
	int64_t hid;
	if (auth_parse_bearer(h, &hid, hash) != ROOST_OK)
		return;
	struct db_stmt *st = db_q("SELECT secret_hash FROM hosts WHERE id=?", "i", hid);
	if (st && db_step(st) == DB_ROW && db_col_bytes(st, 0) == AUTH_HASH_LEN &&
	    auth_hash_equal(hash, db_col_blob(st, 0))) {
		*kind = AUTH_HOST;
		*bad = 0;
		*host = hid;
	}
	db_done(st);
}

/* ---- REST ---- */

/* 401 without credentials or with wrong ones, 403 with ones of another kind; 0 when allowed.
 * A session got here through gate(), which asked authz.c. */
static int refused(struct lws *wsi, struct pss *p, int metrics_too, int *rc)
{
	if (p->auth == AUTH_ADMIN || p->auth == AUTH_SESSION ||
	    (metrics_too && p->auth == AUTH_METRICS))
		return 0;
	*rc = p->auth == AUTH_NONE
	              ? respond_error(wsi, p, 401, "unauthorized",
	                              p->auth_bad ? "invalid credentials" : "missing credentials")
	              : respond_error(wsi, p, 403, "forbidden", "not allowed with this credential");
	return 1;
}

/* The routes that are not answered at once in JSON: /metrics (Prometheus
 * text), the live event stream, and a snapshot's trees and files (read off
 * the event loop, browse.c). */
static int special_request(struct lws *wsi, struct pss *p, int *rc)
{
	int is_get = !strcmp(p->method, "GET");
	if (!strcmp(p->path, "/metrics")) {
		if (refused(wsi, p, 1, rc))
			return 1;
		if (!is_get) {
			*rc = respond_error(wsi, p, 405, "method_not_allowed", "GET only");
			return 1;
		}
		size_t n;
		char *text = metrics_render(&n);
		*rc = text ? respond_text(wsi, p, 200, "text/plain; version=0.0.4; charset=utf-8", text,
		                          n)
		           : respond_error(wsi, p, 500, "internal", "out of memory");
		free(text);
		return 1;
	}
	const char *ref;
	size_t rl;
	if (!strncmp(p->path, "/v1/snapshots/", 14) && (ref = p->path + 14) &&
	    (rl = strcspn(ref, "/")) && (!strcmp(ref + rl, "/tree") || !strcmp(ref + rl, "/file"))) {
		if (refused(wsi, p, 0, rc))
			return 1;
		char id[65];
		snprintf(id, sizeof(id), "%.*s", rl < 65 ? (int)rl : 65, ref);
		*rc = rl > 64 ? respond_error(wsi, p, 404, "not_found", "no such snapshot")
		              : browse_request(wsi, p, id, !strcmp(ref + rl, "/file"));
		return 1;
	}
	if (strcmp(p->path, "/v1/events/stream"))
		return 0;
	if (refused(wsi, p, 0, rc))
		return 1;
	if (!is_get) {
		*rc = respond_error(wsi, p, 405, "method_not_allowed", "GET only");
		return 1;
	}
	char v[32];
	int64_t after = -1;
	if (query_get(p->query, "after", v, sizeof(v)))
		after = strtoll(v, NULL, 10);
	else if (lws_hdr_custom_copy(wsi, v, sizeof(v), "last-event-id:", 14) > 0)
		after = strtoll(v, NULL, 10);
	p->sse = sse_begin(wsi, after < 0 ? -1 : after);
	*rc = p->sse ? 0 : respond_error(wsi, p, 503, "busy", "too many event streams");
	return 1;
}

/* What a session may do (authz.c decides) and its CSRF token on a write; the
 * metrics token is good for /metrics only. 0 when the request may go on to
 * its route (which checks the other credentials), else 1 with *rc. */
static int gate(struct lws *wsi, struct pss *p, int *rc)
{
	if (authz_public(p->method, p->path))
		return 0;
	if (p->auth == AUTH_METRICS && p->is_repo) {
		*rc = respond_error(wsi, p, 403, "forbidden", "not allowed with this credential");
		return 1;
	}
	if (p->auth != AUTH_SESSION)
		return 0;
	if (authz_is_write(p->method)) {
		char v[AUTH_TEXT_LEN + 2];
		int n = lws_hdr_custom_copy(wsi, v, sizeof(v), "x-csrf-token:", 13);
		if (n <= 0 || !sessions_csrf_ok(&p->sess, v)) {
			*rc = respond_error(wsi, p, 403, "csrf",
			                    "a change made with the session cookie needs the session's "
			                    "X-CSRF-Token header");
			return 1;
		}
	}
	if (!authz_role_may(p->sess.role, p->method, p->path)) {
		char msg[96];
		snprintf(msg, sizeof(msg), "not allowed for the role %s", role_name(p->sess.role));
		*rc = respond_error(wsi, p, 403, "forbidden", msg);
		return 1;
	}
	return 0;
}

static int api_request(struct lws *wsi, struct pss *p)
{
	if (p->too_big)
		return respond_error(wsi, p, 413, "too_large", "request body larger than 1 MiB");
	if (!instances_acting()) /* split brain: this instance lost the store (scale-out.md 3.2) */
		return respond_error(wsi, p, 503, "unavailable",
		                     "this roostd lost its store; another instance serves the fleet");
	int rc;
	if (ui_request(wsi, p, &rc) || gate(wsi, p, &rc) || special_request(wsi, p, &rc) ||
	    api_users_request(wsi, p, &rc))
		return rc;
	struct req rq = {
		.method = p->method,
		.path = p->path,
		.query = p->query,
		.body = p->body,
		.blen = p->blen,
		.auth = p->auth,
		.auth_bad = p->auth_bad,
		.host_id = p->host_id,
		.role = p->auth == AUTH_SESSION ? p->sess.role : ROLE_NONE,
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
		return !strcmp(p->method, "PUT") ? repo_api_upload_finish(wsi, p) : repo_api_request(wsi, p);
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
	resolve_auth(wsi, &p->auth, &p->auth_bad, &p->host_id, &p->sess);
	p->is_repo = !strncmp(p->path, "/v1/repo/", 9);
	if (p->is_repo && (p->auth == AUTH_SESSION || p->auth == AUTH_METRICS)) {
		/* decided before any of an upload is stored */
		int rc;
		if (gate(wsi, p, &rc)) {
			p->close_after = 1;
			p->dispatched = 1;
			p->body_done = 1;
			return rc;
		}
	}
	int has_body = !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH");
	p->clen = has_body ? clen : 0;
	if (p->is_repo && !strcmp(m, "PUT"))
		repo_api_upload_begin(p, clen);
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
	if (p->sse)
		return sse_writeable(p->sse);
	if (p->served)
		return restore_serve_answer(wsi, p);
	if (p->dl)
		return browse_writeable(wsi, p);
	if (p->pw_done) {
		struct pw_task *t = p->pw_done;
		p->pw_done = NULL;
		return api_users_answer(wsi, p, t);
	}
	if (p->committed) {
		struct commit *c = p->committed;
		p->committed = NULL;
		int rc = repo_api_answer_commit(wsi, p, c);
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
	/* a kept-alive connection holds nothing between requests */
	free(p->out);
	p->out = NULL;
	p->outlen = p->outpos = 0;
	free(p->body);
	p->body = NULL;
	p->blen = p->bcap = 0;
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
	resolve_auth(wsi, &k, &bad, &hid, NULL);
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
		repo_api_commits_done();
		restore_serve_done();
		api_users_tasks_done();
		maintenance_poll();
		notify_poll();
		return 0;
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		return conn_accept(wsi, user, (int)(lws_intptr_t)in);
	case LWS_CALLBACK_HTTP_BIND_PROTOCOL:
		conn_tag(wsi, p);
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		if (p && p->fd_tag) {
			conn_forget(p->fd_tag - 1);
			p->fd_tag = 0;
		}
		if (p && !p->conn)
			reset(p); /* closed without CLOSED_HTTP (at shutdown): nothing kept */
		break;
	case LWS_CALLBACK_TIMER:
		return rate_check(wsi, p);
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL: /* before lws frees p, however it closed */
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

/* rx_buffer_size: libwebsockets gives each WebSocket this much (plus
 * LWS_PRE) for its frames, allocated for the connection's life; the hub
 * reassembles messages from the pieces (hub_receive), so a small one costs
 * nothing but a few more callbacks for a rare big message, and at 20,000
 * agents 16 KiB each would be 320 MiB (issue 17). */
const struct lws_protocols roostd_protocols[] = {
	/* tx_packet_size: a response slice goes out in one send(); left at 0,
	 * lws cut it to rx_buffer_size and sent the rest 16 KiB per POLLOUT
	 * from a copy (a restore through roostd spent 21 s of 27 in that) */
	{"roost", callback, sizeof(struct pss), 2048, 0, NULL, SLICE},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};
