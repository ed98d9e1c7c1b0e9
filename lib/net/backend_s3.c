/* SPDX-License-Identifier: MIT */
/*
 * The repository backend on S3-compatible object storage (DESIGN.md,
 * "Scale-out: PostgreSQL and S3"). Location: s3:http[s]://HOST[:PORT]/BUCKET[/PREFIX]
 * as restic spells it; path-style requests; objects are PREFIX/<name>.
 * Credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_DEFAULT_REGION (default us-east-1).
 *
 * Signing is libcurl's CURLOPT_AWS_SIGV4. Debian 12's libcurl (7.88) does
 * not hash the body of an upload nor sort the query, so every request sends
 * x-amz-content-sha256 (hex SHA-256 of its body) and builds its query
 * sorted and encoded here.
 *
 * CURL handles come from a small pool (one per concurrent request, kept for
 * the backend's life), so connections are reused and requests run in
 * parallel. Failed requests are retried with exponential backoff on 5xx,
 * 429, SlowDown, RequestTimeout and dropped connections: objects are
 * immutable and content-named, so repeating a PUT is harmless.
 *
 * The streaming writer buffers the object in memory (packs are at most a
 * few tens of MiB) and sends it with one PUT at commit.
 *
 * Every PUT carries Content-MD5, so the server refuses a body damaged on
 * the way. With ROOST_S3_OBJECT_LOCK=MODE:DAYS every PUT also asks for
 * Object Lock retention (x-amz-object-lock-mode and -retain-until-date,
 * DAYS from the request): a bucket with Object Lock enabled then keeps each
 * object's first version until that date whatever credentials ask to
 * delete it (docs/s3.md).
 */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roost/backend.h"
#include "s3_text.h"

#define MAX_OBJECT ((size_t)1 << 30)
#define POOL_MAX 32
#define ATTEMPTS 6

#define RA_WINDOW ((size_t)4 << 20)
#define RA_SLOTS 8

struct s3backend {
	struct roost_backend pub;
	char *endpoint; /* http[s]://host[:port] */
	char *bucket;
	char *prefix; /* "" or "dir/" */
	char *userpwd;
	char *cainfo; /* AWS_CA_BUNDLE: the CAs to trust for https, else the system's */
	char sigv4[96];
	int max_keys; /* 0: the server's default (1000) */
	char lock_mode[16]; /* ROOST_S3_OBJECT_LOCK: COMPLIANCE or GOVERNANCE, or "" */
	int lock_days;
	pthread_mutex_t mu;
	CURL *pool[POOL_MAX];
	int npool;
	/* read-ahead of packs (under mu): a small ranged read of a pack fetches
	 * RA_WINDOW bytes from its offset, so the blobs that follow it in the
	 * pack (a restore reads them in order) cost no further round trip */
	struct ra_slot {
		char name[96];
		uint64_t off;
		size_t len;
		uint8_t *buf;
		uint64_t used; /* LRU clock */
	} ra[RA_SLOTS];
	uint64_t ra_clock;
};

struct roost_bwriter {
	struct s3backend *sb;
	uint8_t *buf;
	size_t len, cap;
};

struct resp {
	long status;
	uint8_t *body;
	size_t len, cap, max;
	uint8_t *into; /* get_range: the caller's buffer */
	curl_off_t clen;
};

struct upload {
	const uint8_t *buf;
	size_t len, off;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static CURL *pool_get(struct s3backend *sb)
{
	CURL *c = NULL;
	pthread_mutex_lock(&sb->mu);
	if (sb->npool)
		c = sb->pool[--sb->npool];
	pthread_mutex_unlock(&sb->mu);
	return c ? c : curl_easy_init();
}

static void pool_put(struct s3backend *sb, CURL *c)
{
	pthread_mutex_lock(&sb->mu);
	if (sb->npool < POOL_MAX) {
		sb->pool[sb->npool++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&sb->mu);
	if (c)
		curl_easy_cleanup(c);
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t len = sz * n;
	if (r->len + len > r->max)
		return 0; /* larger than asked for: abort */
	if (r->into) {
		memcpy(r->into + r->len, p, len);
		r->len += len;
		return len;
	}
	if (r->len + len > r->cap) {
		size_t nc = r->cap ? r->cap : 16384;
		while (nc < r->len + len)
			nc *= 2;
		uint8_t *nb = realloc(r->body, nc);
		if (!nb)
			return 0;
		r->body = nb;
		r->cap = nc;
	}
	memcpy(r->body + r->len, p, len);
	r->len += len;
	return len;
}

static size_t on_read(char *p, size_t sz, size_t n, void *ud)
{
	struct upload *u = ud;
	size_t len = sz * n;
	if (len > u->len - u->off)
		len = u->len - u->off;
	memcpy(p, u->buf + u->off, len);
	u->off += len;
	return len;
}

static void sha256_hex(const uint8_t *buf, size_t len, char out[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, buf ? buf : (const uint8_t *)"", len);
	sodium_bin2hex(out, 65, h, sizeof(h));
}

static int curl_retryable(CURLcode c)
{
	return c == CURLE_COULDNT_CONNECT || c == CURLE_SEND_ERROR || c == CURLE_RECV_ERROR ||
	       c == CURLE_GOT_NOTHING || c == CURLE_PARTIAL_FILE || c == CURLE_OPERATION_TIMEDOUT ||
	       c == CURLE_SSL_CONNECT_ERROR || c == CURLE_HTTP2 || c == CURLE_HTTP2_STREAM;
}

/*
 * One request. key: the object's key (after the bucket, unencoded) or NULL
 * for the bucket; query: sorted and encoded, or NULL. On success (2xx, or
 * 206) r holds the answer (free r->body); otherwise eb says why.
 */
static enum roost_err s3_req(struct s3backend *sb, const char *method, const char *key,
                             const char *query, const char *range, const uint8_t *body,
                             size_t blen, struct resp *r, struct roost_errbuf *eb)
{
	char ekey[1200], url[1600];
	if (s3_uri_encode(ekey, sizeof(ekey), key ? key : "", 1))
		return roost_errf(eb, ROOST_EINVAL, "S3 key too long");
	snprintf(url, sizeof(url), "%s/%s/%s%s%s", sb->endpoint, sb->bucket, ekey,
	         query ? "?" : "", query ? query : "");
	char sha[65], shah[100], md5h[64] = "", lockh[2][80] = {"", ""};
	sha256_hex(body, body ? blen : 0, sha);
	snprintf(shah, sizeof(shah), "x-amz-content-sha256: %s", sha);
	if (!strcmp(method, "PUT")) {
		unsigned char md5[16];
		unsigned int ml = 0;
		char b64[32];
		if (!EVP_Digest(body ? body : (const uint8_t *)"", blen, md5, &ml, EVP_md5(), NULL) ||
		    ml != 16)
			return roost_errf(eb, ROOST_EIO, "S3: MD5 of %s failed", key ? key : "?");
		sodium_bin2base64(b64, sizeof(b64), md5, 16, sodium_base64_VARIANT_ORIGINAL);
		snprintf(md5h, sizeof(md5h), "Content-MD5: %s", b64);
		if (sb->lock_days) {
			char until[32];
			s3_iso8601(time(NULL) + (time_t)sb->lock_days * 86400, until);
			snprintf(lockh[0], sizeof(lockh[0]), "x-amz-object-lock-mode: %s", sb->lock_mode);
			snprintf(lockh[1], sizeof(lockh[1]), "x-amz-object-lock-retain-until-date: %s",
			         until);
		}
	}
	const char *extra[] = {range, md5h[0] ? md5h : NULL, lockh[0][0] ? lockh[0] : NULL,
	                       lockh[1][0] ? lockh[1] : NULL};
	const char *what = key ? key : sb->bucket;
	uint8_t *into = r->into;
	size_t max = r->max ? r->max : MAX_OBJECT;
	CURL *c = pool_get(sb);
	if (!c)
		return roost_errf(eb, ROOST_ENOMEM, "out of memory (curl)");
	enum roost_err err = ROOST_OK;
	for (int attempt = 0;; attempt++) {
		memset(r, 0, sizeof(*r));
		r->into = into;
		r->max = max;
		r->clen = -1;
		struct upload up = {body, blen, 0};
		struct curl_slist *h = NULL, *h2;
		h2 = curl_slist_append(h, shah);
		if (h2)
			h = h2;
		for (size_t i = 0; i < sizeof(extra) / sizeof(*extra); i++)
			if (extra[i] && (h2 = curl_slist_append(h, extra[i])))
				h = h2;
		curl_easy_reset(c);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sb->sigv4);
		curl_easy_setopt(c, CURLOPT_USERPWD, sb->userpwd);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		if (sb->cainfo)
			curl_easy_setopt(c, CURLOPT_CAINFO, sb->cainfo);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
		/* No "Expect:" header to turn 100-continue off: libcurl 7.88 would list
		 * the removed header in SignedHeaders, and S3 then refuses the
		 * signature. Wait briefly for the 100 instead. */
		curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, 200L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 120L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
		if (!strcmp(method, "PUT")) {
			curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(c, CURLOPT_READDATA, &up);
			curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)blen);
		} else if (!strcmp(method, "HEAD")) {
			curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		} else if (strcmp(method, "GET") != 0) {
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		}
		char cerr[CURL_ERROR_SIZE] = "";
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
		CURLcode cc = curl_easy_perform(c);
		curl_slist_free_all(h);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &r->clen);
		int retry;
		if (cc != CURLE_OK) {
			if (cc == CURLE_WRITE_ERROR && r->len + CURL_MAX_WRITE_SIZE > r->max &&
			    r->status / 100 == 2) {
				err = roost_errf(eb, ROOST_ERANGE, "%s: larger than expected", what);
				retry = 0;
			} else {
				err = roost_errf(eb, ROOST_EIO, "S3: %s %s: %s", method, what,
				                 cerr[0] ? cerr : curl_easy_strerror(cc));
				retry = curl_retryable(cc);
			}
		} else if (r->status / 100 != 2) {
			err = s3_answer_err(sb->bucket, sb->endpoint, method, what, r->status, r->body,
			                    r->len, eb);
			retry = s3_answer_retryable(r->status, r->body, r->len);
		} else {
			err = ROOST_OK;
			retry = 0;
		}
		if (!err)
			break;
		free(r->body);
		r->body = NULL;
		if (!retry || attempt + 1 >= ATTEMPTS)
			break;
		struct timespec ts = {0, 100000000L << attempt}; /* 0.1 s, 0.2 s, ... 1.6 s */
		while (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		nanosleep(&ts, NULL);
	}
	pool_put(sb, c);
	return err;
}

static enum roost_err objkey(struct s3backend *sb, const char *name, char *out, size_t cap,
                             struct roost_errbuf *eb)
{
	if (!roost_backend_name_valid(name))
		return roost_errf(eb, ROOST_EINVAL, "invalid object name %s", name);
	if ((size_t)snprintf(out, cap, "%s%s", sb->prefix, name) >= cap)
		return roost_errf(eb, ROOST_EINVAL, "S3 key too long");
	return ROOST_OK;
}

static enum roost_err s_get(struct roost_backend *b, const char *name, uint8_t **buf,
                            size_t *len, struct roost_errbuf *eb)
{
	struct s3backend *sb = (struct s3backend *)b;
	*buf = NULL;
	*len = 0;
	char key[1024];
	enum roost_err err = objkey(sb, name, key, sizeof(key), eb);
	if (err)
		return err;
	struct resp r = {0};
	err = s3_req(sb, "GET", key, NULL, NULL, NULL, 0, &r, eb);
	if (err)
		return err;
	if (r.clen >= 0 && (size_t)r.clen != r.len) {
		free(r.body);
		return roost_errf(eb, ROOST_EIO, "S3: GET %s: short answer", name);
	}
	*buf = r.body ? r.body : malloc(1);
	*len = r.len;
	return *buf ? ROOST_OK : roost_errf(eb, ROOST_ENOMEM, "out of memory");
}

/* Copies [off, off+len) of name from a read-ahead window; 1 if one held it. */
static int ra_take(struct s3backend *sb, const char *name, uint64_t off, size_t len, uint8_t *buf)
{
	int hit = 0;
	pthread_mutex_lock(&sb->mu);
	for (int i = 0; i < RA_SLOTS && !hit; i++) {
		struct ra_slot *s = &sb->ra[i];
		if (s->buf && off >= s->off && off + len <= s->off + s->len && !strcmp(s->name, name)) {
			memcpy(buf, s->buf + (off - s->off), len);
			s->used = ++sb->ra_clock;
			hit = 1;
		}
	}
	pthread_mutex_unlock(&sb->mu);
	return hit;
}

/* Keeps a window (takes w), in the least recently used slot. */
static void ra_keep(struct s3backend *sb, const char *name, uint64_t off, uint8_t *w, size_t n)
{
	pthread_mutex_lock(&sb->mu);
	struct ra_slot *v = &sb->ra[0];
	for (int i = 1; i < RA_SLOTS; i++)
		if (sb->ra[i].used < v->used)
			v = &sb->ra[i];
	free(v->buf);
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->off = off;
	v->len = n;
	v->buf = w;
	v->used = ++sb->ra_clock;
	pthread_mutex_unlock(&sb->mu);
}

/* A window of RA_WINDOW bytes from off (fewer at the pack's end); 0 and
 * *w (malloc'd) with its length, or -1 (the caller asks for the exact range). */
static int ra_fetch(struct s3backend *sb, const char *key, uint64_t off, uint8_t **w, size_t *n)
{
	uint8_t *buf = malloc(RA_WINDOW);
	if (!buf)
		return -1;
	char range[80];
	snprintf(range, sizeof(range), "Range: bytes=%llu-%llu", (unsigned long long)off,
	         (unsigned long long)(off + RA_WINDOW - 1));
	struct resp r = {0};
	r.into = buf;
	r.max = RA_WINDOW;
	struct roost_errbuf eb;
	if (s3_req(sb, "GET", key, NULL, range, NULL, 0, &r, &eb) || r.status != 206) {
		free(buf);
		return -1;
	}
	*w = buf;
	*n = r.len;
	return 0;
}

static enum roost_err s_get_range(struct roost_backend *b, const char *name, uint64_t off,
                                  size_t len, uint8_t *buf, struct roost_errbuf *eb)
{
	struct s3backend *sb = (struct s3backend *)b;
	if (len == 0)
		return ROOST_OK;
	char key[1024];
	enum roost_err err = objkey(sb, name, key, sizeof(key), eb);
	if (err)
		return err;
	if (len < RA_WINDOW / 2 && !strncmp(name, "packs/", 6) && strlen(name) < 96) {
		if (ra_take(sb, name, off, len, buf))
			return ROOST_OK;
		uint8_t *w;
		size_t n;
		if (ra_fetch(sb, key, off, &w, &n) == 0) {
			if (n >= len) {
				memcpy(buf, w, len);
				ra_keep(sb, name, off, w, n);
				return ROOST_OK;
			}
			free(w); /* short: the exact request below says why */
		}
	}
	char range[80];
	snprintf(range, sizeof(range), "Range: bytes=%llu-%llu", (unsigned long long)off,
	         (unsigned long long)(off + len - 1));
	struct resp r = {0};
	r.into = buf;
	r.max = len;
	err = s3_req(sb, "GET", key, NULL, range, NULL, 0, &r, eb);
	if (err)
		return err == ROOST_ERANGE ? roost_errf(eb, ROOST_ECORRUPT,
		                                        "%s: range %llu+%zu: unranged answer", name,
		                                        (unsigned long long)off, len)
		                           : err;
	if (r.status != 206 || r.len != len)
		return roost_errf(eb, ROOST_ECORRUPT, "%s: range %llu+%zu: short or unranged answer",
		                  name, (unsigned long long)off, len);
	return ROOST_OK;
}

static enum roost_err s_stat(struct roost_backend *b, const char *name, uint64_t *size,
                             struct roost_errbuf *eb)
{
	struct s3backend *sb = (struct s3backend *)b;
	char key[1024];
	enum roost_err err = objkey(sb, name, key, sizeof(key), eb);
	if (err)
		return err;
	struct resp r = {0};
	err = s3_req(sb, "HEAD", key, NULL, NULL, NULL, 0, &r, eb);
	if (err == ROOST_ENOENT) {
		/* HEAD has no body to name a missing bucket: ask the bucket */
		struct resp rb = {0};
		struct roost_errbuf eb2;
		enum roost_err e2 =
			s3_req(sb, "GET", NULL, "list-type=2&max-keys=1", NULL, NULL, 0, &rb, &eb2);
		free(rb.body);
		if (e2 && e2 != ROOST_ENOENT)
			return e2 == ROOST_EAUTH ? roost_errf(eb, e2, "%s", eb2.msg) : err;
		if (e2 == ROOST_ENOENT)
			return roost_errf(eb, ROOST_EIO, "%s", eb2.msg); /* no such bucket */
		return roost_errf(eb, ROOST_ENOENT, "%s: no such object", name);
	}
	if (err == ROOST_EPERM || err == ROOST_EIO) {
		/* HEAD answers carry no error code: learn it from a GET of the bucket */
		struct resp rb = {0};
		struct roost_errbuf eb2;
		enum roost_err e2 =
			s3_req(sb, "GET", NULL, "list-type=2&max-keys=1", NULL, NULL, 0, &rb, &eb2);
		free(rb.body);
		if (e2)
			return roost_errf(eb, e2, "%s", eb2.msg);
	}
	if (err)
		return err;
	free(r.body);
	if (size)
		*size = r.clen >= 0 ? (uint64_t)r.clen : 0;
	return ROOST_OK;
}

static enum roost_err s_put(struct roost_backend *b, const char *name, const uint8_t *buf,
                            size_t len, struct roost_errbuf *eb)
{
	struct s3backend *sb = (struct s3backend *)b;
	char key[1024];
	enum roost_err err = objkey(sb, name, key, sizeof(key), eb);
	if (err)
		return err;
	/* put() never overwrites. Objects are content-named: two writers racing
	 * between this check and the PUT write the same bytes. */
	err = s_stat(b, name, NULL, eb);
	if (!err)
		return roost_errf(eb, ROOST_EEXIST, "%s: already exists", name);
	if (err != ROOST_ENOENT)
		return err;
	struct resp r = {0};
	err = s3_req(sb, "PUT", key, NULL, NULL, buf, len, &r, eb);
	free(r.body);
	return err;
}

static enum roost_err s_writer_open(struct roost_backend *b, struct roost_bwriter **w,
                                    struct roost_errbuf *eb)
{
	*w = calloc(1, sizeof(**w));
	if (!*w)
		return roost_errf(eb, ROOST_ENOMEM, "out of memory");
	(*w)->sb = (struct s3backend *)b;
	return ROOST_OK;
}

static enum roost_err s_writer_write(struct roost_bwriter *w, const uint8_t *buf, size_t len,
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
	}
	memcpy(w->buf + w->len, buf, len);
	w->len += len;
	return ROOST_OK;
}

static void s_writer_abort(struct roost_bwriter *w)
{
	if (!w)
		return;
	free(w->buf);
	free(w);
}

static enum roost_err s_writer_commit(struct roost_bwriter *w, const char *name,
                                      struct roost_errbuf *eb)
{
	enum roost_err err = s_put(&w->sb->pub, name, w->buf, w->len, eb);
	s_writer_abort(w);
	return err;
}

static enum roost_err s_writer_pread(struct roost_bwriter *w, uint64_t off, size_t len,
                                     uint8_t *buf, struct roost_errbuf *eb)
{
	if (off > w->len || len > w->len - off)
		return roost_errf(eb, ROOST_ECORRUPT, "read past the end of an upload");
	memcpy(buf, w->buf + off, len);
	return ROOST_OK;
}

static enum roost_err s_list(struct roost_backend *b, const char *type, roost_list_cb cb,
                             void *ctx, struct roost_errbuf *eb)
{
	struct s3backend *sb = (struct s3backend *)b;
	if (strspn(type, "abcdefghijklmnopqrstuvwxyz") != strlen(type) || strlen(type) > 16)
		return roost_errf(eb, ROOST_EINVAL, "invalid object type %s", type);
	char pfx[1024], epfx[3200];
	snprintf(pfx, sizeof(pfx), "%s%s/", sb->prefix, type);
	if (s3_uri_encode(epfx, sizeof(epfx), pfx, 0))
		return roost_errf(eb, ROOST_EINVAL, "S3 prefix too long");
	char *token = NULL;
	enum roost_err err = ROOST_OK;
	int stop = 0;
	while (!stop) {
		/* query parameters sorted by name, as SigV4 wants them */
		size_t qcap = 4096 + (token ? strlen(token) * 3 : 0);
		char *q = malloc(qcap), *etok = NULL;
		if (!q)
			return roost_errf(eb, ROOST_ENOMEM, "out of memory");
		size_t o = 0;
		if (token) {
			etok = malloc(strlen(token) * 3 + 1);
			if (!etok || s3_uri_encode(etok, strlen(token) * 3 + 1, token, 0)) {
				free(etok);
				free(q);
				free(token);
				return roost_errf(eb, ROOST_ENOMEM, "out of memory");
			}
			o += (size_t)snprintf(q + o, qcap - o, "continuation-token=%s&", etok);
			free(etok);
		}
		o += (size_t)snprintf(q + o, qcap - o, "list-type=2&");
		if (sb->max_keys)
			o += (size_t)snprintf(q + o, qcap - o, "max-keys=%d&", sb->max_keys);
		snprintf(q + o, qcap - o, "prefix=%s", epfx);
		free(token);
		token = NULL;
		struct resp r = {0};
		r.max = 64u << 20;
		err = s3_req(sb, "GET", NULL, q, NULL, NULL, 0, &r, eb);
		free(q);
		if (err)
			return err;
		const char *p = (const char *)r.body, *end = p + r.len;
		char key[1200], size[32];
		while (p && p < end && !stop) {
			const char *cs = memmem(p, (size_t)(end - p), "<Contents>", 10);
			if (!cs)
				break;
			const char *ce = memmem(cs, (size_t)(end - cs), "</Contents>", 11);
			if (!ce) {
				err = roost_errf(eb, ROOST_EIO, "S3: malformed listing of %s", type);
				break;
			}
			char *stopp;
			if (s3_xml_tag(cs, ce, "Key", key, sizeof(key)) ||
			    s3_xml_tag(cs, ce, "Size", size, sizeof(size)) ||
			    strspn(size, "0123456789") != strlen(size) || !size[0]) {
				err = roost_errf(eb, ROOST_EIO, "S3: malformed entry in listing of %s",
				                 type);
				break;
			}
			unsigned long long sz = strtoull(size, &stopp, 10);
			p = ce + 11;
			size_t pl = strlen(sb->prefix);
			if (strncmp(key, sb->prefix, pl) != 0 || !roost_backend_name_valid(key + pl))
				continue; /* not ours */
			if (cb(ctx, key + pl, sz))
				stop = 1;
		}
		if (!err && !stop) {
			char trunc[16] = "";
			const char *bp = (const char *)r.body;
			if (bp && !s3_xml_tag(bp, end, "IsTruncated", trunc, sizeof(trunc)) &&
			    !strcmp(trunc, "true")) {
				char *tok = malloc(4096);
				if (!tok || s3_xml_tag(bp, end, "NextContinuationToken", tok, 4096) ||
				    !tok[0]) {
					free(tok);
					err = roost_errf(eb, ROOST_EIO,
					                 "S3: truncated listing of %s without a "
					                 "continuation token", type);
				} else
					token = tok;
			}
		}
		free(r.body);
		if (err || !token)
			break;
	}
	free(token);
	return err;
}

static enum roost_err s_remove(struct roost_backend *b, const char *name,
                               struct roost_errbuf *eb)
{
	struct s3backend *sb = (struct s3backend *)b;
	char key[1024];
	enum roost_err err = objkey(sb, name, key, sizeof(key), eb);
	if (err)
		return err;
	struct resp r = {0};
	err = s3_req(sb, "DELETE", key, NULL, NULL, NULL, 0, &r, eb);
	free(r.body);
	return err == ROOST_ENOENT && strstr(eb->msg, "no such object") ? ROOST_OK : err;
}

static void s_close(struct roost_backend *b)
{
	struct s3backend *sb = (struct s3backend *)b;
	for (int i = 0; i < sb->npool; i++)
		curl_easy_cleanup(sb->pool[i]);
	for (int i = 0; i < RA_SLOTS; i++)
		free(sb->ra[i].buf);
	pthread_mutex_destroy(&sb->mu);
	if (sb->userpwd)
		sodium_memzero(sb->userpwd, strlen(sb->userpwd));
	free(sb->userpwd);
	free(sb->cainfo);
	free(sb->endpoint);
	free(sb->bucket);
	free(sb->prefix);
	free(sb->pub.location);
	free(sb);
}

static const struct roost_backend_ops s3_ops = {
	.get = s_get,
	.get_range = s_get_range,
	.put = s_put,
	.writer_open = s_writer_open,
	.writer_write = s_writer_write,
	.writer_commit = s_writer_commit,
	.writer_abort = s_writer_abort,
	.list = s_list,
	.stat = s_stat,
	.remove = s_remove,
	.close = s_close,
	.writer_pread = s_writer_pread,
};

int roost_backend_is_s3(const char *location)
{
	return location && !strncmp(location, "s3:", 3);
}

enum roost_err roost_backend_s3_open(const char *location, struct roost_backend **out,
                                     struct roost_errbuf *eb)
{
	*out = NULL;
	if (!roost_backend_is_s3(location))
		return roost_errf(eb, ROOST_EINVAL, "%s: not an s3: location", location);
	const char *u = location + 3;
	size_t schemel = !strncmp(u, "https://", 8) ? 8 : !strncmp(u, "http://", 7) ? 7 : 0;
	if (!schemel)
		return roost_errf(eb, ROOST_EINVAL,
		                  "%s: expected s3:http[s]://HOST[:PORT]/BUCKET[/PREFIX]", location);
	const char *host = u + schemel, *slash = strchr(host, '/');
	if (!slash || slash == host || !slash[1])
		return roost_errf(eb, ROOST_EINVAL, "%s: no bucket (s3:http[s]://HOST[:PORT]/BUCKET)",
		                  location);
	const char *bucket = slash + 1, *bend = strchr(bucket, '/');
	size_t bl = bend ? (size_t)(bend - bucket) : strlen(bucket);
	if (bl < 3 || bl > 63 || strspn(bucket, "abcdefghijklmnopqrstuvwxyz0123456789.-") < bl)
		return roost_errf(eb, ROOST_EINVAL, "%s: invalid bucket name", location);
	const char *pfx = bend ? bend + 1 : "";
	size_t pl = strlen(pfx);
	while (pl && pfx[pl - 1] == '/')
		pl--;
	if (pl > 512)
		return roost_errf(eb, ROOST_EINVAL, "%s: prefix too long", location);
	const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
	const char *region = getenv("AWS_DEFAULT_REGION");
	if (!ak || !*ak || !sk || !*sk)
		return roost_errf(eb, ROOST_EINVAL,
		                  "S3: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for %s",
		                  location);
	if (!region || !*region)
		region = "us-east-1";
	if (strlen(region) > 40 || strchr(region, ':'))
		return roost_errf(eb, ROOST_EINVAL, "S3: invalid AWS_DEFAULT_REGION %s", region);
	if (sodium_init() < 0)
		return roost_errf(eb, ROOST_EIO, "libsodium failed to initialise");
	pthread_once(&curl_once, curl_init_once);
	struct s3backend *sb = calloc(1, sizeof(*sb));
	if (!sb)
		return roost_errf(eb, ROOST_ENOMEM, "out of memory");
	pthread_mutex_init(&sb->mu, NULL);
	sb->pub.ops = &s3_ops;
	sb->pub.location = strdup(location);
	sb->endpoint = strndup(u, (size_t)(slash - u));
	sb->bucket = strndup(bucket, bl);
	sb->prefix = malloc(pl + 2);
	sb->userpwd = malloc(strlen(ak) + strlen(sk) + 2);
	if (!sb->pub.location || !sb->endpoint || !sb->bucket || !sb->prefix || !sb->userpwd) {
		s_close(&sb->pub);
		return roost_errf(eb, ROOST_ENOMEM, "out of memory");
	}
	memcpy(sb->prefix, pfx, pl);
	if (pl)
		sb->prefix[pl++] = '/';
	sb->prefix[pl] = 0;
	sprintf(sb->userpwd, "%s:%s", ak, sk);
	snprintf(sb->sigv4, sizeof(sb->sigv4), "aws:amz:%s:s3", region);
	const char *ca = getenv("AWS_CA_BUNDLE"); /* as the AWS CLI and SDKs read it */
	if (ca && *ca && !(sb->cainfo = strdup(ca))) {
		s_close(&sb->pub);
		return roost_errf(eb, ROOST_ENOMEM, "out of memory");
	}
	const char *lk = getenv("ROOST_S3_OBJECT_LOCK");
	if (lk && *lk && s3_lock_parse(lk, sb->lock_mode, &sb->lock_days)) {
		s_close(&sb->pub);
		return roost_errf(eb, ROOST_EINVAL,
		                  "ROOST_S3_OBJECT_LOCK=%s: expected MODE:DAYS, MODE COMPLIANCE or "
		                  "GOVERNANCE, DAYS 1 to 36500 (e.g. COMPLIANCE:30)", lk);
	}
	const char *mk = getenv("ROOST_S3_MAX_KEYS"); /* tests: force continuation */
	if (mk && atoi(mk) > 0 && atoi(mk) <= 1000)
		sb->max_keys = atoi(mk);
	*out = &sb->pub;
	return ROOST_OK;
}

enum roost_err roost_backend_open(const char *location, int create,
                                  struct roost_backend **out, struct roost_errbuf *eb)
{
	if (roost_backend_is_s3(location))
		return roost_backend_s3_open(location, out, eb);
	return roost_backend_local_open(location, create, out, eb);
}
