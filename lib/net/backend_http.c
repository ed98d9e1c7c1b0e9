/* SPDX-License-Identifier: MIT */
/*
 * The repository backend over roostd's object API (DESIGN.md: agents write
 * through the server). Objects map to /v1/repo/<name>; a listing is
 * GET /v1/repo/<type>/ answering [{"name": ..., "size": ...}]. A streamed
 * object (a pack) is buffered until its name is known at commit, then sent
 * with one PUT; packs are bounded (16 MiB by default), so is the buffer.
 * The buffers of committed or aborted writers are kept for the next ones
 * (up to SPARE_MAX, until the backend closes): a fresh buffer per pack,
 * grown by doubling, cost a backup through roostd a page fault for every
 * byte uploaded and a copy at every doubling (perf: 1.7 of the agent's
 * 9.2 CPU-s in memmove and page faults, against 0.2 s locally).
 *
 * A commit is a round trip: the upload, then roostd's check and fsync
 * before its 201. So the backend asks the engine for COMMIT_THREADS
 * committers (roost_backend.commit_threads): the next pack is on the wire
 * while the last one is made durable, each PUT on a connection of its own
 * from the client's pool. A PUT of a content-named object (a pack, an
 * index, a snapshot) whose connection fails is sent again (PUT_TRIES in
 * all): roostd makes an object visible only whole and checked, and one
 * that did arrive answers 409, which the engine takes as done.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "roost/backend.h"
#include "roost/http.h"
#include "roost/log.h"

#define MAX_OBJECT ((size_t)1 << 30)
#define SPARE_MAX 8 /* buffers kept for the next writers (open, queued, in flight) */
#define SPARE_CAP_MAX ((size_t)64 << 20) /* larger ones are freed */
#define COMMIT_THREADS 2 /* packs uploaded side by side */
#define PUT_TRIES 3      /* a content-named PUT whose connection failed */

struct spare {
	uint8_t *buf;
	size_t cap;
};

struct hbackend {
	struct roost_backend pub;
	struct roost_http *http;
	long long job; /* sent with every PUT (?job=N); 0: none */
	pthread_mutex_t mu; /* spare */
	struct spare spare[SPARE_MAX];
	int nspare;
	unsigned long long buffers_made; /* buffers allocated by writers (roost_backend_http_buffers) */
};

struct roost_bwriter {
	struct hbackend *hb;
	uint8_t *buf;
	size_t len, cap;
};

static enum roost_err status_err(int status, const char *method, const char *name,
                                 const struct roost_http_resp *r, struct roost_errbuf *eb)
{
	const char *msg = "";
	json_t *j = r->body ? json_loadb((const char *)r->body, r->len, 0, NULL) : NULL;
	json_t *e = j ? json_object_get(j, "error") : NULL;
	if (e && json_is_string(json_object_get(e, "message")))
		msg = json_string_value(json_object_get(e, "message"));
	enum roost_err err = status == 404   ? ROOST_ENOENT
	                     : status == 409 ? ROOST_EEXIST
	                     : status == 401 ? ROOST_EAUTH
	                     : status == 403 ? ROOST_EPERM
	                     : status == 416 ? ROOST_ECORRUPT
	                     : status == 413 ? ROOST_ERANGE
	                                     : ROOST_EIO;
	roost_errf(eb, err, "server: %s %s: HTTP %d%s%s", method, name, status, msg[0] ? ": " : "",
	           msg);
	json_decref(j);
	return err;
}

static enum roost_err req(struct hbackend *hb, const char *method, const char *name,
                          const char *const *hdrs, const void *body, size_t blen,
                          struct roost_http_resp *r, struct roost_errbuf *eb)
{
	/* plain/blobs/<id>, plain/snapshots/<id>: what roostd decrypts for a restore job */
	int plain = !strncmp(name, "plain/", 6) &&
	            (!strncmp(name + 6, "blobs/", 6) || !strncmp(name + 6, "snapshots/", 10)) &&
	            strlen(strchr(name + 6, '/') + 1) == 64 &&
	            strspn(strchr(name + 6, '/') + 1, "0123456789abcdef") == 64;
	if (!plain && !roost_backend_name_valid(name))
		return roost_errf(eb, ROOST_EINVAL, "invalid object name %s", name);
	char path[440];
	if (hb->job && (!strcmp(method, "PUT") || plain))
		snprintf(path, sizeof(path), "/v1/repo/%s?job=%lld", name, hb->job);
	else
		snprintf(path, sizeof(path), "/v1/repo/%s", name);
	/* content-named: the same name is the same bytes, so a second PUT is safe */
	int again = !strcmp(method, "PUT") &&
	            (!strncmp(name, "packs/", 6) || !strncmp(name, "index/", 6) ||
	             !strncmp(name, "snapshots/", 10));
	enum roost_err err;
	for (int t = 1;; t++) {
		err = roost_http_request(hb->http, method, path, hdrs, body, blen, MAX_OBJECT, r, eb);
		if (err != ROOST_EIO || !again || t == PUT_TRIES)
			break;
		roost_log(ROOST_LOG_WARN, "repo.put_retry", "object=%s try=%d error=%s", name, t + 1,
		          roost_lq(eb->msg));
		usleep((useconds_t)t * 250 * 1000);
	}
	if (err)
		return err;
	if (r->status / 100 != 2) {
		err = status_err(r->status, method, name, r, eb);
		roost_http_resp_free(r);
	}
	return err;
}

static enum roost_err h_get(struct roost_backend *b, const char *name, uint8_t **buf,
                            size_t *len, struct roost_errbuf *eb)
{
	*buf = NULL;
	*len = 0;
	struct roost_http_resp r;
	enum roost_err err = req((struct hbackend *)b, "GET", name, NULL, NULL, 0, &r, eb);
	if (err)
		return err;
	*buf = r.body;
	*len = r.len;
	if (!*buf) { /* an empty object */
		*buf = malloc(1);
		if (!*buf)
			return ROOST_ENOMEM;
	}
	return ROOST_OK;
}

static enum roost_err h_get_range(struct roost_backend *b, const char *name, uint64_t off,
                                  size_t len, uint8_t *buf, struct roost_errbuf *eb)
{
	if (len == 0)
		return ROOST_OK;
	char range[80];
	snprintf(range, sizeof(range), "Range: bytes=%llu-%llu", (unsigned long long)off,
	         (unsigned long long)(off + len - 1));
	const char *hdrs[] = {range, NULL};
	struct roost_http_resp r;
	enum roost_err err = req((struct hbackend *)b, "GET", name, hdrs, NULL, 0, &r, eb);
	if (err)
		return err == ROOST_ECORRUPT
		               ? roost_errf(eb, ROOST_ECORRUPT, "%s: shorter than expected", name)
		               : err;
	if (r.status != 206 || r.len != len) {
		roost_http_resp_free(&r);
		return roost_errf(eb, ROOST_ECORRUPT, "%s: range %llu+%zu: short or unranged answer",
		                  name, (unsigned long long)off, len);
	}
	memcpy(buf, r.body, len);
	roost_http_resp_free(&r);
	return ROOST_OK;
}

static enum roost_err h_put(struct roost_backend *b, const char *name, const uint8_t *buf,
                            size_t len, struct roost_errbuf *eb)
{
	struct roost_http_resp r;
	enum roost_err err = req((struct hbackend *)b, "PUT", name, NULL, buf, len, &r, eb);
	if (!err)
		roost_http_resp_free(&r);
	return err;
}

static enum roost_err h_writer_open(struct roost_backend *b, struct roost_bwriter **w,
                                    struct roost_errbuf *eb)
{
	struct hbackend *hb = (struct hbackend *)b;
	*w = calloc(1, sizeof(**w));
	if (!*w)
		return roost_errf(eb, ROOST_ENOMEM, "out of memory");
	(*w)->hb = hb;
	pthread_mutex_lock(&hb->mu);
	if (hb->nspare > 0) {
		struct spare sp = hb->spare[--hb->nspare];
		(*w)->buf = sp.buf;
		(*w)->cap = sp.cap;
	}
	pthread_mutex_unlock(&hb->mu);
	return ROOST_OK;
}

static enum roost_err h_writer_write(struct roost_bwriter *w, const uint8_t *buf, size_t len,
                                     struct roost_errbuf *eb)
{
	if (w->len + len > MAX_OBJECT)
		return roost_errf(eb, ROOST_ERANGE, "object larger than %zu bytes", MAX_OBJECT);
	if (w->len + len > w->cap) {
		size_t nc = w->cap ? w->cap : (1u << 20);
		while (nc < w->len + len)
			nc *= 2;
		uint8_t *nb = realloc(w->buf, nc);
		if (!nb)
			return roost_errf(eb, ROOST_ENOMEM, "out of memory");
		w->buf = nb;
		w->cap = nc;
		__atomic_add_fetch(&w->hb->buffers_made, 1, __ATOMIC_RELAXED);
	}
	memcpy(w->buf + w->len, buf, len);
	w->len += len;
	return ROOST_OK;
}

static void h_writer_abort(struct roost_bwriter *w)
{
	if (!w)
		return;
	struct hbackend *hb = w->hb;
	pthread_mutex_lock(&hb->mu);
	if (w->buf && w->cap <= SPARE_CAP_MAX && hb->nspare < SPARE_MAX) {
		hb->spare[hb->nspare++] = (struct spare){w->buf, w->cap};
		w->buf = NULL;
	}
	pthread_mutex_unlock(&hb->mu);
	free(w->buf);
	free(w);
}

static enum roost_err h_writer_commit(struct roost_bwriter *w, const char *name,
                                      struct roost_errbuf *eb)
{
	enum roost_err err = h_put(&w->hb->pub, name, w->buf, w->len, eb);
	h_writer_abort(w);
	return err;
}

static enum roost_err h_list(struct roost_backend *b, const char *type, roost_list_cb cb,
                             void *ctx, struct roost_errbuf *eb)
{
	struct hbackend *hb = (struct hbackend *)b;
	if (strspn(type, "abcdefghijklmnopqrstuvwxyz") != strlen(type) || strlen(type) > 16)
		return roost_errf(eb, ROOST_EINVAL, "invalid object type %s", type);
	char path[64];
	snprintf(path, sizeof(path), "/v1/repo/%s/", type);
	struct roost_http_resp r;
	enum roost_err err = roost_http_request(hb->http, "GET", path, NULL, NULL, 0, MAX_OBJECT,
	                                        &r, eb);
	if (err)
		return err;
	if (r.status != 200) {
		err = status_err(r.status, "GET", path, &r, eb);
		roost_http_resp_free(&r);
		return err;
	}
	json_error_t je;
	json_t *a = json_loadb((const char *)r.body, r.len, 0, &je);
	roost_http_resp_free(&r);
	if (!json_is_array(a)) {
		json_decref(a);
		return roost_errf(eb, ROOST_EIO, "server: listing of %s is not a JSON array", type);
	}
	size_t i;
	json_t *e;
	json_array_foreach(a, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		json_t *sz = json_object_get(e, "size");
		if (!name || !json_is_integer(sz) || !roost_backend_name_valid(name)) {
			err = roost_errf(eb, ROOST_EIO, "server: malformed entry in listing of %s", type);
			break;
		}
		if (cb(ctx, name, (uint64_t)json_integer_value(sz)))
			break;
	}
	json_decref(a);
	return err;
}

static enum roost_err h_stat(struct roost_backend *b, const char *name, uint64_t *size,
                             struct roost_errbuf *eb)
{
	struct roost_http_resp r;
	enum roost_err err = req((struct hbackend *)b, "HEAD", name, NULL, NULL, 0, &r, eb);
	if (err)
		return err;
	if (size)
		*size = r.content_length;
	roost_http_resp_free(&r);
	return ROOST_OK;
}

static enum roost_err h_remove(struct roost_backend *b, const char *name,
                               struct roost_errbuf *eb)
{
	return roost_errf(eb, ROOST_EPERM,
	                  "%s: the server's repository is append-only for hosts; "
	                  "forget and prune run on the server", name);
}

static void h_close(struct roost_backend *b)
{
	struct hbackend *hb = (struct hbackend *)b;
	for (int i = 0; i < hb->nspare; i++)
		free(hb->spare[i].buf);
	pthread_mutex_destroy(&hb->mu);
	free(b->location);
	free(b);
}

static const struct roost_backend_ops http_ops = {
	.get = h_get,
	.get_range = h_get_range,
	.put = h_put,
	.writer_open = h_writer_open,
	.writer_write = h_writer_write,
	.writer_commit = h_writer_commit,
	.writer_abort = h_writer_abort,
	.list = h_list,
	.stat = h_stat,
	.remove = h_remove,
	.close = h_close,
};

enum roost_err roost_backend_http_open(struct roost_http *http, const char *location,
                                       struct roost_backend **out, struct roost_errbuf *eb)
{
	*out = NULL;
	struct hbackend *hb = calloc(1, sizeof(*hb));
	if (!hb || !(hb->pub.location = strdup(location ? location : "server"))) {
		free(hb);
		return roost_errf(eb, ROOST_ENOMEM, "out of memory");
	}
	hb->pub.ops = &http_ops;
	hb->pub.commit_threads = COMMIT_THREADS;
	hb->http = http;
	pthread_mutex_init(&hb->mu, NULL);
	*out = &hb->pub;
	return ROOST_OK;
}

void roost_backend_http_set_job(struct roost_backend *b, long long job)
{
	((struct hbackend *)b)->job = job;
}

unsigned long long roost_backend_http_buffers(struct roost_backend *b)
{
	return __atomic_load_n(&((struct hbackend *)b)->buffers_made, __ATOMIC_RELAXED);
}
