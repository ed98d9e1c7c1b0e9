/* SPDX-License-Identifier: MIT */
/*
 * Instances of roostd sharing one store (instances.h; docs/scale-out.md,
 * sections 1 and 3): the rows, the heartbeat with the database's clock,
 * the clock-skew check, and the split-brain rule. The local deadline is
 * read on the monotonic clock *before* the heartbeat's request, so a slow
 * answer shortens it rather than lengthening it: deadline = that instant +
 * ttl - ttl/3 (30 s: 20 s), ahead of the sweeper's judgement (ttl after the
 * database's last heartbeat), so an instance stops acting before another
 * can take its hosts away.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instances.h"
#include "roost/clock.h"
#include "roost/log.h"
#include "roostd.h"

static struct {
	int64_t id;          /* 0: none (alone, or split) */
	int shared;          /* PostgreSQL: several instances may share the store */
	int acting;
	int64_t deadline_ms; /* monotonic: stop acting past it without a good heartbeat */
	int64_t heartbeat_s, ttl_s;
	int64_t skew;
	int skew_said;
	char name[160], url[256];
	void (*stopped)(void);
	void (*renamed)(int64_t new_id);
	lws_sorted_usec_list_t sul;
	int timer;
} I = {.acting = 1};

static _Atomic int64_t me_shared; /* instances_me() for other threads */

static void publish(void)
{
	atomic_store(&me_shared, I.acting && I.shared ? I.id : 0);
}

int64_t instances_me_shared(void)
{
	return atomic_load(&me_shared);
}

int64_t instances_register(const char *name, const char *url)
{
	struct db_stmt *st = db_q("INSERT INTO instances (name, url, started_at, heartbeat_at, state)"
	                          " VALUES (?, ?, roost_now(), roost_now(), 'live') RETURNING id",
	                          "tt", name ? name : "", url ? url : "");
	int64_t id = st && db_step(st) == DB_ROW ? db_col_int(st, 0) : 0;
	db_finalize(st);
	return id;
}

int instances_heartbeat(int64_t id, int64_t ttl_s, int64_t *db_now)
{
	*db_now = 0;
	struct db_stmt *st = db_q("UPDATE instances SET heartbeat_at = roost_now() WHERE id=? AND "
	                          "state='live' AND heartbeat_at >= roost_now() - ? "
	                          "RETURNING heartbeat_at", "ii", id, ttl_s);
	if (!st)
		return -1;
	int rc = db_step(st);
	if (rc == DB_ROW)
		*db_now = db_col_int(st, 0);
	db_finalize(st);
	return rc == DB_ROW ? 0 : rc == DB_DONE ? 1 : -1;
}

int instances_live(int64_t id, int64_t ttl_s)
{
	return db_int(0, "SELECT COUNT(*) FROM instances WHERE id=? AND state='live' AND "
	                 "heartbeat_at >= roost_now() - ?", "ii", id, ttl_s) > 0;
}

int instances_reap(int64_t ttl_s, int64_t *ids, int64_t *beats, int cap)
{
	struct db_stmt *st = db_q("UPDATE instances SET state='dead' WHERE state='live' AND "
	                          "heartbeat_at < roost_now() - ? RETURNING id, heartbeat_at", "i",
	                          ttl_s);
	if (!st)
		return -1;
	int n = 0, rc;
	while ((rc = db_step(st)) == DB_ROW)
		if (n < cap) {
			ids[n] = db_col_int(st, 0);
			beats[n] = db_col_int(st, 1);
			n++;
		}
	db_finalize(st);
	return rc == DB_DONE ? n : -1;
}

int64_t instances_db_now(void)
{
	return db_int(0, "SELECT roost_now()", "");
}

int64_t instances_me(void)
{
	return I.acting ? I.id : 0;
}

int instances_shared(void)
{
	return I.shared;
}

int instances_acting(void)
{
	return I.acting;
}

int64_t instances_ttl(void)
{
	return I.ttl_s > 0 ? I.ttl_s : INSTANCE_TTL_S;
}

int64_t instances_skew(void)
{
	return I.skew;
}

static int64_t margin_ms(void)
{
	int64_t ttl = instances_ttl();
	return (ttl - ttl / 3) * 1000;
}

static void note_skew(int64_t db_now)
{
	I.skew = srv_now() - db_now;
	int64_t a = I.skew < 0 ? -I.skew : I.skew;
	if (a > INSTANCE_SKEW_WARN_S && !I.skew_said)
		log_warn("clock.skew", "instance=%lld skew_s=%lld", (long long)I.id, (long long)I.skew);
	I.skew_said = a > INSTANCE_SKEW_WARN_S;
}

void instances_tick(int64_t now_ms)
{
	if (!I.shared)
		return;
	/* the loop's connection, dropped by the server (a restart, a failover):
	 * made again here, at most once a beat */
	if (store_revive(g_srv->st))
		log_warn("instance.store_down", "msg=%s", roost_lq(store_errmsg(g_srv->st)));
	if (!I.acting) {
		/* split: a new id once the store answers (the old one is never resumed) */
		int64_t id = instances_register(I.name, I.url);
		if (!id)
			return;
		I.id = id;
		I.acting = 1;
		I.deadline_ms = now_ms + margin_ms();
		log_info("instance.registered", "instance=%lld name=%s why=rejoined", (long long)id,
		         roost_lq(I.name));
		publish();
		if (I.renamed)
			I.renamed(id);
		return;
	}
	int64_t db_now;
	int rc = instances_heartbeat(I.id, instances_ttl(), &db_now);
	if (rc == 0) {
		I.deadline_ms = now_ms + margin_ms();
		note_skew(db_now);
		return;
	}
	if (rc < 0 && now_ms < I.deadline_ms) {
		log_warn("instance.heartbeat_failed", "instance=%lld left_ms=%lld", (long long)I.id,
		         (long long)(I.deadline_ms - now_ms));
		return;
	}
	/* dead in the store, or the deadline passed: others may own its hosts now */
	log_error("instance.split", "instance=%lld why=%s", (long long)I.id,
	          rc > 0 ? "declared-dead" : "no-heartbeat-by-deadline");
	I.acting = 0;
	I.id = 0;
	publish();
	if (I.stopped)
		I.stopped();
}

static int64_t mono_ms(void)
{
	return roost_clock_mono_ns(roost_clock_system()) / 1000000;
}

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	instances_tick(mono_ms());
	lws_sul_schedule(g_srv->lws, 0, sul, tick_cb, I.heartbeat_s * LWS_US_PER_SEC);
}

enum roost_err instances_start(const struct instances_config *c, struct roost_errbuf *eb)
{
	I.heartbeat_s = c->heartbeat_s > 0 ? c->heartbeat_s : INSTANCE_HEARTBEAT_S;
	I.ttl_s = c->ttl_s > 0 ? c->ttl_s : INSTANCE_TTL_S;
	snprintf(I.name, sizeof(I.name), "%s", c->name ? c->name : "");
	snprintf(I.url, sizeof(I.url), "%s", c->url ? c->url : "");
	I.stopped = c->stopped;
	I.renamed = c->renamed;
	I.acting = 1;
	if (store_engine(g_srv->st) != STORE_PG && !c->force_shared)
		return ROOST_OK; /* alone */
	int64_t db_now = instances_db_now();
	if (!db_now)
		return roost_errf(eb, ROOST_EIO, "instances: the store's clock: %s", db_last_error());
	int64_t skew = srv_now() - db_now;
	if (skew > INSTANCE_SKEW_MAX_S || -skew > INSTANCE_SKEW_MAX_S)
		return roost_errf(eb, ROOST_EINVAL, "this machine's clock is %+lld s off the "
		                  "database's (more than %d s): fix the time (NTP) first",
		                  (long long)skew, INSTANCE_SKEW_MAX_S);
	I.id = instances_register(I.name, I.url);
	if (!I.id)
		return roost_errf(eb, ROOST_EIO, "instances: register: %s", db_last_error());
	I.shared = 1;
	publish();
	note_skew(db_now);
	I.deadline_ms = mono_ms() + margin_ms();
	log_info("instance.registered", "instance=%lld name=%s heartbeat_s=%lld ttl_s=%lld",
	         (long long)I.id, roost_lq(I.name), (long long)I.heartbeat_s, (long long)I.ttl_s);
	if (g_srv->lws) {
		lws_sul_schedule(g_srv->lws, 0, &I.sul, tick_cb, I.heartbeat_s * LWS_US_PER_SEC);
		I.timer = 1;
	}
	return ROOST_OK;
}

void instances_reset(void)
{
	memset(&I, 0, sizeof(I));
	I.acting = 1;
	publish();
}
