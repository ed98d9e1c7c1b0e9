/* SPDX-License-Identifier: MIT */
/* Key derivation, sealing (XChaCha20-Poly1305), blob ids (keyed BLAKE2b). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "repo_int.h"

void keys_derive(const uint8_t master[32], struct repo_keys *k)
{
	crypto_kdf_derive_from_key(k->enc, 32, 1, "roostrep", master);
	crypto_kdf_derive_from_key(k->id, 32, 2, "roostrep", master);
	crypto_kdf_derive_from_key(k->chunk, 32, 3, "roostrep", master);
}

/* Nonces come from a per-thread pool of kernel randomness, refilled 4 KiB at
 * a time: one getrandom() per 170 blobs instead of one per blob. */
static void nonce(uint8_t out[24])
{
	static _Thread_local uint8_t pool[4096];
	static _Thread_local size_t left;
	if (left < 24) {
		randombytes_buf(pool, sizeof(pool));
		left = sizeof(pool);
	}
	memcpy(out, pool + sizeof(pool) - left, 24);
	sodium_memzero(pool + sizeof(pool) - left, 24); /* never handed out twice */
	left -= 24;
}

void seal(const uint8_t key[32], const uint8_t *pt, size_t n, uint8_t *out)
{
	nonce(out);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 24, NULL, pt, n, NULL, 0, NULL, out, key);
}

enum roost_err unseal(const uint8_t key[32], const uint8_t *ct, size_t n, uint8_t *out)
{
	if (n < SEAL_OVERHEAD)
		return ROOST_ECRYPTO;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, ct + 24, n - 24, NULL, 0,
	                                               ct, key) != 0)
		return ROOST_ECRYPTO;
	return ROOST_OK;
}

enum roost_err seal_alloc(const uint8_t key[32], const uint8_t *pt, size_t n, uint8_t **out,
                          size_t *outn)
{
	*out = malloc(n + SEAL_OVERHEAD);
	if (!*out)
		return ROOST_ENOMEM;
	seal(key, pt, n, *out);
	*outn = n + SEAL_OVERHEAD;
	return ROOST_OK;
}

enum roost_err unseal_alloc(const uint8_t key[32], const uint8_t *ct, size_t n, uint8_t **out,
                            size_t *outn)
{
	*out = NULL;
	*outn = 0;
	if (n < SEAL_OVERHEAD)
		return ROOST_ECRYPTO;
	uint8_t *p = malloc(n - SEAL_OVERHEAD + 1);
	if (!p)
		return ROOST_ENOMEM;
	if (unseal(key, ct, n, p)) {
		free(p);
		return ROOST_ECRYPTO;
	}
	p[n - SEAL_OVERHEAD] = 0;
	*out = p;
	*outn = n - SEAL_OVERHEAD;
	return ROOST_OK;
}

void blob_id(const struct repo_keys *k, const uint8_t *p, size_t n, uint8_t id[ID_LEN])
{
	crypto_generichash(id, ID_LEN, p, n, k->id, 32);
}

void hash_plain(const uint8_t *p, size_t n, uint8_t out[ID_LEN])
{
	crypto_generichash(out, ID_LEN, p, n, NULL, 0);
}

void hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int a = hexval(s[2 * i]), b = hexval(s[2 * i + 1]);
		if (a < 0 || b < 0)
			return -1;
		out[i] = (uint8_t)(a << 4 | b);
	}
	return 0;
}
