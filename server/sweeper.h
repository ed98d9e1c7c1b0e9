/* SPDX-License-Identifier: MIT */
/*
 * The sweeper (docs/scale-out.md, 2.11): the fleet-wide chores of several
 * instances, done by the holder of the lease `sweeper` every sweep_s.
 * Instances whose heartbeat is older than their ttl are marked dead; the
 * hosts a dead instance owned are let go (instance_id NULL, conn_epoch
 * bumped) and their sessions closed at its last heartbeat, unless the host
 * already reconnected elsewhere. Nothing scans every host: only the hosts
 * of dead instances, through an index. On SQLite (one instance) it does
 * not run.
 */
#ifndef ROOSTD_SWEEPER_H
#define ROOSTD_SWEEPER_H

#include <stdint.h>

#define SWEEP_S 10

/* Starts the timer (shared store only): every sweep_s, lease_ttl_s the lease's. */
void sweeper_start(int64_t sweep_s, int64_t lease_ttl_s);
/* One sweep at monotonic now_ms (the timer's; tests call it): hosts let go,
 * or -1 when this instance does not hold the lease or the store failed. */
int sweeper_run(int64_t me, int64_t now_ms);
/* Lets go of the hosts of the dead instance `dead` (last heartbeat at
 * ended_at); how many. */
int sweeper_release(int64_t dead, int64_t ended_at);

#endif
