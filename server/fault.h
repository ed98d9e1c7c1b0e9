/* SPDX-License-Identifier: MIT */
/*
 * Fault injection for tests: the environment variable ROOST_FAULT, read
 * once at start, makes chosen calls at named sites fail, so the paths that
 * handle a failed commit or write are tested without filling a disk.
 *
 *   ROOST_FAULT=SITE:N[,SITE:N...]   the Nth call at SITE fails (N >= 1)
 *   ROOST_FAULT=SITE:N+              the Nth and every later call fails
 *   ROOST_FAULT=SITE@/FILE           every call fails while /FILE exists
 *                                    (a test makes and removes the condition)
 *
 * Sites: "commit" (an object upload's commit, server/committer.c),
 * "store_write" (a store statement or commit, server/db.c, failing as a
 * full disk would) and "sse_open" (a new event stream refused with 503 as
 * when MAX_CLIENTS are open, server/sse.c). A new site is a name and one `if (fault_hit("name"))`
 * where the failure is simulated.
 */
#ifndef ROOSTD_FAULT_H
#define ROOSTD_FAULT_H

/* Arms the faults of spec (NULL or "" arms none). 0, or -1 when spec is
 * malformed (nothing armed; a message naming the bad part in msg). Call
 * once, before any thread calls fault_hit(). */
int fault_init(const char *spec, char *msg, unsigned long msgcap);

/* 1 when this call at site is one that must fail, else 0. Counts the calls
 * of every armed site. Thread-safe. */
int fault_hit(const char *site);

#endif
