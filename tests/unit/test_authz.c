/* SPDX-License-Identifier: MIT */
/* Unit tests of server/authz.c against docs/dashboard.md, "Who may do what":
 * every row of the table, for every role, and the routes no row names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "authz.h"

/* The least role that may make the request (ROLE_ADMIN: admin only). */
static const struct {
	const char *method, *path;
	enum role least;
} table[] = {
	/* viewer: GET of hosts, groups, schedules, jobs, snapshots, snapshot
	 * trees, events (and the stream), repository, maintenance, /v1/fleet,
	 * /v1/cron/next, /v1/session */
	{"GET", "/v1/hosts", ROLE_VIEWER},
	{"GET", "/v1/hosts/3", ROLE_VIEWER},
	{"GET", "/v1/hosts/web1", ROLE_VIEWER},
	{"HEAD", "/v1/hosts/3", ROLE_VIEWER},
	{"GET", "/v1/hosts/3/groups", ROLE_VIEWER},
	{"GET", "/v1/hosts/3/groups/4", ROLE_VIEWER},
	{"GET", "/v1/hosts/3/schedules", ROLE_VIEWER},
	{"GET", "/v1/hosts/3/schedules/5", ROLE_VIEWER},
	{"GET", "/v1/hosts/3/schedules/5/next", ROLE_VIEWER},
	{"GET", "/v1/jobs", ROLE_VIEWER},
	{"GET", "/v1/jobs/9", ROLE_VIEWER},
	{"GET", "/v1/snapshots", ROLE_VIEWER},
	{"GET", "/v1/snapshots/ab12cd/tree", ROLE_VIEWER},
	{"GET", "/v1/events", ROLE_VIEWER},
	{"GET", "/v1/events/stream", ROLE_VIEWER},
	{"GET", "/v1/repository", ROLE_VIEWER},
	{"GET", "/v1/maintenance", ROLE_VIEWER},
	{"GET", "/v1/maintenance/2", ROLE_VIEWER},
	{"GET", "/v1/fleet", ROLE_VIEWER},
	{"GET", "/v1/cron/next", ROLE_VIEWER},
	{"GET", "/v1/session", ROLE_VIEWER},
	{"POST", "/v1/logout", ROLE_VIEWER},
	/* the router's spelling: empty segments do not count */
	{"GET", "/v1/hosts/", ROLE_VIEWER},
	{"GET", "//v1//jobs//9/", ROLE_VIEWER},
	/* operator: backups, restores, cancel, downloads */
	{"POST", "/v1/hosts/3/backup", ROLE_OPERATOR},
	{"POST", "/v1/hosts/web1/restore", ROLE_OPERATOR},
	{"POST", "/v1/jobs/9/cancel", ROLE_OPERATOR},
	{"GET", "/v1/snapshots/ab12cd/file", ROLE_OPERATOR},
	/* admin only: users, webhooks, enrollment tokens, /metrics, every other write */
	{"GET", "/v1/users", ROLE_ADMIN},
	{"POST", "/v1/users", ROLE_ADMIN},
	{"DELETE", "/v1/users/2", ROLE_ADMIN},
	{"GET", "/v1/webhooks", ROLE_ADMIN},
	{"POST", "/v1/webhooks", ROLE_ADMIN},
	{"DELETE", "/v1/webhooks/1", ROLE_ADMIN},
	{"POST", "/v1/webhooks/1/test", ROLE_ADMIN},
	{"POST", "/v1/enroll-tokens", ROLE_ADMIN},
	{"GET", "/metrics", ROLE_ADMIN},
	{"PATCH", "/v1/hosts/3", ROLE_ADMIN},
	{"DELETE", "/v1/hosts/3", ROLE_ADMIN},
	{"POST", "/v1/hosts/3/groups", ROLE_ADMIN},
	{"PATCH", "/v1/hosts/3/groups/4", ROLE_ADMIN},
	{"DELETE", "/v1/hosts/3/groups/4", ROLE_ADMIN},
	{"POST", "/v1/hosts/3/schedules", ROLE_ADMIN},
	{"PATCH", "/v1/hosts/3/schedules/5", ROLE_ADMIN},
	{"DELETE", "/v1/hosts/3/schedules/5", ROLE_ADMIN},
	{"DELETE", "/v1/snapshots/ab12cd", ROLE_ADMIN},
	{"POST", "/v1/maintenance", ROLE_ADMIN},
	{"GET", "/v1/repo/keys/", ROLE_ADMIN},
	{"PUT", "/v1/repo/keys/abc", ROLE_ADMIN},
	/* near misses of viewer rows are not viewer rows */
	{"POST", "/v1/hosts", ROLE_ADMIN},
	{"PUT", "/v1/hosts/3", ROLE_ADMIN},
	{"GET", "/v1/hosts/3/backup", ROLE_ADMIN},
	{"GET", "/v1/hosts/3/groups/4/x", ROLE_ADMIN},
	{"GET", "/v1/hostsx", ROLE_ADMIN},
	{"GET", "/v1/snapshots/ab12cd", ROLE_ADMIN},
	{"GET", "/v1/jobs/9/cancel", ROLE_ADMIN},
	{"GET", "/v2/hosts", ROLE_ADMIN},
	{"GET", "/v1", ROLE_ADMIN},
	{"GET", "/", ROLE_ADMIN},
	{"OPTIONS", "/v1/hosts", ROLE_ADMIN},
	{"POST", "/v1/session", ROLE_ADMIN},
	{"GET", "/v1/logout", ROLE_ADMIN},
	{"GET", "/v1/a/b/c/d/e/f/g/h/i/j", ROLE_ADMIN},
};

static void test_table(void **st)
{
	(void)st;
	const enum role roles[] = {ROLE_VIEWER, ROLE_OPERATOR, ROLE_ADMIN};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		for (size_t r = 0; r < 3; r++) {
			int want = roles[r] >= table[i].least;
			int got = authz_role_may(roles[r], table[i].method, table[i].path);
			if (got != want)
				fail_msg("%s %s as %s: %s, want %s", table[i].method, table[i].path,
				         role_name(roles[r]), got ? "allowed" : "refused",
				         want ? "allowed" : "refused");
		}
}

static void test_no_role(void **st)
{
	(void)st;
	assert_false(authz_role_may(ROLE_NONE, "GET", "/v1/hosts"));
	assert_false(authz_role_may(ROLE_NONE, "POST", "/v1/logout"));
	assert_false(authz_role_may(ROLE_VIEWER, NULL, "/v1/hosts"));
	assert_false(authz_role_may(ROLE_VIEWER, "GET", NULL));
	char longpath[2048];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = 0;
	assert_false(authz_role_may(ROLE_OPERATOR, "GET", longpath));
}

static void test_roles_and_public(void **st)
{
	(void)st;
	assert_int_equal(role_parse("admin"), ROLE_ADMIN);
	assert_int_equal(role_parse("operator"), ROLE_OPERATOR);
	assert_int_equal(role_parse("viewer"), ROLE_VIEWER);
	assert_int_equal(role_parse("Admin"), ROLE_NONE);
	assert_int_equal(role_parse(""), ROLE_NONE);
	assert_int_equal(role_parse(NULL), ROLE_NONE);
	assert_string_equal(role_name(ROLE_OPERATOR), "operator");
	assert_true(authz_public("POST", "/v1/login"));
	assert_true(authz_public("GET", "/v1/health"));
	assert_true(authz_public("POST", "/v1/enroll"));
	assert_false(authz_public("POST", "/v1/logout"));
	assert_false(authz_public("GET", "/v1/hosts"));
	assert_false(authz_public("POST", "/v1/login/x"));
	assert_true(authz_is_write("POST"));
	assert_true(authz_is_write("DELETE"));
	assert_true(authz_is_write("PATCH"));
	assert_false(authz_is_write("GET"));
	assert_false(authz_is_write("HEAD"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_no_role),
		cmocka_unit_test(test_roles_and_public),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
