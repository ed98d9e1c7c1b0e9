/* SPDX-License-Identifier: MIT */
/*
 * An uploaded object checked against its name before it is committed.
 * The engine's objects are content-named (docs/repository-format.md):
 * index, snapshot and marks objects by the BLAKE2b-256 of their bytes,
 * packs by the BLAKE2b-256 of their sealed trailer (found through the
 * length in their last 4 bytes). Those checks need no key. Keys and
 * config (admin uploads only) have names that say nothing of their content.
 */
#ifndef ROOSTD_OBJCHECK_H
#define ROOSTD_OBJCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "roost/backend.h"

struct objcheck;

/* A check for an upload to name (valid per roost_backend_name_valid), or
 * NULL when out of memory. Free with objcheck_free. */
struct objcheck *objcheck_new(const char *name);
void objcheck_free(struct objcheck *oc); /* NULL: no-op */
/* Feeds the next bytes of the body, in order. */
void objcheck_update(struct objcheck *oc, const void *buf, size_t len);
/* Bytes fed so far. */
uint64_t objcheck_size(const struct objcheck *oc);
/*
 * After the whole body: 0 when the content matches the name, -1 with a
 * message in msg when it does not or when it can not be read back (packs
 * are read back through ops->writer_pread from w). Reads up to the
 * trailer's length (at most 64 MiB) in 64 KiB pieces; may run on any
 * thread that owns w.
 */
int objcheck_finish(struct objcheck *oc, const struct roost_backend_ops *ops,
                    struct roost_bwriter *w, char *msg, size_t cap);

#endif
