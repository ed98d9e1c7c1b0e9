/* SPDX-License-Identifier: MIT */
/*
 * roostd's event loop. libwebsockets' default loop is poll(): every turn
 * passes the whole descriptor table to the kernel and walks it afterwards,
 * which at 20,000 agents costs more than the work (bench/fleet_load: 1,219
 * of 20,000 agents configured in 139 s). Debian's libwebsockets ships
 * event-lib plugins (libwebsockets-evlib-uv, -ev, -glib); roostd creates a
 * libuv loop (epoll on Linux) and hands it to libwebsockets as a foreign
 * loop, so that the signals stay roostd's: SIGINT and SIGTERM stop it (a
 * uv_signal watcher), and libwebsockets' own handlers (it would catch
 * SIGSEGV on a loop it owns) are never installed. --event-loop poll keeps
 * the old loop, for comparison.
 *
 * No validity timers: libwebsockets' default "retry and idle" policy gives
 * every connection a timer 300 s ahead, re-armed at the WebSocket upgrade
 * and at each pong, in a sorted list that it walks from the start on each
 * insertion; the newest deadline is always the last, so every pong walks
 * all connections (lws_dll2_add_sorted: 21-27% of roostd's CPU in perf at
 * 5,000-20,000 agents). The hub pings and times agents out itself
 * (hub.c, --agent-timeout), so roostd gives a policy without them.
 */
#include <signal.h>
#include <string.h>
#include <uv.h>

#include "evloop.h"
#include "roost/log.h"

static enum evloop_kind kind = EVLOOP_POLL;
static uv_loop_t loop;
static uv_signal_t sig_int, sig_term;

static void *foreign[1];
static volatile int *stop_flag;
static const lws_retry_bo_t no_validity = {
	.secs_since_valid_ping = 0,
	.secs_since_valid_hangup = 0, /* 0: no validity timer at all */
};

int evloop_parse(const char *name, enum evloop_kind *k)
{
	if (!strcmp(name, "libuv"))
		*k = EVLOOP_LIBUV;
	else if (!strcmp(name, "poll"))
		*k = EVLOOP_POLL;
	else
		return -1;
	return 0;
}

const char *evloop_name(enum evloop_kind k)
{
	return k == EVLOOP_LIBUV ? "libuv" : "poll";
}

int evloop_prepare(enum evloop_kind k, struct lws_context_creation_info *info)
{
	kind = k;
	info->retry_and_idle_policy = &no_validity;
	if (k != EVLOOP_LIBUV)
		return 0;
	if (uv_loop_init(&loop))
		return -1;
	foreign[0] = &loop;
	info->options |= LWS_SERVER_OPTION_LIBUV;
	info->foreign_loops = foreign;
	return 0;
}

static void on_signal(uv_signal_t *w, int signum)
{
	(void)signum;
	*stop_flag = 1;
	uv_stop(w->loop);
}

void evloop_run(struct lws_context *ctx, volatile int *stop)
{
	stop_flag = stop;
	if (kind == EVLOOP_POLL) {
		while (!*stop)
			if (lws_service(ctx, 0) < 0)
				break;
		return;
	}
	uv_signal_init(&loop, &sig_int);
	uv_signal_init(&loop, &sig_term);
	uv_signal_start(&sig_int, on_signal, SIGINT);
	uv_signal_start(&sig_term, on_signal, SIGTERM);
	while (!*stop)
		uv_run(&loop, UV_RUN_DEFAULT);
	uv_signal_stop(&sig_int);
	uv_signal_stop(&sig_term);
	uv_close((uv_handle_t *)&sig_int, NULL);
	uv_close((uv_handle_t *)&sig_term, NULL);
}

void evloop_destroy(struct lws_context *ctx)
{
	lws_context_destroy(ctx);
	if (kind != EVLOOP_LIBUV)
		return;
	/* libwebsockets closes its handles on the loop: let it finish */
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop))
		log_warn("roostd.loop", "msg=\"handles left open on the event loop\"");
}
