/* SPDX-License-Identifier: MIT */
/*
 * The object store under a repository: a set of immutable, named objects.
 * Names are "config", "keys/<hex>", "packs/<hex>", "index/<hex>",
 * "snapshots/<hex>", "marks/<hex>". The engine never assumes a local path:
 * the local directory backend, the server's object API (for agents) and
 * later S3 all implement these operations.
 *
 * Every operation is thread-safe. put() never overwrites: it returns
 * ROOST_EEXIST if the name exists. Objects are written atomically: a reader
 * sees all of an object or none of it.
 */
#ifndef ROOST_BACKEND_H
#define ROOST_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "roost/error.h"

struct roost_backend;
struct roost_bwriter; /* an object being written */

/* Called by list() for each object of a type; return non-zero to stop. */
typedef int (*roost_list_cb)(void *ctx, const char *name, uint64_t size);

struct roost_backend_ops {
	/* Whole object into a new malloc'd buffer (*buf, freed by caller). */
	enum roost_err (*get)(struct roost_backend *b, const char *name, uint8_t **buf,
	                      size_t *len, struct roost_errbuf *eb);
	/* len bytes at off into buf; short objects are ROOST_ECORRUPT. */
	enum roost_err (*get_range)(struct roost_backend *b, const char *name, uint64_t off,
	                            size_t len, uint8_t *buf, struct roost_errbuf *eb);
	enum roost_err (*put)(struct roost_backend *b, const char *name, const uint8_t *buf,
	                      size_t len, struct roost_errbuf *eb);
	/* A streaming writer for large objects whose name is known at the end. */
	enum roost_err (*writer_open)(struct roost_backend *b, struct roost_bwriter **w,
	                              struct roost_errbuf *eb);
	enum roost_err (*writer_write)(struct roost_bwriter *w, const uint8_t *buf, size_t len,
	                               struct roost_errbuf *eb);
	/* Makes the object visible under name; frees w whatever the outcome. */
	enum roost_err (*writer_commit)(struct roost_bwriter *w, const char *name,
	                                struct roost_errbuf *eb);
	/* Discards; frees w. NULL is a no-op. */
	void (*writer_abort)(struct roost_bwriter *w);
	/* type: "keys", "packs", "index", "snapshots", "marks". */
	enum roost_err (*list)(struct roost_backend *b, const char *type, roost_list_cb cb,
	                       void *ctx, struct roost_errbuf *eb);
	/* ROOST_ENOENT if absent. */
	enum roost_err (*stat)(struct roost_backend *b, const char *name, uint64_t *size,
	                       struct roost_errbuf *eb);
	enum roost_err (*remove)(struct roost_backend *b, const char *name,
	                         struct roost_errbuf *eb);
	void (*close)(struct roost_backend *b);
	/* len bytes at off of what a writer has written so far (before its
	 * commit or abort), so a server can check an upload's content before
	 * making it visible. NULL when the backend can not read back. */
	enum roost_err (*writer_pread)(struct roost_bwriter *w, uint64_t off, size_t len,
	                               uint8_t *buf, struct roost_errbuf *eb);
};

struct roost_backend {
	const struct roost_backend_ops *ops;
	char *location; /* for messages */
	/* How many writers a backup may commit at once (0 or 1: one). A
	 * backend whose commit waits a round trip sets more, so that the next
	 * pack is sent while the last one is made durable. */
	unsigned commit_threads;
};

/* Opens (create != 0: creates) a repository directory. Free with roost_backend_close. */
enum roost_err roost_backend_local_open(const char *dir, int create,
                                        struct roost_backend **out, struct roost_errbuf *eb);

/*
 * The server's object API (what agents use): objects under
 * <url>/v1/repo/<name>, through an HTTPS client that carries the host's
 * credentials. Append-only: remove() is refused by the server. The backend
 * does not own http; it must outlive the backend.
 */
struct roost_http;
enum roost_err roost_backend_http_open(struct roost_http *http, const char *location,
                                       struct roost_backend **out, struct roost_errbuf *eb);
/* The job the writes are for: every PUT then names it (?job=N), and roostd
 * accepts a snapshot only from a running backup job. */
void roost_backend_http_set_job(struct roost_backend *b, long long job);
/* How many times its writers allocated or grew a pack buffer (tests: the
 * buffers of finished writers are reused, not made again for every pack). */
unsigned long long roost_backend_http_buffers(struct roost_backend *b);

/*
 * S3-compatible object storage: location s3:http[s]://HOST[:PORT]/BUCKET[/PREFIX]
 * (restic's spelling), path-style, SigV4 with AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION (default us-east-1). docs/s3.md.
 */
enum roost_err roost_backend_s3_open(const char *location, struct roost_backend **out,
                                     struct roost_errbuf *eb);
/* Non-zero when location names an S3 repository ("s3:..."). */
int roost_backend_is_s3(const char *location);

/* The one place a repository location picks its backend: s3:... or a
 * local directory (create != 0: creates it). */
enum roost_err roost_backend_open(const char *location, int create,
                                  struct roost_backend **out, struct roost_errbuf *eb);

void roost_backend_close(struct roost_backend *b);

/* Checks that name is one of the forms above with a valid hex id. */
int roost_backend_name_valid(const char *name);

#endif
