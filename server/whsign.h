/* SPDX-License-Identifier: MIT */
/*
 * Standard Webhooks signatures (server/whsign.c): secrets "whsec_" + base64
 * of 24 random bytes, and "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>".
 * Pure functions, thread-safe.
 */
#ifndef ROOSTD_WHSIGN_H
#define ROOSTD_WHSIGN_H

#include <stddef.h>
#include <stdint.h>

#define WHSIGN_SECRET_MAX 96
#define WHSIGN_SIG_MAX 64
#define WHSIGN_KEY_MAX 64

/* A new secret into out ("whsec_..."). */
void whsign_new_secret(char out[WHSIGN_SECRET_MAX]);
/* The key of a secret (the base64 after "whsec_", decoded); its length, or -1. */
int whsign_key(const char *secret, uint8_t key[WHSIGN_KEY_MAX]);
/* "v1,<base64>" over "<id>.<ts>.<body>" into out. */
void whsign_sign(const uint8_t *key, size_t klen, const char *id, int64_t ts, const char *body,
                 size_t blen, char out[WHSIGN_SIG_MAX]);

#endif
