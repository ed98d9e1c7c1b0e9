/* SPDX-License-Identifier: MIT */
/*
 * The REST routes over the repository (DESIGN.md, "REST API" and
 * "Retention and repository maintenance"): snapshots (list, forget by
 * hand), the repository's figures, and maintenance runs (start, list, one).
 * The work of a run is maintenance.c's; this file answers for it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maintenance.h"
#include "roost/jsonutil.h"
#include "roost/log.h"
#include "roostd.h"

/* The repository opened for listings (event-loop thread), or NULL with rs filled. */
static struct roost_repo *repo(struct resp *rs)
{
	struct roost_errbuf eb = {{0}};
	if (!g_srv->repo && roost_repo_open(g_srv->repo_be, g_srv->repo_password, &g_srv->repo,
	                                    &eb) != ROOST_OK) {
		resp_error(rs, 500, "repository", eb.msg, NULL);
		return NULL;
	}
	return g_srv->repo;
}

static void snapshots_list(struct req *rq, struct resp *rs)
{
	char hb[160];
	const char *host = query_get(rq->query, "host", hb, sizeof(hb));
	char hname[160] = "";
	if (host) {
		int64_t hid = db_host_resolve(host);
		if (!hid) {
			api_not_found(rs, "host");
			return;
		}
		struct db_stmt *st = db_q("SELECT name FROM hosts WHERE id=?", "i", hid);
		if (st && db_step(st) == DB_ROW)
			snprintf(hname, sizeof(hname), "%s", db_col_text(st, 0));
		db_done(st);
	}
	struct roost_errbuf eb = {{0}};
	struct roost_repo *r = repo(rs);
	if (!r)
		return;
	struct roost_snapshot *snaps;
	size_t n;
	if (roost_repo_snapshots(r, &snaps, &n, NULL, NULL, &eb) != ROOST_OK) {
		resp_error(rs, 500, "repository", eb.msg, NULL);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct roost_snapshot *s = &snaps[i];
		if (host && strcmp(s->hostname, hname))
			continue;
		json_t *paths = json_array(), *tags = json_array();
		for (size_t k = 0; k < s->npaths; k++)
			json_array_append_new(paths, json_bytes_lossy(s->paths[k], strlen(s->paths[k])));
		for (size_t k = 0; k < s->ntags; k++)
			json_array_append_new(tags, json_bytes_lossy(s->tags[k], strlen(s->tags[k])));
		int64_t hid = db_int(0, "SELECT id FROM hosts WHERE name=?", "t", s->hostname);
		json_array_append_new(
			arr, json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:{s:I, s:I, s:I}}", "id", s->id,
			               "time", json_time(s->time_s), "paths", paths, "hostname",
			               json_bytes_lossy(s->hostname, strlen(s->hostname)), "tags", tags,
			               "host_id", hid ? json_integer(hid) : json_null(), "summary", "files",
			               (json_int_t)s->summary.files, "bytes", (json_int_t)s->summary.bytes,
			               "bytes_new", (json_int_t)s->summary.bytes_new));
	}
	roost_snapshots_free(snaps, n);
	api_ok(rs, 200, arr);
}


/* DELETE /v1/snapshots/{id}: forget one snapshot by hand (an id or a unique
 * prefix). Its data goes with the next maintenance's prune. */
static void snapshot_forget(const char *ref, struct resp *rs)
{
	if (maintenance_running()) {
		resp_error(rs, 409, "maintenance_running",
		           "maintenance is running; forget the snapshot when it has finished", NULL);
		return;
	}
	struct roost_repo *r = repo(rs);
	if (!r)
		return;
	struct roost_snapshot s;
	struct roost_errbuf eb = {{0}};
	enum roost_err err = roost_repo_find_snapshot(r, ref, &s, &eb);
	if (err == ROOST_ENOENT || err == ROOST_EINVAL) {
		resp_error(rs, err == ROOST_ENOENT ? 404 : 400,
		           err == ROOST_ENOENT ? "not_found" : "invalid_field", eb.msg, NULL);
		return;
	}
	if (err) {
		resp_error(rs, 500, "repository", eb.msg, NULL);
		return;
	}
	char name[16 + 65];
	snprintf(name, sizeof(name), "snapshots/%s", s.id);
	err = g_srv->repo_be->ops->remove(g_srv->repo_be, name, &eb);
	if (err && err != ROOST_ENOENT) {
		roost_snapshot_release(&s);
		resp_error(rs, 500, "repository", eb.msg, NULL);
		return;
	}
	log_info("snapshot.forgotten", "snapshot=%.12s hostname=%s why=\"by hand\"", s.id,
	         roost_lq(s.hostname));
	api_ok(rs, 200, json_pack("{s:s, s:b}", "id", s.id, "deleted", 1));
	roost_snapshot_release(&s);
}

static json_t *int_or_null(struct db_stmt *st, int col)
{
	return db_col_is_null(st, col)
	               ? json_null()
	               : json_integer(db_col_int(st, col));
}

static json_t *text_or_null(struct db_stmt *st, int col)
{
	const char *t = db_col_text(st, col);
	return t ? json_string(t) : json_null();
}

static json_t *json_or_null(struct db_stmt *st, int col)
{
	const char *t = db_col_text(st, col);
	json_t *j = t ? json_loads(t, 0, NULL) : NULL;
	return j ? j : json_null();
}

/* A run's record; with its decisions (which snapshot was kept or removed, and
 * why) only when asked for one run. */
static json_t *view_maintenance(int64_t id, int decisions)
{
	struct db_stmt *st = db_q(
		"SELECT id, trigger, dry_run, status, started_at, finished_at, snapshots_removed, "
		"packs_removed, bytes_freed, packs_marked, packs_repacked, packs_waiting, "
		"check_status, check_errors, error, decisions FROM maintenance WHERE id=?", "i", id);
	json_t *m = NULL;
	if (st && db_step(st) == DB_ROW) {
		m = json_pack("{s:I, s:o, s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
		              (json_int_t)id, "trigger", text_or_null(st, 1), "dry_run",
		              (int)db_col_int(st, 2), "status", text_or_null(st, 3), "started_at",
		              json_time(db_col_int(st, 4)), "finished_at",
		              json_time(db_col_int(st, 5)), "snapshots_removed",
		              int_or_null(st, 6), "packs_removed", int_or_null(st, 7), "bytes_freed",
		              int_or_null(st, 8), "packs_marked", int_or_null(st, 9), "packs_repacked",
		              int_or_null(st, 10), "packs_waiting", int_or_null(st, 11), "error",
		              text_or_null(st, 14));
		if (m) {
			json_object_set_new(m, "check",
			                    json_pack("{s:o, s:o}", "status", text_or_null(st, 12),
			                              "errors", json_or_null(st, 13)));
			if (decisions)
				json_object_set_new(m, "decisions", json_or_null(st, 15));
		}
	}
	db_done(st);
	return m;
}

struct counter {
	uint64_t n, bytes;
};

static int count_cb(void *ctx, const char *name, uint64_t size)
{
	(void)name;
	struct counter *c = ctx;
	c->n++;
	c->bytes += size;
	return 0;
}

/* GET /v1/repository: counts and size now (a listing), blobs and the
 * deduplication ratio as the last maintenance measured them. */
static void repository_show(struct resp *rs)
{
	struct roost_backend *be = g_srv->repo_be;
	struct counter packs = {0}, snaps = {0}, other = {0};
	struct roost_errbuf eb = {{0}};
	if (be->ops->list(be, "packs", count_cb, &packs, &eb) ||
	    be->ops->list(be, "snapshots", count_cb, &snaps, &eb) ||
	    be->ops->list(be, "index", count_cb, &other, &eb) ||
	    be->ops->list(be, "marks", count_cb, &other, &eb) ||
	    be->ops->list(be, "keys", count_cb, &other, &eb)) {
		resp_error(rs, 500, "repository", eb.msg, NULL);
		return;
	}
	json_t *j = json_pack("{s:s, s:I, s:I, s:I}", "location", g_srv->repo_dir, "size_bytes",
	                      (json_int_t)(packs.bytes + snaps.bytes + other.bytes), "snapshots",
	                      (json_int_t)snaps.n, "packs", (json_int_t)packs.n);
	int64_t last = db_int(0, "SELECT MAX(id) FROM maintenance WHERE dry_run=0", NULL);
	json_object_set_new(j, "last_maintenance", last ? view_maintenance(last, 0) : json_null());
	/* the figures the last run that measured them found */
	struct db_stmt *st = db_q("SELECT blobs, raw_bytes, logical_bytes, finished_at FROM "
	                        "maintenance WHERE blobs IS NOT NULL ORDER BY id DESC LIMIT 1",
	                        NULL);
	if (st && db_step(st) == DB_ROW) {
		int64_t raw = db_col_int(st, 1), logical = db_col_int(st, 2);
		json_object_set_new(j, "blobs", json_integer(db_col_int(st, 0)));
		json_object_set_new(j, "raw_bytes", json_integer(raw));
		json_object_set_new(j, "logical_bytes", json_integer(logical));
		json_object_set_new(j, "dedup_ratio",
		                    raw > 0 ? json_real((double)logical / (double)raw) : json_null());
		json_object_set_new(j, "measured_at", json_time(db_col_int(st, 3)));
	} else {
		json_object_set_new(j, "blobs", json_null());
		json_object_set_new(j, "dedup_ratio", json_null());
	}
	db_done(st);
	st = db_q("SELECT finished_at, check_status, check_errors, id FROM maintenance WHERE "
	          "check_status IS NOT NULL ORDER BY id DESC LIMIT 1", NULL);
	if (st && db_step(st) == DB_ROW)
		json_object_set_new(j, "last_check",
		                    json_pack("{s:o, s:o, s:o, s:I}", "at",
		                              json_time(db_col_int(st, 0)), "status",
		                              text_or_null(st, 1), "errors", json_or_null(st, 2),
		                              "maintenance_id",
		                              (json_int_t)db_col_int(st, 3)));
	else
		json_object_set_new(j, "last_check", json_null());
	db_done(st);
	api_ok(rs, 200, j);
}

static void maintenance_create(struct req *rq, struct resp *rs)
{
	int dry_run = 0;
	if (rq->blen) {
		json_t *b = body_object(rq->body, rq->blen, rs);
		if (!b)
			return;
		json_t *d = json_object_get(b, "dry_run");
		const char *key;
		json_t *v;
		json_object_foreach(b, key, v) {
			if (strcmp(key, "dry_run")) {
				resp_error(rs, 400, "invalid_field", "unknown field (known: dry_run)", key);
				json_decref(b);
				return;
			}
		}
		if (d && !json_is_boolean(d)) {
			resp_error(rs, 400, "invalid_field", "dry_run: expected true or false", "dry_run");
			json_decref(b);
			return;
		}
		dry_run = json_is_true(d);
		json_decref(b);
	}
	int64_t id;
	char why[300];
	int rc = maintenance_start(dry_run, "manual", &id, why, sizeof(why));
	if (rc == MAINT_BUSY)
		resp_error(rs, 409, "maintenance_running", why, NULL);
	else if (rc == MAINT_REPO_FAILED)
		resp_error(rs, 500, "repository", why, NULL);
	else if (rc != MAINT_STARTED)
		resp_error(rs, 503, "store_error", why, NULL);
	else
		api_ok(rs, 201, view_maintenance(id, 0));
}

void api_repository_route(char **seg, int ns, struct req *rq, struct resp *rs)
{
	const char *r = seg[1];
	if (!strcmp(r, "snapshots")) {
		if (ns == 2 && api_is(rq, "GET"))
			snapshots_list(rq, rs);
		else if (ns == 3 && api_is(rq, "DELETE"))
			snapshot_forget(seg[2], rs);
		else if (ns <= 3)
			api_method_not_allowed(rs);
		else
			api_not_found(rs, "route");
	} else if (!strcmp(r, "repository")) {
		if (ns != 2)
			api_not_found(rs, "route");
		else if (api_is(rq, "GET"))
			repository_show(rs);
		else
			api_method_not_allowed(rs);
	} else {
		int64_t id;
		if (ns == 2 && api_is(rq, "POST")) {
			maintenance_create(rq, rs);
		} else if (ns == 2 && api_is(rq, "GET")) {
			json_t *a = json_array();
			struct db_stmt *st = db_q("SELECT id FROM maintenance ORDER BY id DESC LIMIT 100", NULL);
			while (st && db_step(st) == DB_ROW)
				json_array_append_new(a, view_maintenance(db_col_int(st, 0), 0));
			db_done(st);
			api_ok(rs, 200, a);
		} else if (ns == 2) {
			api_method_not_allowed(rs);
		} else if (ns == 3 && (api_parse_id(seg[2], &id) ||
		                       !db_int(0, "SELECT 1 FROM maintenance WHERE id=?", "i", id))) {
			api_not_found(rs, "maintenance run");
		} else if (ns == 3 && api_is(rq, "GET")) {
			api_ok(rs, 200, view_maintenance(id, 1));
		} else if (ns == 3) {
			api_method_not_allowed(rs);
		} else {
			api_not_found(rs, "route");
		}
	}
}
