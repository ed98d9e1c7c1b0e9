/* SPDX-License-Identifier: MIT */
/* Unit tests of server/users.c (names, passwords, Argon2id) and of the
 * password worker's task run (server/pwworker.c) on the calling thread: an
 * unknown name never verifies, and a task's password is wiped once done. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "pwworker.h"
#include "users.h"

static void test_names(void **st)
{
	(void)st;
	const char *good[] = {"a", "alice", "Bob.Smith", "ops_team-2", "me@example.org",
	                      "0123456789012345678901234567890123456789012345678901234567890123"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!users_name_valid(good[i]))
			fail_msg("refused: %s", good[i]);
	const char *bad[] = {NULL, "", "a b", "a/b", "x;y", "é", "tab\there", "a\nb",
	                     "01234567890123456789012345678901234567890123456789012345678901234"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (users_name_valid(bad[i]))
			fail_msg("accepted: %s", bad[i] ? bad[i] : "(null)");
	assert_false(users_password_valid(7));
	assert_true(users_password_valid(8));
	assert_true(users_password_valid(1024));
	assert_false(users_password_valid(1025));
}

static void test_hash_verify(void **st)
{
	(void)st;
	char h[USERS_HASH_MAX], h2[USERS_HASH_MAX];
	assert_int_equal(users_hash("correct horse", 13, h), 0);
	assert_true(strncmp(h, "$argon2id$", 10) == 0); /* Argon2id, the encoded form */
	assert_true(users_verify(h, "correct horse", 13));
	assert_false(users_verify(h, "correct horsf", 13));
	assert_false(users_verify(h, "correct hors", 12));
	assert_false(users_verify("", "correct horse", 13));
	assert_false(users_verify("$argon2id$garbage", "correct horse", 13));
	assert_false(users_verify(NULL, "correct horse", 13));
	/* salted: the same password hashes differently */
	assert_int_equal(users_hash("correct horse", 13, h2), 0);
	assert_string_not_equal(h, h2);
	assert_true(users_verify(h2, "correct horse", 13));
}

static void test_tasks(void **st)
{
	(void)st;
	struct pw_task t = {.op = PW_HASH};
	memcpy(t.password, "hunter2hunter2", 14);
	t.pwlen = 14;
	pwworker_run(&t);
	assert_true(t.ok);
	assert_int_equal(t.pwlen, 0);
	assert_null(memchr(t.password, 'h', sizeof(t.password))); /* wiped */
	char stored[USERS_HASH_MAX];
	memcpy(stored, t.hash, sizeof(stored));

	struct pw_task v = {.op = PW_VERIFY};
	memcpy(v.hash, stored, sizeof(v.hash));
	memcpy(v.password, "hunter2hunter2", 14);
	v.pwlen = 14;
	pwworker_run(&v);
	assert_true(v.ok);
	assert_null(memchr(v.password, 'h', sizeof(v.password)));

	v = (struct pw_task){.op = PW_VERIFY};
	memcpy(v.hash, stored, sizeof(v.hash));
	memcpy(v.password, "hunter3hunter3", 14);
	v.pwlen = 14;
	pwworker_run(&v);
	assert_false(v.ok);

	/* an unknown name (no hash): checked against the dummy, and never a match,
	 * not even for an empty password */
	v = (struct pw_task){.op = PW_VERIFY};
	pwworker_run(&v);
	assert_false(v.ok);
	v = (struct pw_task){.op = PW_VERIFY};
	memcpy(v.password, "hunter2hunter2", 14);
	v.pwlen = 14;
	pwworker_run(&v);
	assert_false(v.ok);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_hash_verify),
		cmocka_unit_test(test_tasks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
