/* SPDX-License-Identifier: MIT */
/* The hub's entry points for the libwebsockets callback (http.c). */
#ifndef ROOSTD_HUB_H
#define ROOSTD_HUB_H

#include "roostd.h"

struct agent_conn *hub_established(struct lws *wsi, int64_t host_id);
int hub_receive(struct agent_conn *c, const void *in, size_t len, int final, int binary);
int hub_writeable(struct agent_conn *c);
void hub_closed(struct agent_conn *c);
void hub_pong(struct agent_conn *c);
/* Starts the keepalive timer (after the lws context exists). */
void hub_start(void);

#endif
