/* SPDX-License-Identifier: MIT */
/*
 * roost-agent (DESIGN.md, "roost-agent"):
 *   main.c   commands (enroll, run), the connection to roostd (libwebsockets
 *            client), the local cron, the job thread
 *   state.c  the state directory's files
 */
#ifndef ROOST_AGENT_H
#define ROOST_AGENT_H

#include <jansson.h>

/* Replaces DIR/name with j atomically (0600). 0 on success. */
int state_write(const char *dir, const char *name, json_t *j);
/* DIR/name parsed, or NULL if absent or unreadable. */
json_t *state_read(const char *dir, const char *name);

#endif
