/* SPDX-License-Identifier: MIT */
/*
 * Leases (docs/scale-out.md, 2.5): one instance at a time holds a named
 * fleet-wide chore (sweeper, maintenance, webhooks). A lease is a row of
 * `leases` (made on first use): its holder, an epoch bumped whenever the
 * holder changes (the fencing token its writes carry), and an expiry on
 * the database's clock. Acquire and renew are one conditional UPDATE; the
 * holder also keeps a monotonic deadline read before the request, ttl -
 * ttl/4 later, past which it stops acting without a successful renew.
 * The row `repo` carries packs_gen (the repository's packs generation).
 * Any engine (SQLite: one instance, the same rows).
 */
#ifndef ROOSTD_LEASES_H
#define ROOSTD_LEASES_H

#include <stdint.h>

struct store;

#define LEASE_TTL_S 60
#define LEASE_RENEW_S 15

struct lease {
	const char *name;
	int64_t epoch;       /* held with this epoch; 0: not held */
	int64_t deadline_ms; /* monotonic: valid until */
};

/* The leases' ttl: ROOSTD_LEASE_TTL_S (tests shorten it), else LEASE_TTL_S. */
int64_t leases_ttl(void);
/* Takes or renews the lease for instance me for ttl_s: its epoch (> 0)
 * when held, 0 when another holds it, -1 when the store failed. */
int64_t leases_acquire(const char *name, int64_t me, int64_t ttl_s);
/* Gives it up (expires now) if me holds it with epoch; 0, or -1. */
int leases_release(const char *name, int64_t me, int64_t epoch);
/* The fence: 1 when me still holds the lease with epoch (not expired). */
int leases_valid(const char *name, int64_t me, int64_t epoch);

/* The holder's view: acquire or renew at monotonic now_ms; 1 held (l->epoch
 * set, deadline moved), 0 not held. A store failure keeps it held until
 * its deadline. */
int lease_hold(struct lease *l, int64_t me, int64_t ttl_s, int64_t now_ms);
/* 1 when l is held and now_ms is before its deadline. */
int lease_ok(const struct lease *l, int64_t now_ms);

/* The repository's packs generation kept in the lease row `repo`. */
int64_t leases_packs_gen(void);
/* Bumps it (after a prune's deletes); the new value, or -1. */
int64_t leases_packs_gen_bump(void);

/* The same on a thread's own connection s (webhooks, maintenance). */
int64_t leases_acquire_on(struct store *s, const char *name, int64_t me, int64_t ttl_s);
int leases_release_on(struct store *s, const char *name, int64_t me, int64_t epoch);
int leases_valid_on(struct store *s, const char *name, int64_t me, int64_t epoch);
int lease_hold_on(struct store *s, struct lease *l, int64_t me, int64_t ttl_s, int64_t now_ms);
int64_t leases_packs_gen_on(struct store *s);
int64_t leases_packs_gen_bump_on(struct store *s);

#endif
