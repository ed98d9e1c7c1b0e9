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
 *   disconnect   last_seen_at
 *
 * Once a second it retries the job ends the store could not record
 * (jobs.c keeps them), and starts what was waiting behind them.
 * Also the `config` message, pushed on hello and after every change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roost/log.h"
#include "roost/tz.h"
#include "roostd.h"

json_t *agents_config_msg(int64_t host_id)
{
	json_t *groups = json_array(), *scheds = json_array();
	sqlite3_stmt *st = db_q("SELECT id FROM source_groups WHERE host_id=? ORDER BY id", "i",
	                        host_id);
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		json_t *g = view_group(sqlite3_column_int64(st, 0));
		if (g)
			json_array_append_new(groups, g);
	}
	sqlite3_finalize(st);
	st = db_q("SELECT id FROM schedules WHERE host_id=? ORDER BY id", "i", host_id);
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		json_t *s = view_schedule(sqlite3_column_int64(st, 0));
		if (s)
			json_array_append_new(scheds, s);
	}
	sqlite3_finalize(st);
	char name[256] = "", mode[32];
	sqlite3_stmt *hs = db_q("SELECT name FROM hosts WHERE id=?", "i", host_id);
	if (hs && sqlite3_step(hs) == SQLITE_ROW)
		snprintf(name, sizeof(name), "%s", sqlite3_column_text(hs, 0));
	sqlite3_finalize(hs);
	int found = db_host_mode(host_id, mode, sizeof(mode)) == 0;
	json_t *c = json_pack("{s:s, s:I, s:o, s:o, s:o, s:o, s:{s:s, s:s}, s:I}", "type", "config",
	                      "host_id", (json_int_t)host_id, "name",
	                      found ? json_string(name) : json_null(), "mode",
	                      found ? json_string(mode) : json_null(), "groups", groups,
	                      "schedules", scheds, "repository", "url", "/v1/repo", "password",
	                      g_srv->repo_password, "timeout_s", (json_int_t)g_srv->agent_timeout_s);
	return c;
}

void agents_push_config(int64_t host_id)
{
	if (!hub_online(host_id))
		return;
	json_t *cfg = agents_config_msg(host_id);
	if (hub_send(host_id, cfg) == 0)
		log_info("agent.config", "host=%lld why=changed", (long long)host_id);
	json_decref(cfg);
}

void agents_on_hello(int64_t host_id, const struct proto_msg *m)
{
	int64_t now = srv_now();
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
	jobs_resolve_hello(host_id, m, now);
	json_t *cfg = agents_config_msg(host_id);
	hub_send(host_id, cfg);
	json_decref(cfg);
	jobs_resend_queued(host_id);
	for (size_t i = 0; i < m->nfires; i++)
		fires_handle(host_id, m->fires[i].schedule_id, m->fires[i].slot, "persisted");
	char mode[32];
	if (db_host_mode(host_id, mode, sizeof(mode)) == 0 && !strcmp(mode, "intermittent"))
		catchup_arm(host_id, now + g_srv->settle_s);
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
	default:
		if (jobs_on_report(host_id, m) && !db_host_busy(host_id))
			pending_dispatch(host_id);
		break;
	}
}

void agents_on_disconnect(int64_t host_id)
{
	db_exec("UPDATE hosts SET last_seen_at=? WHERE id=?", "ii", srv_now(), host_id);
}

void agents_retry_unrecorded(void)
{
	if (!jobs_unrecorded())
		return;
	int64_t hosts[64];
	size_t n = jobs_retry_unrecorded(hosts, 64);
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
