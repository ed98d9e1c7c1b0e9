/* SPDX-License-Identifier: MIT */
/* Upload commits on a thread of their own (server/committer.c). */
#ifndef ROOSTD_COMMITTER_H
#define ROOSTD_COMMITTER_H

#include <stdint.h>

#include "roostd.h"

struct commit {
	struct commit *next;
	uint64_t id;             /* the upload it answers */
	struct roost_bwriter *w; /* consumed by the commit */
	char name[128];
	enum roost_err err;
	char msg[512];
};

int committer_start(void);
/* Commits what was submitted, then stops the thread. */
void committer_stop(void);
/* Hands over w (committed under name, then freed). -1: not running. */
int committer_submit(uint64_t id, struct roost_bwriter *w, const char *name);
/* A finished commit (free it), or NULL. Event-loop thread. */
struct commit *committer_take_done(void);

#endif
