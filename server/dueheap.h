/* SPDX-License-Identifier: MIT */
/*
 * Due times by id: a min-heap with one entry per id (re-arming moves the
 * entry, it never stacks), popped in due order. Used by catch-up
 * (server/catchup.c), one entry per intermittent host in its settle window.
 * Not thread-safe.
 */
#ifndef ROOSTD_DUEHEAP_H
#define ROOSTD_DUEHEAP_H

#include <stddef.h>
#include <stdint.h>

#include "roost/error.h"

struct due_heap;

/* An empty heap (NULL when out of memory); dueheap_free(NULL) is a no-op. */
struct due_heap *dueheap_new(void);
void dueheap_free(struct due_heap *h);
/* Arms id at due; re-arming overwrites its due time. ROOST_ENOMEM on failure. */
enum roost_err dueheap_arm(struct due_heap *h, int64_t id, int64_t due);
/* As dueheap_arm, the entry carrying tag (catch-up: the connection epoch it
 * was armed for); re-arming overwrites the tag too. */
enum roost_err dueheap_arm_tag(struct due_heap *h, int64_t id, int64_t due, int64_t tag);
/* Removes id if armed. */
void dueheap_disarm(struct due_heap *h, int64_t id);
/* Pops one id whose due time is <= now into *id and returns 0; -1 if none. */
int dueheap_pop_due(struct due_heap *h, int64_t now, int64_t *id);
/* As dueheap_pop_due, with the entry's tag (0 when armed without one). */
int dueheap_pop_due_tag(struct due_heap *h, int64_t now, int64_t *id, int64_t *tag);
/* The earliest due time, or INT64_MAX when empty. */
int64_t dueheap_next(const struct due_heap *h);
size_t dueheap_size(const struct due_heap *h);

#endif
