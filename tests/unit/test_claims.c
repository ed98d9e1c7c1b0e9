/* SPDX-License-Identifier: MIT */
/*
 * The conditional claims of docs/scale-out.md (2.1, 2.2, 2.3, 2.5, 2.10,
 * 2.12, 3.2): each decision two roostd could take at once is one statement,
 * so of two takers exactly one wins. Two "instances" are two processes, each
 * with its own connection to one store (an SQLite file, or PostgreSQL under
 * unit_pg_store), released at the same instant round after round; after
 * each round the parent checks that the thing claimed was won once. Rules
 * that need no concurrency are checked with two connections in one process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "defer.h"
#include "events.h"
#include "healthwatch.h"
#include "maintenance.h"
#include "roostd.h"
#include "store_url.h"

#define T0 1795000000 /* 2026-11-18T11:06:40Z */
#define ROUNDS 40

static struct srv S;
static char dbfile[64];
static const char *url;

static int fake_online(int64_t h)
{
	return h == 1 || h == 2;
}

static int fake_send(int64_t h, json_t *m)
{
	(void)m;
	return fake_online(h) ? 0 : -1;
}

static int setup(void **st)
{
	(void)st;
	memset(&S, 0, sizeof(S));
	g_srv = &S;
	snprintf(dbfile, sizeof(dbfile), "/tmp/test-claims-%d.db", (int)getpid());
	unlink(dbfile);
	url = test_store_url(dbfile);
	assert_int_equal(store_open(url, &S.st, NULL), ROOST_OK);
	if (test_on_pg())
		url = getenv("ROOST_TEST_PG");
	S.catchups = dueheap_new();
	S.settle_s = 60;
	S.health_flap_s = 600;
	S.unseen_after_s = 3600;
	S.overdue_grace_s = 3600;
	S.fake_now = T0;
	S.send_hook = fake_send;
	S.online_hook = fake_online;
	/* host 1 always-on: groups 1, 2; schedule 1 (both), schedule 2 (group 1, a
	 * window that is closed at T0). Host 2 intermittent: group 3, schedule 3. */
	uint8_t h[AUTH_HASH_LEN] = {0};
	assert_int_equal(db_exec("INSERT INTO hosts (id, name, hostname, mode, secret_hash, created_at)"
	                         " VALUES (1, 'srv', 'srv', 'always-on', ?, 0), "
	                         "(2, 'lap', 'lap', 'intermittent', ?, 0)", "bb", h, sizeof(h), h,
	                         sizeof(h)), DB_DONE);
	assert_int_equal(db_exec("INSERT INTO source_groups (id, host_id, name, paths) VALUES "
	                         "(1, 1, 'etc', '[\"/etc\"]'), (2, 1, 'home', '[\"/home\"]'), "
	                         "(3, 2, 'docs', '[\"/d\"]')", NULL), DB_DONE);
	assert_int_equal(db_exec("INSERT INTO schedules (id, host_id, name, cron, \"window\") VALUES "
	                         "(1, 1, 'a', '0 * * * *', ''), (2, 1, 'night', '0 * * * *', "
	                         "'03:00-04:00'), (3, 2, 'hourly', '0 * * * *', '')", NULL), DB_DONE);
	assert_int_equal(db_exec("INSERT INTO schedule_groups VALUES (1, 1), (1, 2), (2, 1), (3, 3)",
	                         NULL), DB_DONE);
	test_ids_synced();
	return 0;
}

static pid_t kids[2]; /* a race's instances, stopped here if a round failed */

static int teardown(void **st)
{
	(void)st;
	for (int i = 0; i < 2; i++)
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
			kids[i] = 0;
		}
	dueheap_free(S.catchups);
	store_close(S.st);
	g_srv = NULL;
	char f[80];
	unlink(dbfile);
	snprintf(f, sizeof(f), "%s-wal", dbfile);
	unlink(f);
	snprintf(f, sizeof(f), "%s-shm", dbfile);
	unlink(f);
	return 0;
}

static int64_t count(const char *sql)
{
	return db_int(-1, sql, NULL);
}

/* ---- two instances racing ---- */

/*
 * Runs op(instance, round) in two processes, each on its own connection,
 * released together for each of ROUNDS rounds; the parent calls before(round)
 * first and check(round) when both are done. A child's op returns nonzero when
 * its own view went wrong (a store failure); the round fails then too.
 */
static void race(void (*before)(int round), int (*op)(int inst, int round),
                 void (*check)(int round))
{
	/* a go pipe per instance: with one, an instance done early could take the
	 * other's byte and run the round twice */
	int gos[2][2], done[2];
	assert_int_equal(pipe(gos[0]), 0);
	assert_int_equal(pipe(gos[1]), 0);
	assert_int_equal(pipe(done), 0);
	pid_t *kid = kids;
	for (int inst = 0; inst < 2; inst++) {
		kid[inst] = fork();
		assert_true(kid[inst] >= 0);
		if (kid[inst])
			continue;
		int *go = gos[inst];
		close(gos[0][1]);
		close(gos[1][1]);
		close(done[0]);
		/* the child: its own connection (the parent's is left untouched) */
		struct store *mine;
		if (store_connect(url, &mine, NULL) != ROOST_OK)
			_exit(2);
		S.st = mine;
		for (;;) {
			char c;
			if (read(go[0], &c, 1) != 1 || c == 'q')
				_exit(0);
			char r = (char)(op(inst, c - 1) ? 'x' : 'o');
			if (write(done[1], &r, 1) != 1)
				_exit(3);
		}
	}
	for (int round = 0; round < ROUNDS; round++) {
		if (before)
			before(round);
		char c = (char)(round + 1);
		assert_int_equal(write(gos[0][1], &c, 1), 1);
		assert_int_equal(write(gos[1][1], &c, 1), 1);
		char r[2];
		for (int i = 0; i < 2; i++)
			assert_int_equal(read(done[0], &r[i], 1), 1);
		if (r[0] != 'o' || r[1] != 'o')
			fail_msg("round %d: an instance failed (%c %c)", round, r[0], r[1]);
		check(round);
	}
	assert_int_equal(write(gos[0][1], "q", 1), 1);
	assert_int_equal(write(gos[1][1], "q", 1), 1);
	for (int i = 0; i < 2; i++) {
		int status;
		assert_int_equal(waitpid(kid[i], &status, 0), kid[i]);
		kid[i] = 0;
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	for (int i = 0; i < 2; i++) {
		close(gos[i][0]);
		close(gos[i][1]);
	}
	close(done[0]);
	close(done[1]);
}

/* The host's jobs end: it is idle again for the next round. */
static void idle_again(void)
{
	assert_int_equal(db_exec("UPDATE jobs SET status='succeeded' WHERE status IN "
	                         "('queued','running')", NULL), DB_DONE);
	assert_int_equal(db_exec("UPDATE hosts SET current_job_id=NULL", NULL), DB_DONE);
	assert_int_equal(db_exec("DELETE FROM pending_runs", NULL), DB_DONE);
}

static int64_t slot_of(int round)
{
	return T0 + 3600 + (int64_t)round * 3600;
}

/* 2.1: one fire, from two instances at once (a failed-over agent's
 * persisted fire beside the live one): one fires row, one job per group. */
static void fires_before(int round)
{
	(void)round;
	idle_again();
}

static int fires_op(int inst, int round)
{
	fires_handle(1, 1, slot_of(round), inst ? "persisted" : "live");
	return 0;
}

static void fires_check(int round)
{
	char sql[160];
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM fires WHERE slot=%lld",
	         (long long)slot_of(round));
	assert_int_equal(count(sql), 1);
	if (count("SELECT COUNT(*) FROM jobs WHERE status='queued'") != 2)
		fail_msg("round %d: %lld queued jobs for one fire of a two-group schedule", round,
		         (long long)count("SELECT COUNT(*) FROM jobs WHERE status='queued'"));
	assert_int_equal(count("SELECT COUNT(*) FROM pending_runs"), 0);
	assert_int_equal(count("SELECT COUNT(*) FROM hosts WHERE id=1 AND current_job_id = "
	                       "(SELECT MIN(id) FROM jobs WHERE status='queued')"), 1);
}

static void test_fire_handled_once(void **st)
{
	(void)st;
	race(fires_before, fires_op, fires_check);
}

/* 2.3: two different fires of an idle host at once (two schedules): one
 * batch is dispatched, the other coalesces into a pending run. */
static int two_fires_op(int inst, int round)
{
	/* schedule 1 from one instance; on the other schedule 1's sibling is host 1's
	 * schedule 2 outside its window, so: schedule 1 again at another slot */
	fires_handle(1, 1, slot_of(round) + inst * 60, "live");
	return 0;
}

static void two_fires_check(int round)
{
	int64_t q = count("SELECT COUNT(*) FROM jobs WHERE status='queued'");
	int64_t p = count("SELECT COUNT(*) FROM pending_runs");
	if (q != 2 || p != 1)
		fail_msg("round %d: %lld queued jobs and %lld pending runs; want one batch (2) and "
		         "the other fire pending", round, (long long)q, (long long)p);
}

static void test_idle_host_one_dispatch(void **st)
{
	(void)st;
	race(fires_before, two_fires_op, two_fires_check);
}

/* 2.3: one pending run, dispatched by two instances at once: once. */
static void pending_before(int round)
{
	idle_again();
	assert_int_equal(db_exec("INSERT INTO pending_runs VALUES (1, 1, ?, ?)", "ii",
	                         slot_of(round), slot_of(round)), DB_DONE);
}

static int pending_op(int inst, int round)
{
	(void)inst;
	(void)round;
	pending_dispatch(1);
	return 0;
}

static void pending_check(int round)
{
	int64_t q = count("SELECT COUNT(*) FROM jobs WHERE status='queued' AND trigger='pending'");
	if (q != 2)
		fail_msg("round %d: %lld jobs from one pending run of a two-group schedule", round,
		         (long long)q);
	assert_int_equal(count("SELECT COUNT(*) FROM pending_runs"), 0);
}

static void test_pending_dispatched_once(void **st)
{
	(void)st;
	race(pending_before, pending_op, pending_check);
}

/* 2.2: a catch-up armed for one hello epoch, due on two instances (the old
 * owner's timer and the new one's): one runs it. */
static int64_t race_epoch;

static void catchup_before(int round)
{
	(void)round;
	idle_again();
	assert_int_equal(db_exec("DELETE FROM group_success", NULL), DB_DONE);
	race_epoch = catchup_hello_epoch(2);
	assert_true(race_epoch > 0);
}

static int catchup_op(int inst, int round)
{
	(void)inst;
	(void)round;
	/* the epoch the hello made (the parent's memory is not the instances') */
	catchup_run(2, T0, db_int(0, "SELECT conn_epoch FROM hosts WHERE id=2", NULL));
	return 0;
}

static void catchup_check(int round)
{
	int64_t q = count("SELECT COUNT(*) FROM jobs WHERE status='queued' AND trigger='catchup'");
	if (q != 1)
		fail_msg("round %d: %lld catch-up jobs for one wake", round, (long long)q);
	assert_int_equal(count("SELECT catchup_epoch = conn_epoch FROM hosts WHERE id=2"), 1);
}

static void test_catchup_once_per_epoch(void **st)
{
	(void)st;
	race(catchup_before, catchup_op, catchup_check);
}

/* 2.12: two fires of a schedule outside its window at once: one deferred job
 * of its (host, schedule, group) waits, not two. */
static void deferred_before(int round)
{
	(void)round;
	idle_again();
	assert_int_equal(db_exec("UPDATE jobs SET status='canceled' WHERE status='deferred'", NULL),
	                 DB_DONE);
}

static int deferred_op(int inst, int round)
{
	fires_handle(1, 2, slot_of(round) + inst * 60, "live");
	return 0;
}

static void deferred_check(int round)
{
	int64_t d = count("SELECT COUNT(*) FROM jobs WHERE status='deferred' AND schedule_id=2");
	if (d != 1)
		fail_msg("round %d: %lld deferred jobs of one (host, schedule, group)", round,
		         (long long)d);
}

static void test_one_deferred_job(void **st)
{
	(void)st;
	race(deferred_before, deferred_op, deferred_check);
}

/* 2.12 + 2.3: a deferred job released by one instance while the other
 * dispatches a fire: the idle host gets one of the two, never both at once. */
static void release_before(int round)
{
	idle_again();
	assert_int_equal(db_exec("UPDATE jobs SET status='canceled' WHERE status='deferred'", NULL),
	                 DB_DONE);
	/* a deferred job of schedule 1 (its window has no say: the reason is the
	 * battery, which cleared), made before the fire's slot */
	(void)round;
	assert_int_equal(db_exec("INSERT INTO jobs (host_id, schedule_id, group_id, kind, trigger, "
	                         "status, created_at, error) VALUES (1, 1, 1, 'backup', 'schedule', "
	                         "'deferred', ?, 'host on battery')", "i", (int64_t)T0 - 100),
	                 DB_DONE);
}

static int release_op(int inst, int round)
{
	if (inst)
		defer_release(1, T0);
	else
		fires_handle(1, 1, slot_of(round), "live");
	return 0;
}

static void release_check(int round)
{
	int64_t rel = count("SELECT COUNT(*) FROM jobs WHERE status='queued' AND created_at = "
	                    "1794999900");
	int64_t fire = count("SELECT COUNT(*) FROM jobs WHERE status='queued' AND created_at = "
	                     "1795000000");
	if (!((rel == 1 && fire == 0) || (rel == 0 && fire == 2)))
		fail_msg("round %d: %lld released and %lld fired jobs queued at once", round,
		         (long long)rel, (long long)fire);
}

static void test_release_claims_host(void **st)
{
	(void)st;
	race(release_before, release_op, release_check);
}

/* 3.2: one job's end recorded by two instances at once (a stale owner's late
 * job.finished, the new owner's hello): applied once, one event. */
static int64_t race_job;

static void end_before(int round)
{
	(void)round;
	idle_again();
	/* events.c keeps its next id in memory (2.6 moves it to a sequence): rows
	 * of earlier rounds would collide with an instance's stale one */
	assert_int_equal(db_exec("DELETE FROM events", NULL), DB_DONE);
	race_job = db_returning("INSERT INTO jobs (host_id, schedule_id, group_id, kind, trigger, "
	                        "status, created_at, started_at) VALUES (1, 1, 1, 'backup', "
	                        "'schedule', 'running', ?, ?) RETURNING id", "ii", (int64_t)T0,
	                        (int64_t)T0);
	assert_true(race_job > 0);
	db_host_refresh_current(1);
}

static int end_op(int inst, int round)
{
	(void)round;
	struct proto_job j = {.job_id = db_int(0, "SELECT MAX(id) FROM jobs", NULL)};
	snprintf(j.status, sizeof(j.status), "%s", inst ? "interrupted" : "succeeded");
	int rc = jobs_finish(1, &j, inst ? "lost by the agent" : "reported");
	return rc != 0 || jobs_unrecorded() != 0;
}

static void end_check(int round)
{
	char sql[200];
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM events WHERE job_id=%lld",
	         (long long)race_job);
	if (count(sql) != 1)
		fail_msg("round %d: %lld events for one job's end", round, (long long)count(sql));
	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM events e JOIN jobs j ON j.id = e.job_id "
	                           "WHERE j.id=%lld AND e.type = 'job.' || j.status",
	         (long long)race_job);
	if (count(sql) != 1)
		fail_msg("round %d: the job's status is not the one its event announced", round);
	assert_int_equal(count("SELECT COUNT(*) FROM hosts WHERE current_job_id IS NOT NULL"), 0);
}

static void test_end_recorded_once(void **st)
{
	(void)st;
	race(end_before, end_op, end_check);
}

/* 2.10: one host's change of health evaluated by two instances at once: said
 * once. */
static void health_before(int round)
{
	(void)round;
	assert_int_equal(db_exec("DELETE FROM host_health", NULL), DB_DONE);
	assert_int_equal(db_exec("DELETE FROM events", NULL), DB_DONE);
	/* host 1 never connected, created long ago: unseen */
	assert_int_equal(db_exec("UPDATE hosts SET last_seen_at=NULL", NULL), DB_DONE);
}

static int health_op(int inst, int round)
{
	(void)inst;
	(void)round;
	/* as the sweep does: the host's writes and its event in one transaction */
	if (db_begin())
		return 1;
	events_tx_begin();
	healthwatch_host(1, T0);
	int failed = db_commit() != 0;
	events_tx_end(!failed);
	return failed;
}

static void health_check(int round)
{
	int64_t n = count("SELECT COUNT(*) FROM events WHERE type LIKE 'host.%'");
	if (n != 1)
		fail_msg("round %d: %lld announcements of one change", round, (long long)n);
}

static void test_health_said_once(void **st)
{
	(void)st;
	S.online_hook = NULL; /* hub_online: nobody connected */
	race(health_before, health_op, health_check);
}

/* ---- one process, two connections ---- */

/* 2.2: the laptop wakes on A, lands on B inside A's settle window: B's hello
 * makes a new epoch; A's timer finds its epoch stale (catchup.skip); B's runs. */
static void test_catchup_stale_epoch_skips(void **st)
{
	(void)st;
	struct store *a = S.st, *b;
	assert_int_equal(store_connect(url, &b, NULL), ROOST_OK);
	int64_t ea = catchup_hello_epoch(2); /* the hello on A */
	S.st = b;
	int64_t eb = catchup_hello_epoch(2); /* the reconnect on B */
	assert_true(eb > ea);
	S.st = a;
	catchup_run(2, T0 + 60, ea); /* A's timer */
	assert_int_equal(count("SELECT COUNT(*) FROM jobs"), 0);
	S.st = b;
	catchup_run(2, T0 + 80, eb); /* B's */
	assert_int_equal(count("SELECT COUNT(*) FROM jobs WHERE trigger='catchup'"), 1);
	/* the same epoch's second timer (a re-arm that raced): nothing more */
	idle_again();
	assert_int_equal(db_exec("DELETE FROM group_success", NULL), DB_DONE);
	catchup_run(2, T0 + 90, eb);
	assert_int_equal(count("SELECT COUNT(*) FROM jobs WHERE trigger='catchup'"), 1);
	S.st = a;
	store_close(b);
}

/* 2.2: the heap keeps the epoch each host was armed for. */
static void test_catchup_timer_carries_epoch(void **st)
{
	(void)st;
	int64_t e1 = catchup_hello_epoch(2);
	catchup_arm_hello(2, T0, e1);
	int64_t e2 = catchup_hello_epoch(2); /* a later hello elsewhere; not re-armed here */
	assert_true(e2 > e1);
	S.fake_now = T0 + 61;
	catchup_timer_cb(NULL); /* the stale epoch: skipped */
	assert_int_equal(count("SELECT COUNT(*) FROM jobs"), 0);
	catchup_arm_hello(2, T0 + 61, e2);
	S.fake_now = T0 + 200;
	catchup_timer_cb(NULL);
	assert_int_equal(count("SELECT COUNT(*) FROM jobs WHERE trigger='catchup'"), 1);
}

/* 2.3: hosts.current_job_id is the claim: set, a dispatch coalesces. */
static void test_busy_host_claim_coalesces(void **st)
{
	(void)st;
	struct defer_batch b;
	assert_int_equal(db_begin(), 0);
	assert_int_equal(defer_batch_schedule(&b, 1, 1, "schedule", T0), 1);
	assert_int_equal(db_commit(), 0);
	assert_int_equal(b.n, 2);
	assert_int_equal(count("SELECT current_job_id FROM hosts WHERE id=1"), b.e[0].job);
	/* a second dispatch (its "idle" read stale): the claim says busy, nothing made */
	assert_int_equal(db_begin(), 0);
	assert_int_equal(defer_batch_schedule(&b, 1, 1, "schedule", T0), 0);
	db_rollback();
	assert_int_equal(count("SELECT COUNT(*) FROM jobs"), 2);
	/* a deferred-only dispatch needs no claim */
	assert_int_equal(db_begin(), 0);
	assert_int_equal(defer_batch_schedule(&b, 1, 2, "schedule", T0), 1);
	assert_int_equal(db_commit(), 0);
	assert_int_equal(count("SELECT COUNT(*) FROM jobs WHERE status='deferred'"), 1);
	/* and the index keeps it one per (host, schedule, group) */
	assert_int_equal(db_begin(), 0);
	assert_int_equal(defer_batch_schedule(&b, 1, 2, "schedule", T0), 1);
	assert_int_equal(db_commit(), 0);
	assert_int_equal(b.e[0].job, 0);
	assert_int_equal(count("SELECT COUNT(*) FROM jobs WHERE status='deferred'"), 1);
	assert_int_equal(db_exec("INSERT INTO jobs (host_id, schedule_id, group_id, kind, trigger, "
	                         "status, created_at) VALUES (1, 2, 1, 'backup', 'schedule', "
	                         "'deferred', 0)", NULL), DB_ERROR);
}

/* 3.2: an end already recorded is not applied again, nor announced. */
static void test_end_twice_sequential(void **st)
{
	(void)st;
	assert_int_equal(db_exec("INSERT INTO jobs (id, host_id, schedule_id, group_id, kind, "
	                         "trigger, status, created_at) VALUES (50, 1, 1, 1, 'backup', "
	                         "'schedule', 'running', ?)", "i", (int64_t)T0), DB_DONE);
	test_ids_synced();
	struct proto_job j = {.job_id = 50};
	snprintf(j.status, sizeof(j.status), "succeeded");
	assert_int_equal(jobs_finish(1, &j, "reported"), 0);
	snprintf(j.status, sizeof(j.status), "interrupted");
	assert_int_equal(jobs_finish(1, &j, "lost by the agent"), 0);
	assert_int_equal(count("SELECT COUNT(*) FROM jobs WHERE id=50 AND status='succeeded'"), 1);
	assert_int_equal(count("SELECT COUNT(*) FROM events WHERE job_id=50"), 1);
}

/* 2.5: the live-job rule orders by roost_order, not by clocks: a job made on
 * an instance whose clock runs 2 minutes ahead still holds back the deletion
 * of marks made visible after it; a job made after the marks on an instance
 * whose clock runs behind does not. */
static void test_live_rule_by_order(void **st)
{
	(void)st;
	int64_t marked = T0 - 30, live;
	/* a job inserted before the marks, its created_at from a clock 120 s ahead */
	assert_int_equal(db_exec("INSERT INTO jobs (host_id, schedule_id, group_id, kind, trigger, "
	                         "status, created_at) VALUES (1, 1, 1, 'backup', 'schedule', "
	                         "'running', ?)", "i", (int64_t)T0 + 120), DB_DONE);
	int64_t early = db_int(0, "SELECT MAX(id) FROM jobs", NULL);
	/* the marking run ends (recorded as a stopped roostd's is: visible now) */
	assert_int_equal(db_exec("INSERT INTO maintenance (trigger, status, started_at) VALUES "
	                         "('manual', 'running', ?)", "i", marked), DB_DONE);
	if (test_on_pg()) {
		/* PostgreSQL: roostd's recovery waits for the instances (cluster.c), which
		 * a unit test does not start; what it records, by hand */
		int64_t seq = db_int(0, "SELECT nextval('roost_order')", NULL);
		assert_true(seq > 0);
		assert_int_equal(db_exec("UPDATE maintenance SET status='interrupted', finished_at=?, "
		                         "visible_seq=? WHERE status='running'", "ii", (int64_t)T0, seq),
		                 DB_DONE);
	} else {
		maintenance_recover();
	}
	assert_int_equal(maintenance_live_rule(marked, &live), 0);
	assert_int_equal(live, early);
	/* that job ends; one made after the marks, its clock 300 s behind */
	assert_int_equal(db_exec("UPDATE jobs SET status='succeeded' WHERE id=?", "i", early),
	                 DB_DONE);
	assert_int_equal(db_exec("INSERT INTO jobs (host_id, schedule_id, group_id, kind, trigger, "
	                         "status, created_at) VALUES (1, 1, 2, 'backup', 'schedule', "
	                         "'queued', ?)", "i", (int64_t)T0 - 300), DB_DONE);
	assert_int_equal(maintenance_live_rule(marked, &live), 1);
	/* marks of an unknown run: only when no job is live */
	assert_int_equal(maintenance_live_rule(12345, &live), 0);
	assert_int_equal(db_exec("UPDATE jobs SET status='succeeded'", NULL), DB_DONE);
	assert_int_equal(maintenance_live_rule(12345, &live), 1);
}

/* A job's id is its row's, whatever else its insert draws: on PostgreSQL the
 * insert also takes roost_order (order_seq), so "the last insert's id"
 * (lastval()) named the order, not the job, once the two had drifted apart. */
static void test_job_id_is_its_row(void **st)
{
	(void)st;
	for (int i = 0; i < 3; i++) /* the order runs ahead of the ids */
		assert_true(test_on_pg()
		                    ? db_int(0, "SELECT nextval('roost_order')", NULL) > 0
		                    : db_exec("UPDATE roost_order SET value = value + 1", NULL) == DB_DONE);
	int64_t id = jobs_create(1, 1, 1, "backup", "manual", NULL);
	assert_true(id > 0);
	assert_int_equal(db_int(0, "SELECT MAX(id) FROM jobs", NULL), id);
	assert_int_equal(db_int(0, "SELECT COUNT(*) FROM jobs WHERE id=? AND host_id=1", "i", id), 1);
	assert_true(db_int(0, "SELECT order_seq FROM jobs WHERE id=?", "i", id) != id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fire_handled_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_host_one_dispatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_dispatched_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catchup_once_per_epoch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_deferred_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_claims_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_recorded_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_said_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catchup_stale_epoch_skips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catchup_timer_carries_epoch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_host_claim_coalesces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_twice_sequential, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_rule_by_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job_id_is_its_row, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
