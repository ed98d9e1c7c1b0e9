/* SPDX-License-Identifier: MIT */
/*
 * The health sweep (server/healthwatch.c): every host's health evaluated in
 * small slices on the event loop, its changes kept in host_health and
 * announced as events (host.overdue, host.unseen, host.failing,
 * host.recovered), at most one per host per flap window. Event-loop thread only.
 */
#ifndef ROOSTD_HEALTHWATCH_H
#define ROOSTD_HEALTHWATCH_H

#include <stdint.h>

#include "health.h"

/* What was last said of a host, and what is held back. */
struct health_said {
	int said;        /* the state last announced (-1: nothing yet) */
	int64_t said_at; /* when */
	int held;        /* changes not announced since, because of the flap window */
};

/* The flap rule: given what was said, the state now and whether it changed
 * since the last evaluation, the event type to emit now (NULL: none),
 * updating *s. Changes within flap_s of the last announcement are held
 * (counted); once the window has passed, a state that still differs from the
 * announced one is announced, and *held_out says how many changes were held.
 * ok and never are both "nothing wrong": no event between them. */
const char *healthwatch_decide(struct health_said *s, enum health now_state, int changed,
                               int64_t now, int64_t flap_s, int *held_out);

/* Evaluates one host now: stores a change, emits what the flap rule allows. */
void healthwatch_host(int64_t host_id, int64_t now);
/* Starts the sweep timer (after the lws context exists). */
void healthwatch_start(void);

#endif
