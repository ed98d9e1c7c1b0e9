/* SPDX-License-Identifier: MIT */
/*
 * Several roostd over one store (docs/scale-out.md): instances and their
 * heartbeats (death by TTL, never revived; split brain: stop past the
 * local deadline, a new id after), leases (one holder, epochs fence the
 * old holder, expiry, release), routing (the rule; local when ours or
 * the owner is dead, a poke to a live owner, pokes acted on only at the
 * owner's epoch; the hello's takeover and the previous owner's kick), and
 * the sweeper (a dead instance's hosts let go, their sessions closed at
 * its last heartbeat, a host that reconnected elsewhere untouched). On
 * SQLite and, under tests/pg/with_pg.sh, on PostgreSQL (pokes heard on a
 * LISTEN connection there). Times are the database's: a test ages rows by
 * moving their stored times back rather than sleeping.
 */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "instances.h"
#include "leases.h"
#include "roostd.h"
#include "route.h"
#include "store_url.h"
#include "sweeper.h"

static struct srv S;
static int stopped, renamed_to;
static int64_t acted[ROUTE_NKINDS][2]; /* host, id of the last local action of each kind */
static int nacted[ROUTE_NKINDS];

static void on_stopped(void)
{
	stopped++;
}

static void on_renamed(int64_t id)
{
	renamed_to = (int)id;
}

#define LOCAL(kind, k)                                     \
	static int local_##kind(int64_t h, int64_t id)         \
	{                                                      \
		acted[k][0] = h;                                   \
		acted[k][1] = id;                                  \
		nacted[k]++;                                       \
		return 0;                                          \
	}
LOCAL(job, ROUTE_JOB)
LOCAL(cancel, ROUTE_CANCEL)
LOCAL(config, ROUTE_CONFIG)
LOCAL(pending, ROUTE_PENDING)
LOCAL(kick, ROUTE_KICK)

static int setup(void **st)
{
	(void)st;
	memset(&S, 0, sizeof(S));
	g_srv = &S;
	struct roost_errbuf eb;
	assert_int_equal(store_open(test_store_url(":memory:"), &S.st, &eb), ROOST_OK);
	uint8_t h[AUTH_HASH_LEN] = {0};
	for (int i = 1; i <= 3; i++)
		assert_int_equal(db_exec("INSERT INTO hosts (name, hostname, mode, secret_hash, "
		                         "created_at) VALUES (?, 'x', 'always-on', ?, 1)", "tb",
		                         i == 1 ? "h1" : i == 2 ? "h2" : "h3", h, sizeof(h)),
		                 DB_DONE);
	instances_reset();
	route_forget_all();
	stopped = renamed_to = 0;
	memset(acted, 0, sizeof(acted));
	memset(nacted, 0, sizeof(nacted));
	route_set_local(ROUTE_JOB, local_job);
	route_set_local(ROUTE_CANCEL, local_cancel);
	route_set_local(ROUTE_CONFIG, local_config);
	route_set_local(ROUTE_PENDING, local_pending);
	route_set_local(ROUTE_KICK, local_kick);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	instances_reset();
	route_forget_all();
	store_close(S.st);
	g_srv = NULL;
	return 0;
}

/* This process becomes a new instance (any engine), with ttl_s. */
static int64_t become(int64_t ttl_s)
{
	instances_reset();
	route_forget_all();
	struct instances_config c = {.name = "t", .heartbeat_s = 1, .ttl_s = ttl_s,
	                             .stopped = on_stopped, .renamed = on_renamed,
	                             .force_shared = 1};
	struct roost_errbuf eb = {{0}};
	assert_int_equal(instances_start(&c, &eb), ROOST_OK);
	assert_true(instances_me() > 0);
	return instances_me();
}

static void age_instance(int64_t id, int64_t by)
{
	assert_int_equal(db_exec("UPDATE instances SET heartbeat_at = heartbeat_at - ? WHERE id=?",
	                         "ii", by, id), DB_DONE);
}

static void test_heartbeat_and_death(void **st)
{
	(void)st;
	int64_t a = instances_register("a", ""), b = instances_register("b", "");
	assert_true(a > 0 && b > a);
	int64_t now;
	assert_int_equal(instances_heartbeat(a, 30, &now), 0);
	assert_true(now > 0 && (now - srv_now() < 5 && srv_now() - now < 5));
	assert_true(instances_live(a, 30));
	/* a's heartbeat 31 s old: dead, and never revived by a late heartbeat */
	age_instance(a, 31);
	assert_false(instances_live(a, 30));
	assert_true(instances_live(b, 30));
	assert_int_equal(instances_heartbeat(a, 30, &now), 1);
	int64_t ids[4], beats[4];
	assert_int_equal(instances_reap(30, ids, beats, 4), 1);
	assert_int_equal(ids[0], a);
	assert_int_equal(instances_reap(30, ids, beats, 4), 0); /* once */
	assert_int_equal(db_int(0, "SELECT COUNT(*) FROM instances WHERE state='dead'", ""), 1);
	assert_int_equal(instances_heartbeat(a, 30, &now), 1);
}

/* Split brain: heartbeats fail; before the local deadline it acts on,
 * after it stops (once), then registers a new id when the store answers. */
static void test_split_brain(void **st)
{
	(void)st;
	int64_t first = become(30); /* deadline: 20 s after a good heartbeat's request */
	instances_tick(1000);
	assert_true(instances_acting());
	store_full("UPDATE", "instances");
	instances_tick(10000);
	assert_true(instances_acting());
	assert_int_equal(instances_me(), first);
	instances_tick(21001);
	assert_false(instances_acting());
	assert_int_equal(instances_me(), 0);
	assert_int_equal(stopped, 1);
	store_full_end("instances");
	instances_tick(22000);
	assert_true(instances_acting());
	assert_true(instances_me() > first); /* a new id, never the old one */
	assert_int_equal(renamed_to, instances_me());
	/* declared dead by others (the sweeper): stops at the next beat, deadline or not */
	assert_int_equal(db_exec("UPDATE instances SET state='dead' WHERE id=?", "i",
	                         instances_me()), DB_DONE);
	instances_tick(23000);
	assert_false(instances_acting());
	assert_int_equal(stopped, 2);
}

static void test_leases(void **st)
{
	(void)st;
	assert_int_equal(leases_acquire("maintenance", 1, 60), 1);
	assert_int_equal(leases_acquire("maintenance", 2, 60), 0); /* held */
	assert_int_equal(leases_acquire("maintenance", 1, 60), 1); /* renewed: same epoch */
	assert_true(leases_valid("maintenance", 1, 1));
	assert_int_equal(leases_acquire("sweeper", 2, 60), 1);     /* another name, its own */
	/* expired: the other takes it with a new epoch; the old holder is fenced */
	assert_int_equal(db_exec("UPDATE leases SET expires_at = roost_now() - 1 WHERE "
	                         "name='maintenance'", ""), DB_DONE);
	assert_false(leases_valid("maintenance", 1, 1));
	assert_int_equal(leases_acquire("maintenance", 2, 60), 2);
	assert_false(leases_valid("maintenance", 1, 1));
	assert_true(leases_valid("maintenance", 2, 2));
	assert_int_equal(leases_acquire("maintenance", 1, 60), 0);
	assert_int_equal(leases_release("maintenance", 1, 1), 0); /* not the holder: no effect */
	assert_true(leases_valid("maintenance", 2, 2));
	assert_int_equal(leases_release("maintenance", 2, 2), 0);
	assert_int_equal(leases_acquire("maintenance", 1, 60), 3);
	/* the holder's view: a failed renew keeps it until the local deadline */
	struct lease l = {.name = "webhooks"};
	assert_int_equal(lease_hold(&l, 7, 60, 0), 1);
	assert_int_equal(l.epoch, 1);
	assert_true(lease_ok(&l, 44999));
	assert_false(lease_ok(&l, 45000)); /* 60 - 15 s */
	store_full("UPDATE", "leases");
	assert_int_equal(lease_hold(&l, 7, 60, 30000), 1);
	assert_int_equal(lease_hold(&l, 7, 60, 46000), 0);
	store_full_end("leases");
	assert_int_equal(lease_hold(&l, 8, 60, 47000), 0); /* not expired in the store */
	/* the repository's packs generation */
	assert_int_equal(leases_packs_gen(), 0);
	assert_int_equal(leases_packs_gen_bump(), 1);
	assert_int_equal(leases_packs_gen_bump(), 2);
	assert_int_equal(leases_packs_gen(), 2);
}

static void test_route_rule(void **st)
{
	(void)st;
	assert_int_equal(route_decide(0, 5, 1), ROUTE_LOCAL); /* alone */
	assert_int_equal(route_decide(3, 0, 0), ROUTE_LOCAL); /* nobody's: as one server */
	assert_int_equal(route_decide(3, 3, 1), ROUTE_LOCAL); /* ours */
	assert_int_equal(route_decide(3, 5, 0), ROUTE_LOCAL); /* a dead owner's */
	assert_int_equal(route_decide(3, 5, 1), ROUTE_POKE);
}

/* Waits up to 3 s for a notification on l; its payload into buf, or 0. */
static void heard(void *arg, const char *channel, const char *payload)
{
	(void)channel;
	snprintf(arg, 96, "%s", payload);
}

static int listen_for(struct store *l, char *buf)
{
	buf[0] = 0;
	for (int i = 0; i < 30 && !buf[0]; i++) {
		struct pollfd p = {.fd = store_socket(l), .events = POLLIN};
		poll(&p, 1, 100);
		assert_int_equal(store_notifications(l, heard, buf), 0);
	}
	return buf[0] != 0;
}

static void test_route_and_takeover(void **st)
{
	(void)st;
	int64_t a = become(30);
	/* the hello on a: a owns host 1, epoch 1 */
	assert_int_equal(route_takeover(1, srv_now()), 0);
	assert_int_equal(db_int(0, "SELECT instance_id FROM hosts WHERE id=1", ""), a);
	assert_int_equal(db_int(0, "SELECT conn_epoch FROM hosts WHERE id=1", ""), 1);
	assert_true(db_int(0, "SELECT session_started_at FROM hosts WHERE id=1", "") > 0);
	/* ours, and host 2 nobody's: done here */
	assert_int_equal(route_host(1, ROUTE_JOB, 42, NULL), 0);
	assert_int_equal(nacted[ROUTE_JOB], 1);
	assert_int_equal(acted[ROUTE_JOB][0], 1);
	assert_int_equal(acted[ROUTE_JOB][1], 42);
	assert_int_equal(route_host(2, ROUTE_CONFIG, 0, NULL), 0);
	assert_int_equal(nacted[ROUTE_CONFIG], 1);

	/* the agent reconnects to b: b takes host 1 (epoch 2) and pokes a (kick) */
	struct store *l = NULL;
	char ch[32], got[96];
	if (test_on_pg()) {
		assert_int_equal(store_connect(getenv("ROOST_TEST_PG"), &l, NULL), ROOST_OK);
		route_channel(a, ch, sizeof(ch));
		char sql[64];
		snprintf(sql, sizeof(sql), "LISTEN %s", ch);
		assert_int_equal(store_exec(l, sql), 0);
	}
	int64_t b = become(30);
	assert_true(b != a);
	int rc = route_takeover(1, srv_now());
	if (test_on_pg()) {
		assert_int_equal(rc, 0);
		assert_true(listen_for(l, got));
		assert_string_equal(got, "kick 1 1 2");
	} else {
		assert_int_equal(rc, -1); /* SQLite has no NOTIFY: one instance only */
		assert_int_equal(db_exec("UPDATE hosts SET instance_id=?, conn_epoch=2 WHERE id=1", "i",
		                         b), DB_DONE);
	}
	assert_int_equal(db_int(0, "SELECT instance_id FROM hosts WHERE id=1", ""), b);
	/* a's stale connection closing lets go of nothing (epoch 1 is not the host's) */
	/* (a's own release is checked below as b's) */

	/* back on a (still live): host 1 is b's, so a job for it is a poke to b */
	int64_t bsaved = b;
	instances_reset();
	route_forget_all();
	struct instances_config c = {.name = "a2", .ttl_s = 30, .force_shared = 1};
	struct roost_errbuf eb = {{0}};
	assert_int_equal(instances_start(&c, &eb), ROOST_OK);
	int64_t a2 = instances_me();
	if (test_on_pg()) {
		char sql[64];
		route_channel(bsaved, ch, sizeof(ch));
		snprintf(sql, sizeof(sql), "UNLISTEN *; LISTEN %s", ch);
		assert_int_equal(store_exec(l, sql), 0);
		assert_int_equal(route_host(1, ROUTE_JOB, 77, NULL), 0);
		assert_true(listen_for(l, got));
		assert_string_equal(got, "job 1 77 2");
	} else {
		assert_int_equal(route_host(1, ROUTE_JOB, 77, NULL), -1); /* the poke can not be sent */
	}
	assert_int_equal(nacted[ROUTE_JOB], 1); /* not done here */
	/* b dies: its hosts are done here (as one server: the next hello does the rest) */
	age_instance(bsaved, 31);
	assert_int_equal(route_host(1, ROUTE_JOB, 78, NULL), 0);
	assert_int_equal(nacted[ROUTE_JOB], 2);
	assert_int_equal(acted[ROUTE_JOB][1], 78);
	store_close(l);

	/* pokes received by a2 for its host 3 (epoch 1): acted on only at that epoch */
	assert_int_equal(route_takeover(3, srv_now()), 0);
	assert_int_equal(db_exec("UPDATE hosts SET instance_id=?, conn_epoch=1 WHERE id=3", "i", a2),
	                 DB_DONE);
	route_on_notify("x", "cancel 3 9 0"); /* an older connection's: stale */
	assert_int_equal(nacted[ROUTE_CANCEL], 0);
	route_on_notify("x", "cancel 3 9 1");
	assert_int_equal(nacted[ROUTE_CANCEL], 1);
	assert_int_equal(acted[ROUTE_CANCEL][1], 9);
	route_on_notify("x", "pending 1 0 2"); /* host 1 is not a2's */
	assert_int_equal(nacted[ROUTE_PENDING], 0);
	route_on_notify("x", "bogus 1 0 2");
	route_on_notify("x", "job 1");
	/* a kick: acted on when another took the host (moved) or it is gone */
	route_on_notify("x", "kick 3 1 2"); /* host 3 is a2's: a stale kick */
	assert_int_equal(nacted[ROUTE_KICK], 0);
	route_on_notify("x", "kick 1 1 2");
	assert_int_equal(nacted[ROUTE_KICK], 1);
	assert_int_equal(acted[ROUTE_KICK][1], 1);
	route_on_notify("x", "kick 99 0 0");
	assert_int_equal(nacted[ROUTE_KICK], 2);
	assert_int_equal(acted[ROUTE_KICK][1], 0); /* removed */
}

static void test_release_by_epoch(void **st)
{
	(void)st;
	int64_t a = become(30);
	assert_int_equal(route_takeover(2, srv_now()), 0);
	assert_int_equal(db_int(0, "SELECT instance_id FROM hosts WHERE id=2", ""), a);
	/* another instance took it meanwhile (epoch 2): a's disconnect lets go of nothing */
	assert_int_equal(db_exec("UPDATE hosts SET instance_id=999, conn_epoch=2 WHERE id=2", ""),
	                 DB_DONE);
	route_release(2);
	assert_int_equal(db_int(0, "SELECT instance_id FROM hosts WHERE id=2", ""), 999);
	/* its own session: let go */
	assert_int_equal(route_takeover(3, srv_now()), 0);
	assert_int_equal(db_int(0, "SELECT instance_id FROM hosts WHERE id=3", ""), a);
	route_release(3);
	assert_int_equal(db_int(-1, "SELECT COUNT(*) FROM hosts WHERE id=3 AND instance_id IS NULL "
	                            "AND session_started_at IS NULL", ""), 1);
	/* alone (SQLite's roostd): no owner written, the session's epoch all the same */
	instances_reset();
	assert_int_equal(route_takeover(1, srv_now()), 0);
	assert_int_equal(db_int(-1, "SELECT COUNT(*) FROM hosts WHERE id=1 AND instance_id IS NULL "
	                            "AND conn_epoch=1 AND session_started_at > 0", ""), 1);
	assert_int_equal(route_epoch(1), 1);
	route_release(1);
	assert_int_equal(route_epoch(1), 0);
	assert_int_equal(db_int(-1, "SELECT COUNT(*) FROM hosts WHERE id=1 AND "
	                            "session_started_at IS NULL", ""), 1);
	assert_int_equal(route_host(1, ROUTE_KICK, 0, NULL), 0);
	assert_int_equal(nacted[ROUTE_KICK], 1);
}

static void test_sweeper(void **st)
{
	(void)st;
	int64_t dead = instances_register("dead", "");
	int64_t other = instances_register("other", "");
	int64_t me = become(30);
	/* the dead instance owned hosts 1 and 2 (sessions from 1000 s ago); host 2
	 * reconnected to `other` since; host 3 is me's */
	int64_t t = instances_db_now();
	assert_int_equal(db_exec("UPDATE hosts SET instance_id=?, conn_epoch=4, session_started_at=?"
	                         " WHERE id IN (1, 2)", "ii", dead, t - 1000), DB_DONE);
	assert_int_equal(db_exec("UPDATE hosts SET instance_id=?, conn_epoch=5 WHERE id=2", "i",
	                         other), DB_DONE);
	assert_int_equal(db_exec("UPDATE hosts SET instance_id=?, conn_epoch=1 WHERE id=3", "i", me),
	                 DB_DONE);
	/* nobody is dead yet: nothing let go */
	assert_int_equal(sweeper_run(me, 0), 0);
	age_instance(dead, 100);
	int64_t last_beat = db_int(0, "SELECT heartbeat_at FROM instances WHERE id=?", "i", dead);
	/* without the lease: nothing */
	assert_int_equal(leases_acquire("sweeper", 12345, 60), 0); /* me holds it already */
	assert_int_equal(sweeper_run(12345, 0), -1);
	assert_int_equal(sweeper_run(me, 1000), 1);
	assert_int_equal(db_int(0, "SELECT state = 'dead' FROM instances WHERE id=?", "i", dead), 1);
	assert_int_equal(db_int(-1, "SELECT COUNT(*) FROM hosts WHERE id=1 AND instance_id IS NULL "
	                            "AND conn_epoch=5 AND session_started_at IS NULL", ""), 1);
	assert_int_equal(db_int(0, "SELECT instance_id FROM hosts WHERE id=2", ""), other);
	assert_int_equal(db_int(0, "SELECT conn_epoch FROM hosts WHERE id=2", ""), 5);
	assert_int_equal(db_int(0, "SELECT instance_id FROM hosts WHERE id=3", ""), me);
	assert_int_equal(db_int(0, "SELECT COUNT(*) FROM host_sessions WHERE host_id=1 AND "
	                           "started_at=? AND ended_at=?", "ii", t - 1000, last_beat), 1);
	assert_int_equal(db_int(0, "SELECT COUNT(*) FROM host_sessions", ""), 1);
	/* again: nothing more */
	assert_int_equal(sweeper_run(me, 2000), 0);
	assert_int_equal(db_int(0, "SELECT COUNT(*) FROM host_sessions", ""), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_heartbeat_and_death, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_brain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leases, setup, teardown),
		cmocka_unit_test(test_route_rule),
		cmocka_unit_test_setup_teardown(test_route_and_takeover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_by_epoch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweeper, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
