/* SPDX-License-Identifier: MIT */
/*
 * Login throttling (docs/dashboard.md, "Users and sessions"): failed logins
 * counted per user name and per client address, in memory. After
 * LOGIN_THROTTLE_FREE failures in a row, a name or address waits 1 s before
 * its next attempt, doubling with each further failure up to
 * LOGIN_THROTTLE_MAX_S. A count is forgotten LOGIN_THROTTLE_FORGET_S after
 * its last failure. Each table holds at most `cap` entries: when full, the
 * entry with the fewest failures (the oldest among those) makes room, so a
 * flood of new names or addresses can not grow memory, nor easily push out
 * an entry that is already blocked.
 *
 * Time is a parameter, in milliseconds of a monotonic clock (a wait of 1 s
 * is a whole second, not "until the next second"): unit tests run without
 * waiting. Not thread-safe: the event loop owns it.
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

/* A throttle of at most cap names and cap addresses (cap >= 1); NULL when
 * out of memory. Free with login_throttle_free (NULL is a no-op). */
struct login_throttle *login_throttle_new(size_t cap);
void login_throttle_free(struct login_throttle *t);

/* Milliseconds to wait before an attempt for name from addr may be checked
 * (the longer of the two waits), 0 when it may be checked now. */
int64_t login_throttle_wait(struct login_throttle *t, const char *name, const char *addr,
                            int64_t now_ms);
/* A failed attempt: counted for the name and for the address. */
void login_throttle_failed(struct login_throttle *t, const char *name, const char *addr,
                           int64_t now_ms);
/* A successful login: the name's count is reset (the address's stays: an
 * attacker with one account must not clear its address by using it). */
void login_throttle_succeeded(struct login_throttle *t, const char *name);
/* Entries held (names + addresses), for tests. */
size_t login_throttle_size(const struct login_throttle *t);

#endif
