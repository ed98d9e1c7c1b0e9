/* SPDX-License-Identifier: MIT */
/*
 * agent/hooks.c: a hook's exit status, signal, timeout (the whole process
 * group, a child that ignores SIGTERM included), cancel, bounded output,
 * stdin, environment, and the job's facts a backup's hooks see. Real
 * processes, small timeouts; files under /tmp/h-hooks-<pid>.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent.h"

static char dir[64];

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int setup(void **st)
{
	(void)st;
	snprintf(dir, sizeof(dir), "/tmp/h-hooks-%d", (int)getpid());
	mkdir(dir, 0700);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The file's contents (static buffer), "" if absent. */
static const char *slurp(const char *name)
{
	static char b[8192];
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "r");
	size_t n = f ? fread(b, 1, sizeof(b) - 1, f) : 0;
	b[n] = 0;
	if (f)
		fclose(f);
	return b;
}

/* Is pid gone (or a zombie nobody reaps)? */
static int gone(pid_t pid)
{
	char p[64], s[256];
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(p, "r");
	if (!f)
		return 1;
	size_t n = fread(s, 1, sizeof(s) - 1, f);
	fclose(f);
	s[n] = 0;
	const char *rp = strrchr(s, ')');
	return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

static struct hook_result run(const char *cmd, int timeout_s, char *const *env)
{
	struct hook_spec sp = {.cmd = cmd, .env = env, .timeout_s = timeout_s, .grace_ms = 300};
	struct hook_result r;
	assert_int_equal(hook_run(&sp, &r), 0);
	return r;
}

static void test_exit_status(void **st)
{
	(void)st;
	struct hook_result r = run("exit 0", 5, NULL);
	assert_true(hook_ok(&r));
	hook_result_release(&r);

	r = run("echo starting; echo first >&2; echo 'disk is full' >&2; echo done; exit 3", 5,
	        NULL);
	assert_false(hook_ok(&r));
	assert_int_equal(r.exit_code, 3);
	assert_int_equal(r.signal, 0);
	assert_int_equal(r.timed_out, 0);
	assert_string_equal(r.last_err_line, "disk is full");
	/* stdout and stderr both kept */
	assert_non_null(strstr(r.output, "starting"));
	assert_non_null(strstr(r.output, "first"));
	char msg[512];
	struct hook_spec sp = {.timeout_s = 5};
	hook_describe("pre-hook", &sp, &r, msg, sizeof(msg));
	assert_string_equal(msg, "pre-hook failed: exit status 3; last stderr line: disk is full");
	hook_result_release(&r);

	r = run("kill -USR1 $$", 5, NULL);
	assert_false(hook_ok(&r));
	assert_int_equal(r.signal, SIGUSR1);
	hook_describe("post-hook", &sp, &r, msg, sizeof(msg));
	assert_non_null(strstr(msg, "post-hook failed: killed by signal 10"));
	assert_non_null(strstr(msg, "(no stderr)"));
	hook_result_release(&r);

	/* a command sh can not find is exit status 127, with sh's complaint */
	r = run("/nonexistent/h-hook", 5, NULL);
	assert_int_equal(r.exit_code, 127);
	assert_non_null(strstr(r.last_err_line, "nonexistent"));
	hook_result_release(&r);
}

/* A hook that hangs, with a child that ignores SIGTERM: at its timeout the
 * group gets SIGTERM, then SIGKILL; both are gone when hook_run returns. */
static void test_timeout_kills_group(void **st)
{
	(void)st;
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
	         "sh -c 'trap \"\" TERM; echo $$ >%s/child; exec sleep 60' &"
	         " echo $$ >%s/shell; echo waiting >&2; wait", dir, dir);
	int64_t t0 = mono_ms();
	struct hook_result r = run(cmd, 1, NULL);
	int64_t took = mono_ms() - t0;
	assert_false(hook_ok(&r));
	assert_int_equal(r.timed_out, 1);
	assert_true(took >= 1000);
	assert_true(took < 1000 + 300 + 2500);
	pid_t child = (pid_t)atoi(slurp("child")), shell = (pid_t)atoi(slurp("shell"));
	assert_true(child > 0 && shell > 0);
	assert_true(gone(shell));
	assert_true(gone(child));
	char msg[512];
	struct hook_spec sp = {.timeout_s = 1};
	hook_describe("pre-hook", &sp, &r, msg, sizeof(msg));
	assert_string_equal(msg, "pre-hook failed: timed out after 1 s; last stderr line: waiting");
	hook_result_release(&r);
}

/* What the shell leaves running in its group when it exits is ended too. */
static void test_leftovers_killed(void **st)
{
	(void)st;
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
	         "sh -c 'trap \"\" TERM; echo $$ >%s/bg.new; mv %s/bg.new %s/bg; exec sleep 60' "
	         ">/dev/null 2>&1 & while [ ! -s %s/bg ]; do sleep 0.05; done; exit 0", dir, dir, dir,
	         dir);
	struct hook_result r = run(cmd, 30, NULL);
	assert_true(hook_ok(&r));
	pid_t bg = (pid_t)atoi(slurp("bg"));
	assert_true(bg > 0);
	assert_true(gone(bg));
	hook_result_release(&r);
}

static volatile int cancel_flag;

static void *cancel_later(void *arg)
{
	(void)arg;
	usleep(200 * 1000);
	__atomic_store_n(&cancel_flag, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void test_cancel(void **st)
{
	(void)st;
	cancel_flag = 0;
	pthread_t t;
	pthread_create(&t, NULL, cancel_later, NULL);
	struct hook_spec sp = {.cmd = "sleep 60", .timeout_s = 60, .grace_ms = 300,
	                       .cancel = &cancel_flag};
	struct hook_result r;
	int64_t t0 = mono_ms();
	assert_int_equal(hook_run(&sp, &r), 0);
	pthread_join(t, NULL);
	assert_true(mono_ms() - t0 < 3000);
	assert_int_equal(r.canceled, 1);
	assert_int_equal(r.timed_out, 0);
	assert_false(hook_ok(&r));
	hook_result_release(&r);
}

struct lines {
	int n, nerr;
	char last[1100];
	size_t longest;
};

static void on_line(void *ctx, int is_err, const char *line)
{
	struct lines *l = ctx;
	l->n++;
	l->nerr += is_err;
	snprintf(l->last, sizeof(l->last), "%s", line);
	if (strlen(line) > l->longest)
		l->longest = strlen(line);
}

/* 200 000 bytes of output: the last HOOK_OUTPUT_MAX are kept, lines are cut. */
static void test_bounded_output(void **st)
{
	(void)st;
	struct lines l = {0};
	struct hook_spec sp = {
		.cmd = "head -c 200000 /dev/zero | tr '\\0' x; echo; echo END",
		.timeout_s = 10,
		.grace_ms = 300,
		.on_line = on_line,
		.ctx = &l,
	};
	struct hook_result r;
	assert_int_equal(hook_run(&sp, &r), 0);
	assert_true(hook_ok(&r));
	assert_int_equal(r.len, HOOK_OUTPUT_MAX);
	assert_int_equal(strlen(r.output), HOOK_OUTPUT_MAX);
	assert_string_equal(r.output + r.len - 5, "\nEND\n");
	assert_string_equal(l.last, "END");
	assert_true(l.longest <= 1024);
	assert_true(l.n > 190);
	assert_int_equal(l.nerr, 0);
	hook_result_release(&r);
}

/* stdin is /dev/null (cat ends at once); env adds and shadows variables. */
static void test_env_stdin(void **st)
{
	(void)st;
	setenv("ROOST_H_SHADOW", "old", 1);
	setenv("ROOST_H_KEPT", "kept", 1);
	char *env[] = {"ROOST_H_SHADOW=new", "ROOST_H_NEW=42", NULL};
	struct hook_result r =
		run("cat; printf '%s %s %s' \"$ROOST_H_SHADOW\" \"$ROOST_H_NEW\" \"$ROOST_H_KEPT\"; "
		    "env | grep -c '^ROOST_H_SHADOW=' >&2", 5, env);
	assert_true(hook_ok(&r));
	assert_non_null(strstr(r.output, "new 42 kept"));
	assert_string_equal(r.last_err_line, "1");
	hook_result_release(&r);
	unsetenv("ROOST_H_SHADOW");
	unsetenv("ROOST_H_KEPT");
}

/* A backup's hooks see the job's facts. */
static void test_job_env(void **st)
{
	(void)st;
	struct proto_job_start js = {0};
	js.job_id = 4242;
	snprintf(js.kind, sizeof(js.kind), "backup");
	snprintf(js.schedule, sizeof(js.schedule), "nightly");
	js.has_group = 1;
	struct proto_group *g = &js.group;
	snprintf(g->name, sizeof(g->name), "db");
	assert_int_equal(proto_strv_push(&g->paths, &g->npaths, "/srv/a b"), ROOST_OK);
	assert_int_equal(proto_strv_push(&g->paths, &g->npaths, "/srv/c"), ROOST_OK);
	g->hook_timeout_s = 5;
	snprintf(g->pre_hook, sizeof(g->pre_hook),
	         "env | grep -E '^ROOST_(GROUP|HOOK|HOST|JOB_ID|SCHEDULE|SNAPSHOT_ID|STATUS)=' | sort >%s/pre.env; "
	         "printf '%%s' \"$ROOST_PATHS\" >%s/pre.paths", dir, dir);
	snprintf(g->post_hook, sizeof(g->post_hook),
	         "env | grep -E '^ROOST_(GROUP|HOOK|HOST|JOB_ID|SCHEDULE|SNAPSHOT_ID|STATUS)=' | sort >%s/post.env; "
	         "echo 'could not unfreeze' >&2; exit 4", dir);
	char err[600];
	int canceled = 1;
	assert_int_equal(hook_run_for_job("pre-hook", &js, "web1", NULL, NULL, NULL, &canceled, err,
	                                  sizeof(err), NULL, 0), 0);
	assert_int_equal(canceled, 0);
	assert_string_equal(slurp("pre.env"), "ROOST_GROUP=db\nROOST_HOOK=pre\nROOST_HOST=web1\n"
	                                      "ROOST_JOB_ID=4242\nROOST_SCHEDULE=nightly\n");
	assert_string_equal(slurp("pre.paths"), "/srv/a b\n/srv/c");
	const char *snap = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char out[PROTO_MAX_HOOK_OUTPUT + 1] = "";
	assert_int_equal(hook_run_for_job("post-hook", &js, "web1", "succeeded", snap, NULL,
	                                  &canceled, err, sizeof(err), out, sizeof(out)), -1);
	assert_string_equal(err, "post-hook failed: exit status 4; last stderr line: could not "
	                         "unfreeze");
	/* what the job reports as its hook_output */
	assert_string_equal(out, "--- post-hook: exit status 4\ncould not unfreeze\n");
	char want[600];
	snprintf(want, sizeof(want), "ROOST_GROUP=db\nROOST_HOOK=post\nROOST_HOST=web1\n"
	         "ROOST_JOB_ID=4242\nROOST_SCHEDULE=nightly\nROOST_SNAPSHOT_ID=%s\n"
	         "ROOST_STATUS=succeeded\n", snap);
	assert_string_equal(slurp("post.env"), want);
	/* no schedule, no snapshot: those are not set */
	js.schedule[0] = 0;
	assert_int_equal(hook_run_for_job("post-hook", &js, "web1", "failed", "", NULL, &canceled,
	                                  err, sizeof(err), out, sizeof(out)), -1);
	assert_string_equal(out, "--- post-hook: exit status 4\ncould not unfreeze\n"
	                         "--- post-hook: exit status 4\ncould not unfreeze\n");
	/* a hook that says a lot: only its end, and the whole stays within the bound */
	snprintf(g->pre_hook, sizeof(g->pre_hook), "seq 1 100000");
	assert_int_equal(hook_run_for_job("pre-hook", &js, "web1", NULL, NULL, NULL, &canceled, err,
	                                  sizeof(err), out, sizeof(out)), 0);
	assert_true(strlen(out) <= PROTO_MAX_HOOK_OUTPUT);
	assert_non_null(strstr(out, "--- pre-hook: exit status 0\n"));
	assert_non_null(strstr(out, "99999\n100000\n"));
	assert_null(strstr(out, "\n5000\n"));
	assert_string_equal(slurp("post.env"), "ROOST_GROUP=db\nROOST_HOOK=post\nROOST_HOST=web1\n"
	                                       "ROOST_JOB_ID=4242\nROOST_STATUS=failed\n");
	proto_job_start_release(&js);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_status),
		cmocka_unit_test(test_timeout_kills_group),
		cmocka_unit_test(test_leftovers_killed),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_bounded_output),
		cmocka_unit_test(test_env_stdin),
		cmocka_unit_test(test_job_env),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
