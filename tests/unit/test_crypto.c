/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of lib/repo/crypto.c's blob-id hash: keyed BLAKE2b-256 through
 * OpenSSL must give exactly libsodium's crypto_generichash, for every length
 * and key, on every thread, or repositories would read differently on
 * machines with and without it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>
#include <sodium.h>

#include "repo/repo_int.h"

static uint8_t *stream(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n ? n : 1);
	uint8_t key[32] = {0};
	memcpy(key, &seed, sizeof(seed));
	static const uint8_t nonce[8] = {0};
	crypto_stream_chacha20(p, n, nonce, key);
	return p;
}

static void check_one(const uint8_t key[32], const uint8_t *p, size_t n)
{
	uint8_t want[32], got[32];
	crypto_generichash(want, 32, p, n, key, 32);
	memset(got, 0, sizeof(got));
	kblake2b(key, p, n, got);
	if (memcmp(want, got, 32) != 0)
		fail_msg("kblake2b differs from libsodium at length %zu", n);
}

static void test_openssl_in_use(void **st)
{
	(void)st;
	/* Debian 12's OpenSSL 3.0 has BLAKE2BMAC: the tests below compare it,
	 * not libsodium with itself */
	assert_int_equal(kblake2b_impl(), KB_OPENSSL);
}

static void test_every_length_and_key(void **st)
{
	(void)st;
	enum { KEYS = 6, MAX = 4200 };
	uint8_t *keys = stream(32 * KEYS, 1), *msg = stream(3u << 20, 2);
	/* every length to 4200 (block boundaries 127/128/129, 255/256/257...),
	 * the key changing from one call to the next and staying for runs */
	for (size_t n = 0; n <= MAX; n++)
		check_one(keys + 32 * ((n / 3) % KEYS), msg + (n % 61), n);
	static const size_t big[] = {8191, 8192, 8193, 65535, 65536, 1u << 20, (1u << 20) + 1,
	                             (1u << 20) + 127, 3u << 20};
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++)
		for (int k = 0; k < KEYS; k++)
			check_one(keys + 32 * k, msg + (big[i] == 3u << 20 ? 0 : i), big[i]);
	/* a key that differs from the one held only in its last byte */
	uint8_t k2[32];
	memcpy(k2, keys, 32);
	check_one(k2, msg, 1000);
	k2[31] ^= 1;
	check_one(k2, msg, 1000);
	free(keys);
	free(msg);
}

static void test_blob_id_uses_it(void **st)
{
	(void)st;
	struct repo_keys k;
	uint8_t master[32] = {9}, want[32], got[32];
	keys_derive(master, &k);
	uint8_t *msg = stream(5000, 3);
	crypto_generichash(want, 32, msg, 5000, k.id, 32);
	blob_id(&k, msg, 5000, got);
	assert_memory_equal(want, got, 32);
	memset(got, 0, 32);
	assert_int_equal(blob_id_k(&k, 0, msg, 5000, got), 0);
	assert_memory_equal(want, got, 32);
	/* host 3's id key (v2 host dedup) */
	uint8_t hk[32];
	assert_int_equal(keys_id_key(&k, 3, hk), 0);
	crypto_generichash(want, 32, msg, 5000, hk, 32);
	assert_int_equal(blob_id_k(&k, 3, msg, 5000, got), 0);
	assert_memory_equal(want, got, 32);
	free(msg);
}

struct worker {
	uint32_t seed;
	int bad;
};

static void *hash_worker(void *arg)
{
	struct worker *w = arg;
	uint8_t *keys = stream(64, w->seed), *msg = stream(70000, w->seed + 100);
	for (size_t i = 0; i < 400; i++) {
		size_t n = (i * 977) % 70000;
		const uint8_t *key = keys + 32 * (i % 2);
		uint8_t want[32], got[32];
		crypto_generichash(want, 32, msg, n, key, 32);
		kblake2b(key, msg, n, got);
		if (memcmp(want, got, 32) != 0)
			w->bad++;
	}
	free(keys);
	free(msg);
	return NULL;
}

static void test_threads(void **st)
{
	(void)st;
	enum { T = 4 };
	pthread_t t[T];
	struct worker w[T];
	for (int i = 0; i < T; i++) {
		w[i] = (struct worker){.seed = 10 + (uint32_t)i};
		assert_int_equal(pthread_create(&t[i], NULL, hash_worker, &w[i]), 0);
	}
	for (int i = 0; i < T; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].bad, 0);
	}
}

/* last: libsodium from here on (the fallback when OpenSSL can not) */
static void test_fallback(void **st)
{
	(void)st;
	kblake2b_use_sodium();
	assert_int_equal(kblake2b_impl(), KB_SODIUM);
	uint8_t *keys = stream(32, 4), *msg = stream(1000, 5);
	for (size_t n = 0; n <= 1000; n += 7)
		check_one(keys, msg, n);
	free(keys);
	free(msg);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openssl_in_use),
		cmocka_unit_test(test_every_length_and_key),
		cmocka_unit_test(test_blob_id_uses_it),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_fallback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
