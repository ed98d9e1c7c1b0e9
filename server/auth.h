/* SPDX-License-Identifier: MIT */
/*
 * Credentials (DESIGN.md, "Agent <-> server"): enrollment tokens and host
 * secrets are 256 random bits, shown once as base64url and stored only as a
 * SHA-256-sized BLAKE2b hash; checks compare hashes in constant time.
 * Hosts authenticate with `Authorization: Bearer <host_id>.<secret>`.
 */
#ifndef ROOSTD_AUTH_H
#define ROOSTD_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "roost/error.h"

#define AUTH_SECRET_LEN 32                   /* random bytes */
#define AUTH_TEXT_LEN 43                     /* base64url, no padding */
#define AUTH_HASH_LEN 32

/* A fresh secret: text (AUTH_TEXT_LEN + 1 bytes, NUL-terminated) and hash. */
void auth_new_secret(char text[AUTH_TEXT_LEN + 1], uint8_t hash[AUTH_HASH_LEN]);

/* Hash of a presented secret's text; ROOST_EINVAL if it is not one. */
enum roost_err auth_hash_text(const char *text, size_t len, uint8_t hash[AUTH_HASH_LEN]);

/* Constant-time comparison of two hashes: 1 equal, 0 not. */
int auth_hash_equal(const uint8_t a[AUTH_HASH_LEN], const uint8_t b[AUTH_HASH_LEN]);

/*
 * Parses an Authorization header value "Bearer <host_id>.<secret>" into the
 * host id and the secret's hash. ROOST_EAUTH (never more detail to the
 * client) for anything malformed.
 */
enum roost_err auth_parse_bearer(const char *header, int64_t *host_id,
                                 uint8_t hash[AUTH_HASH_LEN]);

#endif
