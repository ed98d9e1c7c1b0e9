/* SPDX-License-Identifier: MIT */
/*
 * Several roostd over one PostgreSQL store (docs/scale-out.md): the wiring
 * main.c starts. This instance's registration and heartbeat (instances.c),
 * route.c's local actions (what job.start, job.cancel, config, pending and
 * kick are on this instance's own connections), the LISTEN thread
 * (notify.c) with its pokes to route.c and its events to events.c, what a
 * split (3.2) and a new id lead to, and the sweeper. The times come from
 * the environment, so tests can shorten them: ROOSTD_HEARTBEAT_S,
 * ROOSTD_INSTANCE_TTL_S, ROOSTD_SWEEP_S, ROOSTD_LEASE_TTL_S; the name from
 * --instance-name (default HOSTNAME:PORT). On SQLite: one instance, nothing
 * started but route.c's local actions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "events.h"
#include "instances.h"
#include "leases.h"
#include "maintenance.h"
#include "notify.h"
#include "roostd.h"
#include "route.h"
#include "sweeper.h"

/* ---- route.c's local actions ---- */

static int route_pending_here(int64_t host_id, int64_t unused)
{
	(void)unused;
	pending_dispatch(host_id);
	return 0;
}

static int route_config_here(int64_t host_id, int64_t unused)
{
	(void)unused;
	return agents_push_config_here(host_id);
}

static int route_kick_here(int64_t host_id, int64_t moved)
{
	if (moved)
		hub_drop(host_id, "the host connected to another instance");
	else
		hub_kick(host_id);
	return 0;
}

static void instance_stopped(void)
{
	hub_refuse(1, "this instance lost its store");
	route_forget_all();
}

static void instance_renamed(int64_t id)
{
	char ch[32];
	route_channel(id, ch, sizeof(ch));
	notify_channel(ch);
	hub_refuse(0, NULL);
}

/* The LISTEN connection came back: pokes meanwhile were lost, so what they
 * may have carried is done again for this instance's own hosts. */
static void resync_host(int64_t host_id)
{
	jobs_resend_queued(host_id);
	if (!db_host_busy(host_id))
		pending_dispatch(host_id);
}

static void relistened(void)
{
	store_revive(g_srv->st); /* the server likely dropped the loop's connection too */
	route_each_owned(resync_host);
	events_catch_up();
	roost_repo_packs_changed(); /* a prune's word may have been lost too */
}

static void notified(const char *channel, const char *payload)
{
	if (!strncmp(channel, "roost_i", 7))
		route_on_notify(channel, payload);
	else if (!strcmp(channel, "roost_repo")) /* another instance pruned */
		roost_repo_packs_changed();
	else
		events_on_notify(channel, payload);
}

static const struct notify_handler notify_h = {
	.notified = notified,
	.relistened = relistened,
};

static int64_t env_seconds(const char *name, int64_t dflt)
{
	const char *v = getenv(name);
	char *end;
	long long n = v && *v ? strtoll(v, &end, 10) : 0;
	return v && *v && !*end && n > 0 && n <= 86400 ? n : dflt;
}

int cluster_start(const char *db_url, const char *listen_at, int port,
                  const char *instance_name, struct roost_errbuf *eb)
{
	char name[300], ch[32];
	snprintf(name, sizeof(name), "%s", instance_name ? instance_name : "");
	if (!instance_name) {
		char hn[256] = "";
		gethostname(hn, sizeof(hn) - 1);
		snprintf(name, sizeof(name), "%s:%d", hn, port);
	}
	struct instances_config ic = {
		.name = name, .url = listen_at,
		.heartbeat_s = env_seconds("ROOSTD_HEARTBEAT_S", INSTANCE_HEARTBEAT_S),
		.ttl_s = env_seconds("ROOSTD_INSTANCE_TTL_S", INSTANCE_TTL_S),
		.stopped = instance_stopped, .renamed = instance_renamed,
	};
	if (instances_start(&ic, eb))
		return -1;
	maintenance_recover(); /* now that it knows whether others may be running one */
	route_set_local(ROUTE_JOB, jobs_send_start_here);
	route_set_local(ROUTE_CANCEL, jobs_send_cancel_here);
	route_set_local(ROUTE_CONFIG, route_config_here);
	route_set_local(ROUTE_PENDING, route_pending_here);
	route_set_local(ROUTE_KICK, route_kick_here);
	route_channel(instances_me(), ch, sizeof(ch));
	if (instances_shared())
		events_shared_start();
	if (instances_shared() && notify_start(db_url, ch, &notify_h)) {
		roost_errf(eb, ROOST_EIO, "could not start the notification thread");
		return -1;
	}
	sweeper_start(env_seconds("ROOSTD_SWEEP_S", SWEEP_S), leases_ttl());
	return 0;
}

void cluster_stop(void)
{
	notify_stop();
}
