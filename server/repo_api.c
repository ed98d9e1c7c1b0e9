/* SPDX-License-Identifier: MIT */
/*
 * The repository object API (docs/server.md, "Repository object API"):
 * listings, GET/HEAD with ranges, and PUT of new objects, append-only for
 * hosts. An upload is streamed into a backend writer as it arrives and its
 * content checked against its name (objcheck.c); at the end the committer
 * thread makes it durable (committer.c) and the answer waits for that: the
 * uploads awaiting their commit are listed here so a result finds its
 * connection, or learns that it closed meanwhile.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "committer.h"
#include "http_int.h"
#include "objcheck.h"
#include "repo_read.h"
#include "restore_serve.h"
#include "roost/log.h"

/* Uploads waiting for their commit, so a result finds its connection (or
 * learns that it closed meanwhile). Few at a time: a linear list. */
struct awaiting {
	uint64_t id;
	struct lws *wsi;
	struct pss *p;
};
static struct awaiting *awaiting;
static size_t nawaiting, capawaiting;
static uint64_t next_put_id = 1;

void repo_api_forget(struct pss *p)
{
	for (size_t i = 0; i < nawaiting; i++)
		if (awaiting[i].p == p) {
			awaiting[i] = awaiting[--nawaiting];
			return;
		}
}

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

int repo_api_request(struct lws *wsi, struct pss *p)
{
	struct srv *s = g_srv;
	if (p->auth == AUTH_NONE)
		return respond_error(wsi, p, 401, "unauthorized",
		                     p->auth_bad ? "invalid credentials" : "missing credentials");
	const char *rest = p->path + strlen("/v1/repo/");
	size_t rl = strlen(rest);
	struct roost_errbuf eb = {{0}};
	if (!strncmp(rest, "plain/", 6))
		return restore_serve_request(wsi, p, rest + 6);
	/* listing: /v1/repo/<type>/ or /v1/repo/<type> */
	char type[32];
	if (rl < sizeof(type) && strcspn(rest, "/") >= rl - 1 &&
	    (rest[rl - 1] == '/' || type_ok(rest))) {
		snprintf(type, sizeof(type), "%.*s", (int)strcspn(rest, "/"), rest);
		if (!type_ok(type))
			return respond_error(wsi, p, 404, "not_found", "no such object type");
		if (strcmp(p->method, "GET"))
			return respond_error(wsi, p, 405, "method_not_allowed", "listings are GET only");
		if (repo_read_offloaded())
			return repo_read_list(wsi, p, type);
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
	/* key files are the password's Argon2id target: never a host's to read */
	if (p->auth == AUTH_HOST && !strncmp(rest, "keys/", 5))
		return respond_error(wsi, p, 403, "forbidden", "hosts may not read key files");
	if (!strcmp(p->method, "DELETE"))
		return p->auth == AUTH_HOST
		               ? respond_error(wsi, p, 403, "forbidden",
		                               "the repository is append-only for hosts")
		               : respond_error(wsi, p, 405, "method_not_allowed",
		                               "objects are removed by prune on the server");
	if ((!strcmp(p->method, "GET") || !strcmp(p->method, "HEAD")) && repo_read_offloaded()) {
		char range[128];
		int has = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_RANGE) > 0 &&
		          lws_hdr_copy(wsi, range, sizeof(range), WSI_TOKEN_HTTP_RANGE) > 0;
		return repo_read_object(wsi, p, has ? range : NULL);
	}
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
			if (repo_range_parse(range, size, &a, &b)) {
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
/*
 * A host writes a snapshot only from a live (queued or running) backup job
 * of its own: the job it names (?job=N, which agents send), else any. A job
 * that ended can never write one later, and maintenance.c's prune rests on
 * that: it deletes a marked pack only when no job that may have seen the
 * pack as live is still live. 403 (not 409: that would read as "already
 * there").
 */
static int snapshot_refused(struct pss *p)
{
	char jb[32];
	int64_t jid = 0;
	const char *j = query_get(p->query, "job", jb, sizeof(jb));
	if (j) {
		char *e;
		long long v = strtoll(j, &e, 10);
		if (!*j || *e || v <= 0) {
			p->up_status = 400;
			snprintf(p->up_msg, sizeof(p->up_msg), "job: expected a job id");
			return 1;
		}
		jid = v;
	}
	int live = j ? (int)db_int(0, "SELECT 1 FROM jobs WHERE id=? AND host_id=? AND "
	                              "kind='backup' AND status IN ('queued','running')",
	                           "ii", jid, p->host_id)
	             : (int)db_int(0, "SELECT 1 FROM jobs WHERE host_id=? AND kind='backup' AND "
	                              "status IN ('queued','running')", "i", p->host_id);
	if (live)
		return 0;
	p->up_status = 403;
	if (j)
		snprintf(p->up_msg, sizeof(p->up_msg),
		         "job %lld is not a running backup of this host (it has ended); a snapshot is "
		         "accepted only from a running backup, so that maintenance never removes "
		         "data it refers to", (long long)jid);
	else
		snprintf(p->up_msg, sizeof(p->up_msg),
		         "this host has no running backup job; a snapshot is accepted only from a "
		         "running backup, so that maintenance never removes data it refers to");
	return 1;
}

void repo_api_upload_begin(struct pss *p, uint64_t clen)
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
	/* after the existence check: overwriting stays a 409 for everyone */
	if (p->auth == AUTH_HOST && !strncmp(rest, "snapshots/", 10) && snapshot_refused(p))
		return;
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

int repo_api_answer_commit(struct lws *wsi, struct pss *p, const struct commit *c)
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

int repo_api_upload_finish(struct lws *wsi, struct pss *p)
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
	if (nawaiting == capawaiting) {
		size_t nc = capawaiting ? capawaiting * 2 : 16;
		struct awaiting *np = realloc(awaiting, nc * sizeof(*np));
		if (!np) {
			s->repo_be->ops->writer_abort(w);
			objcheck_free(check);
			return respond_error(wsi, p, 500, "repository", "out of memory");
		}
		awaiting = np;
		capawaiting = nc;
	}
	uint64_t id = next_put_id++;
	if (committer_submit(id, w, check, p->objname)) {
		/* no committer thread (unit tests): commit here */
		struct commit c = {.w = w, .check = check};
		snprintf(c.name, sizeof(c.name), "%s", p->objname);
		committer_run(&c);
		return repo_api_answer_commit(wsi, p, &c);
	}
	awaiting[nawaiting++] = (struct awaiting){id, wsi, p};
	p->put_id = id;
	return 0; /* answered when the commit is done */
}

/* Event loop: results of finished commits go to their connections. */
void repo_api_commits_done(void)
{
	struct commit *c;
	while ((c = committer_take_done())) {
		size_t i;
		for (i = 0; i < nawaiting && awaiting[i].id != c->id; i++)
			;
		if (i == nawaiting) { /* the client went away; the object is stored all the same */
			free(c);
			continue;
		}
		struct pss *p = awaiting[i].p;
		struct lws *wsi = awaiting[i].wsi;
		awaiting[i] = awaiting[--nawaiting];
		p->put_id = 0;
		free(p->committed);
		p->committed = c;
		lws_callback_on_writable(wsi);
	}
}
