/* SPDX-License-Identifier: MIT */
/*
 * The routes the dashboard reads (docs/dashboard.md, "Routes the dashboard
 * reads") that are plain JSON answers: GET /v1/fleet, everything the fleet
 * page shows in one request, and GET /v1/cron/next, the schedule editor's
 * preview of an expression as it is typed.
 *
 * /v1/fleet is built from a handful of whole-table queries (groups,
 * schedules, their groups, successes, current jobs), each row attached to its
 * host through a small id map, so its cost grows with the fleet and not with
 * the number of queries: only the host itself is view_host's, so that it is
 * exactly what GET /v1/hosts/{id} shows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roost/cron.h"
#include "roost/log.h"
#include "roostd.h"

/* ids -> JSON objects, the fleet's hosts or schedules (sorted by id: the
 * queries read them in id order, so a lookup is a binary search) */
struct idmap {
	int64_t *ids;
	json_t **objs; /* borrowed */
	size_t n, cap;
};

static int idmap_add(struct idmap *m, int64_t id, json_t *o)
{
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 64;
		int64_t *ni = realloc(m->ids, nc * sizeof(*ni));
		if (!ni)
			return -1;
		m->ids = ni;
		json_t **no = realloc(m->objs, nc * sizeof(*no));
		if (!no)
			return -1;
		m->objs = no;
		m->cap = nc;
	}
	m->ids[m->n] = id;
	m->objs[m->n++] = o;
	return 0;
}

static json_t *idmap_get(const struct idmap *m, int64_t id)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->ids[mid] == id)
			return m->objs[mid];
		if (m->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void idmap_release(struct idmap *m)
{
	free(m->ids);
	free(m->objs);
	memset(m, 0, sizeof(*m));
}

static json_t *col_json_array(struct db_stmt *st, int i)
{
	const char *s = db_col_text(st, i);
	json_t *j = s ? json_loads(s, 0, NULL) : NULL;
	return j ? j : json_array();
}

/* Each schedule's next fire, parsing each expression once. */
static json_t *next_at(const char *expr, const char *tz, int enabled, int64_t now)
{
	struct cron *c = NULL;
	int64_t next = 0;
	if (enabled && expr && cron_parse(expr, tz, &c, NULL) == ROOST_OK &&
	    cron_next(c, now, &next) != ROOST_OK)
		next = 0;
	cron_free(c);
	return json_time(next);
}

static int fleet_build(json_t *arr, struct idmap *hosts)
{
	int64_t now = srv_now();
	struct idmap scheds = {0};
	int rc = -1;
	struct db_stmt *st = db_q("SELECT id FROM hosts ORDER BY id", NULL);
	while (st && db_step(st) == DB_ROW) {
		int64_t hid = db_col_int(st, 0);
		json_t *h = view_host(hid);
		if (!h)
			continue;
		json_object_set_new(h, "groups", json_array());
		json_object_set_new(h, "schedules", json_array());
		json_object_set_new(h, "current_job", json_null());
		json_array_append_new(arr, h);
		if (idmap_add(hosts, hid, h))
			goto done;
	}
	db_done(st);
	st = db_q("SELECT id, host_id, name, paths FROM source_groups ORDER BY host_id, id", NULL);
	while (st && db_step(st) == DB_ROW) {
		json_t *h = idmap_get(hosts, db_col_int(st, 1));
		if (h)
			json_array_append_new(
				json_object_get(h, "groups"),
				json_pack("{s:I, s:s, s:o}", "id", (json_int_t)db_col_int(st, 0),
				          "name", db_col_text(st, 2), "paths",
				          col_json_array(st, 3)));
	}
	db_done(st);
	st = db_q("SELECT s.id, s.host_id, s.name, s.cron, s.enabled, h.tz FROM schedules s "
	          "JOIN hosts h ON h.id = s.host_id ORDER BY s.id", NULL);
	while (st && db_step(st) == DB_ROW) {
		json_t *h = idmap_get(hosts, db_col_int(st, 1));
		if (!h)
			continue;
		const char *cron = db_col_text(st, 3);
		int enabled = (int)db_col_int(st, 4);
		json_t *s = json_pack("{s:I, s:s, s:s, s:b, s:[], s:o, s:n}", "id",
		                      (json_int_t)db_col_int(st, 0), "name",
		                      db_col_text(st, 2), "cron", cron ? cron : "",
		                      "enabled", enabled, "group_ids", "next_at",
		                      next_at(cron, db_col_text(st, 5), enabled,
		                              now),
		                      "last_success_at");
		if (!s)
			continue;
		json_array_append_new(json_object_get(h, "schedules"), s);
		if (idmap_add(&scheds, db_col_int(st, 0), s))
			goto done;
	}
	db_done(st);
	st = db_q("SELECT schedule_id, group_id FROM schedule_groups ORDER BY schedule_id, group_id",
	          NULL);
	while (st && db_step(st) == DB_ROW) {
		json_t *s = idmap_get(&scheds, db_col_int(st, 0));
		if (s)
			json_array_append_new(json_object_get(s, "group_ids"),
			                      json_integer(db_col_int(st, 1)));
	}
	db_done(st);
	/* A schedule's last success is the one catch-up and health read: the
	 * start of the newest succeeded backup of any of its groups (a manual
	 * backup of a group counts for every schedule that holds it). */
	st = db_q("SELECT schedule_id, MAX(last_success_at) FROM group_success GROUP BY schedule_id",
	          NULL);
	while (st && db_step(st) == DB_ROW) {
		json_t *s = idmap_get(&scheds, db_col_int(st, 0));
		if (s)
			json_object_set_new(s, "last_success_at", json_time(db_col_int(st, 1)));
	}
	db_done(st);
	/* current jobs: few, each as GET /v1/jobs/{id} shows it; a host with
	 * none running or queued shows its oldest deferred one (and why) */
	st = db_q("SELECT host_id, id FROM jobs WHERE status IN ('queued','running','deferred') "
	          "ORDER BY host_id, CASE status WHEN 'running' THEN 0 WHEN 'queued' THEN 1 "
	          "ELSE 2 END, id", NULL);
	int64_t last_host = 0;
	while (st && db_step(st) == DB_ROW) {
		int64_t hid = db_col_int(st, 0);
		json_t *h = hid != last_host ? idmap_get(hosts, hid) : NULL;
		last_host = hid;
		json_t *j = h ? view_job(db_col_int(st, 1)) : NULL;
		if (j)
			json_object_set_new(h, "current_job", j);
	}
	rc = 0;
done:
	db_done(st);
	idmap_release(&scheds);
	return rc;
}

/* GET /v1/fleet: every host as GET /v1/hosts/{id} shows it, with its groups,
 * its schedules (with their last success) and its current job. */
static void fleet(struct resp *rs)
{
	json_t *arr = json_array();
	struct idmap hosts = {0};
	/* one read transaction: the fleet as it was at one instant */
	int tx = store_begin_read(g_srv->st) == 0;
	int rc = fleet_build(arr, &hosts);
	if (tx)
		store_exec(g_srv->st, "COMMIT");
	idmap_release(&hosts);
	if (rc) {
		json_decref(arr);
		resp_error(rs, 500, "internal", "out of memory", NULL);
		return;
	}
	api_ok(rs, 200, arr);
}

/* GET /v1/cron/next?expr=E&count=N[&tz=ZONE]: the next N fires of E. */
static void cron_preview(struct req *rq, struct resp *rs)
{
	char expr[512], tz[128], cb[32];
	int64_t count = 5;
	if (query_get(rq->query, "count", cb, sizeof(cb)) &&
	    (api_parse_id(cb, &count) || count > 100)) {
		resp_error(rs, 400, "invalid_field", "count: between 1 and 100", "count");
		return;
	}
	if (!query_get(rq->query, "expr", expr, sizeof(expr))) {
		resp_error(rs, 400, "invalid_field", "expr: the cron expression is missing", "expr");
		return;
	}
	const char *zone = query_get(rq->query, "tz", tz, sizeof(tz));
	struct cron *c = NULL;
	struct roost_errbuf eb = {{0}};
	/* cron_validate is what schedule validation asks (it refuses an
	 * expression that can never fire); the message names the cron field */
	if (cron_validate(expr, zone, &eb) != ROOST_OK ||
	    cron_parse(expr, zone, &c, &eb) != ROOST_OK) {
		resp_error(rs, 400, "invalid_cron", eb.msg[0] ? eb.msg : "unparseable", "expr");
		return;
	}
	json_t *arr = json_array();
	int64_t t = srv_now();
	for (int64_t i = 0; i < count; i++) {
		if (cron_next(c, t, &t) != ROOST_OK)
			break;
		json_array_append_new(arr, json_time(t));
	}
	json_t *o = json_pack("{s:o, s:s}", "next", arr, "tz", cron_tz_name(c));
	cron_free(c);
	api_ok(rs, 200, o);
}

int api_fleet_route(char **seg, int ns, struct req *rq, struct resp *rs)
{
	if (ns == 2 && !strcmp(seg[1], "fleet")) {
		if (api_is(rq, "GET"))
			fleet(rs);
		else
			api_method_not_allowed(rs);
		return 1;
	}
	if (ns == 3 && !strcmp(seg[1], "cron") && !strcmp(seg[2], "next")) {
		if (api_is(rq, "GET"))
			cron_preview(rq, rs);
		else
			api_method_not_allowed(rs);
		return 1;
	}
	return 0;
}
