/* SPDX-License-Identifier: MIT */
/*
 * Several roostd over one PostgreSQL store: what main.c starts and stops
 * (cluster.c; docs/scale-out.md). On SQLite, one instance: route.c's local
 * actions only.
 */
#ifndef ROOSTD_CLUSTER_H
#define ROOSTD_CLUSTER_H

#include <stdint.h>

#include "roost/error.h"

/* After the lws context exists: registers this instance (PostgreSQL), wires
 * route.c, starts the LISTEN thread and the sweeper. 0, or -1 with eb (the
 * clocks too far apart, the store failing). */
int cluster_start(const char *db_url, const char *listen_at, int port,
                  const char *instance_name, struct roost_errbuf *eb);
/* Stops the LISTEN thread. */
void cluster_stop(void);

#endif
