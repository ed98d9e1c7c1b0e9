/* SPDX-License-Identifier: MIT */
/*
 * Login throttling (docs/dashboard.md, "Users and sessions"): failed logins
 * counted per user name and per client address, in the store's table
 * login_failures (docs/scale-out.md 2.8), so that every roostd on one store
 * counts the same attempts: N instances do not allow N times as many. After
 * LOGIN_THROTTLE_FREE failures in a row, a name or address waits 1 s before
 * its next attempt, doubling with each further failure up to
 * LOGIN_THROTTLE_MAX_S. A count is forgotten LOGIN_THROTTLE_FORGET_S after
 * its last failure. Each kind holds at most `cap` rows: a new one beyond it
 * pushes out a stale row, else the one with the fewest failures (the oldest
 * among those), so a flood of new names or addresses can not grow the table,
 * nor easily push out an entry that is already blocked.
 *
 * Time is a parameter, in milliseconds of the wall clock (shared by the
 * instances; a wait of 1 s is a whole second, not "until the next second"):
 * unit tests run without waiting. The rule itself (login_throttle_delay) is
 * pure. The store is the event loop's (g_srv->st): event-loop thread only.
 */
#ifndef ROOSTD_LOGIN_THROTTLE_H
#define ROOSTD_LOGIN_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#define LOGIN_THROTTLE_FREE 5         /* failures before the first wait */
#define LOGIN_THROTTLE_MAX_S 900      /* the longest wait */
#define LOGIN_THROTTLE_FORGET_S 1800  /* a count this old (since its last failure) is dropped */
#define LOGIN_THROTTLE_KEY 72         /* longer names or addresses are cut to this */

struct login_throttle;

/* A throttle keeping at most cap names and cap addresses (cap >= 1); NULL when
 * out of memory. Free with login_throttle_free (NULL is a no-op); the counts
 * stay in the store. */
struct login_throttle *login_throttle_new(size_t cap);
void login_throttle_free(struct login_throttle *t);

/* The rule (pure): milliseconds still to wait at now after `failures` failures
 * in a row, the last at last_at. */
int64_t login_throttle_delay(int64_t failures, int64_t last_at, int64_t now_ms);
/* Milliseconds to wait before an attempt for name from addr may be checked
 * (the longer of the two waits), 0 when it may be checked now. One read. */
int64_t login_throttle_wait(struct login_throttle *t, const char *name, const char *addr,
                            int64_t now_ms);
/* A failed attempt: counted for the name and for the address (an upsert each). */
void login_throttle_failed(struct login_throttle *t, const char *name, const char *addr,
                           int64_t now_ms);
/* A successful login: the name's count is reset (the address's stays: an
 * attacker with one account must not clear its address by using it). */
void login_throttle_succeeded(struct login_throttle *t, const char *name);
/* Rows held (names + addresses), for tests. */
size_t login_throttle_size(const struct login_throttle *t);

#endif
