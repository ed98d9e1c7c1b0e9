/* SPDX-License-Identifier: MIT */
/* The object API's reads off the event loop (server/repo_read.c). */
#ifndef ROOSTD_REPO_READ_H
#define ROOSTD_REPO_READ_H

#include <stdint.h>

#include "http_int.h"

/* Parses "bytes=a-b" / "bytes=a-" against size; 0 ok, -1 unsatisfiable. */
int repo_range_parse(const char *r, uint64_t size, uint64_t *a, uint64_t *b);

/* Whether the repository's reads leave the event loop: a remote backend
 * (S3), where one request may take a network round trip or many. */
int repo_read_offloaded(void);

/* GET /v1/repo/<type>/: the listing, made on a serving thread. */
int repo_read_list(struct lws *wsi, struct pss *p, const char *type);
/* GET or HEAD of p->objname, range (or NULL) from the request: the size,
 * and for a GET the bytes, read on a serving thread; answered from the
 * writeable callback. */
int repo_read_object(struct lws *wsi, struct pss *p, const char *range);

#endif
