/* SPDX-License-Identifier: MIT */
/*
 * Standard Webhooks (standardwebhooks.com) signing, with libsodium's
 * HMAC-SHA256 and base64 (standard alphabet, padded).
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "whsign.h"

void whsign_new_secret(char out[WHSIGN_SECRET_MAX])
{
	uint8_t raw[24];
	randombytes_buf(raw, sizeof(raw));
	memcpy(out, "whsec_", 6);
	sodium_bin2base64(out + 6, WHSIGN_SECRET_MAX - 6, raw, sizeof(raw),
	                  sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(raw, sizeof(raw));
}

int whsign_key(const char *secret, uint8_t key[WHSIGN_KEY_MAX])
{
	if (strncmp(secret, "whsec_", 6))
		return -1;
	size_t n;
	if (sodium_base642bin(key, WHSIGN_KEY_MAX, secret + 6, strlen(secret + 6), NULL, &n, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) || n == 0)
		return -1;
	return (int)n;
}

void whsign_sign(const uint8_t *key, size_t klen, const char *id, int64_t ts, const char *body,
                 size_t blen, char out[WHSIGN_SIG_MAX])
{
	crypto_auth_hmacsha256_state st;
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	char head[128];
	int n = snprintf(head, sizeof(head), "%s.%lld.", id, (long long)ts);
	crypto_auth_hmacsha256_init(&st, key, klen);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)head, (size_t)n);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)body, blen);
	crypto_auth_hmacsha256_final(&st, mac);
	memcpy(out, "v1,", 3);
	sodium_bin2base64(out + 3, WHSIGN_SIG_MAX - 3, mac, sizeof(mac),
	                  sodium_base64_VARIANT_ORIGINAL);
}
