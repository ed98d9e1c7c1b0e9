/* SPDX-License-Identifier: MIT */
/*
 * The REST API of DESIGN.md ("REST API"): routing by method and path
 * segments, admin authorization, and one handler per route. Handlers fill a
 * struct resp with a status and a JSON body; http.c writes it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "roost/cron.h"
#include "roost/jsonutil.h"
#include "roost/log.h"
#include "roost/timeutil.h"
#include "roostd.h"
#include "route.h"

/* route.c's local actions (pending runs, a removed host's agent) */
static int pending_here(int64_t hid, int64_t unused)
{
	(void)unused;
	pending_dispatch(hid);
	return 0;
}

static int kick_here(int64_t hid, int64_t unused)
{
	(void)unused;
	hub_kick(hid);
	return 0;
}

#define MAX_SEGS 8

/* ---- enrollment ---- */

static void enroll_tokens_create(struct req *rq, struct resp *rs)
{
	json_t *o = rq->blen ? body_object(rq->body, rq->blen, rs) : json_object();
	if (!o)
		return;
	json_t *ttl = json_object_get(o, "ttl"), *uses = json_object_get(o, "uses");
	int64_t t = 3600, u = 1;
	if (ttl && (!json_is_integer(ttl) || json_integer_value(ttl) < 1 ||
	            json_integer_value(ttl) > 365LL * 86400)) {
		resp_error(rs, 400, "invalid_field", "ttl: seconds between 1 and 31536000", "ttl");
		goto out;
	}
	if (uses && (!json_is_integer(uses) || json_integer_value(uses) < 1 ||
	             json_integer_value(uses) > 100000)) {
		resp_error(rs, 400, "invalid_field", "uses: between 1 and 100000", "uses");
		goto out;
	}
	if (ttl)
		t = json_integer_value(ttl);
	if (uses)
		u = json_integer_value(uses);
	char text[AUTH_TEXT_LEN + 1];
	uint8_t hash[AUTH_HASH_LEN];
	auth_new_secret(text, hash);
	int64_t now = srv_now();
	if (db_exec("INSERT INTO enroll_tokens (token_hash, expires_at, uses_left, created_at) "
	            "VALUES (?, ?, ?, ?)", "biii", hash, sizeof(hash), now + t, u, now) != DB_DONE) {
		api_store_failed(rs, "the enrollment token");
		goto out;
	}
	log_info("enroll.token_created", "ttl_s=%lld uses=%lld", (long long)t, (long long)u);
	api_ok(rs, 201, json_pack("{s:s, s:o, s:I}", "token", text, "expires_at", json_time(now + t),
	                      "uses", (json_int_t)u));
out:
	json_decref(o);
}

static void enroll(struct req *rq, struct resp *rs)
{
	json_t *o = body_object(rq->body, rq->blen, rs);
	if (!o)
		return;
	const char *token = json_get_str(o, "token");
	const char *hostname = json_get_str(o, "hostname");
	const char *os = json_get_str(o, "os");
	const char *mode = json_get_str(o, "mode");
	uint8_t hash[AUTH_HASH_LEN];
	if (!mode)
		mode = "always-on";
	if (!token || auth_hash_text(token, strlen(token), hash) != ROOST_OK) {
		resp_error(rs, 401, "unauthorized", "enrollment token missing or invalid", "token");
		goto out;
	}
	if (!hostname || !hostname[0] || strlen(hostname) > 128 || strchr(hostname, '/') ||
	    strpbrk(hostname, "\n\r\t ")) {
		resp_error(rs, 400, "invalid_field", "hostname: 1-128 characters, no spaces or '/'",
		           "hostname");
		goto out;
	}
	if (strcmp(mode, "always-on") && strcmp(mode, "intermittent")) {
		resp_error(rs, 400, "invalid_field", "mode: always-on or intermittent", "mode");
		goto out;
	}
	if (os && strlen(os) > 128) {
		resp_error(rs, 400, "invalid_field", "os: too long", "os");
		goto out;
	}
	int64_t now = srv_now();
	if (db_begin()) {
		api_store_failed(rs, "the enrollment");
		goto out;
	}
	/* constant-time comparison against each live token (there are few) */
	int64_t tid = 0;
	struct db_stmt *st = db_q("SELECT id, token_hash FROM enroll_tokens WHERE expires_at > ? AND "
	                        "uses_left > 0", "i", now);
	while (st && db_step(st) == DB_ROW) {
		if (db_col_bytes(st, 1) == AUTH_HASH_LEN &&
		    auth_hash_equal(hash, db_col_blob(st, 1)))
			tid = db_col_int(st, 0);
	}
	db_done(st);
	if (!tid) {
		db_rollback();
		log_warn("enroll.refused", "hostname=%s why=\"token unknown, expired or used up\"",
		         roost_lq(hostname));
		resp_error(rs, 401, "unauthorized", "enrollment token unknown, expired or used up",
		           "token");
		goto out;
	}
	db_exec("UPDATE enroll_tokens SET uses_left = uses_left - 1 WHERE id=?", "i", tid);
	char text[AUTH_TEXT_LEN + 1], name[160];
	uint8_t sh[AUTH_HASH_LEN];
	auth_new_secret(text, sh);
	snprintf(name, sizeof(name), "%s", hostname);
	for (int k = 2; db_int(0, "SELECT 1 FROM hosts WHERE name=?", "t", name) && k < 10000; k++)
		snprintf(name, sizeof(name), "%s-%d", hostname, k);
	if (db_exec("INSERT INTO hosts (name, hostname, os, mode, secret_hash, created_at) "
	            "VALUES (?, ?, ?, ?, ?, ?)", "ttttbi", name, hostname, os ? os : "", mode, sh,
	            sizeof(sh), now) != DB_DONE) {
		db_rollback();
		api_store_failed(rs, "the new host");
		goto out;
	}
	int64_t hid = db_last_id();
	if (db_commit()) {
		api_store_failed(rs, "the new host");
		goto out;
	}
	log_info("enroll.ok", "host=%lld name=%s mode=%s", (long long)hid, roost_lq(name), mode);
	events_emit("host.enrolled", hid, 0, json_pack("{s:s, s:s}", "hostname", hostname, "mode", mode));
	api_ok(rs, 201, json_pack("{s:I, s:s, s:s, s:s}", "host_id", (json_int_t)hid, "secret", text,
	                      "name", name, "mode", mode));
out:
	json_decref(o);
}

/* ---- hosts ---- */

static json_t *list_ids(const char *sql, const char *types, int64_t a,
                        json_t *(*one)(int64_t))
{
	json_t *arr = json_array();
	struct db_stmt *st = types ? db_q(sql, types, a) : db_q(sql, NULL);
	while (st && db_step(st) == DB_ROW) {
		json_t *j = one(db_col_int(st, 0));
		if (j)
			json_array_append_new(arr, j);
	}
	db_done(st);
	return arr;
}

static void host_patch(int64_t hid, struct req *rq, struct resp *rs)
{
	json_t *o = body_object(rq->body, rq->blen, rs);
	if (!o)
		return;
	json_t *mode = json_object_get(o, "mode"), *name = json_object_get(o, "name");
	json_t *ul = json_object_get(o, "upload_limit_kbps");
	const char *m = json_string_value(mode);
	if (ul && (!json_is_integer(ul) || json_integer_value(ul) < 0 ||
	           json_integer_value(ul) > PROTO_MAX_UPLOAD_LIMIT)) {
		resp_error(rs, 400, "invalid_field",
		           "upload_limit_kbps: KiB/s between 0 (no limit) and 10000000",
		           "upload_limit_kbps");
		goto out;
	}
	int64_t limit = ul ? json_integer_value(ul) : -1;
	if (mode && (!m || (strcmp(m, "always-on") && strcmp(m, "intermittent")))) {
		resp_error(rs, 400, "invalid_field", "mode: always-on or intermittent", "mode");
		goto out;
	}
	const char *n = json_string_value(name);
	if (name && (!n || !n[0] || strlen(n) > 128 || strchr(n, '/'))) {
		resp_error(rs, 400, "invalid_field", "name: 1-128 characters without '/'", "name");
		goto out;
	}
	static const char *const flags[] = {"skip_on_battery", "skip_on_metered"};
	for (int i = 0; i < 2; i++) {
		json_t *f = json_object_get(o, flags[i]);
		if (f && !json_is_boolean(f)) {
			char msg[64];
			snprintf(msg, sizeof(msg), "%s: expected true or false", flags[i]);
			resp_error(rs, 400, "invalid_field", msg, flags[i]);
			goto out;
		}
	}
	if (n && db_int(0, "SELECT id FROM hosts WHERE name=? AND id<>?", "ti", n, hid)) {
		resp_error(rs, 409, "conflict", "name: another host has it", "name");
		goto out;
	}
	if (db_begin() == 0) {
		if (m)
			db_exec("UPDATE hosts SET mode=? WHERE id=?", "ti", m, hid);
		if (n)
			db_exec("UPDATE hosts SET name=? WHERE id=?", "ti", n, hid);
		if (limit >= 0)
			db_exec("UPDATE hosts SET upload_limit_kbps=? WHERE id=?", "ii", limit, hid);
		for (int i = 0; i < 2; i++) {
			json_t *f = json_object_get(o, flags[i]);
			char q[80];
			snprintf(q, sizeof(q), "UPDATE hosts SET %s=? WHERE id=?", flags[i]);
			if (f)
				db_exec(q, "ii", (int64_t)json_is_true(f), hid);
		}
	}
	if (db_commit()) {
		api_store_failed(rs, "the host's change");
		goto out;
	}
	log_info("host.changed", "host=%lld mode=%s name=%s upload_limit_kbps=%lld", (long long)hid,
	         roost_lq(m), roost_lq(n), (long long)limit);
	agents_push_config(hid);
	if (!db_host_busy(hid))
		/* a policy turned off: its deferred jobs may start */
		route_host(hid, ROUTE_PENDING, 0, pending_here);
	api_ok(rs, 200, view_host(hid));
out:
	json_decref(o);
}

/* ---- groups ---- */

static void group_write(int64_t hid, int64_t gid, struct req *rq, struct resp *rs)
{
	struct body_group g;
	if (body_group(rq->body, rq->blen, gid != 0, &g, rs))
		return;
	char *paths = g.has_paths ? json_dumps(g.paths, JSON_COMPACT) : NULL;
	char *ex = g.has_excludes ? json_dumps(g.excludes, JSON_COMPACT) : NULL;
	if (g.has_name && db_int(0, "SELECT id FROM source_groups WHERE host_id=? AND name=? AND "
	                            "id<>?", "iti", hid, g.name, gid)) {
		resp_error(rs, 409, "conflict", "name: this host already has a group of that name",
		           "name");
		goto out;
	}
	int created = !gid;
	if (db_begin() == 0) {
		if (created) {
			db_exec("INSERT INTO source_groups (host_id, name, paths, excludes, dedup, "
			        "pre_hook, post_hook, hook_timeout_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			        "itt" "tt" "tti", hid, g.name, paths, ex ? ex : "[]",
			        g.dedup[0] ? g.dedup : "fleet", g.pre_hook, g.post_hook,
			        (int64_t)(g.hook_timeout_s ? g.hook_timeout_s : 600));
			gid = db_last_id();
		} else {
			if (g.has_name)
				db_exec("UPDATE source_groups SET name=? WHERE id=?", "ti", g.name, gid);
			if (paths)
				db_exec("UPDATE source_groups SET paths=? WHERE id=?", "ti", paths, gid);
			if (ex)
				db_exec("UPDATE source_groups SET excludes=? WHERE id=?", "ti", ex, gid);
			if (g.dedup[0])
				db_exec("UPDATE source_groups SET dedup=? WHERE id=?", "ti", g.dedup, gid);
			if (g.has_pre_hook)
				db_exec("UPDATE source_groups SET pre_hook=? WHERE id=?", "ti", g.pre_hook,
				        gid);
			if (g.has_post_hook)
				db_exec("UPDATE source_groups SET post_hook=? WHERE id=?", "ti", g.post_hook,
				        gid);
			if (g.hook_timeout_s)
				db_exec("UPDATE source_groups SET hook_timeout_s=? WHERE id=?", "ii",
				        (int64_t)g.hook_timeout_s, gid);
		}
	}
	if (db_commit()) {
		api_store_failed(rs, "the group");
		goto out;
	}
	api_ok(rs, created ? 201 : 200, view_group(gid));
	log_info("group.saved", "host=%lld group=%lld", (long long)hid, (long long)gid);
	agents_push_config(hid);
out:
	free(paths);
	free(ex);
	body_group_free(&g);
}

/* ---- schedules ---- */

static void schedule_write(int64_t hid, int64_t sid, struct req *rq, struct resp *rs)
{
	struct body_schedule s;
	if (body_schedule(rq->body, rq->blen, sid != 0, &s, rs))
		return;
	if (s.has_cron) {
		char *tz = db_host_tz(hid);
		struct roost_errbuf eb = {{0}};
		if (cron_validate(s.cron, tz, &eb) != ROOST_OK) {
			free(tz);
			resp_error(rs, 400, "invalid_cron", eb.msg, "cron");
			goto out;
		}
		free(tz);
	}
	if (s.has_name && db_int(0, "SELECT id FROM schedules WHERE host_id=? AND name=? AND id<>?",
	                         "iti", hid, s.name, sid)) {
		resp_error(rs, 409, "conflict", "name: this host already has a schedule of that name",
		           "name");
		goto out;
	}
	size_t i;
	json_t *e;
	json_array_foreach(s.group_ids, i, e) {
		if (!db_int(0, "SELECT 1 FROM source_groups WHERE id=? AND host_id=?", "ii",
		            (int64_t)json_integer_value(e), hid)) {
			char m[128];
			snprintf(m, sizeof(m), "group_ids: group %lld is not a group of this host",
			         (long long)json_integer_value(e));
			resp_error(rs, 400, "invalid_field", m, "group_ids");
			goto out;
		}
	}
	if (db_begin()) {
		api_store_failed(rs, "the schedule");
		goto out;
	}
	int created = !sid;
	if (!sid) {
		db_exec("INSERT INTO schedules (host_id, name, cron, enabled, \"window\") "
		        "VALUES (?, ?, ?, ?, ?)", "ittit", hid, s.name, s.cron,
		        (int64_t)(s.enabled != 0), s.window);
		sid = db_last_id();
	} else {
		if (s.has_name)
			db_exec("UPDATE schedules SET name=? WHERE id=?", "ti", s.name, sid);
		if (s.has_cron)
			db_exec("UPDATE schedules SET cron=? WHERE id=?", "ti", s.cron, sid);
		if (s.enabled >= 0)
			db_exec("UPDATE schedules SET enabled=? WHERE id=?", "ii", (int64_t)s.enabled, sid);
		if (s.has_window)
			db_exec("UPDATE schedules SET \"window\"=? WHERE id=?", "ti", s.window, sid);
	}
	for (int r = 0; r < BODY_KEEP_RULES && s.has_retention; r++) {
		if (!s.retention_null && !(s.keep_given & (1u << r)))
			continue;
		char q[96];
		snprintf(q, sizeof(q), "UPDATE schedules SET %s=? WHERE id=?", body_keep_names[r]);
		db_exec(q, "ii", (int64_t)(s.retention_null ? 0 : s.keep[r]), sid);
	}
	if (s.group_ids) {
		db_exec("DELETE FROM schedule_groups WHERE schedule_id=?", "i", sid);
		json_array_foreach(s.group_ids, i, e)
			db_exec("INSERT INTO schedule_groups (schedule_id, group_id) VALUES (?, ?) "
			        "ON CONFLICT DO NOTHING", "ii", sid, (int64_t)json_integer_value(e));
	}
	if (db_commit()) {
		api_store_failed(rs, "the schedule");
		goto out;
	}
	log_info("schedule.saved", "host=%lld schedule=%lld cron=%s", (long long)hid,
	         (long long)sid, roost_lq(s.has_cron ? s.cron : NULL));
	api_ok(rs, created ? 201 : 200, view_schedule(sid));
	agents_push_config(hid);
	if ((s.has_window || s.enabled >= 0) && !db_host_busy(hid))
		/* window or enabled changed: deferred jobs judged again */
		route_host(hid, ROUTE_PENDING, 0, pending_here);
out:
	body_schedule_free(&s);
}

static void schedule_next(int64_t sid, struct req *rq, struct resp *rs)
{
	char buf[32];
	int64_t count = 5;
	if (query_get(rq->query, "count", buf, sizeof(buf)) &&
	    (api_parse_id(buf, &count) || count > 1000)) {
		resp_error(rs, 400, "invalid_field", "count: between 1 and 1000", "count");
		return;
	}
	struct db_stmt *st = db_q("SELECT s.cron, h.tz FROM schedules s JOIN hosts h ON "
	                        "h.id = s.host_id WHERE s.id=?", "i", sid);
	struct cron *c = NULL;
	struct roost_errbuf eb = {{0}};
	enum roost_err err = ROOST_ENOENT;
	if (st && db_step(st) == DB_ROW)
		err = cron_parse(db_col_text(st, 0),
		                 db_col_text(st, 1), &c, &eb);
	db_done(st);
	if (err) {
		resp_error(rs, 400, "invalid_cron", eb.msg[0] ? eb.msg : "unparseable", "cron");
		return;
	}
	json_t *arr = json_array();
	int64_t t = srv_now();
	for (int64_t i = 0; i < count; i++) {
		if (cron_next(c, t, &t) != ROOST_OK)
			break;
		json_array_append_new(arr, json_time(t));
	}
	cron_free(c);
	api_ok(rs, 200, json_pack("{s:o}", "next", arr));
}

/* ---- jobs ---- */

/*
 * A restore's snapshot (an id, a prefix or "latest") among the snapshots the
 * backups of host `owner` made; the full id into full. 0, or -1 with rs
 * filled. Agents can not read snapshots (format 2), so this is where a host
 * is kept to its own: a snapshot of another host needs from_host, an admin's
 * explicit request.
 */
static int restore_snapshot(int64_t owner, int64_t hid, const char *ref, char full[65],
                            struct resp *rs)
{
	struct db_stmt *st;
	if (!strcmp(ref, "latest"))
		st = db_q("SELECT snapshot_id FROM jobs WHERE host_id=? AND kind='backup' AND "
		          "snapshot_id IS NOT NULL ORDER BY finished_at DESC, id DESC LIMIT 1",
		          "i", owner);
	else if (*ref && strlen(ref) <= 64 && strspn(ref, "0123456789abcdef") == strlen(ref))
		st = db_q("SELECT DISTINCT snapshot_id FROM jobs WHERE host_id=? AND kind='backup' "
		          "AND substr(snapshot_id, 1, ?)=? LIMIT 2", "iit", owner,
		          (int64_t)strlen(ref), ref);
	else {
		resp_error(rs, 400, "invalid_field", "snapshot_id: an id, an id prefix or \"latest\"",
		           "snapshot_id");
		return -1;
	}
	int n = 0;
	while (st && db_step(st) == DB_ROW && n < 2)
		if (n++ == 0)
			snprintf(full, 65, "%s", db_col_text(st, 0));
	db_done(st);
	if (n == 1 && strlen(full) == 64)
		return 0;
	if (n > 1) {
		resp_error(rs, 400, "invalid_field", "snapshot_id: the prefix is ambiguous",
		           "snapshot_id");
		return -1;
	}
	int elsewhere = strcmp(ref, "latest") &&
	                db_int(0, "SELECT 1 FROM jobs WHERE kind='backup' AND host_id<>? AND "
	                          "substr(snapshot_id, 1, ?)=?", "iit", owner,
	                       (int64_t)strlen(ref), ref);
	if (elsewhere) {
		log_warn("restore.refused", "host=%lld snapshot=%s why=\"another host's snapshot\"",
		         (long long)hid, roost_lq(ref));
		resp_error(rs, 403, "not_own_snapshot",
		           "snapshot_id: that snapshot is another host's; a cross-host restore needs "
		           "from_host naming its host (an admin's explicit request)", "snapshot_id");
	} else {
		resp_error(rs, 404, "not_found", "snapshot_id: no such snapshot of this host",
		           "snapshot_id");
	}
	return -1;
}

static void job_create(int64_t hid, const char *kind, struct req *rq, struct resp *rs)
{
	int64_t gid = 0;
	char *params = NULL;
	if (!strcmp(kind, "backup")) {
		json_t *o = body_object(rq->body, rq->blen, rs);
		if (!o)
			return;
		json_t *g = json_object_get(o, "group_id");
		gid = json_is_integer(g) ? json_integer_value(g) : 0;
		json_decref(o);
		if (gid <= 0 || !db_int(0, "SELECT 1 FROM source_groups WHERE id=? AND host_id=?", "ii",
		                        gid, hid)) {
			resp_error(rs, 400, "invalid_field", "group_id: not a group of this host",
			           "group_id");
			return;
		}
	} else {
		struct body_restore r;
		if (body_restore(rq->body, rq->blen, &r, rs))
			return;
		/* DESIGN.md, "Write-only agents": a cross-host restore is an admin's
		 * explicit request, not an operator's (docs/dashboard.md) */
		if (r.from_host[0] && rq->auth == AUTH_SESSION && rq->role != ROLE_ADMIN) {
			resp_error(rs, 403, "forbidden", "from_host: a cross-host restore is for admins",
			           "from_host");
			body_restore_free(&r);
			return;
		}
		int64_t owner = r.from_host[0] ? db_host_resolve(r.from_host) : hid;
		char full[65] = "";
		if (!owner) {
			resp_error(rs, 400, "invalid_field", "from_host: no such host", "from_host");
			body_restore_free(&r);
			return;
		}
		if (restore_snapshot(owner, hid, r.snapshot_id, full, rs)) {
			body_restore_free(&r);
			return;
		}
		json_t *p = json_pack("{s:s, s:s, s:O, s:I}", "snapshot_id", full, "target",
		                      r.target, "include", r.include ? r.include : json_array(),
		                      "from_host_id", (json_int_t)owner);
		if (!r.include)
			json_object_set_new(p, "include", json_array());
		params = json_dumps(p, JSON_COMPACT);
		json_decref(p);
		body_restore_free(&r);
	}
	int64_t id = jobs_dispatch(hid, 0, gid, kind, "manual", params, "requested through the API");
	free(params);
	if (!id) {
		api_store_failed(rs, "the job");
		return;
	}
	api_ok(rs, 201, view_job(id));
}

static void jobs_list(struct req *rq, struct resp *rs)
{
	char hb[160], sb[32], lb[32];
	const char *host = query_get(rq->query, "host", hb, sizeof(hb));
	const char *status = query_get(rq->query, "status", sb, sizeof(sb));
	const char *lim = query_get(rq->query, "limit", lb, sizeof(lb));
	int64_t hid = 0, limit = 100;
	if (host && !(hid = db_host_resolve(host))) {
		api_not_found(rs, "host");
		return;
	}
	if (lim && (api_parse_id(lim, &limit) || limit > 10000)) {
		resp_error(rs, 400, "invalid_field", "limit: between 1 and 10000", "limit");
		return;
	}
	static const char *const statuses[] = {"deferred", "queued", "running", "succeeded",
	                                       "failed", "canceled", "interrupted", NULL};
	int okst = !status;
	for (int i = 0; status && statuses[i]; i++)
		okst |= !strcmp(status, statuses[i]);
	if (!okst) {
		resp_error(rs, 400, "invalid_field", "status: deferred, queued, running, succeeded, "
		                                     "failed, canceled or interrupted", "status");
		return;
	}
	json_t *arr = json_array();
	/* ?2's type said (PostgreSQL can not tell it from "IS NULL") */
	struct db_stmt *st = db_q("SELECT id FROM jobs WHERE (?1 = 0 OR host_id = ?1) AND "
	                          "(CAST(?2 AS TEXT) IS NULL OR status = ?2) ORDER BY id DESC "
	                          "LIMIT ?3", "iti", hid, status, limit);
	while (st && db_step(st) == DB_ROW) {
		json_t *j = view_job(db_col_int(st, 0));
		if (j)
			json_array_append_new(arr, j);
	}
	db_done(st);
	api_ok(rs, 200, arr);
}

static void job_cancel(int64_t jid, struct resp *rs)
{
	int64_t hid;
	switch (jobs_cancel(jid, &hid)) {
	case JOBS_CANCEL_UNKNOWN:
		api_not_found(rs, "job");
		return;
	case JOBS_CANCEL_ENDED:
		resp_error(rs, 409, "conflict", "the job has already ended", NULL);
		return;
	case JOBS_CANCEL_STORE_FAILED:
		api_store_failed(rs, "the cancellation");
		return;
	case JOBS_CANCEL_ENDED_HERE:
		if (!db_host_busy(hid))
			route_host(hid, ROUTE_PENDING, 0, pending_here);
		break;
	}
	api_ok(rs, 200, view_job(jid));
}

/* ---- routing ---- */

static void route_host_request(int64_t hid, char **seg, int ns, struct req *rq, struct resp *rs)
{
	/* seg[0]="v1", seg[1]="hosts", seg[2]=id */
	if (ns == 3) {
		if (api_is(rq, "GET"))
			api_ok(rs, 200, view_host(hid));
		else if (api_is(rq, "PATCH"))
			host_patch(hid, rq, rs);
		else if (api_is(rq, "DELETE")) {
			/* its agent is told to go where it is (a poke at commit, or here) */
			if (db_begin() == 0) {
				route_host(hid, ROUTE_KICK, 0, kick_here);
				db_exec("DELETE FROM hosts WHERE id=?", "i", hid);
			}
			if (db_commit()) {
				api_store_failed(rs, "the host's removal");
				return;
			}
			catchup_disarm(hid);
			log_info("host.removed", "host=%lld", (long long)hid);
			api_ok(rs, 200, json_pack("{s:b}", "deleted", 1));
		} else
			api_method_not_allowed(rs);
		return;
	}
	const char *sub = seg[3];
	if (ns == 4 && (!strcmp(sub, "backup") || !strcmp(sub, "restore"))) {
		if (api_is(rq, "POST"))
			job_create(hid, sub, rq, rs);
		else
			api_method_not_allowed(rs);
		return;
	}
	int groups = !strcmp(sub, "groups"), scheds = !strcmp(sub, "schedules");
	if (!groups && !scheds) {
		api_not_found(rs, "route");
		return;
	}
	if (ns == 4) {
		if (api_is(rq, "GET"))
			api_ok(rs, 200, groups ? list_ids("SELECT id FROM source_groups WHERE host_id=? ORDER "
			                              "BY id", "i", hid, view_group)
			                   : list_ids("SELECT id FROM schedules WHERE host_id=? ORDER BY id",
			                              "i", hid, view_schedule));
		else if (api_is(rq, "POST"))
			groups ? group_write(hid, 0, rq, rs) : schedule_write(hid, 0, rq, rs);
		else
			api_method_not_allowed(rs);
		return;
	}
	int64_t oid;
	if (api_parse_id(seg[4], &oid) ||
	    !db_int(0, groups ? "SELECT 1 FROM source_groups WHERE id=? AND host_id=?"
	                      : "SELECT 1 FROM schedules WHERE id=? AND host_id=?",
	            "ii", oid, hid)) {
		api_not_found(rs, groups ? "group" : "schedule");
		return;
	}
	if (ns == 6 && scheds && !strcmp(seg[5], "next") && api_is(rq, "GET")) {
		schedule_next(oid, rq, rs);
		return;
	}
	if (ns != 5) {
		api_not_found(rs, "route");
		return;
	}
	if (api_is(rq, "GET"))
		api_ok(rs, 200, groups ? view_group(oid) : view_schedule(oid));
	else if (api_is(rq, "PATCH"))
		groups ? group_write(hid, oid, rq, rs) : schedule_write(hid, oid, rq, rs);
	else if (api_is(rq, "DELETE")) {
		if (db_begin() == 0)
			db_exec(groups ? "DELETE FROM source_groups WHERE id=?"
			               : "DELETE FROM schedules WHERE id=?", "i", oid);
		if (db_commit()) {
			api_store_failed(rs, groups ? "the group's removal" : "the schedule's removal");
			return;
		}
		agents_push_config(hid);
		if (!db_host_busy(hid))
			/* deferred jobs of a removed schedule end (defer.c) */
			route_host(hid, ROUTE_PENDING, 0, pending_here);
		api_ok(rs, 200, json_pack("{s:b}", "deleted", 1));
	} else
		api_method_not_allowed(rs);
}

void api_handle(struct req *rq, struct resp *rs)
{
	char path[512];
	snprintf(path, sizeof(path), "%s", rq->path);
	char *seg[MAX_SEGS + 1];
	int ns = 0;
	for (char *p = strtok(path, "/"); p; p = strtok(NULL, "/")) {
		if (ns == MAX_SEGS) {
			api_not_found(rs, "route");
			return;
		}
		seg[ns++] = p;
	}
	if (ns < 2 || strcmp(seg[0], "v1")) {
		api_not_found(rs, "route");
		return;
	}
	if (ns == 2 && !strcmp(seg[1], "health")) {
		api_ok(rs, 200, json_pack("{s:s, s:s}", "status", "ok", "version", ROOST_VERSION));
		return;
	}
	if (ns == 2 && !strcmp(seg[1], "enroll")) {
		if (api_is(rq, "POST"))
			enroll(rq, rs);
		else
			api_method_not_allowed(rs);
		return;
	}
	/* everything else is an admin route */
	if (rq->auth == AUTH_NONE) {
		resp_error(rs, 401, "unauthorized",
		           rq->auth_bad ? "invalid credentials" : "missing credentials", NULL);
		return;
	}
	/* a session's role decides through authz.c (the one table); http.c's gate
	 * asked it already, and this holds for any other caller of api_handle */
	if (rq->auth == AUTH_SESSION) {
		if (!authz_role_may(rq->role, rq->method, rq->path)) {
			resp_error(rs, 403, "forbidden", "not allowed for this user's role", NULL);
			return;
		}
	} else if (rq->auth != AUTH_ADMIN) {
		resp_error(rs, 403, "forbidden", "a host credential can not use admin routes", NULL);
		return;
	}
	const char *r = seg[1];
	if (ns == 2 && !strcmp(r, "enroll-tokens")) {
		if (api_is(rq, "POST"))
			enroll_tokens_create(rq, rs);
		else
			api_method_not_allowed(rs);
	} else if (!strcmp(r, "hosts")) {
		if (ns == 2) {
			if (api_is(rq, "GET"))
				api_ok(rs, 200, list_ids("SELECT id FROM hosts ORDER BY id", NULL, 0, view_host));
			else
				api_method_not_allowed(rs);
			return;
		}
		int64_t hid = db_host_resolve(seg[2]);
		if (!hid)
			api_not_found(rs, "host");
		else
			route_host_request(hid, seg, ns, rq, rs);
	} else if (!strcmp(r, "jobs")) {
		int64_t jid;
		if (ns == 2 && api_is(rq, "GET"))
			jobs_list(rq, rs);
		else if (ns >= 3 && (api_parse_id(seg[2], &jid) || !db_int(0, "SELECT 1 FROM jobs WHERE "
		                                                          "id=?", "i", jid)))
			api_not_found(rs, "job");
		else if (ns == 3 && api_is(rq, "GET"))
			api_ok(rs, 200, view_job(jid));
		else if (ns == 4 && !strcmp(seg[3], "cancel") && api_is(rq, "POST"))
			job_cancel(jid, rs);
		else if (ns <= 4)
			api_method_not_allowed(rs);
		else
			api_not_found(rs, "route");
	} else if (!strcmp(r, "snapshots") || !strcmp(r, "repository") ||
	           !strcmp(r, "maintenance")) {
		api_repository_route(seg, ns, rq, rs);
	} else if (!api_events_route(seg, ns, rq, rs) && !api_fleet_route(seg, ns, rq, rs)) {
		api_not_found(rs, "route");
	}
}
