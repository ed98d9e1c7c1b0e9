/* SPDX-License-Identifier: MIT */
/*
 * The agent's connection to roostd (DESIGN.md, "Agent <-> server"): a
 * libwebsockets client over TLS to /v1/agent, authenticated with the host's
 * secret, that accepts only the pinned certificate. It says hello (jobs and
 * persisted fires), takes config, job.start and job.cancel, sends what the
 * cron and the job thread produce, pings a silent server and gives it up
 * after the config's timeout, and reconnects with exponential backoff and
 * jitter (1 s ... 5 min). A 250 ms tick drives keepalive, the local cron
 * and the jobs outbox. Every frame is encoded or decoded by lib/proto.
 *
 * Threads: the main thread (the lws service loop) owns struct conn. The job
 * thread only calls conn_wake (lws_cancel_service), answered in
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED; a signal handler only conn_interrupt.
 */
#include <libwebsockets.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "roost/buf.h"
#include "roost/http.h"
#include "roost/log.h"
#include "roost/proto.h"

#define TICK_MS 250
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS (5 * 60 * 1000)

struct outmsg {
	struct outmsg *next;
	size_t len;
	unsigned char data[];
};

struct conn {
	/* borrowed, immutable */
	struct agent_identity *id; /* conn moves id->current (failover) */
	const char *state, *tz;
	struct cronrun *cron;
	struct jobs *jobs;
	struct power *power; /* owned */
	int told_battery, told_metered; /* what the server last heard (hello or status) */

	struct lws_context *ctx;
	struct lws *wsi;     /* NULL when not connected or connecting */
	int connected;       /* the WebSocket is up */
	int configured;      /* and the server has answered our hello with a config */
	int backoff_ms;
	lws_sorted_usec_list_t sul_tick, sul_reconnect;
	struct outmsg *ohead, *otail; /* frames for this connection, one per WRITEABLE */
	char *rx;                     /* the frame being received */
	size_t rxlen, rxcap;
	int64_t last_rx_ms;  /* any frame or pong from the server */
	int64_t timeout_ms;  /* silent this long: the server is gone (config timeout_s) */
	int want_ping;
	volatile int stop;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- sending ---- */

static void send_json(struct conn *c, json_t *m)
{
	if (!c->wsi || !c->connected)
		return;
	char *t = json_dumps(m, JSON_COMPACT);
	if (!t)
		return;
	size_t n = strlen(t);
	struct outmsg *o = malloc(sizeof(*o) + LWS_PRE + n);
	if (!o) {
		free(t);
		return;
	}
	o->next = NULL;
	o->len = n;
	memcpy(o->data + LWS_PRE, t, n);
	free(t);
	if (c->otail)
		c->otail->next = o;
	else
		c->ohead = o;
	c->otail = o;
	lws_callback_on_writable(c->wsi);
}

static void drop_outq(struct conn *c)
{
	while (c->ohead) {
		struct outmsg *o = c->ohead;
		c->ohead = o->next;
		free(o);
	}
	c->otail = NULL;
}

static void drain_outbox(struct conn *c)
{
	json_t *prog;
	json_t *box = jobs_take_outbox(c->jobs, now_ms(), &prog);
	size_t i;
	json_t *m;
	if (c->configured) {
		json_array_foreach(box, i, m) send_json(c, m);
		if (prog)
			send_json(c, prog);
	}
	/* when not connected, finals are in the jobs' done list and go with the next hello */
	json_decref(box);
	json_decref(prog);
}

/* The cron's sink: a fire goes now if the server has our hello, else with the next one. */
static int send_fire(void *ctx, const struct proto_fire *f)
{
	struct conn *c = ctx;
	if (!(c->connected && c->configured))
		return 0;
	json_t *m = msg_fire(f);
	if (!m)
		return 0;
	send_json(c, m);
	json_decref(m);
	return 1;
}

/* hello: who we are, our jobs and the persisted fires. */
static void send_hello(struct conn *c)
{
	struct proto_msg h = {0};
	size_t nfires;
	const struct proto_fire *fires = cronrun_fires(c->cron, &nfires);
	if (jobs_report(c->jobs, &h) ||
	    (nfires && !(h.fires = malloc(nfires * sizeof(*h.fires))))) {
		log_error("agent.hello", "msg=\"out of memory\"");
		proto_msg_release(&h);
		return;
	}
	if (nfires)
		memcpy(h.fires, fires, nfires * sizeof(*h.fires));
	h.nfires = nfires;
	if (c->power)
		power_state(c->power, &h.on_battery, &h.metered);
	c->told_battery = h.on_battery;
	c->told_metered = h.metered;
	json_t *m = msg_hello(&h, c->tz, (int64_t)time(NULL));
	proto_msg_release(&h);
	if (m)
		send_json(c, m);
	json_decref(m);
}

/* ---- messages from the server ---- */

/* Tests only: ROOST_AGENT_FRAME_LOG=F appends every frame the server sends to
 * F, one a line, so a test can show what an agent is ever given. */
static void trace_frame(const char *p, size_t n)
{
	const char *f = getenv("ROOST_AGENT_FRAME_LOG");
	FILE *fp = f && *f ? fopen(f, "a") : NULL;
	if (!fp)
		return;
	fwrite(p, 1, n, fp);
	fputc('\n', fp);
	fclose(fp);
}

static void on_config(struct conn *c, const struct proto_config *m)
{
	jobs_set_config(c->jobs, m);
	c->timeout_ms = msg_config_timeout_ms(m, c->timeout_ms);
	if (state_save_config(c->state, m))
		log_error("agent.state", "file=config.json msg=\"could not write\"");
	cronrun_load(c->cron, m, (int64_t)time(NULL));
	if (!c->configured) {
		c->configured = 1;
		c->backoff_ms = BACKOFF_MIN_MS;
	}
	log_info("agent.config", "schedules=%zu groups=%zu mode=%s", m->nschedules, m->ngroups,
	         m->mode[0] ? m->mode : "-");
}

static void on_message(struct conn *c, const char *buf, size_t len)
{
	struct proto_server_msg m;
	struct roost_errbuf eb = {{0}};
	if (proto_decode_server(buf, len, &m, &eb)) {
		/* a job.start we can not run is failed, not left queued on the server */
		if (m.type == PROTO_JOB_START && m.start.job_id > 0)
			jobs_reject(c->jobs, m.start.job_id, eb.msg);
		else
			log_warn("agent.bad_message", "msg=%s", roost_lq(eb.msg));
		proto_server_msg_release(&m);
		return;
	}
	switch (m.type) {
	case PROTO_CONFIG: on_config(c, &m.config); break;
	case PROTO_JOB_START: jobs_enqueue(c->jobs, &m.start); break;
	case PROTO_JOB_CANCEL: jobs_cancel_job(c->jobs, m.cancel.job_id); break;
	default: break;
	}
	proto_server_msg_release(&m);
}

/* ---- the connection ---- */

static void connect_now(lws_sorted_usec_list_t *sul);

static void schedule_reconnect(struct conn *c)
{
	if (c->stop)
		return;
	uint32_t jitter;
	randombytes_buf(&jitter, sizeof(jitter));
	/* several servers: the next one in turn, at once (50-250 ms) until a
	 * whole round has failed; then the backoff applies before the next round */
	if (!agent_server_next(c->id)) {
		int64_t d = 50 + (int64_t)(jitter % 201);
		log_info("agent.reconnect", "in_ms=%lld server=%s", (long long)d,
		         roost_lq(agent_server(c->id)->url));
		lws_sul_schedule(c->ctx, 0, &c->sul_reconnect, connect_now,
		                 (lws_usec_t)d * LWS_US_PER_MS);
		return;
	}
	/* full delay between half and all of the backoff */
	int64_t d = c->backoff_ms / 2 + (int64_t)(jitter % (uint32_t)(c->backoff_ms / 2 + 1));
	log_info("agent.reconnect", "in_ms=%lld", (long long)d);
	lws_sul_schedule(c->ctx, 0, &c->sul_reconnect, connect_now, (lws_usec_t)d * LWS_US_PER_MS);
	c->backoff_ms *= 2;
	if (c->backoff_ms > BACKOFF_MAX_MS)
		c->backoff_ms = BACKOFF_MAX_MS;
}

static int pin_check(struct conn *c, X509_STORE_CTX *xctx, int preverify_ok)
{
	int depth = X509_STORE_CTX_get_error_depth(xctx);
	if (depth > 0) {
		/* the chain above the leaf does not matter: the leaf is pinned */
		X509_STORE_CTX_set_error(xctx, X509_V_OK);
		return 0;
	}
	char got[65] = "";
	if (roost_cert_sha256_hex(X509_STORE_CTX_get_current_cert(xctx), got) ||
	    strcmp(got, c->id->fp) != 0) {
		log_error("agent.pin_mismatch", "got=%s pinned=%s msg=\"the server's certificate "
		                                "changed; refusing to connect (enroll again if this is "
		                                "expected)\"", got, c->id->fp);
		return 1;
	}
	(void)preverify_ok;
	X509_STORE_CTX_set_error(xctx, X509_V_OK);
	return 0;
}

static int client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
	struct conn *c = wsi ? lws_context_user(lws_get_context(wsi)) : NULL;
	if (!c)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
		return pin_check(c, (X509_STORE_CTX *)user, (int)len);
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		unsigned char **p = (unsigned char **)in, *end = *p + len;
		if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
		                                 (const unsigned char *)c->id->auth,
		                                 (int)strlen(c->id->auth), p, end))
			return -1;
		return 0;
	}
	case LWS_CALLBACK_CLIENT_ESTABLISHED: {
		c->connected = 1;
		c->last_rx_ms = now_ms();
		c->configured = 0;
		log_info("agent.connected", "server=%s", roost_lq(agent_server(c->id)->url));
		send_hello(c);
		return 0;
	}
	case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
		c->last_rx_ms = now_ms();
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE: {
		c->last_rx_ms = now_ms();
		if (c->rxlen + len > PROTO_MAX_SERVER_FRAME) {
			log_warn("agent.frame_too_large", "bytes=%zu", c->rxlen + len);
			return -1;
		}
		if (roost_buf_append(&c->rx, &c->rxlen, &c->rxcap, in, len))
			return -1;
		if (lws_is_final_fragment(wsi)) {
			size_t n = c->rxlen;
			c->rxlen = 0;
			trace_frame(c->rx, n);
			int first_config = !c->configured;
			on_message(c, c->rx, n);
			if (first_config && c->configured) {
				/* the server has processed our hello (fires included) */
				drain_outbox(c);
			}
		}
		return 0;
	}
	case LWS_CALLBACK_CLIENT_WRITEABLE: {
		if (c->want_ping) {
			uint8_t ping[LWS_PRE + 4];
			memcpy(ping + LWS_PRE, "ping", 4);
			c->want_ping = 0;
			if (lws_write(wsi, ping + LWS_PRE, 4, LWS_WRITE_PING) < 4)
				return -1;
			if (c->ohead)
				lws_callback_on_writable(wsi);
			return 0;
		}
		struct outmsg *o = c->ohead;
		if (!o)
			return 0;
		if (lws_write(wsi, o->data + LWS_PRE, o->len, LWS_WRITE_TEXT) < (int)o->len)
			return -1;
		c->ohead = o->next;
		if (!c->ohead)
			c->otail = NULL;
		free(o);
		if (c->ohead)
			lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		log_warn("agent.connect_failed", "server=%s msg=%s", roost_lq(agent_server(c->id)->url),
		         roost_lq(in ? (const char *)in : "unknown"));
		c->wsi = NULL;
		c->connected = c->configured = 0;
		drop_outq(c);
		schedule_reconnect(c);
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		log_warn("agent.disconnected", "server=%s", roost_lq(agent_server(c->id)->url));
		c->wsi = NULL;
		c->connected = c->configured = 0;
		c->rxlen = 0;
		drop_outq(c);
		schedule_reconnect(c);
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		drain_outbox(c);
		return 0;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols client_protocols[] = {
	{"roost", client_cb, 0, 65536, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

static void connect_to(struct conn *c)
{
	if (c->stop || c->wsi)
		return;
	struct lws_client_connect_info ci;
	memset(&ci, 0, sizeof(ci));
	ci.context = c->ctx;
	const struct agent_server *sv = agent_server(c->id);
	ci.address = sv->host;
	ci.port = sv->port;
	ci.path = "/v1/agent";
	ci.host = sv->host;
	ci.origin = sv->host;
	ci.ssl_connection = LCCSCF_USE_SSL | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
	ci.protocol = "roost";
	ci.local_protocol_name = "roost";
	ci.pwsi = &c->wsi;
	ci.alpn = "http/1.1";
	if (!lws_client_connect_via_info(&ci)) {
		c->wsi = NULL;
		schedule_reconnect(c);
	}
}

static void connect_now(lws_sorted_usec_list_t *sul)
{
	connect_to(lws_container_of(sul, struct conn, sul_reconnect));
}

/* Dead-server detection: ping after a third of the timeout, give up after all of it. */
static void keepalive(struct conn *c)
{
	if (!c->wsi || !c->connected)
		return;
	int64_t idle = now_ms() - c->last_rx_ms;
	if (idle >= c->timeout_ms) {
		log_warn("agent.server_timeout", "silent_ms=%lld msg=\"no answer from the server; "
		                                 "reconnecting\"", (long long)idle);
		c->connected = c->configured = 0;
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	} else if (idle >= c->timeout_ms / 3 && !c->want_ping) {
		c->want_ping = 1;
		lws_callback_on_writable(c->wsi);
	}
}

static void tick(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_tick);
	keepalive(c);
	cronrun_tick(c->cron, (int64_t)time(NULL), send_fire, c);
	int b, m;
	if (c->power && power_poll(c->power, now_ms())) {
		power_state(c->power, &b, &m);
		log_info("agent.power", "on_battery=%s metered=%s", b ? "yes" : "no", m ? "yes" : "no");
	}
	if (c->power && c->connected && c->configured) { /* else: with the next hello */
		power_state(c->power, &b, &m);
		json_t *st = b != c->told_battery || m != c->told_metered ? msg_status(b, m) : NULL;
		if (st) {
			send_json(c, st);
			c->told_battery = b;
			c->told_metered = m;
		}
		json_decref(st);
	}
	drain_outbox(c);
	lws_sul_schedule(c->ctx, 0, sul, tick, TICK_MS * LWS_US_PER_MS);
}

static void lws_log_emit(int level, const char *line)
{
	roost_log_foreign(level == LLL_ERR ? ROOST_LOG_ERROR : ROOST_LOG_WARN, "lws", line);
}

struct conn *conn_new(struct agent_identity *id, const char *state, const char *tz,
                      const struct proto_config *config, struct cronrun *cr, struct jobs *j)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->id = id;
	c->state = state;
	c->tz = tz;
	c->cron = cr;
	c->jobs = j;
	c->backoff_ms = BACKOFF_MIN_MS;
	c->power = power_new();
	c->timeout_ms = msg_config_timeout_ms(config, 60000);
	lws_set_log_level(LLL_ERR, lws_log_emit);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = client_protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.timeout_secs = 30;
	info.user = c;
	c->ctx = lws_create_context(&info);
	if (!c->ctx) {
		power_free(c->power);
		free(c);
		return NULL;
	}
	return c;
}

void conn_run(struct conn *c)
{
	connect_to(c);
	lws_sul_schedule(c->ctx, 0, &c->sul_tick, tick, TICK_MS * LWS_US_PER_MS);
	while (!c->stop)
		if (lws_service(c->ctx, 0) < 0)
			break;
}

void conn_wake(void *ctx)
{
	struct conn *c = ctx;
	lws_cancel_service(c->ctx);
}

void conn_interrupt(struct conn *c)
{
	c->stop = 1;
	lws_cancel_service(c->ctx);
}

void conn_free(struct conn *c)
{
	if (!c)
		return;
	c->stop = 1; /* closing callbacks during the destroy must not reconnect */
	lws_context_destroy(c->ctx);
	drop_outq(c);
	power_free(c->power);
	free(c->rx);
	free(c);
}
