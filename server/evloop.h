/* SPDX-License-Identifier: MIT */
/*
 * roostd's event loop: libwebsockets on a libuv loop (epoll) that roostd
 * owns, or on libwebsockets' own poll() loop (--event-loop poll).
 */
#ifndef ROOSTD_EVLOOP_H
#define ROOSTD_EVLOOP_H

#include <libwebsockets.h>

enum evloop_kind { EVLOOP_LIBUV, EVLOOP_POLL };

/* "libuv" or "poll" into *k; -1 for anything else. */
int evloop_parse(const char *name, enum evloop_kind *k);
const char *evloop_name(enum evloop_kind k);

/* Makes the loop (libuv: a loop of roostd's own, handed to libwebsockets as
 * a foreign loop) and sets info's options for it; -1 if it can not. */
int evloop_prepare(enum evloop_kind k, struct lws_context_creation_info *info);

/* Serves ctx until SIGINT or SIGTERM. */
void evloop_run(struct lws_context *ctx, volatile int *stop);

/* Destroys ctx and then the loop (libuv: runs it until libwebsockets' handles
 * are closed). */
void evloop_destroy(struct lws_context *ctx);

#endif
