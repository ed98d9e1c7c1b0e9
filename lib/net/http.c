/* SPDX-License-Identifier: MIT */
/*
 * The blocking HTTPS/1.1 client (include/roost/http.h). One request at a
 * time per connection; idle connections wait in a small pool. Responses are
 * read by Content-Length or chunked encoding; the server is roostd, but the
 * parser is strict and bounded as if it were anyone.
 */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "http_url.h"
#include "roost/http.h"
#include "roost/ratelimit.h"

#define POOL_MAX 8
#define HDR_MAX (64 * 1024)

struct conn {
	int fd;
	SSL *ssl;
	int sv; /* the server it is connected to (index in sv[]) */
};

/* One server a client may use: the first given, then roost_http_add_server's. */
struct srv {
	char host[256];
	char port[16];
	char prefix[256];
};

struct roost_http {
	struct srv sv[ROOST_HTTP_SERVERS];
	int nsv;
	int cur; /* the server in use (under mu) */
	char pin[65]; /* empty: verify with CAs */
	char *auth;
	int timeout_s;
	SSL_CTX *ctx;
	pthread_mutex_t mu;
	struct conn pool[POOL_MAX];
	int npool;
	struct roost_ratelimit *rl;  /* NULL: unpaced; borrowed */
	const volatile int *cancel;  /* ends a paced wait; borrowed */
};

static SSL_CTX *make_ctx(int verify)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (verify) {
		SSL_CTX_set_default_verify_paths(ctx);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	return ctx;
}

static void conn_close(struct conn *c)
{
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
}

int roost_cert_sha256_hex(const void *x509, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!x509 || !X509_digest(x509, EVP_sha256(), md, &mdlen) || mdlen != 32)
		return -1;
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	return 0;
}

static int cert_fingerprint(SSL *ssl, char out[65])
{
	X509 *cert = SSL_get1_peer_certificate(ssl);
	int rc = roost_cert_sha256_hex(cert, out);
	X509_free(cert);
	return rc;
}

static enum roost_err tls_connect(SSL_CTX *ctx, const char *host, const char *port,
                                  int timeout_s, const char *pin, char fp[65],
                                  struct conn *c, struct roost_errbuf *eb)
{
	c->fd = -1;
	c->ssl = NULL;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	int rc = getaddrinfo(host, port, &hints, &ai);
	if (rc)
		return roost_errf(eb, ROOST_EIO, "connect %s:%s: %s", host, port, gai_strerror(rc));
	int err = ECONNREFUSED;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		struct timeval tv = {.tv_sec = timeout_s};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			c->fd = fd;
			break;
		}
		err = errno;
		close(fd);
	}
	freeaddrinfo(ai);
	if (c->fd < 0)
		return roost_errf(eb, ROOST_EIO, "connect %s:%s: %s", host, port, strerror(err));
	c->ssl = SSL_new(ctx);
	if (!c->ssl) {
		conn_close(c);
		return roost_errf(eb, ROOST_ENOMEM, "TLS: out of memory");
	}
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_tlsext_host_name(c->ssl, host);
	if (!pin)
		SSL_set1_host(c->ssl, host);
	if (SSL_connect(c->ssl) != 1) {
		unsigned long e = ERR_get_error();
		char msg[256];
		ERR_error_string_n(e, msg, sizeof(msg));
		long vr = SSL_get_verify_result(c->ssl);
		conn_close(c);
		if (vr != X509_V_OK)
			return roost_errf(eb, ROOST_EAUTH,
			                  "TLS with %s:%s: certificate not trusted (%s); give the "
			                  "server's fingerprint (--fingerprint) to pin it",
			                  host, port, X509_verify_cert_error_string(vr));
		return roost_errf(eb, ROOST_EIO, "TLS handshake with %s:%s failed: %s", host, port,
		                  e ? msg : "connection closed");
	}
	char got[65];
	if (cert_fingerprint(c->ssl, got)) {
		conn_close(c);
		return roost_errf(eb, ROOST_EAUTH, "TLS with %s:%s: no certificate", host, port);
	}
	if (fp)
		memcpy(fp, got, 65);
	if (pin && pin[0] && strcmp(pin, got) != 0) {
		conn_close(c);
		return roost_errf(eb, ROOST_EAUTH,
		                  "server %s:%s presented certificate %s, not the pinned %s; "
		                  "refusing to talk to it", host, port, got, pin);
	}
	return ROOST_OK;
}

enum roost_err roost_http_fetch_fingerprint(const char *url, char out[65],
                                            struct roost_errbuf *eb)
{
	char host[256], port[16], prefix[256];
	enum roost_err err = http_parse_url(url, host, sizeof(host), port, sizeof(port), prefix,
	                               sizeof(prefix), eb);
	if (err)
		return err;
	SSL_CTX *ctx = make_ctx(0);
	if (!ctx)
		return roost_errf(eb, ROOST_ENOMEM, "TLS: out of memory");
	struct conn c;
	err = tls_connect(ctx, host, port, 30, "", out, &c, eb);
	if (!err)
		conn_close(&c);
	SSL_CTX_free(ctx);
	return err;
}

enum roost_err roost_http_new(const char *url, const char *fingerprint, const char *auth,
                              int timeout_s, struct roost_http **out,
                              struct roost_errbuf *eb)
{
	*out = NULL;
	struct roost_http *h = calloc(1, sizeof(*h));
	if (!h)
		return ROOST_ENOMEM;
	enum roost_err err = http_parse_url(url, h->sv[0].host, sizeof(h->sv[0].host), h->sv[0].port,
	                               sizeof(h->sv[0].port), h->sv[0].prefix,
	                               sizeof(h->sv[0].prefix), eb);
	if (err) {
		free(h);
		return err;
	}
	h->nsv = 1;
	if (fingerprint && fingerprint[0] && roost_fingerprint_normalize(fingerprint, h->pin)) {
		free(h);
		return roost_errf(eb, ROOST_EINVAL,
		                  "fingerprint %s: expected 64 hex digits (SHA-256)", fingerprint);
	}
	h->timeout_s = timeout_s > 0 ? timeout_s : 60;
	h->auth = auth ? strdup(auth) : NULL;
	h->ctx = make_ctx(h->pin[0] == 0);
	if (!h->ctx || (auth && !h->auth)) {
		roost_http_free(h);
		return ROOST_ENOMEM;
	}
	pthread_mutex_init(&h->mu, NULL);
	*out = h;
	return ROOST_OK;
}

enum roost_err roost_http_add_server(struct roost_http *h, const char *url,
                                     struct roost_errbuf *eb)
{
	if (h->nsv >= ROOST_HTTP_SERVERS)
		return roost_errf(eb, ROOST_ERANGE, "more than %d servers", ROOST_HTTP_SERVERS);
	struct srv *s = &h->sv[h->nsv];
	enum roost_err err = http_parse_url(url, s->host, sizeof(s->host), s->port, sizeof(s->port),
	                               s->prefix, sizeof(s->prefix), eb);
	if (!err)
		h->nsv++;
	return err;
}

void roost_http_set_ratelimit(struct roost_http *h, struct roost_ratelimit *rl,
                              const volatile int *cancel)
{
	h->rl = rl;
	h->cancel = cancel;
}

void roost_http_free(struct roost_http *h)
{
	if (!h)
		return;
	for (int i = 0; i < h->npool; i++)
		conn_close(&h->pool[i]);
	if (h->ctx)
		SSL_CTX_free(h->ctx);
	free(h->auth);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

void roost_http_resp_free(struct roost_http_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* ---- buffered reading over SSL ---- */

struct rd {
	SSL *ssl;
	uint8_t buf[16384];
	size_t pos, len;
	int got_any;
};

static int rd_fill(struct rd *r)
{
	int n = SSL_read(r->ssl, r->buf, sizeof(r->buf));
	if (n <= 0)
		return -1;
	r->pos = 0;
	r->len = (size_t)n;
	r->got_any = 1;
	return 0;
}

/* Reads one CRLF-terminated line (without CRLF) into line[cap]. */
static int rd_line(struct rd *r, char *line, size_t cap, size_t *total)
{
	size_t n = 0;
	for (;;) {
		if (r->pos == r->len && rd_fill(r))
			return -1;
		char ch = (char)r->buf[r->pos++];
		if (++*total > HDR_MAX)
			return -1;
		if (ch == '\n') {
			if (n > 0 && line[n - 1] == '\r')
				n--;
			line[n] = 0;
			return 0;
		}
		if (n + 1 >= cap)
			return -1;
		line[n++] = ch;
	}
}

static int rd_bytes(struct rd *r, uint8_t *out, size_t n)
{
	while (n > 0) {
		if (r->pos == r->len) {
			/* large reads go straight to the destination */
			if (n >= sizeof(r->buf)) {
				int k = SSL_read(r->ssl, out, n > (1u << 30) ? (1 << 30) : (int)n);
				if (k <= 0)
					return -1;
				out += k;
				n -= (size_t)k;
				continue;
			}
			if (rd_fill(r))
				return -1;
		}
		size_t k = r->len - r->pos < n ? r->len - r->pos : n;
		memcpy(out, r->buf + r->pos, k);
		r->pos += k;
		out += k;
		n -= k;
	}
	return 0;
}

static int ssl_write_all(SSL *ssl, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len > 0) {
		int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
		int n = SSL_write(ssl, p, chunk);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ssl_write_all through h's limiter when paced, one grant at a time: a big
 * body goes out as the rate allows instead of in one burst. */
static int paced_write_all(struct roost_http *h, int paced, SSL *ssl, const void *buf,
                           size_t len)
{
	if (!h->rl || !paced)
		return ssl_write_all(ssl, buf, len);
	const uint8_t *p = buf;
	while (len > 0) {
		size_t g = roost_ratelimit_take(h->rl, len, h->cancel);
		if (!g || ssl_write_all(ssl, p, g))
			return -1;
		p += g;
		len -= g;
	}
	return 0;
}

static int grow(uint8_t **body, size_t *cap, size_t need, size_t max)
{
	if (need > max)
		return -1;
	if (need + 1 <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 4096;
	while (nc < need + 1)
		nc *= 2;
	uint8_t *nb = realloc(*body, nc);
	if (!nb)
		return -1;
	*body = nb;
	*cap = nc;
	return 0;
}

/* 1: retry on a fresh connection (a kept-alive one was closed under us). */
static enum roost_err do_one(struct roost_http *h, const struct srv *sv, struct conn *c,
                             int reused,
                             const char *method, const char *path, const char *const *headers,
                             const void *body, size_t blen, size_t max_body,
                             struct roost_http_resp *resp, int *keep, int *retry, int *lost,
                             struct roost_errbuf *eb)
{
	*keep = 0;
	*retry = 0;
	*lost = 0;
	size_t hcap = 1024 + strlen(path) + strlen(sv->prefix) + (h->auth ? strlen(h->auth) : 0);
	for (const char *const *x = headers; x && *x; x++)
		hcap += strlen(*x) + 2;
	char *req = malloc(hcap);
	if (!req)
		return ROOST_ENOMEM;
	int n = snprintf(req, hcap, "%s %s%s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: roost/%s\r\n",
	                 method, sv->prefix, path, sv->host, sv->port, ROOST_VERSION);
	if (h->auth)
		n += snprintf(req + n, hcap - (size_t)n, "Authorization: %s\r\n", h->auth);
	for (const char *const *x = headers; x && *x; x++)
		n += snprintf(req + n, hcap - (size_t)n, "%s\r\n", *x);
	if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
	    strcmp(method, "PATCH") == 0)
		n += snprintf(req + n, hcap - (size_t)n, "Content-Length: %zu\r\n", blen);
	n += snprintf(req + n, hcap - (size_t)n, "\r\n");
	/* uploads are paced: a request with a body, its head included */
	int wfail = paced_write_all(h, blen > 0, c->ssl, req, (size_t)n) ||
	            (blen && paced_write_all(h, 1, c->ssl, body, blen));
	free(req);
	struct rd *r = malloc(sizeof(*r));
	if (!r)
		return ROOST_ENOMEM;
	r->ssl = c->ssl;
	r->pos = r->len = 0;
	r->got_any = 0;
	enum roost_err err = ROOST_OK;
	char line[8192];
	size_t total = 0;
	if (wfail || rd_line(r, line, sizeof(line), &total)) {
		if (reused && !r->got_any)
			*retry = 1;
		*lost = 1;
		err = roost_errf(eb, ROOST_EIO, "%s %s: connection to %s:%s lost", method, path,
		                 sv->host, sv->port);
		goto out;
	}
	int status = 0;
	if (sscanf(line, "HTTP/1.%*d %d", &status) != 1 || status < 100 || status > 599) {
		err = roost_errf(eb, ROOST_EIO, "%s %s: malformed response from server", method, path);
		goto out;
	}
	int64_t clen = -1;
	int chunked = 0, close_after = 0;
	for (;;) {
		if (rd_line(r, line, sizeof(line), &total)) {
			err = roost_errf(eb, ROOST_EIO, "%s %s: malformed response headers", method, path);
			goto out;
		}
		if (!line[0])
			break;
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = 0;
		char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		if (!strcasecmp(line, "content-length")) {
			char *e;
			errno = 0;
			unsigned long long x = strtoull(v, &e, 10);
			if (errno || e == v || x > (1ull << 40)) {
				err = roost_errf(eb, ROOST_EIO, "%s %s: bad Content-Length", method, path);
				goto out;
			}
			clen = (int64_t)x;
		} else if (!strcasecmp(line, "transfer-encoding") && strcasestr(v, "chunked")) {
			chunked = 1;
		} else if (!strcasecmp(line, "connection") && strcasestr(v, "close")) {
			close_after = 1;
		}
	}
	resp->status = status;
	resp->content_length = clen >= 0 ? (uint64_t)clen : 0;
	if (!max_body)
		max_body = (size_t)1 << 30;
	size_t cap = 0, len = 0;
	uint8_t *b = NULL;
	int head = strcmp(method, "HEAD") == 0 || status == 204 || status == 304;
	if (head) {
		/* no body */
	} else if (chunked) {
		for (;;) {
			if (rd_line(r, line, sizeof(line), &total)) {
				err = roost_errf(eb, ROOST_EIO, "%s %s: truncated response", method, path);
				goto fail_body;
			}
			char *e;
			unsigned long long k = strtoull(line, &e, 16);
			if (e == line || k > max_body) {
				err = roost_errf(eb, ROOST_EIO, "%s %s: bad chunk", method, path);
				goto fail_body;
			}
			if (k == 0) {
				while (!rd_line(r, line, sizeof(line), &total) && line[0])
					;
				break;
			}
			if (grow(&b, &cap, len + k, max_body) || rd_bytes(r, b + len, k) ||
			    rd_line(r, line, sizeof(line), &total)) {
				err = roost_errf(eb, ROOST_EIO, "%s %s: response too large or truncated",
				                 method, path);
				goto fail_body;
			}
			len += k;
		}
	} else if (clen >= 0) {
		if (grow(&b, &cap, (size_t)clen, max_body) || rd_bytes(r, b, (size_t)clen)) {
			err = roost_errf(eb, ROOST_EIO, "%s %s: response too large or truncated", method,
			                 path);
			goto fail_body;
		}
		len = (size_t)clen;
	} else {
		/* until close */
		close_after = 1;
		for (;;) {
			if (grow(&b, &cap, len + 16384, max_body)) {
				err = roost_errf(eb, ROOST_EIO, "%s %s: response too large", method, path);
				goto fail_body;
			}
			if (r->pos == r->len && rd_fill(r))
				break;
			size_t k = r->len - r->pos;
			memcpy(b + len, r->buf + r->pos, k);
			r->pos = r->len;
			len += k;
		}
	}
	if (!head && grow(&b, &cap, len, (size_t)-1) == 0)
		b[len] = 0;
	resp->body = b;
	resp->len = len;
	*keep = !close_after && r->pos == r->len;
	goto out;
fail_body:
	free(b);
out:
	free(r);
	return err;
}

/* A client with several servers moves to the next one when a connection to
 * the one in use can not be made or is lost before an answer: a round over
 * all of them, then after a pause another, FAILOVER_ROUNDS in all. Only
 * requests that may be repeated use such a client (the agent's object API:
 * GETs, and PUTs of content-named objects, where an object already stored
 * by the lost server is a 409 that the engine reads as "already there"). */
#define FAILOVER_ROUNDS 6

static int pick_server(struct roost_http *h)
{
	pthread_mutex_lock(&h->mu);
	int cur = h->cur;
	pthread_mutex_unlock(&h->mu);
	return cur;
}

/* The server `from` failed: the next one is in use, and kept-alive
 * connections to others are closed. */
static void next_server(struct roost_http *h, int from)
{
	struct conn drop[POOL_MAX];
	int ndrop = 0;
	pthread_mutex_lock(&h->mu);
	if (h->cur == from)
		h->cur = (from + 1) % h->nsv;
	int keep = 0;
	for (int i = 0; i < h->npool; i++) {
		if (h->pool[i].sv == h->cur)
			h->pool[keep++] = h->pool[i];
		else
			drop[ndrop++] = h->pool[i];
	}
	h->npool = keep;
	pthread_mutex_unlock(&h->mu);
	for (int i = 0; i < ndrop; i++)
		conn_close(&drop[i]);
}

enum roost_err roost_http_request(struct roost_http *h, const char *method, const char *path,
                                  const char *const *headers, const void *body, size_t blen,
                                  size_t max_body, struct roost_http_resp *resp,
                                  struct roost_errbuf *eb)
{
	memset(resp, 0, sizeof(*resp));
	int stale = 0, failed = 0;
	for (;;) {
		int svi = pick_server(h);
		struct conn c = {.fd = -1, .sv = svi};
		int reused = 0;
		pthread_mutex_lock(&h->mu);
		for (int i = h->npool - 1; i >= 0; i--) {
			if (h->pool[i].sv == svi) {
				c = h->pool[i];
				h->pool[i] = h->pool[--h->npool];
				reused = 1;
				break;
			}
		}
		pthread_mutex_unlock(&h->mu);
		const struct srv *sv = &h->sv[svi];
		int keep = 0, retry = 0, lost = 0;
		enum roost_err err = ROOST_OK;
		if (!reused) {
			err = tls_connect(h->ctx, sv->host, sv->port, h->timeout_s,
			                  h->pin[0] ? h->pin : NULL, NULL, &c, eb);
			c.sv = svi;
			lost = err == ROOST_EIO;
		}
		if (!err)
			err = do_one(h, sv, &c, reused, method, path, headers, body, blen, max_body,
			             resp, &keep, &retry, &lost, eb);
		if (!err && keep) {
			pthread_mutex_lock(&h->mu);
			if (h->npool < POOL_MAX) {
				h->pool[h->npool++] = c;
				c.fd = -1;
				c.ssl = NULL;
			}
			pthread_mutex_unlock(&h->mu);
		}
		if (c.fd >= 0 || c.ssl)
			conn_close(&c);
		if (err && retry && stale++ < 1)
			continue; /* a kept-alive connection closed under us: once more, fresh */
		if (!err || !lost || h->nsv < 2)
			return err;
		/* failover: the next server at once, a pause after each whole round */
		failed++;
		if (failed >= FAILOVER_ROUNDS * h->nsv)
			return err;
		next_server(h, svi);
		if (failed % h->nsv == 0) {
			long ms = 250L << (failed / h->nsv - 1);
			if (ms > 4000)
				ms = 4000;
			struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		}
		stale = 0;
	}
}

/* ---- a streamed response (Server-Sent Events) ---- */

/* Hands n body bytes to on_body as they arrive; 1: on_body asked to stop,
 * -1: the connection failed. */
static int stream_bytes(struct rd *r, size_t n,
                        int (*on_body)(void *, int, const uint8_t *, size_t), void *ctx,
                        int status)
{
	while (n > 0) {
		if (r->pos == r->len && rd_fill(r))
			return -1;
		size_t k = r->len - r->pos < n ? r->len - r->pos : n;
		int stop = on_body(ctx, status, r->buf + r->pos, k);
		r->pos += k;
		n -= k;
		if (stop)
			return 1;
	}
	return 0;
}

enum roost_err roost_http_stream(struct roost_http *h, const char *path,
                                 const char *const *headers,
                                 int (*on_body)(void *ctx, int status, const uint8_t *p, size_t n),
                                 void *ctx, struct roost_errbuf *eb)
{
	struct conn c;
	const struct srv *sv = &h->sv[pick_server(h)];
	enum roost_err err = tls_connect(h->ctx, sv->host, sv->port, h->timeout_s,
	                                 h->pin[0] ? h->pin : NULL, NULL, &c, eb);
	if (err)
		return err;
	struct rd *r = malloc(sizeof(*r));
	size_t hcap = 1024 + strlen(path) + strlen(sv->prefix) + (h->auth ? strlen(h->auth) : 0);
	for (const char *const *x = headers; x && *x; x++)
		hcap += strlen(*x) + 2;
	char *req = malloc(hcap);
	if (!r || !req) {
		free(r);
		free(req);
		conn_close(&c);
		return ROOST_ENOMEM;
	}
	int n = snprintf(req, hcap, "GET %s%s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: roost/%s\r\n",
	                 sv->prefix, path, sv->host, sv->port, ROOST_VERSION);
	if (h->auth)
		n += snprintf(req + n, hcap - (size_t)n, "Authorization: %s\r\n", h->auth);
	for (const char *const *x = headers; x && *x; x++)
		n += snprintf(req + n, hcap - (size_t)n, "%s\r\n", *x);
	n += snprintf(req + n, hcap - (size_t)n, "\r\n");
	int wfail = ssl_write_all(c.ssl, req, (size_t)n);
	free(req);
	r->ssl = c.ssl;
	r->pos = r->len = 0;
	r->got_any = 0;
	char line[8192];
	size_t total = 0;
	int status = 0, chunked = 0, stop = 0;
	int64_t clen = -1;
	if (wfail || rd_line(r, line, sizeof(line), &total) ||
	    sscanf(line, "HTTP/1.%*d %d", &status) != 1 || status < 100 || status > 599) {
		err = roost_errf(eb, ROOST_EIO, "GET %s: no response from %s:%s", path, sv->host,
		                 sv->port);
		goto out;
	}
	for (;;) {
		if (rd_line(r, line, sizeof(line), &total)) {
			err = roost_errf(eb, ROOST_EIO, "GET %s: malformed response headers", path);
			goto out;
		}
		if (!line[0])
			break;
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = 0;
		char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		if (!strcasecmp(line, "content-length"))
			clen = strtoll(v, NULL, 10);
		else if (!strcasecmp(line, "transfer-encoding") && strcasestr(v, "chunked"))
			chunked = 1;
	}
	if (on_body(ctx, status, NULL, 0))
		goto out;
	if (chunked) {
		for (;;) {
			char *e;
			if (rd_line(r, line, sizeof(line), &total))
				break;
			total = 0; /* a stream's chunk lines are bounded one by one */
			unsigned long long k = strtoull(line, &e, 16);
			if (e == line) {
				err = roost_errf(eb, ROOST_EIO, "GET %s: bad chunk", path);
				goto out;
			}
			if (k == 0)
				goto out;
			if ((stop = stream_bytes(r, (size_t)k, on_body, ctx, status)) ||
			    rd_line(r, line, sizeof(line), &total))
				break;
		}
	} else if (clen >= 0) {
		stop = stream_bytes(r, (size_t)clen, on_body, ctx, status);
		if (stop >= 0)
			goto out;
	} else {
		while (!(stop = stream_bytes(r, sizeof(r->buf), on_body, ctx, status)))
			;
	}
	if (stop <= 0)
		err = roost_errf(eb, ROOST_EIO, "GET %s: the stream from %s:%s ended", path, sv->host,
		                 sv->port);
out:
	free(r);
	conn_close(&c);
	return err;
}
