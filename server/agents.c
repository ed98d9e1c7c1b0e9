/* SPDX-License-Identifier: MIT */
/*
 * What roostd does with its agents' sessions: the hub (server/hub.c)
 * reports each decoded message and each disconnect here, through the
 * struct hub_handler that main.c registers (agents_handler).
 *
 *   hello        the host's facts, the jobs it reports (jobs.c), its config,
 *                the queued jobs it missed, its persisted fires (fires.c), a
 *                catch-up armed if it is intermittent (catchup.c), and the
 *                oldest pending run if it is idle (pending.c)
 *   fire         fires.c
 *   job.*        jobs.c; when a job ends, the next pending run
 *   disconnect   last_seen_at, the session's end (presence.c)
 *
 * Once a second it retries the job ends the store could not record
 * (jobs.c keeps them), and starts what was waiting behind them.
 * Also the `config` message, pushed on hello and after every change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "roost/cron.h"
#include "roost/log.h"
#include "presence.h"
#include "roost/tz.h"
#include "defer.h"
#include "roostd.h"
#include "route.h"

/* One of the host's schedules as the agent evaluates it; 0, or -1. */
static int load_schedule(struct db_stmt *st, const char *tz, int64_t now, struct proto_schedule *p)
{
	p->id = db_col_int(st, 0);
	p->host_id = db_col_int(st, 4);
	snprintf(p->name, sizeof(p->name), "%s", db_col_text(st, 1));
	snprintf(p->cron, sizeof(p->cron), "%s", db_col_text(st, 2));
	p->enabled = (int)db_col_int(st, 3) != 0;
	struct cron *c = NULL;
	if (p->enabled && cron_parse(p->cron, tz, &c, NULL) == ROOST_OK &&
	    cron_next(c, now, &p->next_at) != ROOST_OK)
		p->next_at = 0;
	cron_free(c);
	int64_t ids[PROTO_MAX_LIST];
	int enabled;
	size_t n = db_schedule_groups(p->host_id, p->id, ids, PROTO_MAX_LIST, &enabled);
	p->group_ids = n ? malloc(n * sizeof(*p->group_ids)) : NULL;
	if (n && !p->group_ids)
		return -1;
	if (n)
		memcpy(p->group_ids, ids, n * sizeof(*ids));
	p->ngroup_ids = n;
	return 0;
}

json_t *agents_config_msg(int64_t host_id)
{
	struct proto_config c;
	memset(&c, 0, sizeof(c));
	json_t *out = NULL;
	struct roost_errbuf eb = {{0}};
	int64_t now = srv_now();
	char *tz = db_host_tz(host_id);
	c.host_id = host_id;
	struct db_stmt *st = db_q("SELECT name, mode, upload_limit_kbps FROM hosts WHERE id=?", "i",
	                        host_id);
	if (st && db_step(st) == DB_ROW) {
		snprintf(c.name, sizeof(c.name), "%s", db_col_text(st, 0));
		snprintf(c.mode, sizeof(c.mode), "%s", db_col_text(st, 1));
		c.upload_limit_kbps = db_col_int(st, 2);
	}
	db_done(st);
	size_t ng = (size_t)db_int(0, "SELECT COUNT(*) FROM source_groups WHERE host_id=?", "i",
	                           host_id);
	size_t ns = (size_t)db_int(0, "SELECT COUNT(*) FROM schedules WHERE host_id=?", "i", host_id);
	c.groups = calloc(ng ? ng : 1, sizeof(*c.groups));
	c.schedules = calloc(ns ? ns : 1, sizeof(*c.schedules));
	if (!c.groups || !c.schedules)
		goto done;
	st = db_q("SELECT id FROM source_groups WHERE host_id=? ORDER BY id", "i", host_id);
	while (st && db_step(st) == DB_ROW && c.ngroups < ng)
		if (db_group_load(db_col_int(st, 0), &c.groups[c.ngroups]) == 0)
			c.ngroups++;
	db_done(st);
	st = db_q("SELECT id, name, cron, enabled, host_id FROM schedules WHERE host_id=? ORDER BY id",
	          "i", host_id);
	while (st && db_step(st) == DB_ROW && c.nschedules < ns)
		if (load_schedule(st, tz, now, &c.schedules[c.nschedules]) == 0)
			c.nschedules++;
		else
			proto_schedule_release(&c.schedules[c.nschedules]);
	db_done(st);
	snprintf(c.repo_url, sizeof(c.repo_url), "/v1/repo");
	/* write-only agents: the put-only material, never the password; the
	 * fleet's id key only to a host with a dedup fleet group (or none), its
	 * own id key to a host with a dedup host group */
	int hgroups = 0;
	for (size_t i = 0; i < c.ngroups; i++)
		hgroups += c.groups[i].dedup_host;
	if (hgroups < (int)c.ngroups || !c.ngroups)
		sodium_bin2base64(c.repo_put_key, sizeof(c.repo_put_key), g_srv->repo_put,
		                  sizeof(g_srv->repo_put), sodium_base64_VARIANT_ORIGINAL);
	uint8_t hm[ROOST_PUT_HOST_LEN];
	if (hgroups && host_id <= UINT32_MAX && g_srv->repo &&
	    roost_repo_put_material_host(g_srv->repo, (uint32_t)host_id, hm, sizeof(hm), &eb) ==
	        ROOST_OK)
		sodium_bin2base64(c.repo_put_key_host, sizeof(c.repo_put_key_host), hm, sizeof(hm),
		                  sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(hm, sizeof(hm));
	c.timeout_s = g_srv->agent_timeout_s;
	if (proto_encode_config(&c, &out, &eb) != ROOST_OK)
		log_error("agent.config_unsendable", "host=%lld msg=%s", (long long)host_id,
		          roost_lq(eb.msg));
done:
	sodium_memzero(c.repo_put_key, sizeof(c.repo_put_key));
	sodium_memzero(c.repo_put_key_host, sizeof(c.repo_put_key_host));
	proto_config_release(&c);
	free(tz);
	return out;
}

static int push_config_here(int64_t host_id, int64_t unused)
{
	(void)unused;
	return agents_push_config_here(host_id);
}

int agents_push_config_here(int64_t host_id)
{
	if (!hub_online(host_id))
		return -1;
	json_t *cfg = agents_config_msg(host_id);
	int rc = hub_send(host_id, cfg);
	if (rc == 0)
		log_info("agent.config", "host=%lld why=changed", (long long)host_id);
	json_decref(cfg);
	return rc;
}

void agents_push_config(int64_t host_id)
{
	route_host(host_id, ROUTE_CONFIG, 0, push_config_here); /* here, or a poke to its owner */
}

/* The host's reported power and network (hello, status): kept in the store,
 * shown in the host view, read by the deferral rule (defer.c). */
static void power_report(int64_t host_id, const struct proto_msg *m, const char *via)
{
	int was_b = (int)db_int(0, "SELECT on_battery FROM hosts WHERE id=?", "i", host_id);
	int was_m = (int)db_int(0, "SELECT metered FROM hosts WHERE id=?", "i", host_id);
	if (was_b == !!m->on_battery && was_m == !!m->metered)
		return;
	db_exec("UPDATE hosts SET on_battery=?, metered=? WHERE id=?", "iii",
	        (int64_t)!!m->on_battery, (int64_t)!!m->metered, host_id);
	log_info("agent.status", "host=%lld on_battery=%s metered=%s via=%s", (long long)host_id,
	         m->on_battery ? "yes" : "no", m->metered ? "yes" : "no", via);
}

void agents_on_hello(int64_t host_id, const struct proto_msg *m)
{
	int64_t now = srv_now();
	/* several instances: this one owns the host from now (the first write);
	 * the takeover's new connection epoch is also the one catch-up claims */
	int64_t epoch = route_takeover(host_id, now) == 0 ? route_epoch(host_id) : 0;
	const struct roost_tz *tz = NULL;
	const char *zone = m->tz[0] && roost_tz_get(m->tz, &tz, NULL) == ROOST_OK ? m->tz : NULL;
	db_exec("UPDATE hosts SET hostname=COALESCE(NULLIF(?, ''), hostname), os=?, tz=?, "
	        "last_seen_at=? WHERE id=?", "tttii", m->hostname, m->os, zone, now, host_id);
	if (m->clock && (m->clock - now > 300 || now - m->clock > 300))
		log_warn("agent.clock_skew", "host=%lld skew_s=%lld", (long long)host_id,
		         (long long)(m->clock - now));
	log_info("agent.hello", "host=%lld version=%s hostname=%s tz=%s jobs=%zu fires=%zu",
	         (long long)host_id, roost_lq(m->agent_version), roost_lq(m->hostname),
	         roost_lq(zone), m->njobs, m->nfires);
	if (!epoch) /* the takeover failed: a new epoch all the same */
		epoch = catchup_hello_epoch(host_id);
	presence_hello(host_id, now);
	power_report(host_id, m, "hello");
	jobs_resolve_hello(host_id, m, now);
	json_t *cfg = agents_config_msg(host_id);
	hub_send(host_id, cfg);
	json_decref(cfg);
	jobs_resend_queued(host_id);
	for (size_t i = 0; i < m->nfires; i++)
		fires_handle(host_id, m->fires[i].schedule_id, m->fires[i].slot, "persisted");
	char mode[32];
	if (db_host_mode(host_id, mode, sizeof(mode)) == 0 && !strcmp(mode, "intermittent"))
		catchup_arm_hello(host_id, now, epoch); /* settle, plus the host's jitter */
	if (!db_host_busy(host_id))
		pending_dispatch(host_id);
}

void agents_on_message(int64_t host_id, const struct proto_msg *m)
{
	switch (m->type) {
	case PROTO_HELLO:
		agents_on_hello(host_id, m);
		break;
	case PROTO_FIRE:
		fires_handle(host_id, m->fire.schedule_id, m->fire.slot, "live");
		break;
	case PROTO_STATUS:
		power_report(host_id, m, "status");
		defer_release(host_id, srv_now()); /* a cleared condition starts its jobs now */
		break;
	default:
		if (jobs_on_report(host_id, m) && !db_host_busy(host_id))
			pending_dispatch(host_id);
		break;
	}
}

void agents_on_disconnect(int64_t host_id)
{
	presence_gone(host_id, srv_now());
	route_release(host_id);
}

void agents_retry_unrecorded(void)
{
	if (!jobs_unrecorded())
		return;
	static int64_t hosts[4096]; /* as many as jobs.c keeps */
	size_t n = jobs_retry_unrecorded(hosts, sizeof(hosts) / sizeof(hosts[0]));
	for (size_t i = 0; i < n; i++)
		if (!db_host_busy(hosts[i]))
			pending_dispatch(hosts[i]);
}

static void retry_cb(lws_sorted_usec_list_t *sul)
{
	agents_retry_unrecorded();
	lws_sul_schedule(g_srv->lws, 0, sul, retry_cb, LWS_US_PER_SEC);
}

void agents_start(void)
{
	static lws_sorted_usec_list_t sul;
	lws_sul_schedule(g_srv->lws, 0, &sul, retry_cb, LWS_US_PER_SEC);
}

const struct hub_handler agents_handler = {
	.message = agents_on_message,
	.disconnected = agents_on_disconnect,
};
