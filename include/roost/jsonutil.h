/* SPDX-License-Identifier: MIT */
/* Small helpers over jansson shared by the engine, server and clients. */
#ifndef ROOST_JSONUTIL_H
#define ROOST_JSONUTIL_H

#include <jansson.h>
#include <stddef.h>

/*
 * A JSON string from arbitrary bytes: invalid UTF-8 sequences become U+FFFD
 * (file names may be any bytes; JSON can only carry text). New reference.
 */
json_t *json_bytes_lossy(const char *s, size_t n);
/* Member as string or NULL. */
const char *json_get_str(const json_t *o, const char *key);

#endif
