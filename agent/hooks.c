/* SPDX-License-Identifier: MIT */
/*
 * A group's pre- and post-hooks (docs/policies.md, "Hooks"): one shell
 * command run with /bin/sh -c in a process group of its own, stdin from
 * /dev/null, stdout and stderr read through two pipes (the last
 * HOOK_OUTPUT_MAX bytes kept, each line handed to a callback), and bounded
 * in time: at its timeout, or when the job is canceled, the whole group
 * gets SIGTERM, then SIGKILL once the grace period has passed. When the
 * shell exits, whatever it left running in its group is ended the same
 * way, so a hook never outlives its run. The job thread calls it; nothing
 * here touches the agent's event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "roost/log.h"

extern char **environ;

#define LINE_MAX_BYTES 1024 /* a longer line is handed over in pieces */
#define DRAIN_MS 1000       /* how long output is read after the shell exited */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One output stream's partial line. */
struct stream {
	int fd; /* -1 once at EOF */
	int is_err;
	char line[LINE_MAX_BYTES + 1];
	size_t len;
};

struct run {
	struct hook_result *r;
	hook_line_fn on_line;
	void *ctx;
};

static void keep_output(struct hook_result *r, const char *b, size_t n)
{
	if (n >= HOOK_OUTPUT_MAX) {
		b += n - HOOK_OUTPUT_MAX;
		n = HOOK_OUTPUT_MAX;
	}
	if (r->len + n > HOOK_OUTPUT_MAX) {
		size_t drop = r->len + n - HOOK_OUTPUT_MAX;
		memmove(r->output, r->output + drop, r->len - drop);
		r->len -= drop;
	}
	memcpy(r->output + r->len, b, n);
	r->len += n;
	r->output[r->len] = 0;
}

static void emit_line(struct run *rn, struct stream *s)
{
	s->line[s->len] = 0;
	if (s->len && s->line[s->len - 1] == '\r')
		s->line[--s->len] = 0;
	if (s->is_err && s->len)
		snprintf(rn->r->last_err_line, sizeof(rn->r->last_err_line), "%.*s",
		         (int)sizeof(rn->r->last_err_line) - 1, s->line);
	if (rn->on_line)
		rn->on_line(rn->ctx, s->is_err, s->line);
	s->len = 0;
}

/* Reads what s has; at EOF or error closes it. */
static void read_stream(struct run *rn, struct stream *s)
{
	char b[4096];
	ssize_t n = read(s->fd, b, sizeof(b));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		if (s->len)
			emit_line(rn, s);
		close(s->fd);
		s->fd = -1;
		return;
	}
	keep_output(rn->r, b, (size_t)n);
	for (ssize_t i = 0; i < n; i++) {
		if (b[i] == '\n') {
			emit_line(rn, s);
			continue;
		}
		s->line[s->len++] = b[i] ? b[i] : ' ';
		if (s->len == LINE_MAX_BYTES)
			emit_line(rn, s);
	}
}

/* environ without the names extra sets, then extra; NULL when out of memory. */
static char **build_env(char *const *extra)
{
	size_t ne = 0, nx = 0;
	while (environ && environ[ne])
		ne++;
	while (extra && extra[nx])
		nx++;
	char **v = calloc(ne + nx + 1, sizeof(*v));
	if (!v)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < ne; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t nl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		int shadowed = 0;
		for (size_t x = 0; x < nx && !shadowed; x++)
			shadowed = !strncmp(extra[x], environ[i], nl) && extra[x][nl] == '=';
		if (!shadowed)
			v[k++] = environ[i];
	}
	for (size_t x = 0; x < nx; x++)
		v[k++] = extra[x];
	return v;
}

/* The child's side: never returns. Only async-signal-safe calls. */
static void child(const char *cmd, int out, int err, char **envp)
{
	setpgid(0, 0);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	int in = open("/dev/null", O_RDONLY);
	if (in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	/* the agent's sockets and files are not the hook's */
	if (close_range(3, ~0U, 0)) {
		long max = sysconf(_SC_OPEN_MAX);
		if (max < 0 || max > 65536)
			max = 65536;
		for (int fd = 3; fd < max; fd++)
			close(fd);
	}
	char *const argv[] = {"sh", "-c", (char *)cmd, NULL};
	execve("/bin/sh", argv, envp);
	_exit(127);
}

static int group_alive(pid_t pgid)
{
	return kill(-pgid, 0) == 0 || errno == EPERM;
}

int hook_run(const struct hook_spec *spec, struct hook_result *r)
{
	memset(r, 0, sizeof(*r));
	r->output = malloc(HOOK_OUTPUT_MAX + 1);
	char **envp = build_env(spec->env);
	int po[2] = {-1, -1}, pe[2] = {-1, -1};
	if (!r->output || !envp) {
		free(envp);
		snprintf(r->start_error, sizeof(r->start_error), "out of memory");
		return -1;
	}
	r->output[0] = 0;
	if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC)) {
		snprintf(r->start_error, sizeof(r->start_error), "pipe: %s", strerror(errno));
		goto fail;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(r->start_error, sizeof(r->start_error), "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0)
		child(spec->cmd, po[1], pe[1], envp);
	setpgid(pid, pid); /* whichever of the two runs first */
	free(envp);
	close(po[1]);
	close(pe[1]);
	struct stream ss[2] = {{.fd = po[0]}, {.fd = pe[0], .is_err = 1}};
	struct run rn = {.r = r, .on_line = spec->on_line, .ctx = spec->ctx};
	int64_t start = now_ms(), deadline = start + (int64_t)spec->timeout_s * 1000;
	int64_t term_at = 0, exited_at = 0;
	int status = 0, reaped = 0;
	for (;;) {
		int64_t t = now_ms();
		if (!reaped) {
			pid_t w = waitpid(pid, &status, WNOHANG);
			if (w == pid) {
				reaped = 1;
				exited_at = t;
			}
		}
		int canceled = spec->cancel && __atomic_load_n(spec->cancel, __ATOMIC_RELAXED);
		if (!term_at && !reaped && (t >= deadline || canceled)) {
			r->timed_out = !canceled;
			r->canceled = canceled;
			kill(-pid, SIGTERM);
			term_at = t;
		}
		/* what the shell left behind in its group ends with it */
		if (!term_at && reaped && group_alive(pid)) {
			kill(-pid, SIGTERM);
			term_at = t;
		}
		if (term_at && t - term_at >= spec->grace_ms && group_alive(pid))
			kill(-pid, SIGKILL);
		int open_fds = (ss[0].fd >= 0) + (ss[1].fd >= 0);
		/* done when the shell is reaped and its group gone (or, if zombies
		 * nobody reaps keep it "alive", a while after the SIGKILL) with its
		 * output read, or read as long as it is worth waiting */
		if (reaped && (!open_fds || t - exited_at >= DRAIN_MS + spec->grace_ms) &&
		    (!group_alive(pid) || (term_at && t - term_at >= spec->grace_ms + DRAIN_MS)))
			break;
		struct pollfd pf[2];
		int np = 0;
		for (int i = 0; i < 2; i++)
			if (ss[i].fd >= 0)
				pf[np++] = (struct pollfd){.fd = ss[i].fd, .events = POLLIN};
		if (np)
			poll(pf, (nfds_t)np, 50);
		else
			usleep(20 * 1000);
		for (int i = 0, k = 0; i < 2; i++)
			if (ss[i].fd >= 0 && pf[k++].revents)
				read_stream(&rn, &ss[i]);
	}
	for (int i = 0; i < 2; i++)
		if (ss[i].fd >= 0)
			close(ss[i].fd);
	if (WIFEXITED(status)) {
		r->exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		r->signal = WTERMSIG(status);
		r->exit_code = -1;
	}
	return 0;
fail:
	free(envp);
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	return -1;
}

int hook_ok(const struct hook_result *r)
{
	return !r->start_error[0] && !r->timed_out && !r->canceled && !r->signal &&
	       r->exit_code == 0;
}

/* How it ended: "exit status 3", "timed out after 2 s", ... */
static void how_ended(const struct hook_spec *spec, const struct hook_result *r, char *what,
                      size_t cap)
{
	if (r->start_error[0])
		snprintf(what, cap, "could not start (%.127s)", r->start_error);
	else if (r->timed_out)
		snprintf(what, cap, "timed out after %d s", spec->timeout_s);
	else if (r->canceled)
		snprintf(what, cap, "canceled");
	else if (r->signal)
		snprintf(what, cap, "killed by signal %d (%s)", r->signal, strsignal(r->signal));
	else
		snprintf(what, cap, "exit status %d", r->exit_code);
}

void hook_describe(const char *which, const struct hook_spec *spec,
                   const struct hook_result *r, char *buf, size_t cap)
{
	char what[192];
	how_ended(spec, r, what, sizeof(what));
	if (r->last_err_line[0])
		snprintf(buf, cap, "%s failed: %s; last stderr line: %s", which, what,
		         r->last_err_line);
	else
		snprintf(buf, cap, "%s failed: %s (no stderr)", which, what);
}

void hook_result_release(struct hook_result *r)
{
	if (!r)
		return;
	free(r->output);
	memset(r, 0, sizeof(*r));
}

struct line_ctx {
	int64_t job_id;
	const char *which;
};

static void log_line(void *ctx, int is_err, const char *line)
{
	const struct line_ctx *lc = ctx;
	log_info("hook.output", "job=%lld hook=%s stream=%s line=%s", (long long)lc->job_id,
	         lc->which, is_err ? "stderr" : "stdout", roost_lq(line));
}

/* "NAME=value" (new string), or NULL when out of memory. */
static char *env_var(const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 2;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s=%s", name, value);
	return s;
}

/* Appends "--- which: how it ended\n" and the end of its output (at most
 * HOOK_JOB_OUTPUT bytes, NULs as spaces) to out (cap bytes, NUL-terminated). */
#define HOOK_JOB_OUTPUT (PROTO_MAX_HOOK_OUTPUT / 2 - 128)
static void append_output(char *out, size_t cap, const char *which,
                          const struct hook_spec *spec, const struct hook_result *r)
{
	char what[192];
	how_ended(spec, r, what, sizeof(what));
	size_t n = strlen(out);
	if (n + 1 >= cap)
		return;
	n += (size_t)snprintf(out + n, cap - n, "--- %s: %s\n", which, what);
	if (n + 1 >= cap)
		return;
	size_t take = r->len < HOOK_JOB_OUTPUT ? r->len : HOOK_JOB_OUTPUT;
	if (take > cap - n - 1)
		take = cap - n - 1;
	const char *from = r->output + r->len - take;
	for (size_t i = 0; i < take; i++)
		out[n++] = from[i] ? from[i] : ' ';
	out[n] = 0;
}

int hook_run_for_job(const char *which, const struct proto_job_start *js, const char *host,
                     const char *status, const char *snapshot, volatile int *cancel,
                     int *canceled, char *err, size_t cap, char *out, size_t outcap)
{
	const struct proto_group *g = &js->group;
	int post = !strcmp(which, "post-hook");
	*canceled = 0;
	size_t plen = 1;
	for (size_t i = 0; i < g->npaths; i++)
		plen += strlen(g->paths[i]) + 1;
	char *paths = malloc(plen), *env[10] = {0}, id[32];
	size_t o = 0;
	for (size_t i = 0; paths && i < g->npaths; i++)
		o += (size_t)sprintf(paths + o, "%s%s", i ? "\n" : "", g->paths[i]);
	if (paths)
		paths[o] = 0;
	snprintf(id, sizeof(id), "%lld", (long long)js->job_id);
	int n = 0, oom = !paths;
	const char *vars[][2] = {
		{"ROOST_JOB_ID", id},
		{"ROOST_HOST", host},
		{"ROOST_GROUP", g->name},
		{"ROOST_PATHS", paths ? paths : ""},
		{"ROOST_HOOK", post ? "post" : "pre"},
		{"ROOST_SCHEDULE", js->schedule[0] ? js->schedule : NULL},
		{"ROOST_STATUS", post ? status : NULL},
		{"ROOST_SNAPSHOT_ID", post && snapshot && snapshot[0] ? snapshot : NULL},
	};
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if (vars[i][1] && !(env[n++] = env_var(vars[i][0], vars[i][1])))
			oom = 1;
	struct line_ctx lc = {.job_id = js->job_id, .which = post ? "post" : "pre"};
	struct hook_spec spec = {
		.cmd = post ? g->post_hook : g->pre_hook,
		.env = env,
		.timeout_s = g->hook_timeout_s > 0 ? (int)g->hook_timeout_s : PROTO_HOOK_TIMEOUT_DEFAULT,
		.grace_ms = HOOK_GRACE_MS,
		.cancel = cancel,
		.on_line = log_line,
		.ctx = &lc,
	};
	struct hook_result r;
	int rc = -1;
	if (oom) {
		snprintf(err, cap, "%s failed: could not start (out of memory)", which);
	} else {
		log_info("hook.start", "job=%lld hook=%s timeout_s=%d", (long long)js->job_id,
		         lc.which, spec.timeout_s);
		hook_run(&spec, &r);
		if (hook_ok(&r))
			rc = 0;
		else
			hook_describe(which, &spec, &r, err, cap);
		*canceled = r.canceled;
		if (out && outcap)
			append_output(out, outcap, which, &spec, &r);
		log_info("hook.end", "job=%lld hook=%s exit=%d signal=%d timed_out=%d canceled=%d "
		         "output_bytes=%zu", (long long)js->job_id, lc.which, r.exit_code, r.signal,
		         r.timed_out, r.canceled, r.len);
		hook_result_release(&r);
	}
	for (int i = 0; i < n; i++)
		free(env[i]);
	free(paths);
	return rc;
}
