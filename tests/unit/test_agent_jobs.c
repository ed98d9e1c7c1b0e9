/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the agent's job queue (agent/jobs.c) on the protocol's
 * side, without the job thread: a jobs.json written by the agent before it
 * used lib/proto still loads (the running job becomes "interrupted", an
 * entry lib/proto refuses is failed or dropped), the hello built from it
 * decodes as roostd decodes it, a job.start that could not be decoded is
 * reported failed once, a queued job canceled is reported canceled, and
 * jobs.json round-trips through a restart. With the job thread: a group's
 * hooks run only when the agent allows them, and around the backup (which,
 * without repository access here, fails after the pre-hook).
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

struct fix {
	char dir[64];
	struct agent_identity id;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_agent_jobs.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	assert_int_equal(agent_server_parse("https://127.0.0.1:1", &f->id.servers[0]), 0);
	f->id.nservers = 1;
	snprintf(f->id.name, sizeof(f->id.name), "box");
	f->id.host_id = 1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	char p[400];
	const char *names[] = {"jobs.json", "cache"};
	for (size_t i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/%s", f->dir, names[i]);
		if (unlink(p))
			rmdir(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void write_file(struct fix *f, const char *name, const char *text)
{
	char p[400];
	snprintf(p, sizeof(p), "%s/%s", f->dir, name);
	FILE *fp = fopen(p, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

#define SNAP "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* jobs.json as the agent wrote it by hand before lib/proto: job.start
 * messages as received, final states with snapshot_id "" and started_at. */
static const char old_jobs_json[] =
	"{\"queue\": ["
	" {\"type\": \"job.start\", \"job_id\": 5, \"kind\": \"backup\", \"trigger\": \"manual\","
	"  \"group\": {\"id\": 2, \"host_id\": 1, \"name\": \"docs\", \"paths\": [\"/srv/docs\"],"
	"   \"excludes\": [\"*.tmp\"]}},"
	" {\"type\": \"job.start\", \"job_id\": 6}"
	"],"
	" \"current\": {\"type\": \"job.start\", \"job_id\": 4, \"kind\": \"restore\","
	"  \"snapshot_id\": \"latest\", \"target\": \"/tmp/r\", \"include\": []},"
	" \"done\": ["
	"  {\"job_id\": 2, \"status\": \"bogus\"},"
	"  {\"job_id\": 3, \"status\": \"succeeded\", \"started_at\": \"2026-06-01T10:00:00Z\","
	"   \"stats\": {\"files\": 2, \"bytes\": 10, \"bytes_new\": 7}, \"snapshot_id\": \"" SNAP "\"},"
	"  {\"job_id\": 1, \"status\": \"failed\", \"started_at\": \"2026-06-01T09:00:00Z\","
	"   \"stats\": {\"files\": 0, \"bytes\": 0, \"bytes_new\": 0}, \"snapshot_id\": \"\","
	"   \"error\": \"repository: refused\"}"
	"]}";

static const struct proto_job *find(const struct proto_msg *h, int64_t id)
{
	for (size_t i = 0; i < h->njobs; i++)
		if (h->jobs[i].job_id == id)
			return &h->jobs[i];
	fail_msg("job %lld not in the report", (long long)id);
	return NULL;
}

/* The hello built from j, decoded the way roostd decodes it. */
static void hello_of(struct jobs *j, struct proto_msg *out)
{
	struct proto_msg h = {0};
	assert_int_equal(jobs_report(j, &h), 0);
	json_t *o = msg_hello(&h, "Europe/Berlin", 1780000000);
	proto_msg_release(&h);
	assert_non_null(o);
	struct roost_errbuf eb = {{0}};
	char *txt = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (proto_decode_agent(txt, strlen(txt), out, &eb))
		fail_msg("hello: %s", eb.msg);
	free(txt);
	assert_int_equal(out->type, PROTO_HELLO);
	assert_string_equal(out->tz, "Europe/Berlin");
	assert_int_equal(out->clock, 1780000000);
}

/* The messages waiting in the outbox, each decoded; returns how many. */
static size_t outbox(struct jobs *j, struct proto_msg *out, size_t cap)
{
	json_t *prog;
	json_t *box = jobs_take_outbox(j, 0, &prog);
	assert_null(prog);
	size_t n = json_array_size(box);
	for (size_t i = 0; i < n && i < cap; i++) {
		struct roost_errbuf eb = {{0}};
		if (proto_decode_agent_json(json_array_get(box, i), &out[i], &eb))
			fail_msg("outbox[%zu]: %s", i, eb.msg);
	}
	json_decref(box);
	return n;
}

static void check_old_state(struct proto_msg *h)
{
	/* queued first, then the final states in order */
	assert_int_equal(h->njobs, 5);
	assert_int_equal(h->jobs[0].job_id, 5);
	assert_string_equal(h->jobs[0].status, "queued");
	const struct proto_job *ok = find(h, 3);
	assert_string_equal(ok->status, "succeeded");
	assert_string_equal(ok->snapshot_id, SNAP);
	assert_int_equal(ok->bytes_new, 7);
	const struct proto_job *bad = find(h, 1);
	assert_string_equal(bad->status, "failed");
	assert_string_equal(bad->error, "repository: refused");
	assert_string_equal(find(h, 4)->status, "interrupted");
	const struct proto_job *undecodable = find(h, 6);
	assert_string_equal(undecodable->status, "failed");
	assert_non_null(strstr(undecodable->error, "kind"));
	for (size_t i = 0; i < h->njobs; i++)
		assert_int_not_equal(h->jobs[i].job_id, 2); /* unknown status: dropped */
}

static void test_old_jobs_json_loads(void **state)
{
	struct fix *f = *state;
	write_file(f, "jobs.json", old_jobs_json);
	struct proto_config cfg = {0};
	struct jobs *j = jobs_open(f->dir, &f->id, &cfg);
	assert_non_null(j);
	struct proto_msg h;
	hello_of(j, &h);
	check_old_state(&h);
	proto_msg_release(&h);
	jobs_free(j);

	/* what jobs_open wrote back loads the same, and the queue kept its job.start whole */
	j = jobs_open(f->dir, &f->id, &cfg);
	hello_of(j, &h);
	check_old_state(&h);
	proto_msg_release(&h);
	jobs_free(j);
	char p[400];
	snprintf(p, sizeof(p), "%s/jobs.json", f->dir);
	json_t *saved = json_load_file(p, 0, NULL);
	assert_non_null(saved);
	struct proto_server_msg m;
	struct roost_errbuf eb = {{0}};
	if (proto_decode_server_json(json_array_get(json_object_get(saved, "queue"), 0), &m, &eb))
		fail_msg("queue[0]: %s", eb.msg);
	assert_int_equal(m.type, PROTO_JOB_START);
	assert_int_equal(m.start.job_id, 5);
	assert_true(m.start.has_group);
	assert_int_equal(m.start.group.npaths, 1);
	assert_string_equal(m.start.group.paths[0], "/srv/docs");
	assert_string_equal(m.start.group.excludes[0], "*.tmp");
	assert_string_equal(m.start.trigger, "manual");
	proto_server_msg_release(&m);
	json_decref(saved);
}

/* A job.start the agent could not decode is reported failed, once; a
 * known job is not touched. */
static void test_reject(void **state)
{
	struct fix *f = *state;
	struct proto_config cfg = {0};
	struct jobs *j = jobs_open(f->dir, &f->id, &cfg);
	assert_non_null(j);
	const char frame[] = "{\"type\":\"job.start\",\"job_id\":42,\"kind\":7}";
	struct proto_server_msg m;
	struct roost_errbuf eb = {{0}};
	assert_int_not_equal(proto_decode_server(frame, strlen(frame), &m, &eb), 0);
	assert_int_equal(m.type, PROTO_JOB_START);
	assert_int_equal(m.start.job_id, 42);
	jobs_reject(j, m.start.job_id, eb.msg);
	proto_server_msg_release(&m);
	struct proto_msg out[4];
	assert_int_equal(outbox(j, out, 4), 1);
	assert_int_equal(out[0].type, PROTO_JOB_FINISHED);
	assert_int_equal(out[0].job.job_id, 42);
	assert_string_equal(out[0].job.status, "failed");
	assert_non_null(strstr(out[0].job.error, "job.start: kind"));
	jobs_reject(j, 42, "again");
	assert_int_equal(outbox(j, out, 4), 0);
	struct proto_msg h;
	hello_of(j, &h);
	assert_int_equal(h.njobs, 1);
	assert_string_equal(find(&h, 42)->status, "failed");
	proto_msg_release(&h);
	jobs_free(j);
}

/* A decoded job.start is queued once however often it comes; canceled
 * while queued, it is reported canceled and leaves the queue. */
static void test_enqueue_cancel(void **state)
{
	struct fix *f = *state;
	struct proto_config cfg = {0};
	struct jobs *j = jobs_open(f->dir, &f->id, &cfg);
	assert_non_null(j);
	const char frame[] = "{\"type\":\"job.start\",\"job_id\":7,\"kind\":\"backup\","
	                     "\"group\":{\"id\":2,\"host_id\":1,\"name\":null,\"paths\":[\"/a\"],"
	                     "\"excludes\":[]},\"trigger\":\"schedule\"}";
	for (int k = 0; k < 2; k++) {
		struct proto_server_msg m;
		struct roost_errbuf eb = {{0}};
		if (proto_decode_server(frame, strlen(frame), &m, &eb))
			fail_msg("job.start: %s", eb.msg);
		jobs_enqueue(j, &m.start);
		assert_int_equal(m.start.job_id, 0); /* taken */
		proto_server_msg_release(&m);
	}
	struct proto_msg h;
	hello_of(j, &h);
	assert_int_equal(h.njobs, 1);
	assert_string_equal(find(&h, 7)->status, "queued");
	proto_msg_release(&h);
	jobs_cancel_job(j, 7);
	struct proto_msg out[4];
	assert_int_equal(outbox(j, out, 4), 1);
	assert_int_equal(out[0].type, PROTO_JOB_FINISHED);
	assert_int_equal(out[0].job.job_id, 7);
	assert_string_equal(out[0].job.status, "canceled");
	hello_of(j, &h);
	assert_int_equal(h.njobs, 1);
	assert_string_equal(find(&h, 7)->status, "canceled");
	proto_msg_release(&h);
	jobs_free(j);
}

static void no_wake(void *ctx)
{
	(void)ctx;
}

/* Queues the job.start frame and waits (10 s at most) for its job.finished. */
static void run_one(struct jobs *j, const char *frame, struct proto_job *fin)
{
	struct proto_server_msg m;
	struct roost_errbuf eb = {{0}};
	if (proto_decode_server(frame, strlen(frame), &m, &eb))
		fail_msg("job.start: %s", eb.msg);
	jobs_enqueue(j, &m.start);
	proto_server_msg_release(&m);
	for (int i = 0; i < 200; i++) {
		struct proto_msg out[4];
		size_t n = outbox(j, out, 4);
		int got = 0;
		for (size_t k = 0; k < n && k < 4; k++) {
			if (out[k].type == PROTO_JOB_FINISHED) {
				*fin = out[k].job;
				got = 1;
			}
			proto_msg_release(&out[k]);
		}
		if (got)
			return;
		usleep(50 * 1000);
	}
	fail_msg("no job.finished");
}

static const char *file_text(struct fix *f, const char *name, char *buf, size_t cap)
{
	char p[400];
	snprintf(p, sizeof(p), "%s/%s", f->dir, name);
	FILE *fp = fopen(p, "r");
	size_t n = fp ? fread(buf, 1, cap - 1, fp) : 0;
	buf[n] = 0;
	if (fp) {
		fclose(fp);
		unlink(p);
	}
	return buf;
}

/* A backup job.start of group db with hooks that append to DIR/m. */
static void hook_frame(struct fix *f, int id, const char *pre, char *out, size_t cap)
{
	snprintf(out, cap,
	         "{\"type\":\"job.start\",\"job_id\":%d,\"kind\":\"backup\",\"group\":{\"id\":2,"
	         "\"host_id\":1,\"name\":\"db\",\"paths\":[\"/a\"],\"pre_hook\":\"echo pre >>%s/m; "
	         "%s\",\"post_hook\":\"echo post $ROOST_STATUS >>%s/m\"},\"trigger\":\"manual\"}",
	         id, f->dir, pre, f->dir);
}

static void test_hooks_in_jobs(void **state)
{
	struct fix *f = *state;
	struct proto_config cfg = {0};
	char fr[1200], buf[256];
	struct proto_job fin;

	/* not allowed: fails with the reason, nothing runs */
	struct jobs *j = jobs_open(f->dir, &f->id, &cfg);
	assert_non_null(j);
	assert_int_equal(jobs_start(j, no_wake, NULL), 0);
	hook_frame(f, 8, "true", fr, sizeof(fr));
	run_one(j, fr, &fin);
	assert_int_equal(fin.job_id, 8);
	assert_string_equal(fin.status, "failed");
	assert_non_null(strstr(fin.error, "hooks are disabled on this host: enroll with "
	                                  "--allow-hooks"));
	assert_string_equal(file_text(f, "m", buf, sizeof(buf)), "");
	jobs_stop(j);
	jobs_free(j);

	/* allowed: a failing pre-hook fails the job; the post-hook sees it */
	f->id.allow_hooks = 1;
	j = jobs_open(f->dir, &f->id, &cfg);
	assert_non_null(j);
	assert_int_equal(jobs_start(j, no_wake, NULL), 0);
	hook_frame(f, 9, "echo no lock >&2; exit 2", fr, sizeof(fr));
	run_one(j, fr, &fin);
	assert_string_equal(fin.status, "failed");
	assert_string_equal(fin.error, "pre-hook failed: exit status 2; last stderr line: no lock");
	assert_string_equal(fin.hook_output, "--- pre-hook: exit status 2\nno lock\n"
	                                     "--- post-hook: exit status 0\n");
	assert_string_equal(file_text(f, "m", buf, sizeof(buf)), "pre\npost failed\n");
	/* a good pre-hook, then the backup (no repository access here), then the post-hook */
	hook_frame(f, 10, "true", fr, sizeof(fr));
	run_one(j, fr, &fin);
	assert_string_equal(fin.status, "failed");
	assert_non_null(strstr(fin.error, "no repository access"));
	assert_string_equal(file_text(f, "m", buf, sizeof(buf)), "pre\npost failed\n");
	jobs_stop(j);
	jobs_free(j);
	f->id.allow_hooks = 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_old_jobs_json_loads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enqueue_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hooks_in_jobs, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
