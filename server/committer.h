/* SPDX-License-Identifier: MIT */
/* Upload commits on a thread of their own (server/committer.c). */
#ifndef ROOSTD_COMMITTER_H
#define ROOSTD_COMMITTER_H

#include <stdint.h>

#include "objcheck.h"
#include "roostd.h"

/* err after the commit: ROOST_OK (committed), ROOST_ECORRUPT (the content
 * does not match the name: nothing stored, a 400), ROOST_EEXIST, or another
 * error (nothing stored, a 5xx); msg says why. */
struct commit {
	struct commit *next;
	uint64_t id;             /* the upload it answers */
	struct roost_bwriter *w; /* consumed by the commit */
	struct objcheck *check;  /* owned; NULL: no check */
	char name[128];
	enum roost_err err;
	char msg[512];
};

int committer_start(void);
/* Commits what was submitted, then stops the thread. */
void committer_stop(void);
/* Hands over w and check (checked, committed under name, then freed).
 * -1: not running (w and check stay the caller's). */
int committer_submit(uint64_t id, struct roost_bwriter *w, struct objcheck *check,
                     const char *name);
/* One commit, on the calling thread: the fault switch ("commit"), the
 * content check, then the backend's commit; fills c->err and c->msg and
 * consumes c->w and c->check. Whatever fails, nothing becomes visible. */
void committer_run(struct commit *c);
/* A finished commit (free it), or NULL. Event-loop thread. */
struct commit *committer_take_done(void);

#endif
