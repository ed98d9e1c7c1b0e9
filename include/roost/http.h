/* SPDX-License-Identifier: MIT */
/*
 * A small blocking HTTPS/1.1 client for talking to roostd: the admin
 * commands of `roost`, the agent's enrollment and its repository backend.
 *
 * TLS is always on. With a pinned fingerprint (SHA-256 of the server's
 * certificate, hex, colons allowed) the certificate must match it exactly;
 * without one it must verify against the system's CAs for the URL's host.
 * Connections are kept alive and pooled; a client may be used from many
 * threads at once. Every socket has an idle timeout, so a dead server is an
 * error, not a hang.
 */
#ifndef ROOST_HTTP_H
#define ROOST_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "roost/error.h"

struct roost_http;

struct roost_http_resp {
	int status;
	uint8_t *body; /* malloc'd, NUL-terminated (not counted in len); NULL for HEAD */
	size_t len;
	uint64_t content_length; /* as announced (HEAD) */
};

/*
 * url: "https://host:port" (an optional path prefix is kept). fingerprint:
 * NULL, or 64 hex digits (colons ignored). auth: the Authorization header
 * value ("Bearer ...") or NULL. timeout_s: socket idle timeout (0: 60 s).
 */
enum roost_err roost_http_new(const char *url, const char *fingerprint, const char *auth,
                              int timeout_s, struct roost_http **out,
                              struct roost_errbuf *eb);
void roost_http_free(struct roost_http *h);

/*
 * Another server for the same service (the instances of one fleet, issue
 * 14): when a connection to the server in use can not be made, or is lost
 * before its answer, a request moves to the next server in the order given
 * (the first is roost_http_new's) and is sent again there; after a whole
 * round failed it pauses (0.25 s, doubling) and tries another round, six
 * rounds at most. Only for clients whose requests may be repeated. Not
 * thread-safe against requests: add servers before the first request.
 */
#define ROOST_HTTP_SERVERS 8
enum roost_err roost_http_add_server(struct roost_http *h, const char *url,
                                     struct roost_errbuf *eb);

struct roost_ratelimit;
/*
 * Paces this client's uploads through rl, shared with whoever else uses it:
 * every request with a body, its request line, headers and body (not TLS
 * framing, not responses; requests without a body are not paced). Bodies
 * go in the limiter's grants, each when it is granted. A request whose wait
 * is canceled by *cancel (may be NULL) fails. rl and cancel are borrowed
 * and must outlive h; NULL rl: unpaced. Set it before the first request.
 */
void roost_http_set_ratelimit(struct roost_http *h, struct roost_ratelimit *rl,
                              const volatile int *cancel);

/*
 * One request. path starts with '/'; headers is NULL or a NULL-terminated
 * list of "Name: value" lines; body may be NULL. Any HTTP status is a
 * success here (look at resp->status); transport and TLS failures, a pin
 * mismatch or a malformed response are errors. A response body over
 * max_body (0: 1 GiB) is an error. Free resp with roost_http_resp_free.
 */
enum roost_err roost_http_request(struct roost_http *h, const char *method, const char *path,
                                  const char *const *headers, const void *body, size_t blen,
                                  size_t max_body, struct roost_http_resp *resp,
                                  struct roost_errbuf *eb);
void roost_http_resp_free(struct roost_http_resp *r);

/*
 * A GET whose response is read as it arrives (Server-Sent Events), on a
 * connection of its own, closed at the end. on_body(ctx, status, NULL, 0)
 * is called once the headers are in, then with each piece of the body
 * (chunked framing removed) as it comes; a nonzero return ends the stream
 * and the call returns ROOST_OK. A body that ends by itself (Content-Length
 * or last chunk) is ROOST_OK too; a connection that closes or fails, an
 * idle timeout (h's), or a read interrupted by a signal whose handler was
 * installed without SA_RESTART is ROOST_EIO. Not for bodies to keep: use
 * roost_http_request.
 */
enum roost_err roost_http_stream(struct roost_http *h, const char *path,
                                 const char *const *headers,
                                 int (*on_body)(void *ctx, int status, const uint8_t *p, size_t n),
                                 void *ctx, struct roost_errbuf *eb);

/* The SHA-256 fingerprint (64 lowercase hex) of the certificate the server
 * at url presents, without verifying it: trust on first use. */
enum roost_err roost_http_fetch_fingerprint(const char *url, char out[65],
                                            struct roost_errbuf *eb);

/* SHA-256 of a certificate (an OpenSSL X509 *) as 64 lowercase hex; 0 on success. */
int roost_cert_sha256_hex(const void *x509, char out[65]);

/* Normalizes a fingerprint (hex, colons and case ignored) to 64 lowercase hex. */
int roost_fingerprint_normalize(const char *in, char out[65]);

/* Percent-encodes s for a URL path segment or query value into a new string. */
char *roost_url_escape(const char *s);

#endif
