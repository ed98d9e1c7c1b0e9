/* SPDX-License-Identifier: MIT */
/*
 * Password work off the event loop (server/pwworker.c): Argon2id hashing
 * (a new user) and verification (a login) take tens of milliseconds and
 * 64 MiB each; on the event loop a burst of logins would stall every
 * agent's WebSocket. One thread does them in order; the event loop is woken
 * with lws_cancel_service() and answers each request when its task is done
 * (api_users.c), as the committer does for uploads.
 */
#ifndef ROOSTD_PWWORKER_H
#define ROOSTD_PWWORKER_H

#include <stddef.h>
#include <stdint.h>

#include "users.h"

#define PWWORKER_QUEUE_MAX 32 /* tasks queued or running at once; more are refused (503) */

enum pw_op { PW_HASH = 1, PW_VERIFY };

/* One task. The worker reads password and (PW_VERIFY) hash, and sets ok
 * (and, PW_HASH, hash). The rest is the requester's, carried back. */
struct pw_task {
	struct pw_task *next;
	uint64_t id;            /* the request it answers */
	enum pw_op op;
	char password[USERS_PW_MAX + 1];
	size_t pwlen;
	char hash[USERS_HASH_MAX]; /* PW_VERIFY: the stored hash, "" for an unknown name */
	int ok;                 /* PW_VERIFY: matched; PW_HASH: hash made */
	/* the request's facts */
	int64_t user_id;        /* PW_VERIFY: 0 for an unknown name */
	enum role role;
	char name[USERS_NAME_MAX + 1];
	char addr[64];
};

int pwworker_start(void);
/* Finishes what was submitted, then stops the thread. */
void pwworker_stop(void);
/* Hands t over (the worker owns it until pwworker_take_done returns it).
 * -1: not running; -2: PWWORKER_QUEUE_MAX tasks already wait (either way t
 * stays the caller's). */
int pwworker_submit(struct pw_task *t);
/* One task on the calling thread (unit tests, and the worker itself). A
 * verification against "" (an unknown name) is checked against a dummy
 * hash, so it takes as long as a real one, and fails. */
void pwworker_run(struct pw_task *t);
/* A finished task (free it; its password is already wiped), or NULL.
 * Event-loop thread. */
struct pw_task *pwworker_take_done(void);

#endif
