/* SPDX-License-Identifier: MIT */
/*
 * The connection budgets of roostd's one port (server/http.c): what each
 * stage of a connection may take, and how many connections there may be.
 */
#ifndef ROOSTD_HTTP_H
#define ROOSTD_HTTP_H

#include <libwebsockets.h>
#include <stdint.h>

struct http_limits {
	/* A request body (and a response) must move at least min_rate bytes a
	 * second, judged over each window of window_s seconds (or finish
	 * within it): a slower peer is cut off. */
	int body_window_s;
	uint32_t body_min_rate;
	/* Connections at once from one address; 0: no limit. */
	unsigned max_per_addr;
	/* Connections at once in all (what the descriptor limit allows after a
	 * reserve for files): at this count accepting pauses (budgets.c stops
	 * polling the listener) until one closes. */
	unsigned max_conns;
};

extern const struct lws_protocols roostd_protocols[];

/* Before the context is created. */
void http_configure(const struct http_limits *l);
/* libwebsockets' own log lines into roostd's (lws_set_log_level's emitter). */
void http_lws_log(int level, const char *line);
/* After: a once-a-second timer (summaries of rate-limited log lines,
 * memory given back after a burst of connections). */
void http_start(struct lws_context *ctx);
/* Frees what http.c holds (after lws_context_destroy). */
void http_stop(void);

#endif
