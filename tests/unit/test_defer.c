/* SPDX-License-Identifier: MIT */
/*
 * Deferred jobs (server/defer.c) wired to the store, with an injected clock
 * and the hub replaced by a recorder: the rule's reasons, a fire outside its
 * window deferred and coalesced, started by the timer at the opening; a
 * battery deferral released by the host's report; cancel; the timers armed
 * again after a restart; health overdue after a day.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "defer.h"
#include "health.h"
#include "roostd.h"
#include "store_url.h"

#define DAY0 1794960000        /* 2026-11-18T00:00:00Z */
#define T0 (DAY0 + 40000)      /* 11:06:40 */
#define OPEN (DAY0 + 12 * 3600) /* the window 12:00-13:00 opens */

static struct srv S;
static int online[4];
static json_t *sent;

static int fake_online(int64_t h)
{
	return h >= 0 && h < 4 && online[h];
}

static int fake_send(int64_t h, json_t *m)
{
	if (!fake_online(h))
		return -1;
	json_array_append_new(sent, json_pack("{s:I, s:O}", "host", (json_int_t)h, "msg", m));
	return 0;
}

static int setup(void **st)
{
	(void)st;
	memset(&S, 0, sizeof(S));
	g_srv = &S;
	struct roost_errbuf eb;
	assert_int_equal(store_open(test_store_url(":memory:"), &S.st, &eb), ROOST_OK);
	S.catchups = dueheap_new();
	S.deferrals = dueheap_new();
	S.settle_s = 60;
	S.fake_now = T0;
	S.send_hook = fake_send;
	S.online_hook = fake_online;
	S.overdue_grace_s = 3600;
	S.unseen_after_s = 7 * 86400;
	memset(online, 0, sizeof(online));
	online[1] = 1;
	sent = json_array();
	uint8_t h[AUTH_HASH_LEN] = {0};
	assert_int_equal(db_exec("INSERT INTO hosts (id, name, hostname, mode, secret_hash, created_at)"
	                         " VALUES (1, 'srv', 'srv', 'always-on', ?, ?)", "bi", h, sizeof(h),
	                         (int64_t)T0),
	                 DB_DONE);
	assert_int_equal(db_exec("INSERT INTO source_groups (id, host_id, name, paths) VALUES "
	                         "(1, 1, 'etc', '[\"/etc\"]'), (2, 1, 'home', '[\"/home\"]')", NULL),
	                 DB_DONE);
	/* schedule 1: both groups, window 12:00-13:00 (UTC: the host has no zone) */
	assert_int_equal(db_exec("INSERT INTO schedules (id, host_id, name, cron, \"window\") VALUES "
	                         "(1, 1, 'a', '0 * * * *', '12:00-13:00'), "
	                         "(2, 1, 'b', '30 * * * *', '')", NULL),
	                 DB_DONE);
	assert_int_equal(db_exec("INSERT INTO schedule_groups VALUES (1, 1), (1, 2), (2, 1)", NULL),
	                 DB_DONE);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	json_decref(sent);
	dueheap_free(S.catchups);
	dueheap_free(S.deferrals);
	store_close(S.st);
	g_srv = NULL;
	return 0;
}

static int64_t njobs(const char *where)
{
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM jobs WHERE %s", where);
	return db_int(-1, sql, NULL);
}

static void test_defer_rule(void **st)
{
	(void)st;
	char why[64];
	int64_t opens;
	struct defer_facts f = {.window = "12:00-13:00"};
	assert_int_equal(defer_decide(&f, T0, why, sizeof(why), &opens), 1);
	assert_string_equal(why, "outside window 12:00-13:00");
	assert_int_equal(opens, OPEN);
	assert_int_equal(defer_decide(&f, OPEN, why, sizeof(why), &opens), 0);
	assert_string_equal(why, "");
	f = (struct defer_facts){.skip_on_battery = 1, .on_battery = 1, .skip_on_metered = 1,
	                         .metered = 1};
	assert_int_equal(defer_decide(&f, T0, why, sizeof(why), &opens), 1);
	assert_string_equal(why, "host on battery");
	assert_int_equal(opens, 0);
	f.on_battery = 0;
	assert_int_equal(defer_decide(&f, T0, why, sizeof(why), &opens), 1);
	assert_string_equal(why, "host on a metered network");
	f.skip_on_metered = 0; /* metered, but the host does not care */
	assert_int_equal(defer_decide(&f, T0, why, sizeof(why), &opens), 0);
	/* a zone: 12:00-13:00 in Berlin (CET, +1) is 11:00-12:00Z */
	f = (struct defer_facts){.window = "12:00-13:00", .tz = "Europe/Berlin"};
	assert_int_equal(defer_decide(&f, T0, why, sizeof(why), &opens), 0);
}

static void test_fire_outside_window_deferred_then_started(void **st)
{
	(void)st;
	fires_handle(1, 1, T0 - 400, "live");
	assert_int_equal(njobs("status='deferred' AND trigger='schedule' AND "
	                       "error='outside window 12:00-13:00'"), 2);
	assert_int_equal(json_array_size(sent), 0); /* nothing sent */
	assert_false(db_host_busy(1));
	assert_int_equal(dueheap_next(S.deferrals), OPEN);
	/* a further fire adds nothing (one deferred job per (host, schedule, group)) */
	S.fake_now = T0 + 3000;
	fires_handle(1, 1, T0 + 2800, "live");
	assert_int_equal(njobs("status='deferred'"), 2);
	/* a schedule without a window is not held back */
	fires_handle(1, 2, T0 + 2900, "live");
	assert_int_equal(njobs("schedule_id=2 AND status='queued'"), 1);
	/* the opening: the timer starts the deferred jobs once the host is idle */
	S.fake_now = OPEN;
	defer_timer_cb(NULL);
	assert_int_equal(njobs("status='deferred'"), 2); /* busy with schedule 2's job */
	int64_t j2 = db_int(0, "SELECT id FROM jobs WHERE schedule_id=2", NULL);
	struct proto_msg m;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_JOB_ACCEPTED;
	m.job.job_id = j2;
	agents_on_message(1, &m);
	m.type = PROTO_JOB_FINISHED;
	snprintf(m.job.status, sizeof(m.job.status), "succeeded");
	agents_on_message(1, &m);
	assert_int_equal(njobs("status='deferred'"), 0);
	assert_int_equal(njobs("schedule_id=1 AND status='queued' AND error IS NULL"), 2);
	assert_true(db_host_busy(1));
	assert_int_equal(json_array_size(sent), 3); /* schedule 2's start, then both */
}

static void test_timer_opening_starts_idle_host(void **st)
{
	(void)st;
	fires_handle(1, 1, T0 - 400, "live");
	S.fake_now = OPEN - 1;
	defer_timer_cb(NULL);
	assert_int_equal(njobs("status='deferred'"), 2);
	S.fake_now = OPEN;
	defer_timer_cb(NULL);
	assert_int_equal(njobs("status='deferred'"), 0);
	assert_int_equal(njobs("status='queued'"), 2);
	assert_int_equal(json_array_size(sent), 2);
	assert_int_equal(dueheap_size(S.deferrals), 0);
}

static void test_battery_deferred_released_by_report(void **st)
{
	(void)st;
	db_exec("UPDATE hosts SET skip_on_battery=1, on_battery=1", NULL);
	fires_handle(1, 2, T0 - 100, "live");
	assert_int_equal(njobs("status='deferred' AND error='host on battery'"), 1);
	assert_int_equal(dueheap_size(S.deferrals), 0); /* no timer: a report clears it */
	db_exec("UPDATE hosts SET on_battery=0", NULL);
	defer_release(1, S.fake_now);
	assert_int_equal(njobs("status='queued' AND schedule_id=2"), 1);
	assert_int_equal(json_array_size(sent), 1);
}

static void test_cancel_deferred(void **st)
{
	(void)st;
	fires_handle(1, 1, T0 - 400, "live");
	int64_t id = db_int(0, "SELECT MIN(id) FROM jobs", NULL), hid;
	assert_int_equal(jobs_cancel(id, &hid), JOBS_CANCEL_ENDED_HERE);
	assert_int_equal(njobs("status='canceled'"), 1);
	assert_int_equal(json_array_size(sent), 0); /* the agent never knew it */
}

static void test_schedule_disabled_while_deferred(void **st)
{
	(void)st;
	fires_handle(1, 1, T0 - 400, "live");
	assert_int_equal(njobs("status='deferred'"), 2);
	db_exec("UPDATE schedules SET enabled=0 WHERE id=1", NULL);
	S.fake_now = OPEN;
	defer_timer_cb(NULL);
	assert_int_equal(njobs("status='canceled' AND error='schedule disabled or removed while "
	                       "deferred'"), 2);
	assert_int_equal(json_array_size(sent), 0); /* nothing runs for a disabled schedule */
	fires_handle(1, 1, OPEN + 60, "live");     /* nor does a fire make a new one */
	assert_int_equal(njobs("status IN ('deferred','queued')"), 0);
}

static void test_restart_rearms(void **st)
{
	(void)st;
	fires_handle(1, 1, T0 - 400, "live");
	dueheap_free(S.deferrals); /* roostd stops; the store keeps the jobs */
	S.deferrals = dueheap_new();
	S.fake_now = T0 + 10;
	defer_rearm_all();
	assert_int_equal(dueheap_next(S.deferrals), OPEN);
}

static void test_health_overdue_after_a_day_deferred(void **st)
{
	(void)st;
	db_exec("UPDATE schedules SET enabled=0", NULL); /* only the deferred job counts */
	db_exec("UPDATE hosts SET last_backup_at=?", "i", (int64_t)T0);
	db_exec("INSERT INTO jobs (host_id, schedule_id, group_id, kind, trigger, status, created_at,"
	        " error) VALUES (1, 1, 1, 'backup', 'schedule', 'deferred', ?, 'host on battery')",
	        "i", (int64_t)T0);
	struct health_verdict v;
	json_t *d = NULL;
	assert_int_equal(health_of(1, T0 + 86399, &v, NULL), 0);
	assert_int_equal(v.state, HEALTH_OK);
	assert_int_equal(health_of(1, T0 + 86400, &v, &d), 0);
	assert_int_equal(v.state, HEALTH_OVERDUE);
	json_t *r = json_object_get(d, "health_reason");
	assert_string_equal(json_string_value(json_object_get(r, "deferred_reason")),
	                    "host on battery");
	json_decref(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defer_rule),
		cmocka_unit_test_setup_teardown(test_fire_outside_window_deferred_then_started, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_timer_opening_starts_idle_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_battery_deferred_released_by_report, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_cancel_deferred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schedule_disabled_while_deferred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_rearms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_overdue_after_a_day_deferred, setup,
		                                teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
