/* SPDX-License-Identifier: MIT */
/* Unit tests of server/login_throttle.c: the doubling wait, its cap, the reset
 * on success, per-address counting, the bounded tables, and two roostd on one
 * store counting the same failures. Time is a parameter (milliseconds):
 * nothing here waits. On SQLite, and on PostgreSQL under unit_pg_store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "login_throttle.h"
#include "roostd.h"
#include "store_url.h"

static struct srv S;
static char dbfile[64];

static int setup(void **st)
{
	(void)st;
	memset(&S, 0, sizeof(S));
	g_srv = &S;
	/* a file (so that a second connection sees the same rows) or memory */
	snprintf(dbfile, sizeof(dbfile), "/tmp/test-login-throttle-%d.db", (int)getpid());
	unlink(dbfile);
	assert_int_equal(store_open(test_store_url(*st ? dbfile : ":memory:"), &S.st, NULL),
	                 ROOST_OK);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	store_close(S.st);
	g_srv = NULL;
	char wal[80];
	unlink(dbfile);
	snprintf(wal, sizeof(wal), "%s-wal", dbfile);
	unlink(wal);
	snprintf(wal, sizeof(wal), "%s-shm", dbfile);
	unlink(wal);
	return 0;
}

#define T0 INT64_C(1000000000) /* milliseconds, as the throttle counts */
#define S(x) ((int64_t)(x) * 1000)

/* n failures of name from addr, each when the previous wait is over; the time after. */
static int64_t fail_n(struct login_throttle *t, const char *name, const char *addr, int n,
                      int64_t now)
{
	for (int i = 0; i < n; i++) {
		now += login_throttle_wait(t, name, addr, now);
		login_throttle_failed(t, name, addr, now);
	}
	return now;
}

static void test_five_free_then_doubling(void **st)
{
	(void)st;
	struct login_throttle *t = login_throttle_new(16);
	int64_t now = T0;
	for (int i = 0; i < 4; i++) {
		login_throttle_failed(t, "alice", "10.0.0.1", now);
		assert_int_equal(login_throttle_wait(t, "alice", "10.0.0.1", now), 0);
	}
	login_throttle_failed(t, "alice", "10.0.0.1", now); /* the fifth */
	assert_int_equal(login_throttle_wait(t, "alice", "10.0.0.1", now), S(1));
	/* a whole second, to the millisecond */
	assert_int_equal(login_throttle_wait(t, "alice", "10.0.0.1", now + 999), 1);
	assert_int_equal(login_throttle_wait(t, "alice", "10.0.0.1", now + S(1)), 0);
	/* each further failure doubles the wait: 2, 4, 8, ... */
	int64_t want = 2;
	for (int i = 0; i < 8; i++) {
		now += login_throttle_wait(t, "alice", "10.0.0.1", now);
		login_throttle_failed(t, "alice", "10.0.0.1", now);
		assert_int_equal(login_throttle_wait(t, "alice", "10.0.0.1", now), S(want));
		/* partway through, what is left */
		assert_int_equal(login_throttle_wait(t, "alice", "10.0.0.1", now + S(want) / 2),
		                 S(want) - S(want) / 2);
		want *= 2;
	}
	login_throttle_free(t);
}

static void test_cap(void **st)
{
	(void)st;
	struct login_throttle *t = login_throttle_new(16);
	int64_t now = fail_n(t, "alice", "10.0.0.1", 40, T0);
	assert_int_equal(login_throttle_wait(t, "alice", "10.0.0.1", now), S(LOGIN_THROTTLE_MAX_S));
	now = fail_n(t, "alice", "10.0.0.1", 1000, now); /* no overflow however many */
	assert_int_equal(login_throttle_wait(t, "alice", "10.0.0.1", now), S(LOGIN_THROTTLE_MAX_S));
	login_throttle_free(t);
}

static void test_success_resets_the_name(void **st)
{
	(void)st;
	struct login_throttle *t = login_throttle_new(16);
	int64_t now = fail_n(t, "alice", "10.0.0.1", 4, T0);
	login_throttle_succeeded(t, "alice");
	/* the name starts over: four more failures (from elsewhere) are free */
	now = fail_n(t, "alice", "10.0.0.2", 4, now);
	assert_int_equal(login_throttle_wait(t, "alice", "10.0.0.3", now), 0);
	login_throttle_failed(t, "alice", "10.0.0.3", now);
	assert_int_equal(login_throttle_wait(t, "alice", "10.0.0.3", now), S(1));
	/* a blocked name is free again after a success */
	login_throttle_succeeded(t, "alice");
	assert_int_equal(login_throttle_wait(t, "alice", "10.0.0.3", now), 0);
	/* but an address's count is not cleared by a success of a name */
	now = fail_n(t, "x1", "10.9.9.9", 5, now);
	login_throttle_succeeded(t, "x1");
	assert_int_equal(login_throttle_wait(t, "anyone", "10.9.9.9", now), S(1));
	login_throttle_free(t);
}

static void test_per_address(void **st)
{
	(void)st;
	struct login_throttle *t = login_throttle_new(64);
	char name[32];
	int64_t now = T0;
	/* five names, one failure each, from one address: the address is blocked */
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "user%d", i);
		login_throttle_failed(t, name, "192.0.2.7", now);
	}
	assert_int_equal(login_throttle_wait(t, "someone-else", "192.0.2.7", now), S(1));
	/* ... and nobody else is */
	assert_int_equal(login_throttle_wait(t, "someone-else", "192.0.2.8", now), 0);
	assert_int_equal(login_throttle_wait(t, "user0", "192.0.2.8", now), 0);
	/* one name from five addresses: the name is blocked from anywhere */
	for (int i = 0; i < 5; i++) {
		char addr[32];
		snprintf(addr, sizeof(addr), "198.51.100.%d", i);
		login_throttle_failed(t, "bob", addr, now);
	}
	assert_int_equal(login_throttle_wait(t, "bob", "203.0.113.1", now), S(1));
	/* counts are forgotten long after the last failure */
	assert_int_equal(login_throttle_wait(t, "bob", "203.0.113.1", now + S(LOGIN_THROTTLE_FORGET_S)),
	                 0);
	login_throttle_failed(t, "bob", "203.0.113.1", now + S(LOGIN_THROTTLE_FORGET_S));
	assert_int_equal(login_throttle_wait(t, "bob", "203.0.113.1", now + S(LOGIN_THROTTLE_FORGET_S)),
	                 0);
	login_throttle_free(t);
}

static void test_bounded(void **st)
{
	(void)st;
	struct login_throttle *t = login_throttle_new(8);
	int64_t now = fail_n(t, "victim", "10.0.0.1", 6, T0);
	int64_t blocked = login_throttle_wait(t, "victim", "10.0.0.99", now);
	assert_int_equal(blocked, S(2));
	/* a flood of new names from new addresses: the tables stay at their cap */
	char name[32], addr[32];
	for (int i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		snprintf(addr, sizeof(addr), "172.16.%d.%d", i / 256, i % 256);
		login_throttle_failed(t, name, addr, now);
		assert_true(login_throttle_size(t) <= 16);
	}
	assert_int_equal(login_throttle_size(t), 16);
	/* and the blocked name was not pushed out by entries of one failure */
	assert_int_equal(login_throttle_wait(t, "victim", "10.0.0.99", now), blocked);
	/* hostile keys: very long ones are cut, never overrun */
	char huge[4096];
	memset(huge, 'A', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = 0;
	fail_n(t, huge, huge, 5, now);
	assert_true(login_throttle_wait(t, huge, "10.1.1.1", now) > 0);
	login_throttle_free(t);
	login_throttle_free(NULL);
	assert_null(login_throttle_new(0));
}

/* docs/scale-out.md 2.8: two roostd (two connections to one store, each with
 * its own throttle) count the same failures: five failures spread over both
 * make both wait, where two in-memory counts would each have allowed five. */
static void test_two_instances_share_counts(void **st)
{
	(void)st;
	struct store *a = S.st, *b;
	assert_int_equal(store_connect(test_on_pg() ? getenv("ROOST_TEST_PG") : dbfile, &b, NULL),
	                 ROOST_OK);
	struct login_throttle *ta = login_throttle_new(16), *tb = login_throttle_new(16);
	int64_t now = T0;
	for (int i = 0; i < 5; i++) {
		S.st = i % 2 ? b : a;
		login_throttle_failed(i % 2 ? tb : ta, "carol", i % 2 ? "10.0.0.2" : "10.0.0.1", now);
	}
	S.st = a;
	assert_int_equal(login_throttle_wait(ta, "carol", "10.0.0.9", now), S(1));
	S.st = b;
	assert_int_equal(login_throttle_wait(tb, "carol", "10.0.0.9", now), S(1));
	/* a success through one clears the name for both */
	login_throttle_succeeded(tb, "carol");
	S.st = a;
	assert_int_equal(login_throttle_wait(ta, "carol", "10.0.0.9", now), 0);
	login_throttle_free(ta);
	login_throttle_free(tb);
	store_close(b);
}

/* The rule alone: pure, time passed in. */
static void test_delay_rule(void **st)
{
	(void)st;
	assert_int_equal(login_throttle_delay(4, T0, T0), 0);
	assert_int_equal(login_throttle_delay(5, T0, T0), S(1));
	assert_int_equal(login_throttle_delay(7, T0, T0 + 500), S(4) - 500);
	assert_int_equal(login_throttle_delay(100, T0, T0), S(LOGIN_THROTTLE_MAX_S));
	assert_int_equal(login_throttle_delay(100, T0, T0 + S(LOGIN_THROTTLE_FORGET_S)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delay_rule),
		cmocka_unit_test_setup_teardown(test_five_free_then_doubling, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_success_resets_the_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_per_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded, setup, teardown),
		cmocka_unit_test_prestate_setup_teardown(test_two_instances_share_counts, setup,
		                                         teardown, dbfile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
