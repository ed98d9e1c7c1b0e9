/* SPDX-License-Identifier: MIT */
/*
 * bench_load_agents: N authenticated agent connections against a running
 * roostd (issue 4's load figures; issue 17: 20,000 of them), from P worker
 * processes so that the generator is not what is measured.
 *
 *   1. setup: enrolls N hosts, gives each a group and a schedule (REST; each
 *      worker enrolls its share, in parallel)
 *   2. hello storm: all N connect at once; time until every one has its config
 *   3. idle: roostd's RSS per connected agent (from /proc/PID/status)
 *   4. fires: M fires at R per second, spread over the hosts; the latency
 *      from sending `fire` to receiving `job.start`; each job is accepted and
 *      finished at once, so the host is idle for its next fire
 *   5. reconnect storm: every connection dropped and reopened at once
 *
 * Each worker binds its sockets to its own loopback source address
 * (127.0.0.2, .3, ...) so that the storms do not run out of ephemeral ports
 * (a dropped connection leaves the worker's side in TIME_WAIT). A connection
 * that fails or is dropped by the server is retried after 0.5-1.5 s, as an
 * agent would; the failures are counted. The parent steers the workers over
 * pipes (one text line a command or report) and reads the CPU time of roostd
 * and of the workers from /proc at each phase's ends.
 *
 * usage: bench_load_agents --server URL --token-file F --fingerprint HEX
 *                          --pid ROOSTD_PID [--agents N] [--fires M] [--rate R]
 *                          [--procs P]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "roost/http.h"
#include "roost/timeutil.h"

#define MAXPROCS 64

struct agent {
	int idx;
	int64_t host_id, schedule_id;
	char auth[128];
	struct lws *wsi;
	int connected, configured, closing;
	int64_t fire_ns;  /* 0: no fire outstanding */
	int64_t retry_ns; /* 0: no retry due */
	int fails;        /* failures in a row: the backoff doubles with each */
	int64_t slot;
	char out[3][512];
	int nout;
	char *rx;
	size_t rxlen;
};

static int N = 2000, M = 4000, RATE = 200, P = 4;
static char url[300], fpr[200], host[256], iface[32];
static int port;

/* ---- worker ---- */

static struct agent *ag;
static int nag; /* this worker's share */
static struct lws_context *ctx;
static int nconfigured, nconnected, nerrors, ndropped, running;
static double *lat;
static int nlat;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void queue_msg(struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void queue_msg(struct agent *a, const char *fmt, ...)
{
	if (a->nout == 3 || !a->wsi)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->out[a->nout++] + LWS_PRE, sizeof(a->out[0]) - LWS_PRE, fmt, ap);
	va_end(ap);
	lws_callback_on_writable(a->wsi);
}

static void on_msg(struct agent *a, const char *buf, size_t len)
{
	json_t *m = json_loadb(buf, len, 0, NULL);
	const char *type = json_string_value(json_object_get(m, "type"));
	if (type && !strcmp(type, "config")) {
		if (!a->configured) {
			a->configured = 1;
			a->fails = 0;
			nconfigured++;
		}
	} else if (type && !strcmp(type, "job.start")) {
		long long job = (long long)json_integer_value(json_object_get(m, "job_id"));
		if (a->fire_ns) {
			lat[nlat++] = (double)(now_ns() - a->fire_ns) / 1e6;
			a->fire_ns = 0;
		}
		queue_msg(a, "{\"type\":\"job.accepted\",\"job_id\":%lld}", job);
		queue_msg(a, "{\"type\":\"job.finished\",\"job_id\":%lld,\"status\":\"succeeded\","
		             "\"stats\":{\"files\":1,\"bytes\":1,\"bytes_new\":0}}", job);
	}
	json_decref(m);
}

/* 0.5-1.5 s after the first failure, doubling to at most 8-24 s, as an
 * agent backs off: a fixed delay made 19,000 agents shed by roostd retry
 * every second, and the retries cost the generator more CPU than roostd */
static void schedule_retry(struct agent *a)
{
	if (!running || a->closing)
		return;
	int shift = a->fails < 4 ? a->fails : 4;
	a->fails++;
	a->retry_ns = now_ns() + ((500000000LL + (int64_t)(rand() % 1000) * 1000000LL) << shift);
}

static int cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
              size_t len)
{
	struct agent *a = (struct agent *)lws_get_opaque_user_data(wsi);
	(void)user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		unsigned char **p = (unsigned char **)in, *end = *p + len;
		return lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
		                                    (const unsigned char *)a->auth,
		                                    (int)strlen(a->auth), p, end) ? -1 : 0;
	}
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		a->connected = 1;
		nconnected++;
		queue_msg(a, "{\"type\":\"hello\",\"protocol\":1,\"agent_version\":\"load\","
		             "\"hostname\":\"load-%d\",\"os\":\"bench\",\"tz\":\"UTC\",\"jobs\":[],"
		             "\"fires\":[]}", a->idx);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE: {
		char *n = realloc(a->rx, a->rxlen + len + 1);
		if (!n)
			return -1;
		a->rx = n;
		memcpy(a->rx + a->rxlen, in, len);
		a->rxlen += len;
		if (lws_is_final_fragment(wsi)) {
			on_msg(a, a->rx, a->rxlen);
			a->rxlen = 0;
		}
		return 0;
	}
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (a->closing)
			return -1;
		if (a->nout) {
			size_t n = strlen(a->out[0] + LWS_PRE);
			if (lws_write(wsi, (unsigned char *)a->out[0] + LWS_PRE, n, LWS_WRITE_TEXT) < (int)n)
				return -1;
			memmove(a->out[0], a->out[1], sizeof(a->out[0]) * (size_t)(a->nout - 1));
			a->nout--;
			if (a->nout)
				lws_callback_on_writable(wsi);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (a && nerrors++ < 5)
			fprintf(stderr, "agent %d: connect failed: %s\n", a->idx, in ? (char *)in : "?");
		/* fallthrough */
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (a) {
			if (reason == LWS_CALLBACK_CLIENT_CLOSED && !a->closing)
				ndropped++;
			if (a->connected)
				nconnected--;
			if (a->configured)
				nconfigured--;
			a->connected = a->configured = 0;
			a->wsi = NULL;
			a->nout = 0;
			a->fire_ns = 0;
			schedule_retry(a);
		}
		return 0;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protos[] = {
	{"roost", cb, 0, 4096, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* no libwebsockets validity timers (see server/evloop.c): roostd pings */
static const lws_retry_bo_t no_validity = {.secs_since_valid_hangup = 0};

static void connect_one(struct agent *a)
{
	struct lws_client_connect_info ci;
	memset(&ci, 0, sizeof(ci));
	ci.context = ctx;
	ci.address = host;
	ci.port = port;
	ci.path = "/v1/agent";
	ci.host = host;
	ci.origin = host;
	ci.iface = iface;
	ci.ssl_connection = LCCSCF_USE_SSL | LCCSCF_ALLOW_SELFSIGNED |
	                    LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
	ci.protocol = "roost";
	ci.pwsi = &a->wsi;
	ci.opaque_user_data = a;
	ci.alpn = "http/1.1";
	ci.retry_and_idle_policy = &no_validity;
	a->closing = 0;
	a->retry_ns = 0;
	if (!lws_client_connect_via_info(&ci)) {
		nerrors++;
		schedule_retry(a);
	}
}

/* wakes the event loop every millisecond so the fire pacing stays exact */
static lws_sorted_usec_list_t sul_tick;
static void work(void);
static void tick(lws_sorted_usec_list_t *sul)
{
	work();
	lws_sul_schedule(ctx, 0, sul, tick, 1000);
}

static json_t *post(struct roost_http *h, const char *path, json_t *body)
{
	char *b = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	struct roost_http_resp r;
	struct roost_errbuf eb;
	json_t *j = NULL;
	if (roost_http_request(h, "POST", path, NULL, b, strlen(b), 1 << 20, &r, &eb) == ROOST_OK) {
		if (r.status == 201)
			j = json_loadb((const char *)r.body, r.len, 0, NULL);
		else
			fprintf(stderr, "POST %s: HTTP %d %s\n", path, r.status, r.body ? (char *)r.body : "");
		roost_http_resp_free(&r);
	} else {
		fprintf(stderr, "POST %s: %s\n", path, eb.msg);
	}
	free(b);
	return j;
}

static int setup_share(const char *admin_auth, const char *etok, int first)
{
	struct roost_http *admin, *anon;
	struct roost_errbuf eb;
	if (roost_http_new(url, fpr, admin_auth, 60, &admin, &eb) ||
	    roost_http_new(url, fpr, NULL, 60, &anon, &eb)) {
		fprintf(stderr, "%s\n", eb.msg);
		return -1;
	}
	for (int i = 0; i < nag; i++) {
		struct agent *a = &ag[i];
		char name[32], path[128];
		a->idx = first + i;
		snprintf(name, sizeof(name), "load-%d", a->idx);
		json_t *e = post(anon, "/v1/enroll", json_pack("{s:s, s:s, s:s}", "token", etok,
		                                               "hostname", name, "mode", "always-on"));
		if (!e)
			return -1;
		a->host_id = json_integer_value(json_object_get(e, "host_id"));
		snprintf(a->auth, sizeof(a->auth), "Bearer %lld.%s", (long long)a->host_id,
		         json_string_value(json_object_get(e, "secret")));
		json_decref(e);
		snprintf(path, sizeof(path), "/v1/hosts/%lld/groups", (long long)a->host_id);
		json_t *g = post(admin, path, json_pack("{s:s, s:[s]}", "name", "data", "paths", "/srv"));
		snprintf(path, sizeof(path), "/v1/hosts/%lld/schedules", (long long)a->host_id);
		json_t *s = post(admin, path, json_pack("{s:s, s:s, s:[I]}", "name", "yearly", "cron",
		                                        "0 0 1 1 *", "group_ids",
		                                        json_integer_value(json_object_get(g, "id"))));
		if (!g || !s)
			return -1;
		a->schedule_id = json_integer_value(json_object_get(s, "id"));
		json_decref(g);
		json_decref(s);
	}
	roost_http_free(admin);
	roost_http_free(anon);
	return 0;
}

static void say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int fd, const char *fmt, ...)
{
	char line[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0 && write(fd, line, (size_t)n) != n)
		_exit(3);
}

/* one command line from the parent, or 0 if none is complete yet */
static int read_cmd(int fd, char *cmd, size_t cap)
{
	static char buf[256];
	static size_t have;
	for (;;) {
		char *nl = memchr(buf, '\n', have);
		if (nl) {
			size_t n = (size_t)(nl - buf);
			snprintf(cmd, cap, "%.*s", (int)n, buf);
			memmove(buf, nl + 1, have - n - 1);
			have -= n + 1;
			return 1;
		}
		ssize_t r = read(fd, buf + have, sizeof(buf) - have);
		if (r == 0)
			_exit(4); /* the parent is gone */
		if (r < 0)
			return 0;
		have += (size_t)r;
	}
}

/* the worker's own work, from a 1 ms libwebsockets timer on its libuv loop:
 * commands, fire pacing, retries, reports */
static int win = -1, wout = -1;
static int fires_left, next_ag, closing, last_conf = -1;
static int64_t interval, tnext, last_report, last_scan;

static void work(void)
{
	char cmd[128];
	int64_t tn = now_ns();
	while (read_cmd(win, cmd, sizeof(cmd))) {
		if (!strcmp(cmd, "go")) {
			running = 1;
			closing = 0;
			for (int i = 0; i < nag; i++)
				connect_one(&ag[i]);
		} else if (!strncmp(cmd, "fire ", 5)) {
			double rate;
			if (sscanf(cmd + 5, "%d %lf", &fires_left, &rate) != 2 || rate <= 0)
				_exit(1);
			interval = (int64_t)(1e9 / rate);
			tnext = tn + (int64_t)(rand() % 1000) * interval / 1000;
		} else if (!strcmp(cmd, "close")) {
			running = 0;
			closing = 1;
			for (int i = 0; i < nag; i++) {
				ag[i].retry_ns = 0;
				if (ag[i].wsi) {
					ag[i].closing = 1;
					lws_callback_on_writable(ag[i].wsi);
				}
			}
		} else if (!strcmp(cmd, "quit")) {
			_exit(0); /* a bench worker: the kernel closes the rest */
		}
	}
	/* the fires: this worker's share of the rate, over its agents */
	int tries = 0;
	while (fires_left > 0 && tn >= tnext && tries < nag) {
		struct agent *a = &ag[next_ag];
		next_ag = (next_ag + 1) % nag;
		if (!a->configured || a->fire_ns) {
			tries++;
			continue;
		}
		tries = 0;
		a->slot = a->slot ? a->slot + 1 : (int64_t)time(NULL) + 100000;
		char sb[40];
		roost_time_format(a->slot, sb, sizeof(sb));
		a->fire_ns = now_ns();
		queue_msg(a, "{\"type\":\"fire\",\"schedule_id\":%lld,\"slot\":\"%s\"}",
		          (long long)a->schedule_id, sb);
		tnext += interval;
		if (--fires_left == 0) {
			/* answers come within the parent's deadline or never */
			say(wout, "fired\n");
		}
	}
	if (tn - last_scan > 20000000) {
		last_scan = tn;
		for (int i = 0; i < nag; i++)
			if (ag[i].retry_ns && tn >= ag[i].retry_ns && !ag[i].wsi)
				connect_one(&ag[i]);
	}
	int done = (!closing && nconfigured == nag) || (closing && nconnected == 0);
	if ((nconfigured != last_conf && (done || tn - last_report > 100000000)) ||
	    tn - last_report > 1000000000) {
		last_report = tn;
		last_conf = nconfigured;
		say(wout, "n %d %d %d %d %d\n", nconfigured, nconnected, nerrors, ndropped, nlat);
	}
	static int lat_sent;
	while (lat_sent < nlat)
		say(wout, "L %.3f\n", lat[lat_sent++]);
}

static int worker(int wi, int first, int in, int outfd, const char *admin_auth,
                  const char *etok)
{
	snprintf(iface, sizeof(iface), "127.0.0.%d", 2 + wi);
	srand((unsigned)(getpid() ^ wi));
	ag = calloc((size_t)nag, sizeof(*ag));
	lat = calloc((size_t)M + 1, sizeof(*lat));
	if (!ag || !lat || setup_share(admin_auth, etok, first))
		return 1;
	lws_set_log_level(LLL_ERR, NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protos;
	/* libuv (epoll): poll() over a worker's thousands of descriptors every
	 * millisecond cost the generator more CPU than roostd used */
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_LIBUV;
	info.fd_limit_per_thread = 2 * (unsigned int)nag + 64; /* closing ones linger */
	info.timeout_secs = 60;
	ctx = lws_create_context(&info);
	if (!ctx)
		return 1;
	lws_sul_schedule(ctx, 0, &sul_tick, tick, 1000);
	fcntl(in, F_SETFL, O_NONBLOCK);
	say(outfd, "ready\n");
	win = in;
	wout = outfd;
	lws_service(ctx, 0); /* runs the libuv loop until the worker exits */
	return 1;
}

/* ---- parent ---- */

struct child {
	pid_t pid;
	int in, out; /* its command pipe, its report pipe */
	char buf[4096];
	size_t have;
	int ready, configured, connected, errors, dropped, answered, fired;
};

static struct child ch[MAXPROCS];
static double *lats;
static int nlats;

static long rss_kb(int pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = atol(line + 6);
	if (f)
		fclose(f);
	return kb;
}

/* user + system CPU seconds of a process (and its waited-for children) */
static double cpu_s(int pid)
{
	char path[64], b[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(b, 1, sizeof(b) - 1, f);
	fclose(f);
	b[n] = 0;
	char *p = strrchr(b, ')');
	unsigned long ut = 0, st = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double gen_cpu(void)
{
	double t = 0;
	for (int i = 0; i < P; i++)
		t += cpu_s(ch[i].pid);
	return t;
}

static void tell(const char *cmd)
{
	for (int i = 0; i < P; i++)
		if (write(ch[i].in, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
			fprintf(stderr, "worker %d: %s\n", i, strerror(errno));
}

static void on_line(struct child *c, const char *l)
{
	if (!strcmp(l, "ready"))
		c->ready = 1;
	else if (!strcmp(l, "fired"))
		c->fired = 1;
	else if (l[0] == 'n')
		sscanf(l + 1, "%d %d %d %d %d", &c->configured, &c->connected, &c->errors, &c->dropped,
		       &c->answered);
	else if (l[0] == 'L' && nlats < M + 1)
		lats[nlats++] = atof(l + 1);
}

/* reads reports until cond() or max_s; 0 when cond() held */
static int wait_for(int (*cond)(void), double max_s)
{
	int64_t end = now_ns() + (int64_t)(max_s * 1e9);
	struct pollfd pf[MAXPROCS];
	while (!cond()) {
		int64_t left = (end - now_ns()) / 1000000;
		if (left <= 0)
			return -1;
		for (int i = 0; i < P; i++)
			pf[i] = (struct pollfd){.fd = ch[i].out, .events = POLLIN};
		if (poll(pf, (nfds_t)P, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
			return -1;
		for (int i = 0; i < P; i++) {
			if (!(pf[i].revents & (POLLIN | POLLHUP)))
				continue;
			struct child *c = &ch[i];
			ssize_t r = read(c->out, c->buf + c->have, sizeof(c->buf) - c->have - 1);
			if (r <= 0) {
				fprintf(stderr, "worker %d ended early\n", i);
				return -1;
			}
			c->have += (size_t)r;
			char *s = c->buf, *nl;
			while ((nl = memchr(s, '\n', c->have - (size_t)(s - c->buf)))) {
				*nl = 0;
				on_line(c, s);
				s = nl + 1;
			}
			c->have -= (size_t)(s - c->buf);
			memmove(c->buf, s, c->have);
		}
	}
	return 0;
}

#define SUM(field)                                                                              \
	static int sum_##field(void)                                                            \
	{                                                                                       \
		int t = 0;                                                                      \
		for (int i = 0; i < P; i++)                                                     \
			t += ch[i].field;                                                       \
		return t;                                                                       \
	}
SUM(ready)
SUM(configured)
SUM(connected)
SUM(errors)
SUM(dropped)
SUM(fired)
SUM(answered)

static int all_ready(void) { return sum_ready() == P; }
static int all_configured(void) { return sum_configured() == N; }
static int none_connected(void) { return sum_connected() == 0; }
static int never(void) { return 0; }
static int all_answered(void) { return sum_fired() == P && nlats >= M; }

static int cmpd(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

struct mark {
	int64_t t;
	double srv, gen;
};

static struct mark mark(int pid)
{
	return (struct mark){now_ns(), cpu_s(pid), gen_cpu()};
}

static void cpu_line(const char *what, struct mark a, struct mark b)
{
	double wall = (double)(b.t - a.t) / 1e9;
	printf("  cpu %s: %.1f s wall; roostd %.1f s (%.0f%% of 2 cores), generator %.1f s "
	       "(%.0f%%)\n", what, wall, b.srv - a.srv, 100 * (b.srv - a.srv) / (2 * wall),
	       b.gen - a.gen, 100 * (b.gen - a.gen) / (2 * wall));
}

int main(int argc, char **argv)
{
	const char *token_file = NULL;
	int pid = 0;
	static const struct option lo[] = {
		{"server", required_argument, 0, 's'}, {"token-file", required_argument, 0, 't'},
		{"fingerprint", required_argument, 0, 'f'}, {"pid", required_argument, 0, 'p'},
		{"agents", required_argument, 0, 'n'}, {"fires", required_argument, 0, 'm'},
		{"rate", required_argument, 0, 'r'}, {"procs", required_argument, 0, 'P'},
		{0, 0, 0, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': snprintf(url, sizeof(url), "%s", optarg); break;
		case 't': token_file = optarg; break;
		case 'f': snprintf(fpr, sizeof(fpr), "%s", optarg); break;
		case 'p': pid = atoi(optarg); break;
		case 'n': N = atoi(optarg); break;
		case 'm': M = atoi(optarg); break;
		case 'r': RATE = atoi(optarg); break;
		case 'P': P = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bench_load_agents --server URL --token-file F "
			                "--fingerprint HEX --pid PID [--agents N] [--fires M] [--rate R] "
			                "[--procs P]\n");
			return 2;
		}
	}
	if (!url[0] || !token_file || !fpr[0] || !pid || N < 1 || P < 1 || P > MAXPROCS ||
	    RATE < 1) {
		fprintf(stderr, "bench_load_agents: --server, --token-file, --fingerprint and --pid\n");
		return 2;
	}
	if (P > N)
		P = N;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	/* a worker holds its share of descriptors; as root the hard limit may grow too */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rlim_t want = 2 * (rlim_t)N / (rlim_t)P + 1024;
		if (rl.rlim_max < want) {
			struct rlimit up = {want, want};
			if (!setrlimit(RLIMIT_NOFILE, &up))
				rl = up;
		}
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	sscanf(url, "https://%255[^:]:%d", host, &port);
	char tok[128] = "", auth[160];
	FILE *f = fopen(token_file, "r");
	if (!f || !fgets(tok, sizeof(tok), f))
		return 1;
	fclose(f);
	tok[strcspn(tok, "\n")] = 0;
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	/* 1. setup */
	int64_t t0 = now_ns();
	char etok[64];
	{
		struct roost_http *admin;
		struct roost_errbuf eb;
		if (roost_http_new(url, fpr, auth, 60, &admin, &eb)) {
			fprintf(stderr, "%s\n", eb.msg);
			return 1;
		}
		json_t *t = post(admin, "/v1/enroll-tokens",
		                 json_pack("{s:i, s:i}", "ttl", 3600, "uses", N));
		if (!t)
			return 1;
		snprintf(etok, sizeof(etok), "%s", json_string_value(json_object_get(t, "token")));
		json_decref(t);
		roost_http_free(admin);
	}
	lats = calloc((size_t)M + 1, sizeof(*lats));
	for (int i = 0; i < P; i++) {
		int a[2], b[2];
		if (pipe(a) || pipe(b))
			return 1;
		int first = (int)((long long)N * i / P), last = (int)((long long)N * (i + 1) / P);
		pid_t w = fork();
		if (w < 0)
			return 1;
		if (w == 0) {
			close(a[1]);
			close(b[0]);
			for (int j = 0; j < i; j++) {
				close(ch[j].in);
				close(ch[j].out);
			}
			nag = last - first;
			_exit(worker(i, first, a[0], b[1], auth, etok));
		}
		close(a[0]);
		close(b[1]);
		ch[i] = (struct child){.pid = w, .in = a[1], .out = b[0]};
	}
	if (wait_for(all_ready, 3600))
		return 1;
	printf("setup: %d hosts enrolled with a group and a schedule in %.1f s (%d worker "
	       "processes, source addresses 127.0.0.2-127.0.0.%d)\n", N, (double)(now_ns() - t0) / 1e9,
	       P, 1 + P);
	long rss0 = rss_kb(pid);

	/* 2. hello storm */
	struct mark m0 = mark(pid);
	tell("go\n");
	wait_for(all_configured, 120);
	struct mark m1 = mark(pid);
	printf("hello storm: %d/%d agents connected and configured in %.2f s (connect failures "
	       "%d, dropped %d, retried)\n", sum_configured(), N, (double)(m1.t - m0.t) / 1e9,
	       sum_errors(), sum_dropped());
	cpu_line("hello storm", m0, m1);
	/* 3. idle */
	wait_for(never, 2); /* reading reports meanwhile */
	long rss1 = rss_kb(pid);
	printf("idle: roostd RSS %ld KiB before, %ld KiB with %d agents: %.1f KiB per agent\n",
	       rss0, rss1, N, (double)(rss1 - rss0) / N);

	/* 4. fires */
	struct mark m2 = mark(pid);
	for (int i = 0; i < P; i++) {
		int share = (int)((long long)M * (i + 1) / P - (long long)M * i / P);
		char cmd[64];
		snprintf(cmd, sizeof(cmd), "fire %d %f\n", share, (double)RATE / P);
		if (write(ch[i].in, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
			return 1;
	}
	wait_for(all_answered, (double)M / RATE + 30);
	struct mark m3 = mark(pid);
	qsort(lats, (size_t)nlats, sizeof(*lats), cmpd);
	if (nlats)
		printf("fire -> job.start: %d fires at %d/s over %d agents: p50 %.2f ms, p90 %.2f ms, "
		       "p99 %.2f ms, max %.2f ms\n", nlats, RATE, N, lats[nlats / 2],
		       lats[(int)(nlats * 0.9)], lats[(int)(nlats * 0.99)], lats[nlats - 1]);
	else
		printf("fire -> job.start: no answers\n");
	cpu_line("fires", m2, m3);
	long rss2 = rss_kb(pid);

	/* 5. reconnect storm */
	tell("close\n");
	wait_for(none_connected, 30);
	int before_errors = sum_errors(), before_dropped = sum_dropped();
	struct mark m4 = mark(pid);
	tell("go\n");
	wait_for(all_configured, 120);
	struct mark m5 = mark(pid);
	printf("reconnect storm: %d/%d agents reconfigured in %.2f s (connect failures %d, "
	       "dropped %d, retried)\n", sum_configured(), N, (double)(m5.t - m4.t) / 1e9,
	       sum_errors() - before_errors, sum_dropped() - before_dropped);
	cpu_line("reconnect storm", m4, m5);
	printf("roostd RSS after the fires: %ld KiB; after the reconnect storm: %ld KiB\n", rss2,
	       rss_kb(pid));
	int ok = nlats >= M * 9 / 10 && sum_configured() == N;
	tell("quit\n");
	for (int i = 0; i < P; i++)
		waitpid(ch[i].pid, NULL, 0);
	(void)sum_answered;
	return ok ? 0 : 1;
}
