/* SPDX-License-Identifier: MIT */
/*
 * Server -> agent messages (include/roost/proto.h): config, job.start,
 * job.cancel. roostd encodes them from its store; the agent decodes them
 * from the wire and from the config.json it keeps. The wire form is the
 * one roostd has always sent (docs/server.md, "Agent protocol").
 */
#include <stdlib.h>
#include <string.h>

#include "proto/proto_int.h"
#include "roost/proto.h"

/* ---- releasing ---- */

void proto_group_release(struct proto_group *g)
{
	if (!g)
		return;
	proto_strv_free(g->paths, g->npaths);
	proto_strv_free(g->excludes, g->nexcludes);
	memset(g, 0, sizeof(*g));
}

void proto_schedule_release(struct proto_schedule *s)
{
	if (!s)
		return;
	free(s->group_ids);
	memset(s, 0, sizeof(*s));
}

void proto_config_release(struct proto_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->groups && i < c->ngroups; i++)
		proto_group_release(&c->groups[i]);
	for (size_t i = 0; c->schedules && i < c->nschedules; i++)
		proto_schedule_release(&c->schedules[i]);
	free(c->groups);
	free(c->schedules);
	memset(c, 0, sizeof(*c));
}

void proto_restore_release(struct proto_restore *r)
{
	if (!r)
		return;
	proto_strv_free(r->include, r->ninclude);
	memset(r, 0, sizeof(*r));
}

void proto_job_start_release(struct proto_job_start *s)
{
	if (!s)
		return;
	proto_group_release(&s->group);
	proto_restore_release(&s->restore);
	memset(s, 0, sizeof(*s));
}

void proto_server_msg_release(struct proto_server_msg *m)
{
	if (!m)
		return;
	proto_config_release(&m->config);
	proto_job_start_release(&m->start);
	memset(m, 0, sizeof(*m));
}

/* ---- decoding ---- */

static enum roost_err dec_group(const json_t *o, struct proto_group *g, struct roost_errbuf *eb)
{
	memset(g, 0, sizeof(*g));
	if (!json_is_object(o))
		return roost_errf(eb, ROOST_EINVAL, "expected an object");
	enum roost_err err;
	if ((err = proto_get_id(o, "id", &g->id, eb)) ||
	    (err = proto_get_str(o, "name", 0, g->name, sizeof(g->name), eb)) ||
	    (err = proto_get_strv(o, "paths", 1, &g->paths, &g->npaths, eb)) ||
	    (err = proto_get_strv(o, "excludes", 0, &g->excludes, &g->nexcludes, eb)) ||
	    (err = proto_get_id(o, "host_id", &g->host_id, eb))) {
		proto_group_release(g);
		return err;
	}
	char dedup[8] = "";
	if ((err = proto_get_str(o, "dedup", 0, dedup, sizeof(dedup), eb)) ||
	    (dedup[0] && strcmp(dedup, "host") && strcmp(dedup, "fleet"))) {
		proto_group_release(g);
		return err ? err : roost_errf(eb, ROOST_EINVAL, "dedup: expected host or fleet");
	}
	g->dedup_host = !strcmp(dedup, "host");
	if ((err = proto_get_str(o, "pre_hook", 0, g->pre_hook, sizeof(g->pre_hook), eb)) ||
	    (err = proto_get_str(o, "post_hook", 0, g->post_hook, sizeof(g->post_hook), eb))) {
		proto_group_release(g);
		return err;
	}
	g->hook_timeout_s = PROTO_HOOK_TIMEOUT_DEFAULT;
	json_t *to = json_object_get(o, "hook_timeout_s");
	if (to && !json_is_null(to)) {
		if (!json_is_integer(to) || json_integer_value(to) < 1 ||
		    json_integer_value(to) > PROTO_MAX_HOOK_TIMEOUT) {
			proto_group_release(g);
			return roost_errf(eb, ROOST_EINVAL, "hook_timeout_s: expected 1 to %d seconds",
			                  PROTO_MAX_HOOK_TIMEOUT);
		}
		g->hook_timeout_s = json_integer_value(to);
	}
	return ROOST_OK;
}

static enum roost_err dec_schedule(const json_t *o, struct proto_schedule *s,
                                   struct roost_errbuf *eb)
{
	memset(s, 0, sizeof(*s));
	if (!json_is_object(o))
		return roost_errf(eb, ROOST_EINVAL, "expected an object");
	enum roost_err err;
	if ((err = proto_get_id(o, "id", &s->id, eb)) ||
	    (err = proto_get_str(o, "name", 0, s->name, sizeof(s->name), eb)) ||
	    (err = proto_get_str(o, "cron", 1, s->cron, sizeof(s->cron), eb)) ||
	    (err = proto_get_time(o, "next_at", 0, &s->next_at, eb)) ||
	    (err = proto_get_id(o, "host_id", &s->host_id, eb)))
		return err;
	json_t *en = json_object_get(o, "enabled");
	if (!json_is_boolean(en))
		return roost_errf(eb, ROOST_EINVAL, "enabled: expected true or false");
	s->enabled = json_is_true(en);
	json_t *ids = json_object_get(o, "group_ids");
	if (!ids || json_is_null(ids))
		return ROOST_OK;
	if (!json_is_array(ids))
		return roost_errf(eb, ROOST_EINVAL, "group_ids: expected an array of ids");
	size_t n = json_array_size(ids);
	if (n > PROTO_MAX_LIST)
		return roost_errf(eb, ROOST_ERANGE, "group_ids: more than %d entries", PROTO_MAX_LIST);
	if (n && !(s->group_ids = calloc(n, sizeof(*s->group_ids))))
		return ROOST_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_array_get(ids, i);
		if (!json_is_integer(v) || json_integer_value(v) <= 0) {
			proto_schedule_release(s);
			return roost_errf(eb, ROOST_EINVAL, "group_ids[%zu]: expected a positive integer",
			                  i);
		}
		s->group_ids[s->ngroup_ids++] = json_integer_value(v);
	}
	return ROOST_OK;
}

/* An array member of at most max entries (absent: none). */
static enum roost_err get_array(const json_t *o, const char *key, size_t max, json_t **a,
                                struct roost_errbuf *eb)
{
	*a = json_object_get(o, key);
	if (!*a || json_is_null(*a))
		return roost_errf(eb, ROOST_EINVAL, "%s: missing", key);
	if (!json_is_array(*a))
		return roost_errf(eb, ROOST_EINVAL, "%s: expected an array", key);
	if (json_array_size(*a) > max)
		return roost_errf(eb, ROOST_ERANGE, "%s: more than %zu entries", key, max);
	return ROOST_OK;
}

static enum roost_err dec_config(const json_t *o, struct proto_config *c,
                                 struct roost_errbuf *eb)
{
	json_t *groups, *scheds;
	enum roost_err err;
	if ((err = proto_get_id(o, "host_id", &c->host_id, eb)) ||
	    (err = proto_get_str(o, "name", 0, c->name, sizeof(c->name), eb)) ||
	    (err = proto_get_str(o, "mode", 0, c->mode, sizeof(c->mode), eb)) ||
	    (err = get_array(o, "groups", PROTO_MAX_GROUPS, &groups, eb)) ||
	    (err = get_array(o, "schedules", PROTO_MAX_SCHEDULES, &scheds, eb)))
		return err;
	if (c->mode[0] && strcmp(c->mode, "always-on") && strcmp(c->mode, "intermittent"))
		return roost_errf(eb, ROOST_EINVAL, "mode: expected always-on or intermittent");
	json_t *repo = json_object_get(o, "repository");
	if (repo && !json_is_null(repo)) {
		if (!json_is_object(repo))
			return roost_errf(eb, ROOST_EINVAL, "repository: expected an object");
		if ((err = proto_get_str(repo, "url", 0, c->repo_url, sizeof(c->repo_url), eb)) ||
		    (err = proto_get_str(repo, "password", 0, c->repo_password,
		                         sizeof(c->repo_password), eb)) ||
		    (err = proto_get_str(repo, "put_key", 0, c->repo_put_key,
		                         sizeof(c->repo_put_key), eb)) ||
		    (err = proto_get_str(repo, "put_key_host", 0, c->repo_put_key_host,
		                         sizeof(c->repo_put_key_host), eb)))
			return proto_err_in(eb, err, "repository");
	}
	json_t *to = json_object_get(o, "timeout_s");
	if (to && !json_is_null(to)) {
		if (!json_is_integer(to) || json_integer_value(to) < 1 ||
		    json_integer_value(to) > PROTO_MAX_TIMEOUT)
			return roost_errf(eb, ROOST_EINVAL, "timeout_s: expected 1 to %d seconds",
			                  PROTO_MAX_TIMEOUT);
		c->timeout_s = json_integer_value(to);
	}
	json_t *ul = json_object_get(o, "upload_limit_kbps");
	if (ul && !json_is_null(ul)) {
		if (!json_is_integer(ul) || json_integer_value(ul) < 0 ||
		    json_integer_value(ul) > PROTO_MAX_UPLOAD_LIMIT)
			return roost_errf(eb, ROOST_EINVAL,
			                  "upload_limit_kbps: expected 0 (none) to %d KiB/s",
			                  PROTO_MAX_UPLOAD_LIMIT);
		c->upload_limit_kbps = json_integer_value(ul);
	}
	size_t ng = json_array_size(groups), ns = json_array_size(scheds);
	if ((ng && !(c->groups = calloc(ng, sizeof(*c->groups)))) ||
	    (ns && !(c->schedules = calloc(ns, sizeof(*c->schedules)))))
		return ROOST_ENOMEM;
	for (size_t i = 0; i < ng; i++) {
		if ((err = dec_group(json_array_get(groups, i), &c->groups[i], eb)))
			return proto_err_at(eb, err, "groups", i);
		c->ngroups++;
	}
	for (size_t i = 0; i < ns; i++) {
		if ((err = dec_schedule(json_array_get(scheds, i), &c->schedules[i], eb)))
			return proto_err_at(eb, err, "schedules", i);
		c->nschedules++;
	}
	return ROOST_OK;
}

static int present(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return v && !json_is_null(v);
}

static enum roost_err dec_job_start(const json_t *o, struct proto_job_start *s,
                                    struct roost_errbuf *eb)
{
	enum roost_err err;
	if ((err = proto_get_id(o, "job_id", &s->job_id, eb)) ||
	    (err = proto_get_str(o, "kind", 1, s->kind, sizeof(s->kind), eb)) ||
	    (err = proto_get_str(o, "trigger", 0, s->trigger, sizeof(s->trigger), eb)) ||
	    (err = proto_get_str(o, "schedule", 0, s->schedule, sizeof(s->schedule), eb)))
		return err;
	if (!s->kind[0])
		return roost_errf(eb, ROOST_EINVAL, "kind: empty");
	if (present(o, "group")) {
		if ((err = dec_group(json_object_get(o, "group"), &s->group, eb)))
			return proto_err_in(eb, err, "group");
		s->has_group = 1;
	}
	if (!present(o, "snapshot_id") && !present(o, "target") && !present(o, "include"))
		return ROOST_OK;
	struct proto_restore *r = &s->restore;
	s->has_restore = 1;
	if ((err = proto_get_str(o, "snapshot_id", 1, r->snapshot_id, sizeof(r->snapshot_id),
	                         eb)) ||
	    (err = proto_get_str(o, "target", 1, r->target, sizeof(r->target), eb)) ||
	    (err = proto_get_strv(o, "include", 0, &r->include, &r->ninclude, eb)))
		return err;
	if (!r->snapshot_id[0])
		return roost_errf(eb, ROOST_EINVAL, "snapshot_id: empty");
	if (r->target[0] != '/')
		return roost_errf(eb, ROOST_EINVAL, "target: expected an absolute path");
	for (size_t i = 0; i < r->ninclude; i++)
		if (r->include[i][0] != '/')
			return roost_errf(eb, ROOST_EINVAL, "include[%zu]: expected an absolute path", i);
	return ROOST_OK;
}

enum roost_err proto_decode_server_json(const json_t *o, struct proto_server_msg *m,
                                        struct roost_errbuf *eb)
{
	memset(m, 0, sizeof(*m));
	char type[32];
	enum roost_err err = proto_get_type(o, type, sizeof(type), eb);
	if (err)
		return err;
	if (!strcmp(type, "config")) {
		m->type = PROTO_CONFIG;
		err = dec_config(o, &m->config, eb);
	} else if (!strcmp(type, "job.start")) {
		m->type = PROTO_JOB_START;
		err = dec_job_start(o, &m->start, eb);
	} else if (!strcmp(type, "job.cancel")) {
		m->type = PROTO_JOB_CANCEL;
		err = proto_get_id(o, "job_id", &m->cancel.job_id, eb);
	} else {
		err = roost_errf(eb, ROOST_EINVAL, "type: unknown message type");
	}
	if (err) {
		/* a job the agent can not run is still one it can report as failed */
		enum proto_type t = m->type;
		int64_t job_id = m->start.job_id;
		proto_server_msg_release(m);
		if (t == PROTO_JOB_START && job_id > 0) {
			m->type = t;
			m->start.job_id = job_id;
		}
	}
	return err;
}

enum roost_err proto_decode_server(const char *buf, size_t len, struct proto_server_msg *m,
                                   struct roost_errbuf *eb)
{
	memset(m, 0, sizeof(*m));
	json_t *o;
	enum roost_err err = proto_load(buf, len, PROTO_MAX_SERVER_FRAME, &o, eb);
	if (err)
		return err;
	err = proto_decode_server_json(o, m, eb);
	json_decref(o);
	return err;
}

/* ---- encoding ---- */

static enum roost_err put_group(json_t *o, const struct proto_group *g, struct roost_errbuf *eb)
{
	enum roost_err err;
	if ((err = proto_put_int(o, "id", g->id, eb)) ||
	    (err = proto_put_str_or_null(o, "name", g->name, eb)) ||
	    (err = proto_put_strv(o, "paths", g->paths, g->npaths, eb)) ||
	    (err = proto_put_strv(o, "excludes", g->excludes, g->nexcludes, eb)) ||
	    (g->dedup_host && (err = proto_put_str(o, "dedup", "host", eb))) ||
	    (g->pre_hook[0] && (err = proto_put_str(o, "pre_hook", g->pre_hook, eb))) ||
	    (g->post_hook[0] && (err = proto_put_str(o, "post_hook", g->post_hook, eb))) ||
	    (g->hook_timeout_s && g->hook_timeout_s != PROTO_HOOK_TIMEOUT_DEFAULT &&
	     (err = proto_put_int(o, "hook_timeout_s", g->hook_timeout_s, eb))))
		return err;
	return proto_put_int(o, "host_id", g->host_id, eb);
}

static enum roost_err put_schedule(json_t *o, const struct proto_schedule *s,
                                   struct roost_errbuf *eb)
{
	enum roost_err err;
	if ((err = proto_put_int(o, "id", s->id, eb)) ||
	    (err = proto_put_str_or_null(o, "name", s->name, eb)) ||
	    (err = proto_put_str(o, "cron", s->cron, eb)) ||
	    (err = proto_put(o, "enabled", json_boolean(s->enabled), eb)))
		return err;
	json_t *ids = json_array();
	if (!ids)
		return ROOST_ENOMEM;
	for (size_t i = 0; i < s->ngroup_ids; i++)
		if (json_array_append_new(ids, json_integer((json_int_t)s->group_ids[i]))) {
			json_decref(ids);
			return ROOST_ENOMEM;
		}
	if ((err = proto_put(o, "group_ids", ids, eb)) ||
	    (err = s->next_at ? proto_put_time(o, "next_at", s->next_at, eb)
	                      : proto_put(o, "next_at", json_null(), eb)))
		return err;
	return proto_put_int(o, "host_id", s->host_id, eb);
}

/* Appends one object filled by put(item) to the array a. */
#define APPEND(a, put, item)                                     \
	do {                                                     \
		json_t *e_ = json_object();                      \
		if (!e_) {                                       \
			err = ROOST_ENOMEM;                      \
		} else if ((err = put(e_, (item), eb))) {        \
			json_decref(e_);                         \
		} else if (json_array_append_new((a), e_)) {     \
			err = ROOST_ENOMEM;                      \
		}                                                \
	} while (0)


/* Every encoder ends here: o is handed out only if the decoder takes it. */
static enum roost_err check_out(enum roost_err err, json_t *o, json_t **out,
                                struct roost_errbuf *eb)
{
	if (!err) {
		struct proto_server_msg m;
		err = proto_decode_server_json(o, &m, eb);
		proto_server_msg_release(&m);
	}
	if (err) {
		json_decref(o);
		return err;
	}
	*out = o;
	return ROOST_OK;
}

enum roost_err proto_encode_config(const struct proto_config *c, json_t **out,
                                   struct roost_errbuf *eb)
{
	json_t *o, *groups = NULL, *scheds = NULL;
	*out = NULL;
	enum roost_err err = proto_new_msg(PROTO_CONFIG, &o);
	if (err)
		return err;
	if ((err = proto_put_int(o, "host_id", c->host_id, eb)) ||
	    (err = proto_put_str_or_null(o, "name", c->name, eb)) ||
	    (err = proto_put_str_or_null(o, "mode", c->mode, eb)))
		goto done;
	if (!(groups = json_array()) || !(scheds = json_array())) {
		err = ROOST_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < c->ngroups && !err; i++)
		APPEND(groups, put_group, &c->groups[i]);
	for (size_t i = 0; i < c->nschedules && !err; i++)
		APPEND(scheds, put_schedule, &c->schedules[i]);
	if (err)
		goto done;
	err = proto_put(o, "groups", groups, eb);
	groups = NULL;
	if (err)
		goto done;
	err = proto_put(o, "schedules", scheds, eb);
	scheds = NULL;
	if (err)
		goto done;
	json_t *repo = json_object();
	if ((err = proto_put(o, "repository", repo, eb)) ||
	    (err = proto_put_str(repo, "url", c->repo_url, eb)) ||
	    (c->repo_password[0] && (err = proto_put_str(repo, "password", c->repo_password, eb))) ||
	    (c->repo_put_key[0] && (err = proto_put_str(repo, "put_key", c->repo_put_key, eb))) ||
	    (c->repo_put_key_host[0] &&
	     (err = proto_put_str(repo, "put_key_host", c->repo_put_key_host, eb))))
		goto done;
	if (c->timeout_s)
		err = proto_put_int(o, "timeout_s", c->timeout_s, eb);
	/* out of bounds (negative too) is refused by check_out's decoding */
	if (!err && c->upload_limit_kbps)
		err = proto_put_int(o, "upload_limit_kbps", c->upload_limit_kbps, eb);
done:
	json_decref(groups);
	json_decref(scheds);
	return check_out(err, o, out, eb);
}

enum roost_err proto_encode_job_start(const struct proto_job_start *s, json_t **out,
                                      struct roost_errbuf *eb)
{
	json_t *o;
	*out = NULL;
	enum roost_err err = proto_new_msg(PROTO_JOB_START, &o);
	if (err)
		return err;
	if ((err = proto_put_int(o, "job_id", s->job_id, eb)) ||
	    (err = proto_put_str(o, "kind", s->kind, eb)))
		goto done;
	if (s->has_group) {
		json_t *g = json_object();
		if ((err = proto_put(o, "group", g, eb)) || (err = put_group(g, &s->group, eb)))
			goto done;
	}
	if (s->has_restore) {
		const struct proto_restore *r = &s->restore;
		if ((err = proto_put_str(o, "snapshot_id", r->snapshot_id, eb)) ||
		    (err = proto_put_str(o, "target", r->target, eb)) ||
		    (err = proto_put_strv(o, "include", r->include, r->ninclude, eb)))
			goto done;
	}
	if (s->schedule[0] && (err = proto_put_str(o, "schedule", s->schedule, eb)))
		goto done;
	if (s->trigger[0])
		err = proto_put_str(o, "trigger", s->trigger, eb);
done:
	return check_out(err, o, out, eb);
}

enum roost_err proto_encode_job_cancel(const struct proto_job_cancel *c, json_t **out,
                                       struct roost_errbuf *eb)
{
	json_t *o;
	*out = NULL;
	enum roost_err err = proto_new_msg(PROTO_JOB_CANCEL, &o);
	if (err)
		return err;
	return check_out(proto_put_int(o, "job_id", c->job_id, eb), o, out, eb);
}

enum roost_err proto_encode_server(const struct proto_server_msg *m, json_t **out,
                                   struct roost_errbuf *eb)
{
	switch (m->type) {
	case PROTO_CONFIG: return proto_encode_config(&m->config, out, eb);
	case PROTO_JOB_START: return proto_encode_job_start(&m->start, out, eb);
	case PROTO_JOB_CANCEL: return proto_encode_job_cancel(&m->cancel, out, eb);
	default: break;
	}
	*out = NULL;
	return roost_errf(eb, ROOST_EINVAL, "type: %s is not a server message",
	                  proto_type_name(m->type));
}
