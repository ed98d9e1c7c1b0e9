/* SPDX-License-Identifier: MIT */
/* Browsing a snapshot from the dashboard: its trees and files (server/browse.c). */
#ifndef ROOSTD_BROWSE_H
#define ROOSTD_BROWSE_H

#include <stddef.h>

#include "http_int.h"

struct browse_dl;

/* GET /v1/snapshots/{ref}/tree (file 0) or /file (file 1): checked on the
 * event loop, read on the serving threads, answered from the writeable
 * callback. Returns what the callback must return. */
int browse_request(struct lws *wsi, struct pss *p, const char *ref, int file);
/* Writeable while p->dl is set: the next slice of the download. */
int browse_writeable(struct lws *wsi, struct pss *p);
/* Frees a download's state (NULL: no-op). */
void browse_dl_free(struct browse_dl *d);
/* in[0..inlen) as an absolute path inside a snapshot, normalised into out
 * (repeated '/', '.' and a trailing '/' dropped; "/" for the root). -1 when
 * it is not absolute, holds a NUL or a ".." component, or is longer than
 * cap. Pure. */
int browse_path_normalise(const char *in, size_t inlen, char *out, size_t cap);

#endif
