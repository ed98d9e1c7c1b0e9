/* SPDX-License-Identifier: MIT */
/* A growable byte buffer for reassembling messages and bodies. */
#ifndef ROOST_BUF_H
#define ROOST_BUF_H

#include <stddef.h>

/* Appends n bytes of in to *buf (length *len, capacity *cap), growing it by
 * doubling, and keeps a NUL after the data. 0, or -1 if out of memory
 * (the buffer is then unchanged). */
int roost_buf_append(char **buf, size_t *len, size_t *cap, const void *in, size_t n);

#endif
