/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the agent's local cron (agent/cronrun.c): which slot fires
 * when, for always-on and intermittent hosts, across a stop of the agent,
 * a slept-through gap and DST changes, with cursors and fires persisted in
 * a temporary state directory. Every expected instant below is computed by
 * hand (noted next to it), never with lib/cron.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent.h"
#include "roost/timeutil.h"

static int64_t T(const char *s)
{
	int64_t t;
	struct roost_errbuf eb;
	if (roost_time_parse(s, &t, &eb))
		fail_msg("bad time %s: %s", s, eb.msg);
	return t;
}

/* ---- a state directory per test ---- */

struct fix {
	char dir[64];
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_cronrun.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	DIR *d = opendir(f->dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char p[400];
		snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A file of the state directory, read without cronrun. */
static json_t *file(struct fix *f, const char *name)
{
	char p[400];
	snprintf(p, sizeof(p), "%s/%s", f->dir, name);
	json_t *j = json_load_file(p, 0, NULL);
	if (!j)
		fail_msg("%s: missing or unreadable", p);
	return j;
}

/* ---- configs: written as the server sends them, decoded by lib/proto as the agent does ---- */

static json_t *sched(int64_t id, const char *cron, int enabled)
{
	return json_pack("{s:I, s:I, s:s, s:b, s:[i]}", "id", (json_int_t)id, "host_id",
	                 (json_int_t)1, "cron", cron, "enabled", enabled, "group_ids", 1);
}

/* mode "always-on" or "intermittent", then NULL-terminated schedules
 * (stolen); the config message decoded (cfg_free). */
static struct proto_config *config(const char *mode, ...)
{
	json_t *arr = json_array();
	va_list ap;
	va_start(ap, mode);
	json_t *s;
	while ((s = va_arg(ap, json_t *)))
		json_array_append_new(arr, s);
	va_end(ap);
	json_t *o = json_pack("{s:s, s:i, s:s, s:o, s:[]}", "type", "config", "host_id", 1, "mode",
	                      mode, "schedules", arr, "groups");
	struct proto_server_msg m;
	struct roost_errbuf eb = {{0}};
	if (proto_decode_server_json(o, &m, &eb) || m.type != PROTO_CONFIG)
		fail_msg("config: %s", eb.msg);
	json_decref(o);
	struct proto_config *c = malloc(sizeof(*c));
	assert_non_null(c);
	*c = m.config;
	return c;
}

static void cfg_free(struct proto_config *c)
{
	proto_config_release(c);
	free(c);
}

/* ---- the sink: records what the connection would have been given ---- */

struct sink {
	int live; /* what the sink answers: 1 sent now, 0 for the next hello */
	int n;
	int64_t id[64];
	char slot[64][40];
};

static int record(void *ctx, const struct proto_fire *f)
{
	struct sink *s = ctx;
	if (s->n < 64) {
		s->id[s->n] = f->schedule_id;
		roost_time_format(f->slot, s->slot[s->n], sizeof(s->slot[0]));
	}
	s->n++;
	return s->live;
}

static void expect_fire(const struct sink *s, int i, int64_t id, const char *slot)
{
	if (i >= s->n)
		fail_msg("fire %d missing (%d fires)", i, s->n);
	assert_int_equal(s->id[i], id);
	assert_string_equal(s->slot[i], slot);
}

/* Ticks every `step` seconds in [from, to], as the agent's 250 ms tick would. */
static void tick_range(struct cronrun *cr, int64_t from, int64_t to, int step, struct sink *s)
{
	for (int64_t t = from; t <= to; t += step)
		cronrun_tick(cr, t, record, s);
}

/* Is {schedule_id, slot} among the fires cronrun keeps for the next hello? */
static int has_kept_fire(const struct cronrun *cr, int64_t id, const char *slot)
{
	size_t n;
	const struct proto_fire *f = cronrun_fires(cr, &n);
	for (size_t i = 0; i < n; i++)
		if (f[i].schedule_id == id && f[i].slot == T(slot))
			return 1;
	return 0;
}

static size_t nkept(const struct cronrun *cr)
{
	size_t n;
	cronrun_fires(cr, &n);
	return n;
}

/* Is {schedule_id, slot} among the persisted fires? */
static int has_fire(json_t *fires, int64_t id, const char *slot)
{
	size_t i;
	json_t *f;
	json_array_foreach(fires, i, f) {
		if (json_integer_value(json_object_get(f, "schedule_id")) == id &&
		    !strcmp(json_string_value(json_object_get(f, "slot")) ?: "", slot))
			return 1;
	}
	return 0;
}

/* ---- on time ---- */

/* An always-on host fires the slot at its time, once, and persists it even
 * when it is sent at once; an invalid expression does not stop the others. */
static void test_fires_on_time(void **state)
{
	struct fix *f = *state;
	struct proto_config *cfg = config("always-on", sched(7, "0 * * * *", 1), sched(8, "61 * * * *", 1),
	                     NULL);
	struct cronrun *cr = cronrun_open(f->dir, NULL, cfg, T("2026-06-01T09:59:00Z"));
	assert_non_null(cr);
	struct sink s = {.live = 1};
	cronrun_tick(cr, T("2026-06-01T09:59:59Z"), record, &s);
	assert_int_equal(s.n, 0);
	cronrun_tick(cr, T("2026-06-01T10:00:00Z"), record, &s);
	cronrun_tick(cr, T("2026-06-01T10:00:00Z"), record, &s); /* the next 250 ms tick */
	cronrun_tick(cr, T("2026-06-01T10:00:01Z"), record, &s);
	cronrun_tick(cr, T("2026-06-01T10:59:59Z"), record, &s);
	assert_int_equal(s.n, 1);
	expect_fire(&s, 0, 7, "2026-06-01T10:00:00Z");
	json_t *fires = file(f, "fires.json");
	assert_int_equal(json_array_size(fires), 1);
	assert_true(has_fire(fires, 7, "2026-06-01T10:00:00Z"));
	json_decref(fires);
	cronrun_free(cr);
	cfg_free(cfg);
}

/* ---- the agent was stopped ---- */

/* Always-on: the slots missed while the agent was stopped coalesce into one
 * fire, the latest (09:00, 10:00, 11:00 missed: 11:00), at the first tick. */
static void test_missed_while_stopped_always_on(void **state)
{
	struct fix *f = *state;
	struct proto_config *cfg = config("always-on", sched(7, "0 * * * *", 1), NULL);
	struct sink s = {.live = 0};
	struct cronrun *cr = cronrun_open(f->dir, NULL, cfg, T("2026-06-01T08:10:00Z"));
	cronrun_tick(cr, T("2026-06-01T08:10:00Z"), record, &s);
	cronrun_free(cr); /* stopped at 08:10 */
	cr = cronrun_open(f->dir, NULL, cfg, T("2026-06-01T11:20:00Z"));
	cronrun_tick(cr, T("2026-06-01T11:20:00Z"), record, &s);
	cronrun_tick(cr, T("2026-06-01T11:20:01Z"), record, &s);
	assert_int_equal(s.n, 1);
	expect_fire(&s, 0, 7, "2026-06-01T11:00:00Z");
	/* offline: it waits in fires.json for the next hello */
	assert_true(has_kept_fire(cr, 7, "2026-06-01T11:00:00Z"));
	json_t *fires = file(f, "fires.json");
	assert_int_equal(json_array_size(fires), 1);
	assert_true(has_fire(fires, 7, "2026-06-01T11:00:00Z"));
	json_decref(fires);
	cronrun_free(cr);
	cfg_free(cfg);
}

/* Intermittent: nothing missed while stopped fires (the server's catch-up
 * owns it); the next slot fires normally. */
static void test_missed_while_stopped_intermittent(void **state)
{
	struct fix *f = *state;
	struct proto_config *cfg = config("intermittent", sched(7, "0 * * * *", 1), NULL);
	struct sink s = {.live = 1};
	struct cronrun *cr = cronrun_open(f->dir, NULL, cfg, T("2026-06-01T08:10:00Z"));
	cronrun_tick(cr, T("2026-06-01T08:10:00Z"), record, &s);
	cronrun_free(cr);
	cr = cronrun_open(f->dir, NULL, cfg, T("2026-06-01T11:00:03Z"));
	/* 11:00 is only 3 s old, but it was missed while stopped: no fire either */
	tick_range(cr, T("2026-06-01T11:00:03Z"), T("2026-06-01T11:59:59Z"), 1, &s);
	assert_int_equal(s.n, 0);
	assert_int_equal(nkept(cr), 0);
	cronrun_tick(cr, T("2026-06-01T12:00:00Z"), record, &s);
	assert_int_equal(s.n, 1);
	expect_fire(&s, 0, 7, "2026-06-01T12:00:00Z");
	cronrun_free(cr);
	cfg_free(cfg);
}

/* ---- the slept-through gap (the agent ran, the machine slept) ---- */

/* Intermittent: a slot found up to 5 s late fires, one found 6 s late is
 * skipped for good (the cursor moves past it); the next one fires. */
static void test_slept_through_intermittent(void **state)
{
	struct fix *f = *state;
	struct proto_config *cfg = config("intermittent", sched(7, "0 * * * *", 1), NULL);
	struct sink s = {.live = 1};
	struct cronrun *cr = cronrun_open(f->dir, NULL, cfg, T("2026-06-01T09:30:00Z"));
	cronrun_tick(cr, T("2026-06-01T10:00:05Z"), record, &s); /* asleep 09:30 .. 10:00:05 */
	assert_int_equal(s.n, 1);
	expect_fire(&s, 0, 7, "2026-06-01T10:00:00Z");
	cronrun_tick(cr, T("2026-06-01T11:00:06Z"), record, &s); /* asleep .. 11:00:06 */
	cronrun_tick(cr, T("2026-06-01T11:00:07Z"), record, &s);
	cronrun_tick(cr, T("2026-06-01T11:30:00Z"), record, &s);
	assert_int_equal(s.n, 1);
	json_t *fires = file(f, "fires.json");
	assert_int_equal(json_array_size(fires), 1);
	assert_false(has_fire(fires, 7, "2026-06-01T11:00:00Z"));
	json_decref(fires);
	cronrun_tick(cr, T("2026-06-01T12:00:00Z"), record, &s);
	assert_int_equal(s.n, 2);
	expect_fire(&s, 1, 7, "2026-06-01T12:00:00Z");
	cronrun_free(cr);
	cfg_free(cfg);
}

/* Always-on: however late, the latest slot of the gap fires once (11:00,
 * 12:00, 13:00, 14:00 slept through: 14:00). */
static void test_slept_through_always_on(void **state)
{
	struct fix *f = *state;
	struct proto_config *cfg = config("always-on", sched(7, "0 * * * *", 1), NULL);
	struct sink s = {.live = 1};
	struct cronrun *cr = cronrun_open(f->dir, NULL, cfg, T("2026-06-01T09:30:00Z"));
	cronrun_tick(cr, T("2026-06-01T10:00:05Z"), record, &s);
	cronrun_tick(cr, T("2026-06-01T14:20:00Z"), record, &s);
	cronrun_tick(cr, T("2026-06-01T14:20:01Z"), record, &s);
	assert_int_equal(s.n, 2);
	expect_fire(&s, 0, 7, "2026-06-01T10:00:00Z");
	expect_fire(&s, 1, 7, "2026-06-01T14:00:00Z");
	cronrun_free(cr);
	cfg_free(cfg);
}

/* ---- persistence ---- */

/* The cursor is on disk after a fire; after a restart the fired slot is not
 * fired again, the unsent fire is still there for the hello, and the next
 * slot fires. */
static void test_cursor_survives_restart(void **state)
{
	struct fix *f = *state;
	struct proto_config *cfg = config("always-on", sched(7, "0 * * * *", 1), NULL);
	struct sink s = {.live = 0};
	struct cronrun *cr = cronrun_open(f->dir, NULL, cfg, T("2026-06-01T09:30:00Z"));
	json_t *cur = file(f, "cursor.json");
	assert_int_equal(json_integer_value(json_object_get(cur, "7")), T("2026-06-01T09:30:00Z"));
	json_decref(cur);
	cronrun_tick(cr, T("2026-06-01T10:00:00Z"), record, &s);
	assert_int_equal(s.n, 1);
	cur = file(f, "cursor.json");
	assert_int_equal(json_integer_value(json_object_get(cur, "7")), T("2026-06-01T10:00:00Z"));
	json_decref(cur);
	cronrun_free(cr);

	cr = cronrun_open(f->dir, NULL, cfg, T("2026-06-01T10:30:00Z"));
	assert_int_equal(nkept(cr), 1);
	assert_true(has_kept_fire(cr, 7, "2026-06-01T10:00:00Z"));
	tick_range(cr, T("2026-06-01T10:30:00Z"), T("2026-06-01T10:59:00Z"), 60, &s);
	assert_int_equal(s.n, 1);
	cronrun_tick(cr, T("2026-06-01T11:00:00Z"), record, &s);
	assert_int_equal(s.n, 2);
	expect_fire(&s, 1, 7, "2026-06-01T11:00:00Z");
	json_t *fires = file(f, "fires.json");
	assert_int_equal(json_array_size(fires), 2);
	assert_true(has_fire(fires, 7, "2026-06-01T10:00:00Z"));
	assert_true(has_fire(fires, 7, "2026-06-01T11:00:00Z"));
	json_decref(fires);
	cronrun_free(cr);
	cfg_free(cfg);
}

/* A schedule first seen in a new config starts at that moment (8 does not
 * fire 10:00, which 7, known since 09:30, does); a disabled one moves its
 * cursor without firing, so enabling it later does not fire the past. */
static void test_new_and_disabled_schedules(void **state)
{
	struct fix *f = *state;
	struct proto_config *cfg1 = config("always-on", sched(7, "0 * * * *", 1), sched(9, "0 * * * *", 0),
	                      NULL);
	struct proto_config *cfg2 = config("always-on", sched(7, "0 * * * *", 1), sched(8, "0 * * * *", 1),
	                      sched(9, "0 * * * *", 0), NULL);
	struct proto_config *cfg3 = config("always-on", sched(9, "0 * * * *", 1), NULL);
	struct sink s = {.live = 1};
	struct cronrun *cr = cronrun_open(f->dir, NULL, cfg1, T("2026-06-01T09:30:00Z"));
	cronrun_load(cr, cfg2, T("2026-06-01T10:10:00Z"));
	cronrun_tick(cr, T("2026-06-01T10:10:00Z"), record, &s);
	assert_int_equal(s.n, 1);
	expect_fire(&s, 0, 7, "2026-06-01T10:00:00Z");
	cronrun_load(cr, cfg3, T("2026-06-01T10:20:00Z"));
	cronrun_tick(cr, T("2026-06-01T10:20:00Z"), record, &s);
	assert_int_equal(s.n, 1);
	cronrun_tick(cr, T("2026-06-01T11:00:00Z"), record, &s);
	assert_int_equal(s.n, 2);
	expect_fire(&s, 1, 9, "2026-06-01T11:00:00Z");
	cronrun_free(cr);
	cfg_free(cfg1);
	cfg_free(cfg2);
	cfg_free(cfg3);
}

/* Persisted fires older than 7 days are dropped when a new one is added:
 * daily fires Jan 2 .. Jan 11 leave Jan 4 .. Jan 11 (Jan 4 is exactly 7
 * days before Jan 11 and stays). */
static void test_old_fires_pruned(void **state)
{
	struct fix *f = *state;
	struct proto_config *cfg = config("always-on", sched(7, "0 0 * * *", 1), NULL);
	struct sink s = {.live = 0};
	struct cronrun *cr = cronrun_open(f->dir, NULL, cfg, T("2026-01-01T12:00:00Z"));
	tick_range(cr, T("2026-01-02T00:00:00Z"), T("2026-01-11T00:00:00Z"), 86400, &s);
	assert_int_equal(s.n, 10);
	json_t *fires = file(f, "fires.json");
	assert_int_equal(json_array_size(fires), 8);
	assert_false(has_fire(fires, 7, "2026-01-03T00:00:00Z"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(fires, 0), "slot")),
	                    "2026-01-04T00:00:00Z");
	assert_true(has_fire(fires, 7, "2026-01-11T00:00:00Z"));
	json_decref(fires);
	cronrun_free(cr);
	cfg_free(cfg);
}

/* ---- DST ---- */

/* Europe/Berlin springs forward on 2026-03-29 at 02:00 CET (01:00Z) to
 * 03:00 CEST: 02:30 does not exist that night and nothing fires; the next
 * 02:30 is 2026-03-30 02:30 CEST = 00:30Z. The ticks run every minute, as
 * a host that is up all night. */
static void test_dst_spring_forward_berlin(void **state)
{
	struct fix *f = *state;
	struct proto_config *cfg = config("always-on", sched(7, "CRON_TZ=Europe/Berlin 30 2 * * *", 1), NULL);
	struct sink s = {.live = 1};
	struct cronrun *cr = cronrun_open(f->dir, NULL, cfg, T("2026-03-28T12:00:00Z"));
	tick_range(cr, T("2026-03-28T12:00:00Z"), T("2026-03-30T00:29:00Z"), 60, &s);
	assert_int_equal(s.n, 0);
	cronrun_tick(cr, T("2026-03-30T00:30:00Z"), record, &s);
	assert_int_equal(s.n, 1);
	expect_fire(&s, 0, 7, "2026-03-30T00:30:00Z");
	cronrun_free(cr);
	cfg_free(cfg);
}

/* The host's zone (no CRON_TZ=) counts too: America/New_York springs
 * forward on 2026-03-08 at 02:00 EST; 02:30 that day does not exist; the
 * next is 2026-03-09 02:30 EDT = 06:30Z. */
static void test_dst_spring_forward_host_zone(void **state)
{
	struct fix *f = *state;
	struct proto_config *cfg = config("always-on", sched(7, "30 2 * * *", 1), NULL);
	struct sink s = {.live = 1};
	struct cronrun *cr = cronrun_open(f->dir, "America/New_York", cfg,
	                                  T("2026-03-07T12:00:00Z"));
	tick_range(cr, T("2026-03-07T12:00:00Z"), T("2026-03-09T06:29:00Z"), 60, &s);
	assert_int_equal(s.n, 0);
	cronrun_tick(cr, T("2026-03-09T06:30:00Z"), record, &s);
	assert_int_equal(s.n, 1);
	expect_fire(&s, 0, 7, "2026-03-09T06:30:00Z");
	cronrun_free(cr);
	cfg_free(cfg);
}

/* Europe/Berlin falls back on 2026-10-25 at 03:00 CEST (01:00Z) to 02:00
 * CET: 02:30 happens at 00:30Z and again at 01:30Z; it fires once, at the
 * first, also when the agent restarts between the two. */
static void test_dst_fall_back_berlin(void **state)
{
	struct fix *f = *state;
	struct proto_config *cfg = config("always-on", sched(7, "CRON_TZ=Europe/Berlin 30 2 * * *", 1), NULL);
	struct sink s = {.live = 1};
	struct cronrun *cr = cronrun_open(f->dir, NULL, cfg, T("2026-10-24T22:00:00Z"));
	tick_range(cr, T("2026-10-24T22:00:00Z"), T("2026-10-25T01:00:00Z"), 60, &s);
	assert_int_equal(s.n, 1);
	expect_fire(&s, 0, 7, "2026-10-25T00:30:00Z");
	cronrun_free(cr); /* restart inside the repeated hour */
	cr = cronrun_open(f->dir, NULL, cfg, T("2026-10-25T01:10:00Z"));
	tick_range(cr, T("2026-10-25T01:10:00Z"), T("2026-10-25T06:00:00Z"), 60, &s);
	assert_int_equal(s.n, 1);
	cronrun_free(cr);
	cfg_free(cfg);
}

/* America/New_York falls back on 2026-11-01 at 02:00 EDT (06:00Z) to 01:00
 * EST: 01:30 happens at 05:30Z and 06:30Z; one fire, at 05:30Z. */
static void test_dst_fall_back_new_york(void **state)
{
	struct fix *f = *state;
	struct proto_config *cfg = config("always-on", sched(7, "CRON_TZ=America/New_York 30 1 * * *", 1),
	                     NULL);
	struct sink s = {.live = 1};
	struct cronrun *cr = cronrun_open(f->dir, "Europe/Berlin", cfg, T("2026-11-01T03:00:00Z"));
	tick_range(cr, T("2026-11-01T03:00:00Z"), T("2026-11-01T09:00:00Z"), 60, &s);
	assert_int_equal(s.n, 1);
	expect_fire(&s, 0, 7, "2026-11-01T05:30:00Z");
	cronrun_free(cr);
	cfg_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fires_on_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missed_while_stopped_always_on, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missed_while_stopped_intermittent, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_slept_through_intermittent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slept_through_always_on, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_survives_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_and_disabled_schedules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_fires_pruned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dst_spring_forward_berlin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dst_spring_forward_host_zone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dst_fall_back_berlin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dst_fall_back_new_york, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
