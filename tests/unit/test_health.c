/* SPDX-License-Identifier: MIT */
/*
 * Host health (server/health.c) and its announcements (server/healthwatch.c)
 * with an injected clock: the rule on its own, then the store's facts for an
 * always-on and an intermittent host through their transitions, the laptop
 * offline across three windows (unseen, never overdue), the laptop online but
 * not finishing (overdue), and the flap limit on health events.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "events.h"
#include "health.h"
#include "healthwatch.h"
#include "presence.h"
#include "roost/timeutil.h"
#include "roostd.h"
#include "store_url.h"

static struct srv S;
static int online[8];

static int64_t T(const char *s)
{
	int64_t t;
	assert_int_equal(roost_time_parse(s, &t, NULL), ROOST_OK);
	return t;
}

static int fake_online(int64_t h)
{
	return h > 0 && h < 8 && online[h];
}

static int fake_send(int64_t h, json_t *m)
{
	(void)h;
	(void)m;
	return 0;
}

#define H 3600
#define DAY 86400

static int64_t T0; /* Monday 2026-11-23 00:00 UTC: hosts enrolled, schedules made */

static int setup(void **st)
{
	(void)st;
	memset(&S, 0, sizeof(S));
	memset(online, 0, sizeof(online));
	g_srv = &S;
	struct roost_errbuf eb;
	assert_int_equal(store_open(test_store_url(":memory:"), &S.st, &eb), ROOST_OK);
	T0 = T("2026-11-23T00:00:00Z");
	S.fake_now = T0;
	S.online_hook = fake_online;
	S.send_hook = fake_send;
	S.overdue_grace_s = H;
	S.unseen_after_s = 7 * DAY;
	S.health_flap_s = 600;
	uint8_t h[AUTH_HASH_LEN] = {0};
	assert_int_equal(db_exec("INSERT INTO hosts (id, name, hostname, mode, secret_hash, created_at,"
	                         " last_seen_at) VALUES (1, 'srv', 'srv', 'always-on', ?, ?, ?), "
	                         "(2, 'lap', 'lap', 'intermittent', ?, ?, ?)", "biibii", h, sizeof(h),
	                         T0, T0, h, sizeof(h), T0, T0),
	                 DB_DONE);
	assert_int_equal(db_exec("INSERT INTO source_groups (id, host_id, name, paths) VALUES "
	                         "(1, 1, 'etc', '[\"/etc\"]'), (2, 2, 'docs', '[\"/d\"]')", NULL),
	                 DB_DONE);
	assert_int_equal(db_exec("INSERT INTO schedules (id, host_id, name, cron, created_at) VALUES "
	                         "(1, 1, 'nightly', '0 3 * * *', ?), (2, 2, 'daily', '0 3 * * *', ?)",
	                         "ii", T0, T0),
	                 DB_DONE);
	assert_int_equal(db_exec("INSERT INTO schedule_groups VALUES (1, 1), (2, 2)", NULL),
	                 DB_DONE);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	presence_release();
	store_close(S.st);
	g_srv = NULL;
	return 0;
}

static enum health at(int64_t host, int64_t now)
{
	S.fake_now = now;
	struct health_verdict v;
	assert_int_equal(health_of(host, now, &v, NULL), 0);
	return v.state;
}

static void succeed(int64_t host, int64_t sched, int64_t group, int64_t started)
{
	assert_int_equal(db_exec("INSERT INTO jobs (host_id, schedule_id, group_id, kind, trigger, "
	                         "status, created_at, started_at, finished_at) VALUES (?, ?, ?, "
	                         "'backup', 'schedule', 'succeeded', ?, ?, ?)", "iiiiii", host, sched,
	                         group, started, started, started + 60),
	                 DB_DONE);
	assert_int_equal(db_exec("INSERT INTO group_success VALUES (?, ?, ?) ON CONFLICT "
	                         "(schedule_id, group_id) DO UPDATE SET last_success_at = "
	                         "excluded.last_success_at", "iii", sched, group, started),
	                 DB_DONE);
	assert_int_equal(db_exec("UPDATE hosts SET last_backup_at=? WHERE id=?", "ii", started + 60,
	                         host),
	                 DB_DONE);
}

static void end_job(int64_t host, const char *status, int64_t t)
{
	assert_int_equal(db_exec("INSERT INTO jobs (host_id, schedule_id, group_id, kind, trigger, "
	                         "status, created_at, started_at, finished_at) VALUES (?, NULL, NULL, "
	                         "'backup', 'catchup', ?, ?, ?, ?)", "itiii", host, status, t, t, t + 5),
	                 DB_DONE);
}

/* the rule alone: precedence and both modes */
static void test_rule(void **st)
{
	(void)st;
	struct health_pair p = {.schedule_id = 1, .group_id = 1, .schedule = "s", .group = "g",
	                        .missed = 1000};
	struct health_facts f = {.now = 1000 + H, .online = 1, .created_at = 0, .last_seen = 1000 + H,
	                         .last_backup = 500, .pairs = &p, .npairs = 1, .grace_s = H,
	                         .unseen_after_s = 7 * DAY};
	struct health_verdict v;
	assert_int_equal(health_eval(&f, &v), HEALTH_OVERDUE); /* always-on: grace after the window */
	assert_ptr_equal(v.pair, &p);
	assert_int_equal(v.since, 1000 + H);
	f.now = 1000 + H - 1;
	assert_int_equal(health_eval(&f, &v), HEALTH_OK);
	f.intermittent = 1; /* online only 59:59 since the window */
	f.now = 1000 + 10 * DAY;
	f.last_seen = f.now;
	p.online_s = H - 1;
	assert_int_equal(health_eval(&f, &v), HEALTH_OK);
	p.online_s = H;
	assert_int_equal(health_eval(&f, &v), HEALTH_OVERDUE);
	f.failed_streak = 3; /* failing beats overdue */
	assert_int_equal(health_eval(&f, &v), HEALTH_FAILING);
	f.online = 0; /* unseen beats failing */
	f.last_seen = f.now - 7 * DAY;
	assert_int_equal(health_eval(&f, &v), HEALTH_UNSEEN);
	assert_int_equal(v.since, f.now);
	f.failed_streak = 2;
	f.last_seen = f.now - 7 * DAY + 1;
	p.missed = 0;
	f.last_backup = 0;
	assert_int_equal(health_eval(&f, &v), HEALTH_NEVER);
	assert_string_equal(health_name(HEALTH_NEVER), "never");
	assert_int_equal(health_parse("failing"), HEALTH_FAILING);
	assert_int_equal(health_parse("nope"), -1);
}

/* always-on: never -> (window + grace) overdue -> ok -> overdue -> failing -> unseen */
static void test_always_on(void **st)
{
	(void)st;
	online[1] = 1;
	int64_t w1 = T("2026-11-23T03:00:00Z");
	assert_int_equal(at(1, T0 + H), HEALTH_NEVER);
	assert_int_equal(at(1, w1 + H - 1), HEALTH_NEVER); /* missed, but within the grace */
	assert_int_equal(at(1, w1 + H), HEALTH_OVERDUE);
	json_t *d;
	struct health_verdict v;
	assert_int_equal(health_of(1, w1 + H, &v, &d), 0);
	json_t *r = json_object_get(d, "health_reason");
	assert_string_equal(json_string_value(json_object_get(r, "schedule")), "nightly");
	assert_string_equal(json_string_value(json_object_get(r, "group")), "etc");
	assert_string_equal(json_string_value(json_object_get(r, "missed_at")), "2026-11-23T03:00:00Z");
	json_t *b = json_array_get(json_object_get(d, "backups"), 0);
	assert_string_equal(json_string_value(json_object_get(b, "next_due_at")),
	                    "2026-11-24T03:00:00Z");
	json_decref(d);
	succeed(1, 1, 1, w1 + H + 60);
	assert_int_equal(at(1, w1 + H + 200), HEALTH_OK);
	assert_int_equal(at(1, w1 + DAY + H - 1), HEALTH_OK);
	assert_int_equal(at(1, w1 + DAY + H), HEALTH_OVERDUE); /* the next night was missed */
	for (int i = 0; i < 3; i++)
		end_job(1, "failed", w1 + DAY + 2 * H + i * 60);
	assert_int_equal(at(1, w1 + DAY + 3 * H), HEALTH_FAILING);
	end_job(1, "interrupted", w1 + DAY + 3 * H); /* not a failure, not a success */
	assert_int_equal(at(1, w1 + DAY + 3 * H + 60), HEALTH_FAILING);
	succeed(1, 1, 1, w1 + DAY + 4 * H);
	assert_int_equal(at(1, w1 + DAY + 4 * H + 120), HEALTH_OK);
	/* the machine goes away: unseen 7 days after it was last heard from */
	online[1] = 0;
	presence_gone(1, w1 + DAY + 5 * H);
	assert_int_equal(at(1, w1 + DAY + 5 * H + 7 * DAY - 1), HEALTH_OVERDUE);
	assert_int_equal(at(1, w1 + DAY + 5 * H + 7 * DAY), HEALTH_UNSEEN);
}

/* intermittent: asleep across three windows -> ok, then unseen; never overdue */
static void test_laptop_offline_three_windows(void **st)
{
	(void)st;
	int64_t w1 = T("2026-11-23T03:00:00Z");
	online[2] = 1;
	presence_hello(2, T0 + 60);
	succeed(2, 2, 2, w1 + 60);
	online[2] = 0;
	presence_gone(2, w1 + H);
	/* the windows of the 24th, 25th and 26th pass while the lid is closed */
	for (int64_t t = w1 + DAY; t < w1 + 7 * DAY + H; t += H) {
		enum health h = at(2, t);
		assert_int_not_equal(h, HEALTH_OVERDUE);
		assert_int_equal(h, t - (w1 + H) >= 7 * DAY ? HEALTH_UNSEEN : HEALTH_OK);
	}
	assert_int_equal(at(2, w1 + H + 7 * DAY), HEALTH_UNSEEN);
}

/* intermittent: back online, but its backups never finish -> overdue after an hour online */
static void test_laptop_online_not_finishing(void **st)
{
	(void)st;
	int64_t w1 = T("2026-11-23T03:00:00Z");
	online[2] = 1;
	presence_hello(2, T0 + 60);
	succeed(2, 2, 2, w1 + 60);
	online[2] = 0;
	presence_gone(2, w1 + H);
	int64_t back = w1 + 3 * DAY + 7 * H; /* Thursday 10:00 */
	online[2] = 1;
	presence_hello(2, back);
	assert_int_equal(db_exec("UPDATE hosts SET last_seen_at=? WHERE id=2", "i", back), DB_DONE);
	end_job(2, "interrupted", back + 120);
	assert_int_equal(at(2, back + 30 * 60), HEALTH_OK);
	/* the lid closes for 2 hours after 40 minutes: those do not count */
	online[2] = 0;
	presence_gone(2, back + 40 * 60);
	assert_int_equal(at(2, back + 2 * H), HEALTH_OK);
	online[2] = 1;
	presence_hello(2, back + 2 * H + 40 * 60);
	end_job(2, "interrupted", back + 2 * H + 45 * 60);
	assert_int_equal(at(2, back + 2 * H + 40 * 60 + 19 * 60), HEALTH_OK); /* 59 min online */
	assert_int_equal(at(2, back + 2 * H + 40 * 60 + 20 * 60), HEALTH_OVERDUE); /* 60 */
	/* it finally finishes one: ok */
	succeed(2, 2, 2, back + 4 * H);
	assert_int_equal(at(2, back + 4 * H + 60), HEALTH_OK);
}

/* the flap limit, pure */
static void test_flap_rule(void **st)
{
	(void)st;
	struct health_said s = {.said = -1};
	int held;
	int64_t t = 100000;
	assert_null(healthwatch_decide(&s, HEALTH_NEVER, 0, t, 600, &held));
	assert_null(healthwatch_decide(&s, HEALTH_OK, 1, t + 1, 600, &held)); /* never -> ok: quiet */
	assert_string_equal(healthwatch_decide(&s, HEALTH_OVERDUE, 1, t + 2, 600, &held),
	                    "host.overdue");
	assert_int_equal(held, 0);
	assert_null(healthwatch_decide(&s, HEALTH_OK, 1, t + 60, 600, &held)); /* held */
	assert_null(healthwatch_decide(&s, HEALTH_OVERDUE, 1, t + 120, 600, &held));
	assert_null(healthwatch_decide(&s, HEALTH_OK, 1, t + 180, 600, &held));
	assert_null(healthwatch_decide(&s, HEALTH_OK, 0, t + 300, 600, &held));
	assert_int_equal(s.held, 3);
	const char *ty = healthwatch_decide(&s, HEALTH_OK, 0, t + 602, 600, &held);
	assert_string_equal(ty, "host.recovered");
	assert_int_equal(held, 3);
	assert_null(healthwatch_decide(&s, HEALTH_OK, 0, t + 2000, 600, &held));
	assert_string_equal(healthwatch_decide(&s, HEALTH_UNSEEN, 1, t + 3000, 600, &held),
	                    "host.unseen");
}

/* through the store: one event per change, none repeated, flapping held and said */
static void test_watch_events(void **st)
{
	(void)st;
	online[1] = 1;
	int64_t w1 = T("2026-11-23T03:00:00Z");
	healthwatch_host(1, w1 + H - 1);
	healthwatch_host(1, w1 + H);
	healthwatch_host(1, w1 + H + 1);
	healthwatch_host(1, w1 + H + 2);
	assert_int_equal(db_int(0, "SELECT COUNT(*) FROM events WHERE type='host.overdue'", NULL), 1);
	succeed(1, 1, 1, w1 + H + 100);
	healthwatch_host(1, w1 + H + 200); /* ok within 10 minutes: held */
	assert_int_equal(db_int(0, "SELECT COUNT(*) FROM events", NULL), 1);
	healthwatch_host(1, w1 + H + 700); /* the window has passed: recovered, saying so */
	assert_int_equal(db_int(0, "SELECT COUNT(*) FROM events WHERE type='host.recovered'", NULL),
	                 1);
	json_t *evs = events_list(0, 10);
	json_t *rec = json_array_get(evs, 1);
	assert_string_equal(json_string_value(json_object_get(rec, "type")), "host.recovered");
	json_t *data = json_object_get(rec, "data");
	assert_true(json_is_true(json_object_get(data, "rate_limited")));
	assert_int_equal(json_integer_value(json_object_get(data, "changes_held")), 1);
	assert_string_equal(json_string_value(json_object_get(json_object_get(rec, "host"), "name")),
	                    "srv");
	json_decref(evs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule),
		cmocka_unit_test_setup_teardown(test_always_on, setup, teardown),
		cmocka_unit_test_setup_teardown(test_laptop_offline_three_windows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_laptop_online_not_finishing, setup, teardown),
		cmocka_unit_test(test_flap_rule),
		cmocka_unit_test_setup_teardown(test_watch_events, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
