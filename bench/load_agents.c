/* SPDX-License-Identifier: MIT */
/*
 * bench_load_agents: N authenticated agent connections from one process
 * against a running roostd (issue 4's load figures).
 *
 *   1. setup: enrolls N hosts, gives each a group and a schedule (REST)
 *   2. hello storm: all N connect at once; time until every one has its config
 *   3. idle: roostd's RSS per connected agent (from /proc/PID/status)
 *   4. fires: M fires at R per second, spread over the hosts; the latency
 *      from sending `fire` to receiving `job.start`; each job is accepted and
 *      finished at once, so the host is idle for its next fire
 *   5. reconnect storm: every connection dropped and reopened at once
 *
 * usage: bench_load_agents --server URL --token-file F --fingerprint HEX
 *                          --pid ROOSTD_PID [--agents N] [--fires M] [--rate R]
 */
#include <getopt.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "roost/http.h"
#include "roost/timeutil.h"

struct agent {
	int idx;
	int64_t host_id, schedule_id;
	char auth[128];
	struct lws *wsi;
	int connected, configured, closing;
	int64_t fire_ns; /* 0: no fire outstanding */
	int64_t slot;
	char out[3][512];
	int nout;
	char *rx;
	size_t rxlen;
};

static struct agent *ag;
static int N = 2000, M = 4000, RATE = 200;
static struct lws_context *ctx;
static char host[256];
static int port;
static int nconfigured, nconnected;
static double *lat;
static int nlat;
static int64_t t_start;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

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
		fprintf(stderr, "agent %d: connect failed: %s\n", a ? a->idx : -1,
		        in ? (char *)in : "?");
		/* fallthrough */
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (a) {
			if (a->connected)
				nconnected--;
			if (a->configured)
				nconfigured--;
			a->connected = a->configured = 0;
			a->wsi = NULL;
			a->nout = 0;
			a->fire_ns = 0;
		}
		return 0;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protos[] = {
	{"roost", cb, 0, 65536, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

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
	ci.ssl_connection = LCCSCF_USE_SSL | LCCSCF_ALLOW_SELFSIGNED |
	                    LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
	ci.protocol = "roost";
	ci.pwsi = &a->wsi;
	ci.opaque_user_data = a;
	ci.alpn = "http/1.1";
	a->closing = 0;
	if (!lws_client_connect_via_info(&ci))
		fprintf(stderr, "agent %d: connect refused locally\n", a->idx);
}

/* wakes the event loop every millisecond so the fire pacing stays exact */
static lws_sorted_usec_list_t sul_tick;
static void tick(lws_sorted_usec_list_t *sul)
{
	lws_sul_schedule(ctx, 0, sul, tick, 1000);
}

static void run_until(int (*done)(void), double max_s)
{
	int64_t end = now_ns() + (int64_t)(max_s * 1e9);
	while (!done() && now_ns() < end)
		lws_service(ctx, 0);
}

static int all_configured(void)
{
	return nconfigured == N;
}

static int none_connected(void)
{
	return nconnected == 0;
}

static int cmpd(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
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

int main(int argc, char **argv)
{
	const char *url = NULL, *token_file = NULL, *fp = NULL;
	int pid = 0;
	static const struct option lo[] = {
		{"server", required_argument, 0, 's'}, {"token-file", required_argument, 0, 't'},
		{"fingerprint", required_argument, 0, 'f'}, {"pid", required_argument, 0, 'p'},
		{"agents", required_argument, 0, 'n'}, {"fires", required_argument, 0, 'm'},
		{"rate", required_argument, 0, 'r'}, {0, 0, 0, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': url = optarg; break;
		case 't': token_file = optarg; break;
		case 'f': fp = optarg; break;
		case 'p': pid = atoi(optarg); break;
		case 'n': N = atoi(optarg); break;
		case 'm': M = atoi(optarg); break;
		case 'r': RATE = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bench_load_agents --server URL --token-file F "
			                "--fingerprint HEX --pid PID [--agents N] [--fires M] [--rate R]\n");
			return 2;
		}
	}
	if (!url || !token_file || !fp || !pid || N < 1) {
		fprintf(stderr, "bench_load_agents: --server, --token-file, --fingerprint and --pid\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
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
	struct roost_http *admin, *anon;
	struct roost_errbuf eb;
	if (roost_http_new(url, fp, auth, 60, &admin, &eb) ||
	    roost_http_new(url, fp, NULL, 60, &anon, &eb)) {
		fprintf(stderr, "%s\n", eb.msg);
		return 1;
	}
	ag = calloc((size_t)N, sizeof(*ag));
	lat = calloc((size_t)M + 1, sizeof(*lat));
	/* 1. setup */
	int64_t t0 = now_ns();
	json_t *t = post(admin, "/v1/enroll-tokens", json_pack("{s:i, s:i}", "ttl", 3600, "uses", N));
	if (!t)
		return 1;
	char etok[64];
	snprintf(etok, sizeof(etok), "%s", json_string_value(json_object_get(t, "token")));
	json_decref(t);
	for (int i = 0; i < N; i++) {
		char name[32], path[128];
		snprintf(name, sizeof(name), "load-%d", i);
		json_t *e = post(anon, "/v1/enroll", json_pack("{s:s, s:s, s:s}", "token", etok,
		                                               "hostname", name, "mode", "always-on"));
		if (!e)
			return 1;
		ag[i].idx = i;
		ag[i].host_id = json_integer_value(json_object_get(e, "host_id"));
		snprintf(ag[i].auth, sizeof(ag[i].auth), "Bearer %lld.%s", (long long)ag[i].host_id,
		         json_string_value(json_object_get(e, "secret")));
		json_decref(e);
		snprintf(path, sizeof(path), "/v1/hosts/%lld/groups", (long long)ag[i].host_id);
		json_t *g = post(admin, path, json_pack("{s:s, s:[s]}", "name", "data", "paths", "/srv"));
		snprintf(path, sizeof(path), "/v1/hosts/%lld/schedules", (long long)ag[i].host_id);
		json_t *s = post(admin, path, json_pack("{s:s, s:s, s:[I]}", "name", "yearly", "cron",
		                                        "0 0 1 1 *", "group_ids",
		                                        json_integer_value(json_object_get(g, "id"))));
		if (!g || !s)
			return 1;
		ag[i].schedule_id = json_integer_value(json_object_get(s, "id"));
		json_decref(g);
		json_decref(s);
	}
	printf("setup: %d hosts enrolled with a group and a schedule in %.1f s\n", N,
	       (double)(now_ns() - t0) / 1e9);
	roost_http_free(admin);
	roost_http_free(anon);
	long rss0 = rss_kb(pid);

	/* 2. hello storm */
	lws_set_log_level(LLL_ERR, NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protos;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.fd_limit_per_thread = (unsigned int)N + 64;
	info.timeout_secs = 60;
	ctx = lws_create_context(&info);
	if (!ctx)
		return 1;
	lws_sul_schedule(ctx, 0, &sul_tick, tick, 1000);
	t_start = now_ns();
	for (int i = 0; i < N; i++)
		connect_one(&ag[i]);
	run_until(all_configured, 120);
	double storm1 = (double)(now_ns() - t_start) / 1e9;
	printf("hello storm: %d/%d agents connected and configured in %.2f s\n", nconfigured, N,
	       storm1);
	/* 3. idle */
	int64_t idle_end = now_ns() + 2000000000;
	while (now_ns() < idle_end)
		lws_service(ctx, 0);
	long rss1 = rss_kb(pid);
	printf("idle: roostd RSS %ld KiB before, %ld KiB with %d agents: %.1f KiB per agent\n",
	       rss0, rss1, N, (double)(rss1 - rss0) / N);

	/* 4. fires */
	int64_t slot0 = (int64_t)time(NULL) + 100000;
	int sent = 0, next = 0;
	int64_t interval = 1000000000LL / RATE, tnext = now_ns();
	int64_t fend_deadline = now_ns() + (int64_t)((double)M / RATE * 1e9) + 30000000000LL;
	while ((sent < M || nlat < sent) && now_ns() < fend_deadline) {
		lws_service(ctx, 0);
		int64_t tn = now_ns();
		int tries = 0;
		while (sent < M && tn >= tnext && tries < N) {
			struct agent *a = &ag[next];
			next = (next + 1) % N;
			if (!a->configured || a->fire_ns) {
				tries++;
				continue;
			}
			tries = 0;
			a->slot = a->slot ? a->slot + 1 : slot0;
			char sb[40];
			roost_time_format(a->slot, sb, sizeof(sb));
			a->fire_ns = now_ns();
			queue_msg(a, "{\"type\":\"fire\",\"schedule_id\":%lld,\"slot\":\"%s\"}",
			          (long long)a->schedule_id, sb);
			sent++;
			tnext += interval;
		}
	}
	qsort(lat, (size_t)nlat, sizeof(*lat), cmpd);
	if (nlat)
		printf("fire -> job.start: %d fires at %d/s over %d agents: p50 %.2f ms, p90 %.2f ms, "
		       "p99 %.2f ms, max %.2f ms\n", nlat, RATE, N, lat[nlat / 2],
		       lat[(int)(nlat * 0.9)], lat[(int)(nlat * 0.99)], lat[nlat - 1]);
	else
		printf("fire -> job.start: no answers\n");
	long rss2 = rss_kb(pid);

	/* 5. reconnect storm */
	for (int i = 0; i < N; i++)
		if (ag[i].wsi) {
			ag[i].closing = 1;
			lws_callback_on_writable(ag[i].wsi);
		}
	run_until(none_connected, 30);
	t_start = now_ns();
	for (int i = 0; i < N; i++)
		connect_one(&ag[i]);
	run_until(all_configured, 120);
	printf("reconnect storm: %d/%d agents reconfigured in %.2f s\n", nconfigured, N,
	       (double)(now_ns() - t_start) / 1e9);
	printf("roostd RSS after the fires: %ld KiB\n", rss2);
	lws_context_destroy(ctx);
	return nlat >= M * 9 / 10 && nconfigured == N ? 0 : 1;
}
