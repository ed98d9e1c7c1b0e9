/* SPDX-License-Identifier: MIT */
/* Unit tests of server/auth.c: secrets, hashes, the Bearer header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "auth.h"

static void test_secret_roundtrip(void **st)
{
	(void)st;
	char text[AUTH_TEXT_LEN + 1], text2[AUTH_TEXT_LEN + 1];
	uint8_t h[AUTH_HASH_LEN], h2[AUTH_HASH_LEN], again[AUTH_HASH_LEN];
	auth_new_secret(text, h);
	auth_new_secret(text2, h2);
	assert_int_equal(strlen(text), AUTH_TEXT_LEN);
	assert_string_not_equal(text, text2); /* 256 random bits each */
	assert_false(auth_hash_equal(h, h2));
	assert_int_equal(auth_hash_text(text, strlen(text), again), ROOST_OK);
	assert_true(auth_hash_equal(h, again));
	/* a single changed character is a different secret */
	text[10] = text[10] == 'A' ? 'B' : 'A';
	assert_int_equal(auth_hash_text(text, strlen(text), again), ROOST_OK);
	assert_false(auth_hash_equal(h, again));
	/* not a secret at all */
	assert_int_equal(auth_hash_text("short", 5, again), ROOST_EINVAL);
	char bad[AUTH_TEXT_LEN + 1];
	memset(bad, '!', AUTH_TEXT_LEN);
	bad[AUTH_TEXT_LEN] = 0;
	assert_int_equal(auth_hash_text(bad, AUTH_TEXT_LEN, again), ROOST_EINVAL);
}

static void test_bearer(void **st)
{
	(void)st;
	char text[AUTH_TEXT_LEN + 1], hdr[128];
	uint8_t h[AUTH_HASH_LEN], got[AUTH_HASH_LEN];
	auth_new_secret(text, h);
	snprintf(hdr, sizeof(hdr), "Bearer 42.%s", text);
	int64_t id;
	assert_int_equal(auth_parse_bearer(hdr, &id, got), ROOST_OK);
	assert_int_equal(id, 42);
	assert_true(auth_hash_equal(h, got));
	const char *bad[] = {NULL, "", "Bearer", "Bearer ", "Basic 42.x", "bearer 42.x",
	                     "Bearer .abc", "Bearer 42", "Bearer -1.abc", "Bearer 0.abc",
	                     "Bearer 4x2.abc", "Bearer 1234567890123456789012.abc"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(auth_parse_bearer(bad[i], &id, got), ROOST_EAUTH);
		assert_int_equal(id, 0);
	}
	snprintf(hdr, sizeof(hdr), "Bearer 42.%s=", text); /* trailing junk */
	assert_int_equal(auth_parse_bearer(hdr, &id, got), ROOST_EAUTH);
	snprintf(hdr, sizeof(hdr), "Bearer 42.%.*s", AUTH_TEXT_LEN - 1, text); /* truncated */
	assert_int_equal(auth_parse_bearer(hdr, &id, got), ROOST_EAUTH);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secret_roundtrip),
		cmocka_unit_test(test_bearer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
