/* SPDX-License-Identifier: MIT */
/*
 * The scheduling rules wired to the store (server/fires.c, pending.c, catchup.c, jobs.c, agents.c), with an
 * injected clock and the hub replaced by a recorder: every rule of
 * DESIGN.md's scheduling section, each in microseconds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "roostd.h"
#include "store_url.h"

#define T0 1795000000 /* 2026-11-18T... a fixed "now" */

static struct srv S;
static int online[16];
static int send_fails;
static json_t *sent; /* messages the "agents" got: [{host, msg}] */

static int fake_online(int64_t h)
{
	return h >= 0 && h < 16 && online[h];
}

static int fake_send(int64_t h, json_t *m)
{
	if (!fake_online(h) || send_fails)
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
	S.settle_s = 60;
	S.fake_now = T0;
	S.send_hook = fake_send;
	S.online_hook = fake_online;
	memset(online, 0, sizeof(online));
	send_fails = 0;
	sent = json_array();
	/* host 1 always-on, host 2 intermittent; groups 1, 2 on host 1; 3, 4 on host 2 */
	uint8_t h[AUTH_HASH_LEN] = {0};
	assert_int_equal(db_exec("INSERT INTO hosts (id, name, hostname, mode, secret_hash, created_at)"
	                         " VALUES (1, 'srv', 'srv', 'always-on', ?, 0), "
	                         "(2, 'lap', 'lap', 'intermittent', ?, 0)", "bb", h, sizeof(h), h,
	                         sizeof(h)),
	                 DB_DONE);
	assert_int_equal(db_exec("INSERT INTO source_groups (id, host_id, name, paths) VALUES "
	                         "(1, 1, 'etc', '[\"/etc\"]'), (2, 1, 'home', '[\"/home\"]'), "
	                         "(3, 2, 'docs', '[\"/d\"]'), (4, 2, 'pics', '[\"/p\"]')", NULL),
	                 DB_DONE);
	/* schedules: 1 (host 1, both groups), 2 (host 1, etc), 3 (host 2 hourly, docs),
	 * 4 (host 2 daily, pics) */
	assert_int_equal(db_exec("INSERT INTO schedules (id, host_id, name, cron) VALUES "
	                         "(1, 1, 'a', '0 * * * *'), (2, 1, 'b', '30 * * * *'), "
	                         "(3, 2, 'hourly', '0 * * * *'), (4, 2, 'daily', '0 3 * * *')", NULL),
	                 DB_DONE);
	assert_int_equal(db_exec("INSERT INTO schedule_groups VALUES (1, 1), (1, 2), (2, 1), (3, 3), "
	                         "(4, 4)", NULL),
	                 DB_DONE);
	test_ids_synced();
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	json_decref(sent);
	dueheap_free(S.catchups);
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

static size_t nsent(const char *type)
{
	size_t n = 0, i;
	json_t *e;
	json_array_foreach(sent, i, e) {
		const char *t = json_string_value(json_object_get(json_object_get(e, "msg"), "type"));
		if (t && !strcmp(t, type))
			n++;
	}
	return n;
}

static void finish(int64_t host, int64_t job, const char *status)
{
	struct proto_msg m;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_JOB_ACCEPTED;
	m.job.job_id = job;
	agents_on_message(host, &m);
	m.type = PROTO_JOB_FINISHED;
	snprintf(m.job.status, sizeof(m.job.status), "%s", status);
	agents_on_message(host, &m);
}

static void hello(int64_t host)
{
	struct proto_msg m;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_HELLO;
	m.protocol = PROTO_VERSION;
	online[host] = 1;
	agents_on_hello(host, &m);
}

static void test_fire_idle_one_job_per_group(void **st)
{
	(void)st;
	online[1] = 1;
	fires_handle(1, 1, T0 - 5, "live");
	assert_int_equal(njobs("schedule_id=1 AND trigger='schedule' AND status='queued'"), 2);
	assert_int_equal(nsent("job.start"), 2);
	assert_true(db_host_busy(1));
}

static void test_fire_busy_coalesces_then_fifo(void **st)
{
	(void)st;
	online[1] = 1;
	fires_handle(1, 2, T0 - 100, "live"); /* idle: job 1 (schedule 2), created at T0 */
	assert_int_equal(njobs("1=1"), 1);
	S.fake_now += 60;
	fires_handle(1, 1, T0 + 20, "live"); /* busy: pending for schedule 1 */
	fires_handle(1, 2, T0 + 30, "live"); /* busy: pending for schedule 2 */
	fires_handle(1, 1, T0 + 40, "live"); /* coalesces into schedule 1's row */
	fires_handle(1, 2, T0 - 50, "live"); /* older than job 1: covered, dropped */
	assert_int_equal(njobs("1=1"), 1);
	assert_int_equal(db_int(-1, "SELECT COUNT(*) FROM pending_runs WHERE host_id=1", NULL), 2);
	assert_int_equal(db_int(-1, "SELECT last_fire FROM pending_runs WHERE schedule_id=1", NULL),
	                 T0 + 40);
	/* job ends: the oldest pending (schedule 1, first fired T0+20) runs, both its groups */
	finish(1, 1, "succeeded");
	assert_int_equal(njobs("trigger='pending' AND schedule_id=1"), 2);
	assert_int_equal(njobs("trigger='pending' AND schedule_id=2"), 0);
	finish(1, 2, "succeeded");
	assert_int_equal(njobs("trigger='pending' AND schedule_id=2"), 0); /* host still busy */
	finish(1, 3, "failed");
	assert_int_equal(njobs("trigger='pending' AND schedule_id=2"), 1);
	assert_int_equal(db_int(-1, "SELECT COUNT(*) FROM pending_runs", NULL), 0);
}

static void test_fire_duplicate_and_covered(void **st)
{
	(void)st;
	online[1] = 1;
	fires_handle(1, 2, T0 - 10, "live");
	finish(1, 1, "succeeded");
	fires_handle(1, 2, T0 - 10, "persisted"); /* same slot again */
	assert_int_equal(njobs("1=1"), 1);
	fires_handle(1, 2, T0 - 3600, "persisted"); /* older than the job it would repeat */
	assert_int_equal(njobs("1=1"), 1);
	fires_handle(1, 99, T0, "live"); /* not a schedule of this host */
	fires_handle(1, 3, T0, "live");  /* another host's schedule */
	assert_int_equal(njobs("1=1"), 1);
	db_exec("UPDATE schedules SET enabled=0 WHERE id=1", NULL);
	fires_handle(1, 1, T0 + 1, "live");
	assert_int_equal(njobs("1=1"), 1);
}

/* The seen-fires rule alone: a duplicate slot NEWER than every job of its
 * schedule, so "covered by a later job" can not drop it. Only the fires table
 * (host, schedule, slot) stands between it and a second job. */
static void test_fire_duplicate_newer_than_every_job(void **st)
{
	(void)st;
	online[1] = 1;
	const int64_t slot = T0 + 30; /* after "now": newer than any job created so far */
	fires_handle(1, 2, slot, "live");
	assert_int_equal(njobs("schedule_id=2"), 1);
	assert_int_equal(db_int(-1, "SELECT MAX(created_at) FROM jobs WHERE schedule_id=2", NULL), T0);
	finish(1, 1, "succeeded");
	assert_false(db_host_busy(1));
	/* idle host, usable schedule, slot > every job's created_at: only "seen" can drop it */
	fires_handle(1, 2, slot, "persisted");
	fires_handle(1, 2, slot, "live");
	assert_int_equal(njobs("schedule_id=2"), 1);
	assert_int_equal(nsent("job.start"), 1);
	assert_false(db_host_busy(1));
	/* and while busy: the duplicate does not become a pending run either */
	fires_handle(1, 1, T0 + 40, "live"); /* another schedule: the host is busy now */
	assert_true(db_host_busy(1));
	fires_handle(1, 2, slot, "persisted");
	assert_int_equal(db_int(-1, "SELECT COUNT(*) FROM pending_runs", NULL), 0);
	/* a new slot of the same schedule still counts */
	fires_handle(1, 2, slot + 1, "live");
	assert_int_equal(db_int(-1, "SELECT COUNT(*) FROM pending_runs WHERE schedule_id=2", NULL), 1);
}

static void test_hello_replays_duplicate_newer_than_every_job(void **st)
{
	(void)st;
	hello(1);
	/* the same persisted fire twice in one hello, then again in the next hello */
	struct proto_fire f[2] = {{2, T0 + 30}, {2, T0 + 30}};
	struct proto_msg m;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_HELLO;
	m.protocol = PROTO_VERSION;
	m.fires = f;
	m.nfires = 2;
	agents_on_hello(1, &m);
	assert_int_equal(njobs("schedule_id=2"), 1);
	finish(1, 1, "succeeded");
	agents_on_hello(1, &m);
	assert_int_equal(njobs("schedule_id=2"), 1);
	assert_int_equal(db_int(-1, "SELECT COUNT(*) FROM pending_runs", NULL), 0);
}

static void run_timer_at(int64_t t)
{
	S.fake_now = t;
	catchup_timer_cb(NULL);
}

static void test_catchup_after_settle_never_succeeded(void **st)
{
	(void)st;
	hello(2);
	run_timer_at(T0 + 59);
	assert_int_equal(njobs("trigger='catchup'"), 0);
	run_timer_at(T0 + 60);
	/* both groups never succeeded: both overdue */
	assert_int_equal(njobs("trigger='catchup' AND host_id=2"), 2);
	assert_int_equal(nsent("job.start"), 2);
}

static void test_catchup_skips(void **st)
{
	(void)st;
	/* gone during settle */
	hello(2);
	online[2] = 0;
	run_timer_at(T0 + 61);
	assert_int_equal(njobs("1=1"), 0);
	/* switched to always-on during settle */
	S.fake_now = T0 + 100;
	hello(2);
	db_exec("UPDATE hosts SET mode='always-on' WHERE id=2", NULL);
	run_timer_at(T0 + 161);
	assert_int_equal(njobs("1=1"), 0);
	/* busy */
	db_exec("UPDATE hosts SET mode='intermittent' WHERE id=2", NULL);
	S.fake_now = T0 + 200;
	hello(2);
	jobs_dispatch(2, 0, 3, "backup", "manual", NULL, "test");
	run_timer_at(T0 + 261);
	assert_int_equal(njobs("trigger='catchup'"), 0);
}

static void test_catchup_debounce(void **st)
{
	(void)st;
	hello(2);
	S.fake_now = T0 + 30;
	hello(2); /* re-arm: due at T0+90 now */
	run_timer_at(T0 + 61);
	assert_int_equal(njobs("1=1"), 0);
	run_timer_at(T0 + 90);
	assert_int_equal(njobs("trigger='catchup'"), 2);
	run_timer_at(T0 + 500);
	assert_int_equal(njobs("trigger='catchup'"), 2);
}

static void test_catchup_per_schedule_group_success(void **st)
{
	(void)st;
	/* both succeeded an hour and a half ago... */
	db_exec("INSERT INTO group_success VALUES (3, 3, ?), (4, 4, ?)", "ii",
	        (int64_t)(T0 - 5400), (int64_t)(T0 - 5400));
	/* ...then the hourly one ran again recently: it must not hide the daily */
	db_exec("UPDATE group_success SET last_success_at=? WHERE schedule_id=3", "i",
	        (int64_t)(T0 - 60));
	S.fake_now = T0;
	/* T0 = 2026-11-18T...; make sure a 03:00 passed since T0-5400 */
	int64_t day0 = (T0 / 86400) * 86400, three = day0 + 3 * 3600;
	S.fake_now = three + 1800;
	db_exec("UPDATE group_success SET last_success_at=? WHERE schedule_id=4", "i", three - 1800);
	db_exec("UPDATE group_success SET last_success_at=? WHERE schedule_id=3", "i",
	        three + 1700);
	hello(2);
	run_timer_at(three + 1800 + 60);
	assert_int_equal(njobs("trigger='catchup'"), 1);
	assert_int_equal(njobs("trigger='catchup' AND schedule_id=4 AND group_id=4"), 1);
}

static void test_catchup_success_recorded_from_job_start(void **st)
{
	(void)st;
	hello(2);
	run_timer_at(T0 + 60);
	assert_int_equal(njobs("trigger='catchup'"), 2);
	S.fake_now = T0 + 70;
	finish(2, 1, "succeeded");
	finish(2, 2, "succeeded");
	assert_int_equal(db_int(0, "SELECT last_success_at FROM group_success WHERE schedule_id=3",
	                        NULL), T0 + 70);
	/* not overdue now: the next hourly slot is later */
	S.fake_now = T0 + 80;
	hello(2);
	run_timer_at(T0 + 140);
	assert_int_equal(njobs("trigger='catchup'"), 2);
}

static void test_catchup_send_failure_rearms(void **st)
{
	(void)st;
	hello(2);
	send_fails = 1;
	run_timer_at(T0 + 60);
	assert_int_equal(njobs("1=1"), 0); /* not sent: not created */
	assert_int_equal(dueheap_next(S.catchups), T0 + 120);
	send_fails = 0;
	run_timer_at(T0 + 120);
	assert_int_equal(njobs("trigger='catchup'"), 2);
}

static void test_catchup_unparseable_cron_never(void **st)
{
	(void)st;
	db_exec("UPDATE schedules SET cron='99 * * * *' WHERE id=3", NULL);
	hello(2);
	run_timer_at(T0 + 60);
	assert_int_equal(njobs("trigger='catchup' AND schedule_id=3"), 0);
	assert_int_equal(njobs("trigger='catchup' AND schedule_id=4"), 1);
}

static void test_hello_resolves_jobs(void **st)
{
	(void)st;
	online[1] = 1;
	int64_t a = jobs_dispatch(1, 0, 1, "backup", "manual", NULL, "t");
	int64_t b = jobs_dispatch(1, 0, 2, "backup", "manual", NULL, "t");
	struct proto_msg m;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_JOB_ACCEPTED;
	m.job.job_id = a;
	agents_on_message(1, &m);
	json_array_clear(sent);
	/* the agent restarted: it knows nothing of a (running) or b (queued) */
	hello(1);
	assert_int_equal(db_int(0, "SELECT status='interrupted' FROM jobs WHERE id=?", "i", a), 1);
	assert_int_equal(db_int(0, "SELECT status='queued' FROM jobs WHERE id=?", "i", b), 1);
	assert_int_equal(nsent("job.start"), 1); /* b is sent again */
	assert_int_equal(nsent("config"), 1);
	/* a job the agent finished while offline */
	struct proto_job done = {.job_id = b};
	snprintf(done.status, sizeof(done.status), "succeeded");
	m.jobs = &done;
	m.njobs = 1;
	m.type = PROTO_HELLO;
	m.protocol = PROTO_VERSION;
	agents_on_hello(1, &m);
	assert_int_equal(db_int(0, "SELECT status='succeeded' FROM jobs WHERE id=?", "i", b), 1);
	assert_false(db_host_busy(1));
	assert_true(db_int(0, "SELECT last_backup_at FROM hosts WHERE id=1", NULL) > 0);
}

static void test_hello_replays_persisted_fires(void **st)
{
	(void)st;
	struct proto_fire f[2] = {{1, T0 - 120}, {1, T0 - 120}};
	struct proto_msg m;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_HELLO;
	m.protocol = PROTO_VERSION;
	m.fires = f;
	m.nfires = 2;
	online[1] = 1;
	agents_on_hello(1, &m);
	assert_int_equal(njobs("schedule_id=1 AND trigger='schedule'"), 2); /* once, both groups */
	agents_on_hello(1, &m); /* and again: seen */
	assert_int_equal(njobs("schedule_id=1"), 2);
}

static int host_overdue(int64_t host)
{
	json_t *h = view_host(host);
	assert_non_null(h);
	int o = json_is_true(json_object_get(h, "overdue"));
	json_decref(h);
	return o;
}

/* A host's `overdue` is the catch-up pair rule itself, whatever the host's
 * connection, mode or job: an offline laptop and an always-on server that
 * never succeeded are overdue, and stop being so when every pair succeeded
 * after its last slot. */
static void test_view_overdue_is_the_catchup_rule(void **st)
{
	(void)st;
	assert_true(host_overdue(1)); /* always-on, offline, never succeeded */
	assert_true(host_overdue(2)); /* intermittent, offline */
	struct catchup_due d[8];
	assert_int_equal(catchup_overdue(2, T0, d, 8), 2);
	/* every pair of host 2 succeeded after its latest slot: not overdue, busy or not */
	db_exec("INSERT INTO group_success VALUES (3, 3, ?), (4, 4, ?)", "ii", T0 - 60, T0 - 60);
	assert_int_equal(catchup_overdue(2, T0, d, 8), 0);
	assert_false(host_overdue(2));
	jobs_dispatch(2, 0, 3, "backup", "manual", NULL, "t");
	assert_false(host_overdue(2));
	/* an hour on, the hourly schedule's slot has passed: overdue again, though busy */
	S.fake_now = T0 + 3600;
	assert_true(host_overdue(2));
	assert_int_equal(catchup_overdue(2, S.fake_now, d, 8), 1);
	assert_int_equal(d[0].schedule_id, 3);
}

/* A hello records the host's facts: hostname, OS, zone, last seen. */
static void test_hello_records_host_facts(void **st)
{
	(void)st;
	struct proto_msg m;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_HELLO;
	m.protocol = PROTO_VERSION;
	snprintf(m.hostname, sizeof(m.hostname), "lap.example");
	snprintf(m.os, sizeof(m.os), "linux");
	snprintf(m.tz, sizeof(m.tz), "Europe/Berlin");
	online[2] = 1;
	agents_on_hello(2, &m);
	json_t *h = view_host(2);
	assert_string_equal(json_string_value(json_object_get(h, "tz")), "Europe/Berlin");
	assert_string_equal(json_string_value(json_object_get(h, "hostname")), "lap.example");
	assert_string_equal(json_string_value(json_object_get(h, "os")), "linux");
	assert_true(json_is_string(json_object_get(h, "last_seen_at")));
	json_decref(h);
	/* an unknown zone is not stored */
	snprintf(m.tz, sizeof(m.tz), "Mars/Olympus");
	agents_on_hello(2, &m);
	h = view_host(2);
	assert_true(json_is_null(json_object_get(h, "tz")));
	json_decref(h);
}

/* A job's end that the store can not record (here a trigger fails every
 * write to jobs, as a full disk would) is kept, the report is not lost, and
 * once the store records again the job ends in its true state and the
 * pending run waiting behind it starts, without the agent reconnecting. */
static void test_unrecorded_end_is_retried(void **st)
{
	(void)st;
	online[1] = 1;
	fires_handle(1, 2, T0 - 100, "live"); /* job 1 runs */
	S.fake_now += 60;
	fires_handle(1, 1, T0 + 20, "live"); /* pending behind it */
	struct proto_msg m;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_JOB_ACCEPTED;
	m.job.job_id = 1;
	agents_on_message(1, &m);
	store_full("UPDATE", "jobs");
	m.type = PROTO_JOB_FINISHED;
	snprintf(m.job.status, sizeof(m.job.status), "succeeded");
	snprintf(m.job.snapshot_id, sizeof(m.job.snapshot_id), "%064d", 7);
	agents_on_message(1, &m);
	assert_int_equal(jobs_unrecorded(), 1);
	assert_int_equal(njobs("id=1 AND status='running'"), 1);
	assert_true(db_host_busy(1));
	agents_retry_unrecorded(); /* still failing: still kept */
	assert_int_equal(jobs_unrecorded(), 1);
	/* the same report again (a resend) is not kept twice */
	agents_on_message(1, &m);
	assert_int_equal(jobs_unrecorded(), 1);
	store_full_end("jobs");
	agents_retry_unrecorded();
	assert_int_equal(jobs_unrecorded(), 0);
	assert_int_equal(njobs("id=1 AND status='succeeded' AND snapshot_id IS NOT NULL"), 1);
	/* the pending run started behind it: schedule 1's two groups */
	assert_int_equal(njobs("trigger='pending' AND schedule_id=1"), 2);
	/* success counts from the job's start (accepted at T0 + 60) */
	assert_int_equal(db_int(0, "SELECT last_success_at FROM group_success WHERE schedule_id=2 "
	                           "AND group_id=1", NULL), T0 + 60);
}

/* An API-level write in a transaction that fails leaves nothing behind. */
static void test_failed_write_rolls_back(void **st)
{
	(void)st;
	store_full("INSERT", "schedule_groups");
	assert_int_equal(db_begin(), 0);
	db_exec("INSERT INTO schedules (host_id, name, cron) VALUES (1, 'x', '* * * * *')", NULL);
	db_exec("INSERT INTO schedule_groups VALUES ((SELECT max(id) FROM schedules), 1)", NULL);
	assert_int_equal(db_failures(), 1);
	assert_int_equal(db_commit(), -1);
	assert_non_null(strstr(db_last_error(), "disk is full"));
	assert_int_equal(db_int(-1, "SELECT COUNT(*) FROM schedules WHERE name='x'", NULL), 0);
	store_full_end("schedule_groups");
	assert_int_equal(db_begin(), 0);
	assert_int_equal(db_failures(), 0);
	assert_int_equal(db_commit(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fire_idle_one_job_per_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fire_busy_coalesces_then_fifo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fire_duplicate_and_covered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fire_duplicate_newer_than_every_job, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_hello_replays_duplicate_newer_than_every_job, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_catchup_after_settle_never_succeeded, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_catchup_skips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catchup_debounce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catchup_per_schedule_group_success, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catchup_success_recorded_from_job_start, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_catchup_send_failure_rearms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catchup_unparseable_cron_never, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hello_resolves_jobs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hello_replays_persisted_fires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_view_overdue_is_the_catchup_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hello_records_host_facts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unrecorded_end_is_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_write_rolls_back, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
