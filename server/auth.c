/* SPDX-License-Identifier: MIT */
/* Secrets, their hashes and the Authorization header (see auth.h). */
#include <sodium.h>
#include <string.h>

#include "auth.h"

static void hash_bytes(const uint8_t *p, size_t n, uint8_t out[AUTH_HASH_LEN])
{
	crypto_generichash(out, AUTH_HASH_LEN, p, n, (const uint8_t *)"roostd-secret-v1", 16);
}

void auth_new_secret(char text[AUTH_TEXT_LEN + 1], uint8_t hash[AUTH_HASH_LEN])
{
	uint8_t raw[AUTH_SECRET_LEN];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(text, AUTH_TEXT_LEN + 1, raw, sizeof(raw),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	hash_bytes(raw, sizeof(raw), hash);
	sodium_memzero(raw, sizeof(raw));
}

enum roost_err auth_hash_text(const char *text, size_t len, uint8_t hash[AUTH_HASH_LEN])
{
	uint8_t raw[AUTH_SECRET_LEN];
	size_t got = 0;
	if (len != AUTH_TEXT_LEN ||
	    sodium_base642bin(raw, sizeof(raw), text, len, NULL, &got, NULL,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    got != sizeof(raw))
		return ROOST_EINVAL;
	hash_bytes(raw, sizeof(raw), hash);
	sodium_memzero(raw, sizeof(raw));
	return ROOST_OK;
}

int auth_hash_equal(const uint8_t a[AUTH_HASH_LEN], const uint8_t b[AUTH_HASH_LEN])
{
	return sodium_memcmp(a, b, AUTH_HASH_LEN) == 0;
}

enum roost_err auth_parse_bearer(const char *h, int64_t *host_id, uint8_t hash[AUTH_HASH_LEN])
{
	*host_id = 0;
	if (!h || strncmp(h, "Bearer ", 7) != 0)
		return ROOST_EAUTH;
	const char *p = h + 7, *dot = strchr(p, '.');
	if (!dot || dot == p || dot - p > 18)
		return ROOST_EAUTH;
	int64_t id = 0;
	for (const char *q = p; q < dot; q++) {
		if (*q < '0' || *q > '9')
			return ROOST_EAUTH;
		id = id * 10 + (*q - '0');
	}
	if (id <= 0 || auth_hash_text(dot + 1, strlen(dot + 1), hash) != ROOST_OK)
		return ROOST_EAUTH;
	*host_id = id;
	return ROOST_OK;
}
