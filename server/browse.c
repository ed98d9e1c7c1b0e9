/* SPDX-License-Identifier: MIT */
/*
 * Browsing a snapshot from the dashboard (docs/dashboard.md, "Routes the
 * dashboard reads"):
 *
 *   GET /v1/snapshots/{id}/tree?path=/abs/dir   one directory, as JSON
 *   GET /v1/snapshots/{id}/file?path=/abs/file  one file's bytes, streamed
 *
 * Every repository read runs on restore_serve.c's serving threads (their own
 * repository handle); the event loop only checks the request, and writes
 * what comes back. A listing is made whole on the thread (a directory's
 * tree is one blob). A file is sent blob by blob: its extents are looked up
 * first, the headers sent with its Content-Length, then each blob is read,
 * decrypted and checked against its id on the thread (as a restore reads
 * it) while the previous one is written, so at most two blobs of a file are
 * in memory. A blob that fails its check ends the response early: the
 * connection is closed before Content-Length is reached, which the client
 * sees as a failed download, and the error is logged.
 *
 * Names are byte strings. A listing's `name` (and a symlink's `target`) is
 * the name when it is valid UTF-8; otherwise it is shown with U+FFFD in
 * place of each invalid byte, and `name_raw` (`target_raw`) carries the exact
 * bytes percent-encoded, which is what ?path= takes back: lossless. A path
 * may also come as ?path_hex= (its bytes in hex): libwebsockets 4.1 cuts a
 * decoded argument at a line break, so a name holding one comes that way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "browse.h"
#include "restore_serve.h"
#include "roost/log.h"
#include "roost/buf.h"
#include "roost/repo.h"
#include "roost/timeutil.h"

#define PATH_MAX_BYTES 4096

int browse_path_normalise(const char *in, size_t inlen, char *out, size_t cap)
{
	if (!inlen || in[0] != '/' || memchr(in, 0, inlen) || cap < 2)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < inlen;) {
		while (i < inlen && in[i] == '/')
			i++;
		size_t s = i;
		while (i < inlen && in[i] != '/')
			i++;
		size_t len = i - s;
		if (!len || (len == 1 && in[s] == '.'))
			continue;
		if (len == 2 && in[s] == '.' && in[s + 1] == '.')
			return -1;
		if (o + 1 + len + 1 > cap)
			return -1;
		out[o++] = '/';
		memcpy(out + o, in + s, len);
		o += len;
	}
	if (!o)
		out[o++] = '/';
	out[o] = 0;
	return 0;
}

/* "%XX" for every byte but RFC 3986's unreserved ones, into a new string. */
static char *pct_encode(const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(n * 3 + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = 0;
	return out;
}

/* ---- the request, as the thread gets it ---- */

struct breq {
	char ref[65];
	char path[PATH_MAX_BYTES];
	/* file: what the lookup found */
	int type;
	uint64_t size;
	struct roost_bextent *ext;
	size_t next;
	/* a blob of a download */
	size_t idx;
};

static void breq_free(void *p)
{
	struct breq *b = p;
	if (b)
		free(b->ext);
	free(b);
}

static void fail(struct serve_res *r, int status, const char *code, const char *msg)
{
	r->status = status;
	snprintf(r->code, sizeof(r->code), "%s", code);
	snprintf(r->msg, sizeof(r->msg), "%s", msg);
}

/* The snapshot's root tree, or r failed. */
static int resolve(struct roost_repo *repo, struct serve_res *r, uint8_t root[32])
{
	struct breq *b = r->ctx;
	struct roost_errbuf eb = {{0}};
	char full[65];
	enum roost_err err = roost_repo_serve_resolve(repo, b->ref, full, root, &eb);
	if (err == ROOST_ENOENT)
		fail(r, 404, "not_found", eb.msg);
	else if (err == ROOST_EINVAL)
		fail(r, 400, "invalid_field", eb.msg);
	else if (err)
		fail(r, 500, "repository", eb.msg);
	return err ? -1 : 0;
}

/* ---- a listing, written as JSON text directly (a directory may hold many
 * thousands of entries: no JSON object per entry) ---- */

struct out {
	char *buf;
	size_t len, cap;
	int failed;
	int entries;
	int64_t mt_s; /* the last mtime formatted, and its text */
	char mt[40];
};

static void put(struct out *o, const void *p, size_t n)
{
	if (!o->failed && roost_buf_append(&o->buf, &o->len, &o->cap, p, n))
		o->failed = 1;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at p (as JSON requires it: no
 * overlong form, no surrogate, at most U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	if (p[0] < 0x80)
		return 1;
	size_t k = p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : p[0] >= 0xe0 && p[0] <= 0xef ? 3
	         : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
	if (!k || k > n)
		return 0;
	for (size_t i = 1; i < k; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
		return 0;
	return k;
}

/* s[0..n) as a JSON string; a byte that is not part of valid UTF-8 becomes
 * U+FFFD (as json_bytes_lossy). 1 when one did. */
static int put_string(struct out *o, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	int lossy = 0;
	put(o, "\"", 1);
	for (size_t i = 0; i < n;) {
		size_t k = utf8_len(p + i, n - i);
		if (!k) {
			put(o, "\xef\xbf\xbd", 3);
			lossy = 1;
			i++;
		} else if (k == 1 && (p[i] < 0x20 || p[i] == '"' || p[i] == '\\')) {
			char e[8];
			if (p[i] == '"' || p[i] == '\\')
				snprintf(e, sizeof(e), "\\%c", p[i]);
			else if (p[i] == '\n')
				snprintf(e, sizeof(e), "\\n");
			else if (p[i] == '\t')
				snprintf(e, sizeof(e), "\\t");
			else
				snprintf(e, sizeof(e), "\\u%04x", p[i]);
			puts_(o, e);
			i++;
		} else {
			size_t j = i + k; /* a run of plain characters at once */
			while (j < n && p[j] >= 0x20 && p[j] < 0x80 && p[j] != '"' && p[j] != '\\')
				j++;
			put(o, p + i, j - i);
			i = j;
		}
	}
	put(o, "\"", 1);
	return lossy;
}

/* "key":"<s>" and, when s is not UTF-8, "key_raw":"<s percent-encoded>" */
static void put_bytes(struct out *o, const char *key, const char *s, size_t n)
{
	put(o, "\"", 1);
	puts_(o, key);
	put(o, "\":", 2);
	if (!put_string(o, s, n))
		return;
	char *raw = pct_encode(s, n);
	if (!raw) {
		o->failed = 1;
		return;
	}
	put(o, ",\"", 2);
	puts_(o, key);
	puts_(o, "_raw\":\"");
	puts_(o, raw);
	put(o, "\"", 1);
	free(raw);
}

static const char *type_name(int t)
{
	return t == 1 ? "file" : t == 2 ? "dir" : t == 3 ? "symlink" : "other";
}

static void list_cb(void *ctx, const struct roost_bentry *e)
{
	struct out *o = ctx;
	if (o->entries++)
		put(o, ",", 1);
	put(o, "{", 1);
	put_bytes(o, "name", e->name, e->name_len);
	if (!o->mt[0] || e->mtime_s != o->mt_s) {
		o->mt_s = e->mtime_s;
		roost_time_format(e->mtime_s, o->mt, sizeof(o->mt));
	}
	char num[200];
	uint64_t size = e->type == 1 ? e->size : e->type == 3 ? e->target_len : 0;
	snprintf(num, sizeof(num), ",\"type\":\"%s\",\"size\":%llu,\"mtime\":\"%s\",\"mode\":%u",
	         type_name(e->type), (unsigned long long)size, o->mt, (unsigned)(e->mode & 07777));
	puts_(o, num);
	if (e->type == 3) {
		put(o, ",", 1);
		put_bytes(o, "target", e->target ? e->target : "", e->target_len);
	}
	put(o, "}", 1);
}

static void tree_work(struct roost_repo *repo, struct serve_res *r)
{
	struct breq *b = r->ctx;
	uint8_t root[32];
	if (resolve(repo, r, root))
		return;
	static const char headroom[LWS_PRE];
	struct out o = {0};
	put(&o, headroom, LWS_PRE); /* lws_write's, in front of the body */
	put(&o, "[", 1);
	struct roost_errbuf eb = {{0}};
	int type;
	enum roost_err err = roost_repo_serve_list(repo, root, b->path, &type, list_cb, &o, &eb);
	if (err == ROOST_ENOENT) {
		fail(r, 404, "not_found", "path: no such path in the snapshot");
	} else if (err) {
		fail(r, 500, "repository", eb.msg);
	} else if (type != 2) {
		fail(r, 400, "not_a_directory", "path: not a directory");
	} else {
		put(&o, "]\n", 2);
		if (o.failed) {
			fail(r, 500, "internal", "out of memory");
		} else {
			r->out = (uint8_t *)o.buf;
			r->len = o.len - LWS_PRE;
			o.buf = NULL;
			r->status = 200;
		}
	}
	free(o.buf);
}

static void file_work(struct roost_repo *repo, struct serve_res *r)
{
	struct breq *b = r->ctx;
	uint8_t root[32];
	if (resolve(repo, r, root))
		return;
	struct roost_errbuf eb = {{0}};
	enum roost_err err = roost_repo_serve_file(repo, root, b->path, &b->type, &b->size, &b->ext,
	                                           &b->next, &eb);
	if (err == ROOST_ENOENT) {
		fail(r, 404, "not_found", "path: no such path in the snapshot");
		return;
	}
	if (err) {
		fail(r, 500, "repository", eb.msg);
		return;
	}
	if (b->type != 1) {
		fail(r, 400, "not_a_file", "path: not a regular file");
		return;
	}
	uint64_t sum = 0;
	for (size_t i = 0; i < b->next; i++)
		sum += b->ext[i].len;
	if (sum != b->size) {
		fail(r, 500, "repository", "the file's extents do not add up to its size (damaged tree)");
		return;
	}
	r->status = 200;
}

/* ---- a download in progress (event loop) ---- */

struct browse_dl {
	struct roost_bextent *ext;
	size_t n;
	uint64_t size, done;
	size_t wi;       /* the extent being written */
	uint64_t woff;   /* how much of it is written */
	size_t fi;       /* the next extent to read */
	int fetching;    /* a read is on the serving threads */
	uint8_t *buf[2]; /* extent i's bytes in buf[i % 2] once read */
	size_t blen[2];
	char snap[65], path[PATH_MAX_BYTES];
};

void browse_dl_free(struct browse_dl *d)
{
	if (!d)
		return;
	free(d->ext);
	free(d->buf[0]);
	free(d->buf[1]);
	free(d);
}

static int blob_answer(struct lws *wsi, struct pss *p, struct serve_res *r);

static void blob_work(struct roost_repo *repo, struct serve_res *r)
{
	struct breq *b = r->ctx;
	struct roost_errbuf eb = {{0}};
	uint8_t *out;
	size_t n;
	enum roost_err err = roost_repo_serve_data(repo, b->ext[0].id, &out, &n, &eb);
	if (err) {
		fail(r, 500, err == ROOST_ECORRUPT ? "damaged" : "repository", eb.msg);
		return;
	}
	r->out = out;
	r->len = n;
	r->status = 200;
}

/* Queues the read of the next blob, if one is due (at most one ahead of
 * the one being written). -1 when it could not be queued. */
static int fetch_next(struct lws *wsi, struct pss *p)
{
	struct browse_dl *d = p->dl;
	while (d->fi < d->n && d->ext[d->fi].hole)
		d->fi++;
	if (d->fetching || d->fi >= d->n || d->fi > d->wi + 1)
		return 0;
	struct serve_res *r = calloc(1, sizeof(*r));
	struct breq *b = calloc(1, sizeof(*b));
	if (b)
		b->ext = malloc(sizeof(*b->ext));
	if (!r || !b || !b->ext) {
		free(r);
		breq_free(b);
		return -1;
	}
	b->ext[0] = d->ext[d->fi];
	b->idx = d->fi;
	r->work = blob_work;
	r->answer = blob_answer;
	r->ctx = b;
	r->ctx_free = breq_free;
	if (restore_serve_submit(wsi, p, r))
		return -1;
	d->fetching = 1;
	d->fi++;
	return 0;
}

static void dl_failed(struct pss *p, const char *why)
{
	struct browse_dl *d = p->dl;
	log_error("browse.download_failed", "snapshot=%.12s path=%s sent=%llu size=%llu msg=%s",
	          d->snap, roost_lq(d->path), (unsigned long long)d->done,
	          (unsigned long long)d->size, roost_lq(why));
}

static int blob_answer(struct lws *wsi, struct pss *p, struct serve_res *r)
{
	struct browse_dl *d = p->dl;
	struct breq *b = r->ctx;
	int rc = 0;
	if (!d) {
		serve_res_free(r);
		return 0;
	}
	d->fetching = 0;
	if (r->status != 200) {
		dl_failed(p, r->msg);
		rc = -1; /* headers are out: closing is how the client learns */
	} else if (r->len != d->ext[b->idx].len) {
		dl_failed(p, "a blob's length differs from its extent's");
		rc = -1;
	} else {
		free(d->buf[b->idx % 2]);
		d->buf[b->idx % 2] = r->out;
		d->blen[b->idx % 2] = r->len;
		r->out = NULL;
		lws_callback_on_writable(wsi);
		rc = fetch_next(wsi, p);
	}
	serve_res_free(r);
	return rc;
}

int browse_writeable(struct lws *wsi, struct pss *p)
{
	static uint8_t buf[LWS_PRE + SLICE];
	struct browse_dl *d = p->dl;
	if (d->done >= d->size)
		return 0;
	const struct roost_bextent *e = &d->ext[d->wi];
	uint64_t left = e->len - d->woff;
	size_t k = left > SLICE ? SLICE : (size_t)left;
	if (e->hole) {
		memset(buf + LWS_PRE, 0, k);
	} else {
		uint8_t *src = d->buf[d->wi % 2];
		if (!src)
			return 0; /* still being read: its answer asks for writeable */
		memcpy(buf + LWS_PRE, src + d->woff, k);
	}
	int last = d->done + k >= d->size;
	if (lws_write(wsi, buf + LWS_PRE, k, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)k)
		return -1;
	d->woff += k;
	d->done += k;
	p->sent += k;
	if (d->woff >= e->len) {
		if (!e->hole) {
			free(d->buf[d->wi % 2]);
			d->buf[d->wi % 2] = NULL;
		}
		d->wi++;
		d->woff = 0;
		if (fetch_next(wsi, p))
			return -1;
	}
	if (!last) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	log_info("browse.downloaded", "snapshot=%.12s path=%s bytes=%llu", d->snap,
	         roost_lq(d->path), (unsigned long long)d->size);
	browse_dl_free(p->dl);
	p->dl = NULL;
	return respond_done(wsi, p);
}

/* Headers of a download: its length, and its name for the browser. */
static int dl_headers(struct lws *wsi, struct pss *p, uint64_t len, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base && base[1] ? base + 1 : "download";
	char *enc = pct_encode(base, strlen(base));
	if (!enc)
		return -1;
	char cd[64 + 3 * 256 * 3];
	snprintf(cd, sizeof(cd), "attachment; filename*=UTF-8''%s", enc);
	free(enc);
	uint8_t hb[LWS_PRE + 4096], *start = hb + LWS_PRE, *q = start, *end = hb + sizeof(hb) - 1;
	if (lws_add_http_common_headers(wsi, 200, "application/octet-stream", (lws_filepos_t)len, &q,
	                                end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"content-disposition:",
	                                (const unsigned char *)cd, (int)strlen(cd), &q, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
	                                (const unsigned char *)"no-store", 8, &q, end) ||
	    lws_finalize_write_http_header(wsi, start, &q, end))
		return -1;
	return 0;
}

static int file_answer(struct lws *wsi, struct pss *p, struct serve_res *r)
{
	struct breq *b = r->ctx;
	if (r->status != 200) {
		int rc = respond_error(wsi, p, r->status, r->code, r->msg);
		serve_res_free(r);
		return rc;
	}
	struct browse_dl *d = calloc(1, sizeof(*d));
	if (!d) {
		serve_res_free(r);
		return respond_error(wsi, p, 500, "internal", "out of memory");
	}
	d->ext = b->ext;
	d->n = b->next;
	b->ext = NULL;
	d->size = b->size;
	memcpy(d->snap, b->ref, sizeof(d->snap));
	memcpy(d->path, b->path, sizeof(d->path));
	serve_res_free(r);
	browse_dl_free(p->dl);
	p->dl = d;
	if (dl_headers(wsi, p, d->size, d->path))
		return -1;
	if (p->head || d->size == 0) {
		browse_dl_free(p->dl);
		p->dl = NULL;
		return respond_done(wsi, p);
	}
	rate_arm(wsi, p); /* the reader must keep up, as with every response */
	if (fetch_next(wsi, p))
		return -1;
	lws_callback_on_writable(wsi); /* a file that starts with a hole */
	return 0;
}

static int tree_answer(struct lws *wsi, struct pss *p, struct serve_res *r)
{
	if (r->status != 200) {
		int rc = respond_error(wsi, p, r->status, r->code, r->msg);
		serve_res_free(r);
		return rc;
	}
	free(p->out);
	p->out = r->out;
	p->outlen = r->len;
	p->outpos = 0;
	r->out = NULL;
	serve_res_free(r);
	return start_response(wsi, p, 200, "application/json", p->outlen, NULL);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
	                                      : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The path argument straight from libwebsockets' decoded arguments (a name
 * may hold '&' or be longer than the query buffer keeps), its length into
 * *n: ?path= (percent-encoded), or ?path_hex= (the bytes in hex), which is
 * how a path holding a line break comes: libwebsockets 4.1 cuts a decoded
 * argument at one. NULL if neither is given, or path_hex is not hex. */
static const char *path_arg(struct lws *wsi, char *buf, size_t cap, size_t *n)
{
	for (int i = 0; i < 64; i++) {
		int k = lws_hdr_copy_fragment(wsi, buf, (int)cap, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (k <= 0)
			return NULL;
		if (k > 5 && !strncmp(buf, "path=", 5)) {
			*n = (size_t)k - 5;
			return buf + 5;
		}
		if (k > 9 && !strncmp(buf, "path_hex=", 9)) {
			size_t hl = (size_t)k - 9, o = 0;
			if (hl % 2)
				return NULL;
			for (size_t j = 9; j + 1 < (size_t)k; j += 2) {
				int hi = hexval(buf[j]), lo = hexval(buf[j + 1]);
				if (hi < 0 || lo < 0)
					return NULL;
				buf[o++] = (char)(hi << 4 | lo);
			}
			*n = o;
			return buf;
		}
	}
	return NULL;
}

int browse_request(struct lws *wsi, struct pss *p, const char *ref, int file)
{
	if (strcmp(p->method, "GET") && strcmp(p->method, "HEAD"))
		return respond_error(wsi, p, 405, "method_not_allowed", "GET only");
	if (!*ref || strlen(ref) > 64 || strspn(ref, "0123456789abcdef") != strlen(ref))
		return respond_error(wsi, p, 404, "not_found", "no such snapshot");
	char *abuf = malloc(3 * PATH_MAX_BYTES);
	struct breq *b = calloc(1, sizeof(*b));
	struct serve_res *r = calloc(1, sizeof(*r));
	if (!abuf || !b || !r) {
		free(abuf);
		free(b);
		free(r);
		return respond_error(wsi, p, 500, "internal", "out of memory");
	}
	size_t n = 0;
	const char *path = path_arg(wsi, abuf, 3 * PATH_MAX_BYTES, &n);
	int bad = !path || browse_path_normalise(path, n, b->path, sizeof(b->path));
	free(abuf);
	if (bad) {
		free(b);
		free(r);
		return respond_error(wsi, p, 400, "invalid_field",
		                     "path: an absolute path inside the snapshot, without \"..\"");
	}
	snprintf(b->ref, sizeof(b->ref), "%s", ref);
	log_debug("browse.request", "snapshot=%s path=%s file=%d", ref, roost_lq(b->path), file);
	r->work = file ? file_work : tree_work;
	r->answer = file ? file_answer : tree_answer;
	r->ctx = b;
	r->ctx_free = breq_free;
	if (restore_serve_submit(wsi, p, r))
		return respond_error(wsi, p, 503, "unavailable", "the repository is not served");
	return 0;
}
