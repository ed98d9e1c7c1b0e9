/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of lib/proto: every message, both directions, encoded, sent
 * as text and decoded back equal; the wire form checked against the JSON
 * roostd and roost-agent have always built by hand (so an agent and a
 * server of either age understand each other); and what the decoders
 * refuse, with the field named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "roost/proto.h"
#include "roost/timeutil.h"

#define SNAP "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define T0 1795000000 /* 2026-11-18T11:06:40Z */

static char *dump(json_t *m)
{
	char *t = json_dumps(m, JSON_COMPACT);
	assert_non_null(t);
	return t;
}

/* Encoded message -> wire text -> agent message. */
static void wire_agent(json_t *enc, struct proto_msg *m)
{
	struct roost_errbuf eb = {{0}};
	char *t = dump(enc);
	enum roost_err err = proto_decode_agent(t, strlen(t), m, &eb);
	if (err)
		fail_msg("decode %s: %s", t, eb.msg);
	free(t);
	json_decref(enc);
}

static void wire_server(json_t *enc, struct proto_server_msg *m)
{
	struct roost_errbuf eb = {{0}};
	char *t = dump(enc);
	enum roost_err err = proto_decode_server(t, strlen(t), m, &eb);
	if (err)
		fail_msg("decode %s: %s", t, eb.msg);
	free(t);
	json_decref(enc);
}

static void job_eq(const struct proto_job *a, const struct proto_job *b)
{
	assert_int_equal(a->job_id, b->job_id);
	assert_string_equal(a->status, b->status);
	assert_string_equal(a->snapshot_id, b->snapshot_id);
	assert_int_equal(a->has_stats, b->has_stats);
	assert_int_equal(a->files, b->files);
	assert_int_equal(a->bytes, b->bytes);
	assert_int_equal(a->bytes_new, b->bytes_new);
	assert_int_equal(a->started_at, b->started_at);
	assert_string_equal(a->error, b->error);
	assert_string_equal(a->hook_output, b->hook_output);
}

static void strv_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
	assert_int_equal(na, nb);
	for (size_t i = 0; i < na; i++)
		assert_string_equal(a[i], b[i]);
}

static void group_eq(const struct proto_group *a, const struct proto_group *b)
{
	assert_int_equal(a->id, b->id);
	assert_int_equal(a->host_id, b->host_id);
	assert_string_equal(a->name, b->name);
	strv_eq(a->paths, a->npaths, b->paths, b->npaths);
	strv_eq(a->excludes, a->nexcludes, b->excludes, b->nexcludes);
	assert_string_equal(a->pre_hook, b->pre_hook);
	assert_string_equal(a->post_hook, b->post_hook);
	/* absent on the wire is the default */
	assert_int_equal(a->hook_timeout_s ? a->hook_timeout_s : PROTO_HOOK_TIMEOUT_DEFAULT,
	                 b->hook_timeout_s);
}

static void schedule_eq(const struct proto_schedule *a, const struct proto_schedule *b)
{
	assert_int_equal(a->id, b->id);
	assert_int_equal(a->host_id, b->host_id);
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->cron, b->cron);
	assert_int_equal(a->enabled, b->enabled);
	assert_int_equal(a->next_at, b->next_at);
	assert_int_equal(a->ngroup_ids, b->ngroup_ids);
	for (size_t i = 0; i < a->ngroup_ids; i++)
		assert_int_equal(a->group_ids[i], b->group_ids[i]);
}

static void config_eq(const struct proto_config *a, const struct proto_config *b)
{
	assert_int_equal(a->host_id, b->host_id);
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->mode, b->mode);
	assert_string_equal(a->repo_url, b->repo_url);
	assert_string_equal(a->repo_password, b->repo_password);
	assert_string_equal(a->repo_put_key, b->repo_put_key);
	assert_int_equal(a->timeout_s, b->timeout_s);
	assert_int_equal(a->upload_limit_kbps, b->upload_limit_kbps);
	assert_int_equal(a->ngroups, b->ngroups);
	for (size_t i = 0; i < a->ngroups; i++)
		group_eq(&a->groups[i], &b->groups[i]);
	assert_int_equal(a->nschedules, b->nschedules);
	for (size_t i = 0; i < a->nschedules; i++)
		schedule_eq(&a->schedules[i], &b->schedules[i]);
}

static void start_eq(const struct proto_job_start *a, const struct proto_job_start *b)
{
	assert_int_equal(a->job_id, b->job_id);
	assert_string_equal(a->kind, b->kind);
	assert_string_equal(a->trigger, b->trigger);
	assert_string_equal(a->schedule, b->schedule);
	assert_int_equal(a->has_group, b->has_group);
	if (a->has_group)
		group_eq(&a->group, &b->group);
	assert_int_equal(a->has_restore, b->has_restore);
	if (a->has_restore) {
		assert_string_equal(a->restore.snapshot_id, b->restore.snapshot_id);
		assert_string_equal(a->restore.target, b->restore.target);
		strv_eq(a->restore.include, a->restore.ninclude, b->restore.include,
		        b->restore.ninclude);
	}
}

static json_t *enc_agent(const struct proto_msg *m)
{
	struct roost_errbuf eb = {{0}};
	json_t *o = NULL;
	if (proto_encode_agent(m, &o, &eb))
		fail_msg("encode %s: %s", proto_type_name(m->type), eb.msg);
	return o;
}

static json_t *enc_server(const struct proto_server_msg *m)
{
	struct roost_errbuf eb = {{0}};
	json_t *o = NULL;
	if (proto_encode_server(m, &o, &eb))
		fail_msg("encode %s: %s", proto_type_name(m->type), eb.msg);
	return o;
}

/* ---- fixtures: one of each, every field set ---- */

static struct proto_job finished_job(void)
{
	struct proto_job j = {.job_id = 42, .has_stats = 1, .files = 10, .bytes = 1 << 20,
	                      .bytes_new = 4096, .started_at = T0};
	snprintf(j.status, sizeof(j.status), "succeeded");
	snprintf(j.snapshot_id, sizeof(j.snapshot_id), SNAP);
	snprintf(j.error, sizeof(j.error), "3 files could not be read");
	return j;
}

static void fill_hello(struct proto_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->type = PROTO_HELLO;
	m->protocol = PROTO_VERSION;
	snprintf(m->agent_version, sizeof(m->agent_version), "0.1.0");
	snprintf(m->hostname, sizeof(m->hostname), "laptop");
	snprintf(m->os, sizeof(m->os), "Linux 6.1.0");
	snprintf(m->tz, sizeof(m->tz), "Europe/Paris");
	m->clock = T0 + 5;
	m->njobs = 3;
	m->jobs = calloc(3, sizeof(*m->jobs));
	m->nfires = 2;
	m->fires = calloc(2, sizeof(*m->fires));
	assert_non_null(m->jobs);
	assert_non_null(m->fires);
	m->jobs[0] = (struct proto_job){.job_id = 7};
	snprintf(m->jobs[0].status, sizeof(m->jobs[0].status), "running");
	m->jobs[1] = (struct proto_job){.job_id = 8};
	snprintf(m->jobs[1].status, sizeof(m->jobs[1].status), "queued");
	m->jobs[2] = finished_job();
	m->fires[0] = (struct proto_fire){.schedule_id = 3, .slot = T0 - 60};
	m->fires[1] = (struct proto_fire){.schedule_id = 4, .slot = 0};
}

static void fill_group(struct proto_group *g, int64_t id, int npaths)
{
	memset(g, 0, sizeof(*g));
	g->id = id;
	g->host_id = 5;
	snprintf(g->name, sizeof(g->name), "home-%lld", (long long)id);
	for (int i = 0; i < npaths; i++) {
		char p[64];
		snprintf(p, sizeof(p), "/home/me/dir%d", i);
		assert_int_equal(proto_strv_push(&g->paths, &g->npaths, p), ROOST_OK);
	}
	assert_int_equal(proto_strv_push(&g->excludes, &g->nexcludes, "*.cache"), ROOST_OK);
}

static void fill_config(struct proto_config *c)
{
	memset(c, 0, sizeof(*c));
	c->host_id = 5;
	snprintf(c->name, sizeof(c->name), "laptop");
	snprintf(c->mode, sizeof(c->mode), "intermittent");
	snprintf(c->repo_url, sizeof(c->repo_url), "/v1/repo");
	snprintf(c->repo_password, sizeof(c->repo_password), "s3cret");
	snprintf(c->repo_put_key, sizeof(c->repo_put_key), "cHV0");
	c->timeout_s = 60;
	c->upload_limit_kbps = 2048;
	c->ngroups = 2;
	c->groups = calloc(2, sizeof(*c->groups));
	assert_non_null(c->groups);
	fill_group(&c->groups[0], 11, 2);
	fill_group(&c->groups[1], 12, 1);
	c->nschedules = 2;
	c->schedules = calloc(2, sizeof(*c->schedules));
	assert_non_null(c->schedules);
	for (int i = 0; i < 2; i++) {
		struct proto_schedule *s = &c->schedules[i];
		s->id = 20 + i;
		s->host_id = 5;
		snprintf(s->name, sizeof(s->name), "nightly-%d", i);
		snprintf(s->cron, sizeof(s->cron), "CRON_TZ=Europe/Paris 0 2 * * *");
		s->enabled = i == 0;
		s->next_at = i == 0 ? T0 + 3600 : 0;
		s->ngroup_ids = 2 - (size_t)i;
		s->group_ids = calloc(2, sizeof(*s->group_ids));
		assert_non_null(s->group_ids);
		s->group_ids[0] = 11;
		s->group_ids[1] = 12;
	}
}

/* ---- round trips ---- */

static void test_agent_roundtrip(void **st)
{
	(void)st;
	struct proto_msg in, out;
	fill_hello(&in);
	wire_agent(enc_agent(&in), &out);
	assert_int_equal(out.type, PROTO_HELLO);
	assert_int_equal(out.protocol, in.protocol);
	assert_string_equal(out.agent_version, in.agent_version);
	assert_string_equal(out.hostname, in.hostname);
	assert_string_equal(out.os, in.os);
	assert_string_equal(out.tz, in.tz);
	assert_int_equal(out.clock, in.clock);
	assert_int_equal(out.njobs, in.njobs);
	for (size_t i = 0; i < in.njobs; i++)
		job_eq(&in.jobs[i], &out.jobs[i]);
	assert_int_equal(out.nfires, in.nfires);
	for (size_t i = 0; i < in.nfires; i++) {
		assert_int_equal(out.fires[i].schedule_id, in.fires[i].schedule_id);
		assert_int_equal(out.fires[i].slot, in.fires[i].slot);
	}
	proto_msg_release(&out);
	proto_msg_release(&in);
	proto_msg_release(&in); /* twice is fine */

	/* an empty hello: no jobs, no fires, no clock */
	memset(&in, 0, sizeof(in));
	in.type = PROTO_HELLO;
	in.protocol = PROTO_VERSION;
	wire_agent(enc_agent(&in), &out);
	assert_int_equal(out.njobs, 0);
	assert_int_equal(out.nfires, 0);
	assert_int_equal(out.clock, 0);
	proto_msg_release(&out);

	memset(&in, 0, sizeof(in));
	in.type = PROTO_FIRE;
	in.fire = (struct proto_fire){.schedule_id = 9, .slot = T0};
	wire_agent(enc_agent(&in), &out);
	assert_int_equal(out.type, PROTO_FIRE);
	assert_int_equal(out.fire.schedule_id, 9);
	assert_int_equal(out.fire.slot, T0);

	enum proto_type jt[] = {PROTO_JOB_ACCEPTED, PROTO_JOB_PROGRESS, PROTO_JOB_FINISHED};
	for (size_t k = 0; k < 3; k++) {
		memset(&in, 0, sizeof(in));
		in.type = jt[k];
		in.job = finished_job();
		wire_agent(enc_agent(&in), &out);
		assert_int_equal(out.type, jt[k]);
		job_eq(&in.job, &out.job);
	}
	/* each final status */
	const char *finals[] = {"succeeded", "failed", "canceled", "interrupted"};
	for (size_t k = 0; k < 4; k++) {
		memset(&in, 0, sizeof(in));
		in.type = PROTO_JOB_FINISHED;
		in.job.job_id = 1;
		snprintf(in.job.status, sizeof(in.job.status), "%s", finals[k]);
		wire_agent(enc_agent(&in), &out);
		job_eq(&in.job, &out.job);
	}
}

static void test_server_roundtrip(void **st)
{
	(void)st;
	struct proto_server_msg in = {0}, out;
	in.type = PROTO_CONFIG;
	fill_config(&in.config);
	wire_server(enc_server(&in), &out);
	assert_int_equal(out.type, PROTO_CONFIG);
	config_eq(&in.config, &out.config);
	proto_server_msg_release(&out);
	/* the agent keeps it on disk and reads it back as a json_t */
	struct roost_errbuf eb = {{0}};
	json_t *o = enc_server(&in);
	assert_int_equal(proto_decode_server_json(o, &out, &eb), ROOST_OK);
	config_eq(&in.config, &out.config);
	json_decref(o);
	proto_server_msg_release(&out);
	proto_server_msg_release(&in);

	/* an empty config: a host with nothing set up yet */
	in.type = PROTO_CONFIG;
	in.config.host_id = 1;
	wire_server(enc_server(&in), &out);
	config_eq(&in.config, &out.config);
	proto_server_msg_release(&out);
	proto_server_msg_release(&in);

	/* backup */
	in.type = PROTO_JOB_START;
	in.start.job_id = 77;
	snprintf(in.start.kind, sizeof(in.start.kind), "backup");
	snprintf(in.start.trigger, sizeof(in.start.trigger), "schedule");
	in.start.has_group = 1;
	fill_group(&in.start.group, 11, 3);
	wire_server(enc_server(&in), &out);
	assert_int_equal(out.type, PROTO_JOB_START);
	start_eq(&in.start, &out.start);
	proto_server_msg_release(&out);
	proto_server_msg_release(&in);

	/* restore, with and without includes */
	for (int n = 0; n < 2; n++) {
		in.type = PROTO_JOB_START;
		in.start.job_id = 78;
		snprintf(in.start.kind, sizeof(in.start.kind), "restore");
		snprintf(in.start.trigger, sizeof(in.start.trigger), "manual");
		in.start.has_restore = 1;
		snprintf(in.start.restore.snapshot_id, sizeof(in.start.restore.snapshot_id), "latest");
		snprintf(in.start.restore.target, sizeof(in.start.restore.target), "/tmp/r");
		if (n)
			assert_int_equal(proto_strv_push(&in.start.restore.include,
			                                 &in.start.restore.ninclude, "/etc"), ROOST_OK);
		wire_server(enc_server(&in), &out);
		start_eq(&in.start, &out.start);
		proto_server_msg_release(&out);
		proto_server_msg_release(&in);
	}

	in.type = PROTO_JOB_CANCEL;
	in.cancel.job_id = 79;
	wire_server(enc_server(&in), &out);
	assert_int_equal(out.type, PROTO_JOB_CANCEL);
	assert_int_equal(out.cancel.job_id, 79);
	proto_server_msg_release(&out);
}

/* ---- the wire form is the one both programs have always built ---- */

static json_t *jtime(int64_t t)
{
	char b[40];
	return json_string(roost_time_format(t, b, sizeof(b)));
}

static void same_json(json_t *ours, json_t *golden, int same_order)
{
	char *a = dump(ours), *b = dump(golden);
	if (!json_equal(ours, golden) || (same_order && strcmp(a, b)))
		fail_msg("encoded %s\n  but the programs send %s", a, b);
	free(a);
	free(b);
	json_decref(ours);
	json_decref(golden);
}

/* server/db.c db_config_json, db_group_json, db_schedule_json */
static void test_golden_config(void **st)
{
	(void)st;
	struct proto_server_msg m = {.type = PROTO_CONFIG};
	fill_config(&m.config);
	m.config.repo_password[0] = 0; /* roostd sends the put-only key, never the password */
	json_t *groups = json_array(), *scheds = json_array();
	json_array_append_new(groups, json_pack("{s:I, s:o, s:o, s:o, s:I}", "id", (json_int_t)11,
	                                        "name", json_string("home-11"), "paths",
	                                        json_pack("[s, s]", "/home/me/dir0", "/home/me/dir1"),
	                                        "excludes", json_pack("[s]", "*.cache"), "host_id",
	                                        (json_int_t)5));
	json_array_append_new(groups, json_pack("{s:I, s:o, s:o, s:o, s:I}", "id", (json_int_t)12,
	                                        "name", json_string("home-12"), "paths",
	                                        json_pack("[s]", "/home/me/dir0"), "excludes",
	                                        json_pack("[s]", "*.cache"), "host_id", (json_int_t)5));
	json_array_append_new(scheds, json_pack("{s:I, s:o, s:o, s:b, s:o, s:o, s:I}", "id",
	                                        (json_int_t)20, "name", json_string("nightly-0"),
	                                        "cron", json_string("CRON_TZ=Europe/Paris 0 2 * * *"),
	                                        "enabled", 1, "group_ids", json_pack("[I, I]",
	                                        (json_int_t)11, (json_int_t)12), "next_at",
	                                        jtime(T0 + 3600), "host_id", (json_int_t)5));
	json_array_append_new(scheds, json_pack("{s:I, s:o, s:o, s:b, s:o, s:o, s:I}", "id",
	                                        (json_int_t)21, "name", json_string("nightly-1"),
	                                        "cron", json_string("CRON_TZ=Europe/Paris 0 2 * * *"),
	                                        "enabled", 0, "group_ids", json_pack("[I]",
	                                        (json_int_t)11), "next_at", json_null(), "host_id",
	                                        (json_int_t)5));
	json_t *name = json_string("laptop"), *mode = json_string("intermittent");
	json_t *golden = json_pack("{s:s, s:I, s:O, s:O, s:o, s:o, s:{s:s, s:s}, s:I, s:I}", "type",
	                           "config", "host_id", (json_int_t)5, "name", name, "mode", mode,
	                           "groups", groups, "schedules", scheds, "repository", "url",
	                           "/v1/repo", "put_key", "cHV0", "timeout_s", (json_int_t)60,
	                           "upload_limit_kbps", (json_int_t)2048);
	json_decref(name);
	json_decref(mode);
	same_json(enc_server(&m), golden, 1);
	proto_server_msg_release(&m);

	/* db_config_json of a host it could not read: name and mode null */
	m.type = PROTO_CONFIG;
	m.config.host_id = 5;
	m.config.timeout_s = 60;
	golden = json_pack("{s:s, s:I, s:O, s:O, s:o, s:o, s:{s:s}, s:I}", "type", "config",
	                   "host_id", (json_int_t)5, "name", json_null(), "mode", json_null(), "groups",
	                   json_array(), "schedules", json_array(), "repository", "url", "",
	                   "timeout_s", (json_int_t)60);
	same_json(enc_server(&m), golden, 1);
}

/* server/dispatch.c job_start_msg (params from server/api.c job_create), server/api.c job_cancel */
static void test_golden_job_start_cancel(void **st)
{
	(void)st;
	struct proto_server_msg m = {.type = PROTO_JOB_START};
	m.start.job_id = 77;
	snprintf(m.start.kind, sizeof(m.start.kind), "backup");
	snprintf(m.start.trigger, sizeof(m.start.trigger), "catchup");
	m.start.has_group = 1;
	fill_group(&m.start.group, 11, 1);
	json_t *golden = json_pack("{s:s, s:I, s:s}", "type", "job.start", "job_id", (json_int_t)77,
	                           "kind", "backup");
	json_object_set_new(golden, "group",
	                    json_pack("{s:I, s:o, s:o, s:o, s:I}", "id", (json_int_t)11, "name",
	                              json_string("home-11"), "paths", json_pack("[s]",
	                              "/home/me/dir0"), "excludes", json_pack("[s]", "*.cache"),
	                              "host_id", (json_int_t)5));
	json_object_set_new(golden, "trigger", json_string("catchup"));
	same_json(enc_server(&m), golden, 1);
	proto_server_msg_release(&m);

	m.type = PROTO_JOB_START;
	m.start.job_id = 78;
	snprintf(m.start.kind, sizeof(m.start.kind), "restore");
	snprintf(m.start.trigger, sizeof(m.start.trigger), "manual");
	m.start.has_restore = 1;
	snprintf(m.start.restore.snapshot_id, sizeof(m.start.restore.snapshot_id), "latest");
	snprintf(m.start.restore.target, sizeof(m.start.restore.target), "/tmp/r");
	golden = json_pack("{s:s, s:I, s:s}", "type", "job.start", "job_id", (json_int_t)78, "kind",
	                   "restore");
	json_t *params = json_pack("{s:s, s:s, s:o}", "snapshot_id", "latest", "target", "/tmp/r",
	                           "include", json_array());
	json_object_update(golden, params);
	json_decref(params);
	json_object_set_new(golden, "trigger", json_string("manual"));
	same_json(enc_server(&m), golden, 1);
	proto_server_msg_release(&m);

	m.type = PROTO_JOB_CANCEL;
	m.cancel.job_id = 79;
	same_json(enc_server(&m), json_pack("{s:s, s:I}", "type", "job.cancel", "job_id",
	                                    (json_int_t)79), 1);
}

/* agent/main.c: hello_msg, cron_tick, job_main, run_job, on_message (cancel of a queued job) */
static void test_golden_agent(void **st)
{
	(void)st;
	struct proto_msg m;
	fill_hello(&m);
	json_t *jobs = json_pack("[{s:I, s:s}, {s:I, s:s}]", "job_id", (json_int_t)7, "status",
	                         "running", "job_id", (json_int_t)8, "status", "queued");
	json_t *done = json_pack("{s:I, s:s, s:o, s:{s:I, s:I, s:I}, s:s}", "job_id", (json_int_t)42,
	                         "status", "succeeded", "started_at", jtime(T0), "stats", "files",
	                         (json_int_t)10, "bytes", (json_int_t)(1 << 20), "bytes_new",
	                         (json_int_t)4096, "snapshot_id", SNAP);
	json_object_set_new(done, "error", json_string("3 files could not be read"));
	json_array_append_new(jobs, done);
	json_t *fires = json_pack("[{s:I, s:o}, {s:I, s:s}]", "schedule_id", (json_int_t)3, "slot",
	                          jtime(T0 - 60), "schedule_id", (json_int_t)4, "slot",
	                          "1970-01-01T00:00:00Z");
	json_t *golden = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "type", "hello",
	                           "protocol", PROTO_VERSION, "agent_version", "0.1.0", "hostname",
	                           "laptop", "os", "Linux 6.1.0", "tz", "Europe/Paris", "clock",
	                           jtime(T0 + 5), "jobs", jobs, "fires", fires);
	same_json(enc_agent(&m), golden, 1);
	proto_msg_release(&m);

	m.type = PROTO_FIRE;
	m.fire = (struct proto_fire){.schedule_id = 3, .slot = T0};
	same_json(enc_agent(&m), json_pack("{s:s, s:I, s:o}", "type", "fire", "schedule_id",
	                                   (json_int_t)3, "slot", jtime(T0)), 1);

	memset(&m, 0, sizeof(m));
	m.type = PROTO_JOB_ACCEPTED;
	m.job = (struct proto_job){.job_id = 42, .started_at = T0};
	same_json(enc_agent(&m), json_pack("{s:s, s:I, s:o}", "type", "job.accepted", "job_id",
	                                   (json_int_t)42, "started_at", jtime(T0)), 1);

	m.type = PROTO_JOB_PROGRESS;
	m.job = (struct proto_job){.job_id = 42, .has_stats = 1, .files = 1, .bytes = 2,
	                           .bytes_new = 3};
	same_json(enc_agent(&m), json_pack("{s:s, s:I, s:{s:I, s:I, s:I}}", "type", "job.progress",
	                                   "job_id", (json_int_t)42, "stats", "files",
	                                   (json_int_t)1, "bytes", (json_int_t)2, "bytes_new",
	                                   (json_int_t)3), 1);

	/* run_job's report with "type" added last: same members, other order */
	m.type = PROTO_JOB_FINISHED;
	m.job = finished_job();
	golden = json_pack("{s:I, s:s, s:o, s:{s:I, s:I, s:I}, s:s}", "job_id", (json_int_t)42,
	                   "status", "succeeded", "started_at", jtime(T0), "stats", "files",
	                   (json_int_t)10, "bytes", (json_int_t)(1 << 20), "bytes_new",
	                   (json_int_t)4096, "snapshot_id", SNAP);
	json_object_set_new(golden, "error", json_string("3 files could not be read"));
	json_object_set_new(golden, "type", json_string("job.finished"));
	same_json(enc_agent(&m), golden, 0);

	/* a queued job canceled: no stats, no started_at */
	m.job = (struct proto_job){.job_id = 43};
	snprintf(m.job.status, sizeof(m.job.status), "canceled");
	snprintf(m.job.error, sizeof(m.job.error), "canceled before it started");
	golden = json_pack("{s:I, s:s, s:s, s:s}", "job_id", (json_int_t)43, "status", "canceled",
	                   "error", "canceled before it started", "type", "job.finished");
	same_json(enc_agent(&m), golden, 0);

	/*
	 * run_job's report of a failed job sends "snapshot_id": ""; the encoder
	 * leaves it out. Both decode the same, so either side may be older.
	 */
	const char *old = "{\"job_id\":44,\"status\":\"failed\",\"started_at\":\"2026-11-18T11:"
	                  "06:40Z\",\"stats\":{\"files\":0,\"bytes\":0,\"bytes_new\":0},"
	                  "\"snapshot_id\":\"\",\"error\":\"repository: gone\",\"type\":\"job."
	                  "finished\"}";
	struct proto_msg a, b;
	struct roost_errbuf eb = {{0}};
	assert_int_equal(proto_decode_agent(old, strlen(old), &a, &eb), ROOST_OK);
	wire_agent(enc_agent(&a), &b);
	job_eq(&a.job, &b.job);
	assert_int_equal(a.job.has_stats, 1);
	assert_int_equal(a.job.started_at, T0);
	proto_msg_release(&a);
	proto_msg_release(&b);
}

/* ---- what the decoders refuse ---- */

static void agent_rejects(const char *json, enum roost_err want, const char *field)
{
	struct proto_msg m;
	struct roost_errbuf eb = {{0}};
	enum roost_err err = proto_decode_agent(json, strlen(json), &m, &eb);
	if (err != want || !strstr(eb.msg, field))
		fail_msg("%s: got %d \"%s\", want %d naming %s", json, err, eb.msg, want, field);
	assert_null(m.jobs);
	assert_null(m.fires);
}

static void server_rejects(const char *json, enum roost_err want, const char *field)
{
	struct proto_server_msg m;
	struct roost_errbuf eb = {{0}};
	enum roost_err err = proto_decode_server(json, strlen(json), &m, &eb);
	if (err != want || !strstr(eb.msg, field))
		fail_msg("%s: got %d \"%s\", want %d naming %s", json, err, eb.msg, want, field);
	assert_null(m.config.groups);
	assert_null(m.start.group.paths);
	assert_null(m.start.restore.include);
}

#define EI ROOST_EINVAL
#define ER ROOST_ERANGE
#define CFG "{\"type\":\"config\",\"host_id\":5,\"groups\":[],\"schedules\":[]"
#define GRP "{\"id\":1,\"name\":\"g\",\"paths\":[\"/a\"],\"host_id\":5"
#define CFG_G "{\"type\":\"config\",\"host_id\":5,\"schedules\":[],\"groups\":["
#define SCH "{\"id\":1,\"name\":\"s\",\"cron\":\"* * * * *\",\"enabled\":true,\"host_id\":5"

static char *big_array(const char *head, const char *item, int n, const char *tail)
{
	size_t cap = strlen(head) + (strlen(item) + 1) * (size_t)n + strlen(tail) + 1;
	char *s = malloc(cap), *p = s;
	assert_non_null(s);
	p += sprintf(p, "%s", head);
	for (int i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? "," : "", item);
	sprintf(p, "%s", tail);
	return s;
}

static void test_agent_rejects(void **st)
{
	(void)st;
	agent_rejects("[1]", EI, "object");
	agent_rejects("{\"type\":1}", EI, "type");
	agent_rejects("{\"type\":\"hola\"}", EI, "type");
	agent_rejects("{\"type\":\"fire\",\"schedule_id\":0,\"slot\":\"2026-01-01T00:00:00Z\"}", EI,
	              "schedule_id");
	agent_rejects("{\"type\":\"fire\",\"schedule_id\":1}", EI, "slot: missing");
	agent_rejects("{\"type\":\"fire\",\"schedule_id\":1,\"slot\":\"yesterday\"}", EI, "slot");
	agent_rejects("{\"type\":\"fire\",\"schedule_id\":1,\"slot\":\"1969-12-31T23:59:59Z\"}", EI,
	              "slot");
	agent_rejects("{\"type\":\"job.accepted\",\"job_id\":\"7\"}", EI, "job_id");
	agent_rejects("{\"type\":\"job.progress\",\"job_id\":7,\"stats\":[]}", EI, "stats");
	agent_rejects("{\"type\":\"job.progress\",\"job_id\":7,\"stats\":{\"files\":-1}}", EI,
	              "files");
	agent_rejects("{\"type\":\"job.finished\",\"job_id\":7,\"status\":\"running\"}", EI,
	              "status");
	agent_rejects("{\"type\":\"job.finished\",\"job_id\":7,\"status\":\"failed\","
	              "\"snapshot_id\":\"abc\"}", EI, "snapshot_id");
	agent_rejects("{\"type\":\"hello\"}", EI, "protocol");
	agent_rejects("{\"type\":\"hello\",\"protocol\":1,\"jobs\":{}}", EI, "jobs");
	agent_rejects("{\"type\":\"hello\",\"protocol\":1,\"jobs\":[{\"job_id\":1,\"status\":"
	              "\"lost\"}]}", EI, "jobs[0].status");
	agent_rejects("{\"type\":\"hello\",\"protocol\":1,\"jobs\":[{\"job_id\":1,\"status\":"
	              "\"running\"},7]}", EI, "jobs[1]: expected an object");
	agent_rejects("{\"type\":\"hello\",\"protocol\":1,\"fires\":[{\"schedule_id\":1,\"slot\":"
	              "\"2026-01-01T00:00:00Z\"},{\"schedule_id\":1}]}", EI, "fires[1].slot");
	agent_rejects("{\"type\":\"hello\",\"protocol\":1,\"tz\":\"America/Argentina/Buenos_Aires/"
	              "and/then/some/more/than/sixty/four\"}", EI, "tz");
	char *s = big_array("{\"type\":\"hello\",\"protocol\":1,\"jobs\":[",
	                    "{\"job_id\":1,\"status\":\"queued\"}", PROTO_MAX_JOBS + 1, "]}");
	agent_rejects(s, ER, "jobs");
	free(s);
	s = big_array("{\"type\":\"hello\",\"protocol\":1,\"fires\":[",
	              "{\"schedule_id\":1,\"slot\":\"2026-01-01T00:00:00Z\"}", PROTO_MAX_FIRES + 1,
	              "]}");
	agent_rejects(s, ER, "fires");
	free(s);
	/* a 600-byte error, as the agent writes them, fits; one over the cap does not */
	char err[1100];
	memset(err, 'e', sizeof(err));
	for (size_t n = 600; n <= 1024; n += 424) {
		char msg[1300];
		snprintf(msg, sizeof(msg), "{\"type\":\"job.finished\",\"job_id\":7,\"status\":\"failed\""
		         ",\"error\":\"%.*s\"}", (int)n, err);
		struct proto_msg m;
		struct roost_errbuf eb = {{0}};
		assert_int_equal(proto_decode_agent(msg, strlen(msg), &m, &eb),
		                 n == 600 ? ROOST_OK : ROOST_EINVAL);
	}
	s = big_array("{\"type\":\"job.progress\",\"job_id\":1,\"x\":\"", "", 0, "\"}");
	struct proto_msg m;
	struct roost_errbuf eb = {{0}};
	assert_int_equal(proto_decode_agent(s, PROTO_MAX_FRAME + 1, &m, &eb), ROOST_ERANGE);
	free(s);
}

static void test_server_rejects(void **st)
{
	(void)st;
	server_rejects("{\"type\":\"hello\",\"protocol\":1}", EI, "type");
	server_rejects("{\"type\":\"config\",\"host_id\":0}", EI, "host_id");
	server_rejects("{\"type\":\"config\",\"host_id\":5,\"schedules\":[]}", EI, "groups: missing");
	server_rejects(CFG ",\"mode\":\"sometimes\"}", EI, "mode");
	server_rejects(CFG ",\"timeout_s\":0}", EI, "timeout_s");
	server_rejects(CFG ",\"timeout_s\":\"60\"}", EI, "timeout_s");
	server_rejects(CFG ",\"upload_limit_kbps\":-1}", EI, "upload_limit_kbps");
	server_rejects(CFG ",\"upload_limit_kbps\":10000001}", EI, "upload_limit_kbps");
	server_rejects(CFG ",\"upload_limit_kbps\":\"2048\"}", EI, "upload_limit_kbps");
	server_rejects(CFG ",\"upload_limit_kbps\":1.5}", EI, "upload_limit_kbps");
	server_rejects(CFG ",\"upload_limit_kbps\":true}", EI, "upload_limit_kbps");
	server_rejects(CFG ",\"repository\":\"/v1/repo\"}", EI, "repository");
	server_rejects(CFG ",\"repository\":{\"password\":7}}", EI, "repository.password");
	server_rejects("{\"type\":\"config\",\"host_id\":5,\"schedules\":[],\"groups\":[" GRP "},"
	               "{\"id\":2,\"name\":\"g\",\"paths\":[\"\"],\"host_id\":5}]}", EI,
	               "groups[1].paths[0]");
	server_rejects("{\"type\":\"config\",\"host_id\":5,\"schedules\":[],\"groups\":[" GRP
	               ",\"excludes\":[1]}]}", EI, "groups[0].excludes[0]");
	server_rejects("{\"type\":\"config\",\"host_id\":5,\"schedules\":[],\"groups\":["
	               "{\"id\":1,\"host_id\":5}]}", EI, "groups[0].paths: missing");
	server_rejects("{\"type\":\"config\",\"host_id\":5,\"groups\":[],\"schedules\":[" SCH
	               ",\"group_ids\":[1,-2]}]}", EI, "schedules[0].group_ids[1]");
	server_rejects("{\"type\":\"config\",\"host_id\":5,\"groups\":[],\"schedules\":["
	               "{\"id\":1,\"cron\":\"* * * * *\",\"enabled\":1,\"host_id\":5}]}", EI,
	               "schedules[0].enabled");
	server_rejects("{\"type\":\"config\",\"host_id\":5,\"groups\":[],\"schedules\":[" SCH
	               ",\"next_at\":\"soon\"}]}", EI, "schedules[0].next_at");
	server_rejects("{\"type\":\"config\",\"host_id\":5,\"groups\":[],\"schedules\":["
	               "{\"id\":1,\"enabled\":true,\"host_id\":5}]}", EI, "schedules[0].cron");
	char *s = big_array("{\"type\":\"config\",\"host_id\":5,\"schedules\":[],\"groups\":[",
	                    GRP "}", PROTO_MAX_GROUPS + 1, "]}");
	server_rejects(s, ER, "groups");
	free(s);
	s = big_array("{\"type\":\"config\",\"host_id\":5,\"groups\":[],\"schedules\":[", SCH "}",
	              PROTO_MAX_SCHEDULES + 1, "]}");
	server_rejects(s, ER, "schedules");
	free(s);
	s = big_array("{\"type\":\"config\",\"host_id\":5,\"schedules\":[],\"groups\":[{\"id\":1,"
	              "\"host_id\":5,\"paths\":[", "\"/a\"", PROTO_MAX_LIST + 1, "]}]}");
	server_rejects(s, ER, "groups[0].paths");
	free(s);
	server_rejects("{\"type\":\"job.cancel\"}", EI, "job_id");
	server_rejects("{\"type\":\"job.start\",\"job_id\":1}", EI, "kind: missing");
	server_rejects("{\"type\":\"job.start\",\"job_id\":1,\"kind\":\"backup\",\"group\":[]}", EI,
	               "group: expected an object");
	server_rejects("{\"type\":\"job.start\",\"job_id\":1,\"kind\":\"backup\",\"group\":{\"id\":1,"
	               "\"paths\":[\"/a\"]}}", EI, "group.host_id");
	server_rejects("{\"type\":\"job.start\",\"job_id\":1,\"kind\":\"restore\",\"snapshot_id\":"
	               "\"latest\"}", EI, "target: missing");
	server_rejects("{\"type\":\"job.start\",\"job_id\":1,\"kind\":\"restore\",\"snapshot_id\":"
	               "\"latest\",\"target\":\"tmp\"}", EI, "target");
	server_rejects("{\"type\":\"job.start\",\"job_id\":1,\"kind\":\"restore\",\"snapshot_id\":"
	               "\"latest\",\"target\":\"/tmp\",\"include\":[\"etc\"]}", EI, "include[0]");

	/* a job.start the agent can not run still names its job, to be reported failed */
	struct proto_server_msg m;
	struct roost_errbuf eb = {{0}};
	const char *bad = "{\"type\":\"job.start\",\"job_id\":31,\"kind\":\"restore\","
	                  "\"target\":\"/tmp\"}";
	assert_int_equal(proto_decode_server(bad, strlen(bad), &m, &eb), ROOST_EINVAL);
	assert_int_equal(m.type, PROTO_JOB_START);
	assert_int_equal(m.start.job_id, 31);
	proto_server_msg_release(&m);
	/* a backup whose group was deleted arrives without one: decoded, the agent fails it */
	const char *nogroup = "{\"type\":\"job.start\",\"job_id\":32,\"kind\":\"backup\","
	                      "\"trigger\":\"schedule\"}";
	assert_int_equal(proto_decode_server(nogroup, strlen(nogroup), &m, &eb), ROOST_OK);
	assert_int_equal(m.start.has_group, 0);
	proto_server_msg_release(&m);
}

/* ---- a group's hooks (docs/policies.md) ---- */

static void test_group_hooks(void **st)
{
	(void)st;
	struct proto_server_msg in = {0}, out;
	in.type = PROTO_JOB_START;
	in.start.job_id = 90;
	snprintf(in.start.kind, sizeof(in.start.kind), "backup");
	snprintf(in.start.schedule, sizeof(in.start.schedule), "nightly");
	in.start.has_group = 1;
	fill_group(&in.start.group, 11, 1);
	struct proto_group *g = &in.start.group;
	/* the longest hook there may be */
	memset(g->pre_hook, 'x', PROTO_MAX_HOOK);
	g->pre_hook[PROTO_MAX_HOOK] = 0;
	snprintf(g->post_hook, sizeof(g->post_hook), "echo \"$ROOST_STATUS\" >>/tmp/x");
	g->hook_timeout_s = PROTO_MAX_HOOK_TIMEOUT;
	json_t *o = enc_server(&in);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "group"),
	                                                    "hook_timeout_s")), PROTO_MAX_HOOK_TIMEOUT);
	assert_string_equal(json_string_value(json_object_get(o, "schedule")), "nightly");
	wire_server(o, &out);
	start_eq(&in.start, &out.start);
	proto_server_msg_release(&out);

	/* none: nothing on the wire, and the default timeout when decoded */
	g->pre_hook[0] = g->post_hook[0] = 0;
	g->hook_timeout_s = 0;
	in.start.schedule[0] = 0;
	o = enc_server(&in);
	json_t *jg = json_object_get(o, "group");
	assert_null(json_object_get(jg, "pre_hook"));
	assert_null(json_object_get(jg, "post_hook"));
	assert_null(json_object_get(jg, "hook_timeout_s"));
	assert_null(json_object_get(o, "schedule"));
	wire_server(o, &out);
	assert_int_equal(out.start.group.hook_timeout_s, PROTO_HOOK_TIMEOUT_DEFAULT);
	assert_string_equal(out.start.group.pre_hook, "");
	proto_server_msg_release(&out);

	/* the encoder refuses what the decoder would */
	struct roost_errbuf eb = {{0}};
	g->hook_timeout_s = PROTO_MAX_HOOK_TIMEOUT + 1;
	o = (json_t *)1;
	assert_int_equal(proto_encode_server(&in, &o, &eb), ROOST_EINVAL);
	assert_null(o);
	assert_non_null(strstr(eb.msg, "hook_timeout_s"));
	proto_server_msg_release(&in);

	server_rejects(CFG_G GRP ",\"hook_timeout_s\":0}]}", EI, "groups[0].hook_timeout_s");
	server_rejects(CFG_G GRP ",\"hook_timeout_s\":86401}]}", EI, "groups[0].hook_timeout_s");
	server_rejects(CFG_G GRP ",\"hook_timeout_s\":\"60\"}]}", EI, "groups[0].hook_timeout_s");
	server_rejects(CFG_G GRP ",\"pre_hook\":7}]}", EI, "groups[0].pre_hook");
	server_rejects(CFG_G GRP ",\"post_hook\":[\"a\"]}]}", EI, "groups[0].post_hook");
	char x[PROTO_MAX_HOOK + PROTO_MAX_HOOK_OUTPUT + 2], *s; /* room for either */
	memset(x, 'x', PROTO_MAX_HOOK + 1);
	x[PROTO_MAX_HOOK + 1] = 0;
	size_t cap = sizeof(x) + 200;
	assert_non_null(s = malloc(cap));
	snprintf(s, cap, CFG_G GRP ",\"pre_hook\":\"%s\"}]}", x);
	server_rejects(s, EI, "groups[0].pre_hook");
	free(s);
	server_rejects("{\"type\":\"job.start\",\"job_id\":1,\"kind\":\"backup\",\"schedule\":3}",
	               EI, "schedule");

	/* job.finished's hook_output: carried, made UTF-8 and cut to fit, bounded */
	struct proto_msg a = {.type = PROTO_JOB_FINISHED}, b;
	a.job = finished_job();
	snprintf(a.job.hook_output, sizeof(a.job.hook_output), "--- pre-hook: exit status 0\nok\n");
	wire_agent(enc_agent(&a), &b);
	job_eq(&a.job, &b.job);
	proto_msg_release(&b);
	memset(a.job.hook_output, '\xff', sizeof(a.job.hook_output) - 1);
	a.job.hook_output[sizeof(a.job.hook_output) - 1] = 0;
	o = enc_agent(&a);
	const char *ho = json_string_value(json_object_get(o, "hook_output"));
	assert_non_null(ho);
	assert_true(strlen(ho) <= PROTO_MAX_HOOK_OUTPUT);
	json_decref(o);
	memset(x, 'x', PROTO_MAX_HOOK_OUTPUT + 1);
	x[PROTO_MAX_HOOK_OUTPUT + 1] = 0;
	snprintf(s = malloc(cap), cap, "{\"type\":\"job.finished\",\"job_id\":1,\"status\":\"failed\","
	         "\"hook_output\":\"%s\"}", x);
	agent_rejects(s, EI, "hook_output");
	free(s);
}

/* ---- what the encoders refuse or repair ---- */

/* upload_limit_kbps (docs/policies.md): 0 or absent is none, the bounds are kept both ways */
static void test_config_upload_limit(void **st)
{
	(void)st;
	struct {
		const char *json;
		int64_t want;
	} ok[] = {
		{CFG "}", 0},
		{CFG ",\"upload_limit_kbps\":null}", 0},
		{CFG ",\"upload_limit_kbps\":0}", 0},
		{CFG ",\"upload_limit_kbps\":1}", 1},
		{CFG ",\"upload_limit_kbps\":10000000}", PROTO_MAX_UPLOAD_LIMIT},
	};
	struct roost_errbuf eb = {{0}};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct proto_server_msg m;
		if (proto_decode_server(ok[i].json, strlen(ok[i].json), &m, &eb))
			fail_msg("%s: %s", ok[i].json, eb.msg);
		assert_int_equal(m.config.upload_limit_kbps, ok[i].want);
		/* the encoder omits 0 and keeps the rest */
		json_t *o = enc_server(&m);
		json_t *v = json_object_get(o, "upload_limit_kbps");
		if (ok[i].want)
			assert_int_equal(json_integer_value(v), ok[i].want);
		else
			assert_null(v);
		json_decref(o);
		proto_server_msg_release(&m);
	}
	struct proto_server_msg m = {.type = PROTO_CONFIG};
	m.config.host_id = 1;
	json_t *o = NULL;
	m.config.upload_limit_kbps = PROTO_MAX_UPLOAD_LIMIT + 1;
	assert_int_equal(proto_encode_server(&m, &o, &eb), ROOST_EINVAL);
	assert_non_null(strstr(eb.msg, "upload_limit_kbps"));
	assert_null(o);
	m.config.upload_limit_kbps = -1;
	assert_int_equal(proto_encode_server(&m, &o, &eb), ROOST_EINVAL);
	assert_null(o);
}

static void test_encoders_check(void **st)
{
	(void)st;
	struct roost_errbuf eb = {{0}};
	json_t *o = (json_t *)1;
	struct proto_job j = {.job_id = 0};
	assert_int_equal(proto_encode_job_accepted(&j, &o, &eb), ROOST_EINVAL);
	assert_null(o);
	assert_non_null(strstr(eb.msg, "job_id"));
	j.job_id = 5;
	snprintf(j.status, sizeof(j.status), "running");
	assert_int_equal(proto_encode_job_finished(&j, &o, &eb), ROOST_EINVAL);
	assert_non_null(strstr(eb.msg, "status"));
	/* an error message is any bytes (file names): made valid UTF-8 and cut to fit */
	snprintf(j.status, sizeof(j.status), "failed");
	memset(j.error, '\xff', sizeof(j.error) - 1);
	j.error[sizeof(j.error) - 1] = 0;
	assert_int_equal(proto_encode_job_finished(&j, &o, &eb), ROOST_OK);
	const char *e = json_string_value(json_object_get(o, "error"));
	assert_non_null(e);
	assert_true(strlen(e) < sizeof(j.error));
	assert_int_equal(strlen(e) % 3, 0); /* whole U+FFFD characters */
	json_decref(o);
	/* other strings must be text */
	struct proto_fire f = {.schedule_id = 1, .slot = -1};
	assert_int_equal(proto_encode_fire(&f, &o, &eb), ROOST_EINVAL);
	assert_non_null(strstr(eb.msg, "slot"));
	struct proto_server_msg m = {.type = PROTO_CONFIG};
	m.config.host_id = 1;
	snprintf(m.config.name, sizeof(m.config.name), "bad\xc3");
	assert_int_equal(proto_encode_server(&m, &o, &eb), ROOST_EINVAL);
	assert_non_null(strstr(eb.msg, "name"));
	snprintf(m.config.name, sizeof(m.config.name), "ok");
	snprintf(m.config.mode, sizeof(m.config.mode), "weekly");
	assert_int_equal(proto_encode_server(&m, &o, &eb), ROOST_EINVAL);
	assert_non_null(strstr(eb.msg, "mode"));
	m.type = PROTO_HELLO;
	assert_int_equal(proto_encode_server(&m, &o, &eb), ROOST_EINVAL);
	struct proto_msg am = {.type = PROTO_JOB_CANCEL};
	assert_int_equal(proto_encode_agent(&am, &o, &eb), ROOST_EINVAL);
	/* a restore without a target is refused at the server, not by the agent */
	m.type = PROTO_JOB_START;
	m.start.job_id = 3;
	snprintf(m.start.kind, sizeof(m.start.kind), "restore");
	m.start.has_restore = 1;
	snprintf(m.start.restore.snapshot_id, sizeof(m.start.restore.snapshot_id), "latest");
	assert_int_equal(proto_encode_server(&m, &o, &eb), ROOST_EINVAL);
	assert_non_null(strstr(eb.msg, "target"));
	proto_server_msg_release(&m);
	proto_server_msg_release(NULL);
	proto_msg_release(NULL);
}

/* the entries the agent keeps on disk (jobs.json done[], fires.json) and sends in hello */
static void test_entries(void **st)
{
	(void)st;
	struct roost_errbuf eb = {{0}};
	struct proto_job j = finished_job(), jb;
	json_t *o;
	assert_int_equal(proto_encode_job_entry(&j, &o, &eb), ROOST_OK);
	assert_null(json_object_get(o, "type"));
	assert_int_equal(proto_decode_job_entry(o, &jb, &eb), ROOST_OK);
	job_eq(&j, &jb);
	json_decref(o);
	/* what run_job kept on disk before: a failed job with "snapshot_id": "" */
	o = json_pack("{s:I, s:s, s:s, s:{s:I, s:I, s:I}, s:s}", "job_id", (json_int_t)44, "status",
	              "failed", "started_at", "2026-11-18T11:06:40Z", "stats", "files",
	              (json_int_t)0, "bytes", (json_int_t)0, "bytes_new", (json_int_t)0,
	              "snapshot_id", "");
	assert_int_equal(proto_decode_job_entry(o, &jb, &eb), ROOST_OK);
	assert_string_equal(jb.status, "failed");
	assert_int_equal(jb.started_at, T0);
	json_decref(o);
	/* an entry's status must be one the server knows */
	o = json_pack("{s:I, s:s}", "job_id", (json_int_t)1, "status", "paused");
	assert_int_equal(proto_decode_job_entry(o, &jb, &eb), ROOST_EINVAL);
	assert_non_null(strstr(eb.msg, "status"));
	json_decref(o);
	j.status[0] = 0;
	assert_int_equal(proto_encode_job_entry(&j, &o, &eb), ROOST_EINVAL);
	assert_null(o);

	struct proto_fire f = {.schedule_id = 3, .slot = T0}, fb;
	assert_int_equal(proto_encode_fire_entry(&f, &o, &eb), ROOST_OK);
	assert_null(json_object_get(o, "type"));
	assert_int_equal(proto_decode_fire_entry(o, &fb, &eb), ROOST_OK);
	assert_int_equal(fb.schedule_id, 3);
	assert_int_equal(fb.slot, T0);
	json_decref(o);
	o = json_pack("{s:I}", "schedule_id", (json_int_t)3);
	assert_int_equal(proto_decode_fire_entry(o, &fb, &eb), ROOST_EINVAL);
	assert_non_null(strstr(eb.msg, "slot"));
	json_decref(o);
}

/* status {on_battery, metered} and the same optional pair in hello (docs/policies.md) */
static void test_status_and_hello_power(void **st)
{
	(void)st;
	struct proto_msg m, d;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_STATUS;
	m.on_battery = 1;
	same_json(enc_agent(&m), json_pack("{s:s, s:b, s:b}", "type", "status", "on_battery", 1,
	                                   "metered", 0), 1);
	m.on_battery = 0;
	m.metered = 1;
	wire_agent(enc_agent(&m), &d);
	assert_int_equal(d.type, PROTO_STATUS);
	assert_int_equal(d.on_battery, 0);
	assert_int_equal(d.metered, 1);
	assert_string_equal(proto_type_name(PROTO_STATUS), "status");
	/* hello: absent = false, sent only when true, decoded back */
	memset(&m, 0, sizeof(m));
	m.type = PROTO_HELLO;
	m.protocol = PROTO_VERSION;
	json_t *h = enc_agent(&m);
	assert_null(json_object_get(h, "on_battery"));
	assert_null(json_object_get(h, "metered"));
	wire_agent(h, &d);
	assert_int_equal(d.on_battery + d.metered, 0);
	proto_msg_release(&d);
	m.on_battery = 1;
	m.metered = 1;
	h = enc_agent(&m);
	assert_true(json_is_true(json_object_get(h, "on_battery")));
	wire_agent(h, &d);
	assert_int_equal(d.on_battery, 1);
	assert_int_equal(d.metered, 1);
	proto_msg_release(&d);
	/* strict: both required in status, booleans only */
	agent_rejects("{\"type\":\"status\",\"on_battery\":true}", EI, "metered");
	agent_rejects("{\"type\":\"status\",\"metered\":false}", EI, "on_battery");
	agent_rejects("{\"type\":\"status\",\"on_battery\":1,\"metered\":false}", EI,
	              "on_battery");
	agent_rejects("{\"type\":\"hello\",\"protocol\":1,\"metered\":\"yes\"}", EI,
	              "metered");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_roundtrip),
		cmocka_unit_test(test_server_roundtrip),
		cmocka_unit_test(test_golden_config),
		cmocka_unit_test(test_golden_job_start_cancel),
		cmocka_unit_test(test_golden_agent),
		cmocka_unit_test(test_agent_rejects),
		cmocka_unit_test(test_server_rejects),
		cmocka_unit_test(test_config_upload_limit),
		cmocka_unit_test(test_group_hooks),
		cmocka_unit_test(test_encoders_check),
		cmocka_unit_test(test_entries),
		cmocka_unit_test(test_status_and_hello_power),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
