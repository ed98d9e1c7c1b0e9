/* SPDX-License-Identifier: MIT */
/*
 * Agent -> server messages (include/roost/proto.h): hello, fire,
 * job.accepted, job.progress, job.finished. roostd decodes them from every
 * frame an agent sends, so the decoder is strict and bounded; the agent
 * encodes them, and each encoder checks its output with the decoder.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/proto_int.h"
#include "roost/proto.h"

const char *proto_type_name(enum proto_type t)
{
	switch (t) {
	case PROTO_HELLO: return "hello";
	case PROTO_FIRE: return "fire";
	case PROTO_JOB_ACCEPTED: return "job.accepted";
	case PROTO_JOB_PROGRESS: return "job.progress";
	case PROTO_JOB_FINISHED: return "job.finished";
	case PROTO_CONFIG: return "config";
	case PROTO_JOB_START: return "job.start";
	case PROTO_JOB_CANCEL: return "job.cancel";
	case PROTO_STATUS: return "status";
	}
	return "?";
}

int proto_status_final(const char *s)
{
	return !strcmp(s, "succeeded") || !strcmp(s, "failed") || !strcmp(s, "canceled") ||
	       !strcmp(s, "interrupted");
}

static int status_known(const char *s)
{
	return !strcmp(s, "running") || !strcmp(s, "queued") || proto_status_final(s);
}

/* ---- decoding ---- */

/* The members of a job report, in whichever message carries them. */
static enum roost_err dec_job(const json_t *o, struct proto_job *j, struct roost_errbuf *eb)
{
	memset(j, 0, sizeof(*j));
	if (!json_is_object(o))
		return roost_errf(eb, ROOST_EINVAL, "expected an object");
	enum roost_err err = proto_get_id(o, "job_id", &j->job_id, eb);
	if (err)
		return err;
	json_t *st = json_object_get(o, "stats");
	if (st && !json_is_null(st) && !json_is_object(st))
		return roost_errf(eb, ROOST_EINVAL, "stats: expected an object");
	j->has_stats = json_is_object(st);
	if ((err = proto_get_str(o, "status", 0, j->status, sizeof(j->status), eb)) ||
	    (err = proto_get_str(o, "snapshot_id", 0, j->snapshot_id, sizeof(j->snapshot_id), eb)) ||
	    (err = proto_get_str(o, "error", 0, j->error, sizeof(j->error), eb)) ||
	    (err = proto_get_str(o, "hook_output", 0, j->hook_output, sizeof(j->hook_output),
	                         eb)) ||
	    (err = proto_get_time(o, "started_at", 0, &j->started_at, eb)) ||
	    (j->has_stats && ((err = proto_get_count(st, "files", &j->files, eb)) ||
	                      (err = proto_get_count(st, "bytes", &j->bytes, eb)) ||
	                      (err = proto_get_count(st, "bytes_new", &j->bytes_new, eb)))))
		return err;
	if (j->snapshot_id[0] && (strlen(j->snapshot_id) != 64 ||
	                          strspn(j->snapshot_id, "0123456789abcdef") != 64))
		return roost_errf(eb, ROOST_EINVAL, "snapshot_id: expected 64 hex digits");
	return ROOST_OK;
}

enum roost_err proto_decode_job_entry(const json_t *o, struct proto_job *j, struct roost_errbuf *eb)
{
	enum roost_err err = dec_job(o, j, eb);
	if (!err && !status_known(j->status))
		err = roost_errf(eb, ROOST_EINVAL, "status: unknown");
	return err;
}

static enum roost_err dec_fire(const json_t *o, struct proto_fire *f, struct roost_errbuf *eb)
{
	memset(f, 0, sizeof(*f));
	if (!json_is_object(o))
		return roost_errf(eb, ROOST_EINVAL, "expected an object");
	enum roost_err err = proto_get_id(o, "schedule_id", &f->schedule_id, eb);
	if (!err)
		err = proto_get_time(o, "slot", 1, &f->slot, eb);
	return err;
}

/* A boolean member: absent = 0; anything but true/false is an error. */
static enum roost_err get_flag(const json_t *o, const char *key, int required, int *out,
                               struct roost_errbuf *eb)
{
	json_t *v = json_object_get(o, key);
	*out = 0;
	if (!v && !required)
		return ROOST_OK;
	if (!json_is_boolean(v))
		return roost_errf(eb, ROOST_EINVAL, "%s: expected true or false", key);
	*out = json_is_true(v);
	return ROOST_OK;
}

static enum roost_err dec_status(const json_t *o, struct proto_msg *m, int required,
                                 struct roost_errbuf *eb)
{
	enum roost_err err = get_flag(o, "on_battery", required, &m->on_battery, eb);
	return err ? err : get_flag(o, "metered", required, &m->metered, eb);
}

static enum roost_err dec_hello(const json_t *o, struct proto_msg *m, struct roost_errbuf *eb)
{
	json_t *pv = json_object_get(o, "protocol");
	if (!json_is_integer(pv))
		return roost_errf(eb, ROOST_EINVAL, "protocol: expected an integer");
	m->protocol = (int)json_integer_value(pv);
	enum roost_err err;
	if ((err = proto_get_str(o, "agent_version", 0, m->agent_version, sizeof(m->agent_version),
	                         eb)) ||
	    (err = proto_get_str(o, "hostname", 0, m->hostname, sizeof(m->hostname), eb)) ||
	    (err = proto_get_str(o, "os", 0, m->os, sizeof(m->os), eb)) ||
	    (err = proto_get_str(o, "tz", 0, m->tz, sizeof(m->tz), eb)) ||
	    (err = proto_get_time(o, "clock", 0, &m->clock, eb)) ||
	    (err = dec_status(o, m, 0, eb)))
		return err;
	json_t *jobs = json_object_get(o, "jobs");
	json_t *fires = json_object_get(o, "fires");
	if (jobs && !json_is_array(jobs))
		return roost_errf(eb, ROOST_EINVAL, "jobs: expected an array");
	if (fires && !json_is_array(fires))
		return roost_errf(eb, ROOST_EINVAL, "fires: expected an array");
	size_t nj = json_array_size(jobs), nf = json_array_size(fires);
	if (nj > PROTO_MAX_JOBS)
		return roost_errf(eb, ROOST_ERANGE, "jobs: more than %d entries", PROTO_MAX_JOBS);
	if (nf > PROTO_MAX_FIRES)
		return roost_errf(eb, ROOST_ERANGE, "fires: more than %d entries", PROTO_MAX_FIRES);
	if ((nj && !(m->jobs = calloc(nj, sizeof(*m->jobs)))) ||
	    (nf && !(m->fires = calloc(nf, sizeof(*m->fires)))))
		return ROOST_ENOMEM;
	for (size_t i = 0; i < nj; i++) {
		if ((err = proto_decode_job_entry(json_array_get(jobs, i), &m->jobs[i], eb)))
			return proto_err_at(eb, err, "jobs", i);
		m->njobs++;
	}
	for (size_t i = 0; i < nf; i++) {
		if ((err = dec_fire(json_array_get(fires, i), &m->fires[i], eb)))
			return proto_err_at(eb, err, "fires", i);
		m->nfires++;
	}
	return ROOST_OK;
}

void proto_msg_release(struct proto_msg *m)
{
	if (!m)
		return;
	free(m->jobs);
	free(m->fires);
	m->jobs = NULL;
	m->fires = NULL;
	m->njobs = m->nfires = 0;
}

void proto_msg_free(struct proto_msg *m)
{
	proto_msg_release(m);
}

enum roost_err proto_decode_agent_json(const json_t *o, struct proto_msg *m,
                                       struct roost_errbuf *eb)
{
	memset(m, 0, sizeof(*m));
	char type[32];
	enum roost_err err = proto_get_type(o, type, sizeof(type), eb);
	if (err)
		return err;
	if (!strcmp(type, "hello")) {
		m->type = PROTO_HELLO;
		err = dec_hello(o, m, eb);
	} else if (!strcmp(type, "fire")) {
		m->type = PROTO_FIRE;
		err = dec_fire(o, &m->fire, eb);
	} else if (!strcmp(type, "status")) {
		m->type = PROTO_STATUS;
		err = dec_status(o, m, 1, eb);
	} else if (!strcmp(type, "job.accepted")) {
		m->type = PROTO_JOB_ACCEPTED;
		err = dec_job(o, &m->job, eb);
	} else if (!strcmp(type, "job.progress")) {
		m->type = PROTO_JOB_PROGRESS;
		err = dec_job(o, &m->job, eb);
	} else if (!strcmp(type, "job.finished")) {
		m->type = PROTO_JOB_FINISHED;
		if (!(err = dec_job(o, &m->job, eb)) && !proto_status_final(m->job.status))
			err = roost_errf(eb, ROOST_EINVAL, "status: expected succeeded, failed, "
			                                   "canceled or interrupted");
	} else {
		err = roost_errf(eb, ROOST_EINVAL, "type: unknown message type");
	}
	if (err)
		proto_msg_release(m);
	return err;
}

enum roost_err proto_decode_agent(const char *buf, size_t len, struct proto_msg *m,
                                  struct roost_errbuf *eb)
{
	memset(m, 0, sizeof(*m));
	json_t *o;
	enum roost_err err = proto_load(buf, len, PROTO_MAX_FRAME, &o, eb);
	if (err)
		return err;
	err = proto_decode_agent_json(o, m, eb);
	json_decref(o);
	return err;
}

/* ---- encoding ---- */

/* Members of a job report into o: job_id, then what is set (proto.h). */
static enum roost_err put_job(json_t *o, const struct proto_job *j, struct roost_errbuf *eb)
{
	enum roost_err err = proto_put_int(o, "job_id", j->job_id, eb);
	if (!err && j->status[0])
		err = proto_put_str(o, "status", j->status, eb);
	if (!err && j->started_at)
		err = proto_put_time(o, "started_at", j->started_at, eb);
	if (!err && j->has_stats) {
		if (j->files > INT64_MAX || j->bytes > INT64_MAX || j->bytes_new > INT64_MAX)
			return roost_errf(eb, ROOST_EINVAL, "stats: a count above 2^63");
		json_t *st = json_pack("{s:I, s:I, s:I}", "files", (json_int_t)j->files, "bytes",
		                       (json_int_t)j->bytes, "bytes_new", (json_int_t)j->bytes_new);
		err = proto_put(o, "stats", st, eb);
	}
	if (!err && j->snapshot_id[0])
		err = proto_put_str(o, "snapshot_id", j->snapshot_id, eb);
	if (!err && j->error[0])
		err = proto_put_text(o, "error", j->error, sizeof(j->error), eb);
	if (!err && j->hook_output[0])
		err = proto_put_text(o, "hook_output", j->hook_output, sizeof(j->hook_output), eb);
	return err;
}

static enum roost_err put_fire(json_t *o, const struct proto_fire *f, struct roost_errbuf *eb)
{
	enum roost_err err = proto_put_int(o, "schedule_id", f->schedule_id, eb);
	if (!err)
		err = proto_put_time(o, "slot", f->slot, eb);
	return err;
}


/* Every encoder ends here: o is handed out only if the decoder takes it. */
static enum roost_err check_out(enum roost_err err, json_t *o, json_t **out,
                                struct roost_errbuf *eb)
{
	if (!err) {
		struct proto_msg m;
		err = proto_decode_agent_json(o, &m, eb);
		proto_msg_release(&m);
	}
	if (err) {
		json_decref(o);
		return err;
	}
	*out = o;
	return ROOST_OK;
}

enum roost_err proto_encode_hello(const struct proto_msg *m, json_t **out,
                                  struct roost_errbuf *eb)
{
	json_t *o, *jobs = NULL, *fires = NULL;
	*out = NULL;
	enum roost_err err = proto_new_msg(PROTO_HELLO, &o);
	if (err)
		return err;
	if ((err = proto_put_int(o, "protocol", m->protocol, eb)) ||
	    (err = proto_put_str(o, "agent_version", m->agent_version, eb)) ||
	    (err = proto_put_str(o, "hostname", m->hostname, eb)) ||
	    (err = proto_put_str(o, "os", m->os, eb)) ||
	    (err = proto_put_str(o, "tz", m->tz, eb)) ||
	    (m->clock && (err = proto_put_time(o, "clock", m->clock, eb))) ||
	    (m->on_battery && (err = proto_put(o, "on_battery", json_true(), eb))) ||
	    (m->metered && (err = proto_put(o, "metered", json_true(), eb))))
		goto done;
	if (!(jobs = json_array()) || !(fires = json_array())) {
		err = ROOST_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < m->njobs && !err; i++) {
		json_t *j;
		if (!(err = proto_encode_job_entry(&m->jobs[i], &j, eb)) && json_array_append_new(jobs, j))
			err = ROOST_ENOMEM;
	}
	for (size_t i = 0; i < m->nfires && !err; i++) {
		json_t *f;
		if (!(err = proto_encode_fire_entry(&m->fires[i], &f, eb)) &&
		    json_array_append_new(fires, f))
			err = ROOST_ENOMEM;
	}
	if (!err) {
		/* proto_put takes the reference, even when it fails */
		err = proto_put(o, "jobs", jobs, eb);
		jobs = NULL;
		if (!err)
			err = proto_put(o, "fires", fires, eb);
		else
			json_decref(fires);
		fires = NULL;
	}
done:
	json_decref(jobs);
	json_decref(fires);
	return check_out(err, o, out, eb);
}

enum roost_err proto_encode_fire(const struct proto_fire *f, json_t **out,
                                 struct roost_errbuf *eb)
{
	json_t *o;
	*out = NULL;
	enum roost_err err = proto_new_msg(PROTO_FIRE, &o);
	if (err)
		return err;
	return check_out(put_fire(o, f, eb), o, out, eb);
}

enum roost_err proto_encode_status(const struct proto_msg *m, json_t **out,
                                   struct roost_errbuf *eb)
{
	json_t *o;
	*out = NULL;
	enum roost_err err = proto_new_msg(PROTO_STATUS, &o);
	if (err)
		return err;
	if (!(err = proto_put(o, "on_battery", json_boolean(m->on_battery), eb)))
		err = proto_put(o, "metered", json_boolean(m->metered), eb);
	return check_out(err, o, out, eb);
}

static enum roost_err encode_job_msg(enum proto_type t, const struct proto_job *j, json_t **out,
                                     struct roost_errbuf *eb)
{
	json_t *o;
	*out = NULL;
	enum roost_err err = proto_new_msg(t, &o);
	if (err)
		return err;
	return check_out(put_job(o, j, eb), o, out, eb);
}

enum roost_err proto_encode_job_accepted(const struct proto_job *j, json_t **out,
                                         struct roost_errbuf *eb)
{
	return encode_job_msg(PROTO_JOB_ACCEPTED, j, out, eb);
}

enum roost_err proto_encode_job_progress(const struct proto_job *j, json_t **out,
                                         struct roost_errbuf *eb)
{
	return encode_job_msg(PROTO_JOB_PROGRESS, j, out, eb);
}

enum roost_err proto_encode_job_finished(const struct proto_job *j, json_t **out,
                                         struct roost_errbuf *eb)
{
	return encode_job_msg(PROTO_JOB_FINISHED, j, out, eb);
}

enum roost_err proto_encode_job_entry(const struct proto_job *j, json_t **out,
                                struct roost_errbuf *eb)
{
	*out = NULL;
	json_t *o = json_object();
	if (!o)
		return ROOST_ENOMEM;
	enum roost_err err = put_job(o, j, eb);
	if (!err) {
		struct proto_job back;
		err = proto_decode_job_entry(o, &back, eb);
	}
	if (err) {
		json_decref(o);
		return err;
	}
	*out = o;
	return ROOST_OK;
}

enum roost_err proto_encode_fire_entry(const struct proto_fire *f, json_t **out,
                                       struct roost_errbuf *eb)
{
	*out = NULL;
	json_t *o = json_object();
	if (!o)
		return ROOST_ENOMEM;
	enum roost_err err = put_fire(o, f, eb);
	if (!err) {
		struct proto_fire back;
		err = dec_fire(o, &back, eb);
	}
	if (err) {
		json_decref(o);
		return err;
	}
	*out = o;
	return ROOST_OK;
}

enum roost_err proto_decode_fire_entry(const json_t *o, struct proto_fire *f,
                                       struct roost_errbuf *eb)
{
	return dec_fire(o, f, eb);
}

enum roost_err proto_encode_agent(const struct proto_msg *m, json_t **out,
                                  struct roost_errbuf *eb)
{
	switch (m->type) {
	case PROTO_HELLO: return proto_encode_hello(m, out, eb);
	case PROTO_FIRE: return proto_encode_fire(&m->fire, out, eb);
	case PROTO_JOB_ACCEPTED: return proto_encode_job_accepted(&m->job, out, eb);
	case PROTO_JOB_PROGRESS: return proto_encode_job_progress(&m->job, out, eb);
	case PROTO_JOB_FINISHED: return proto_encode_job_finished(&m->job, out, eb);
	case PROTO_STATUS: return proto_encode_status(m, out, eb);
	default: break;
	}
	*out = NULL;
	return roost_errf(eb, ROOST_EINVAL, "type: %s is not an agent message",
	                  proto_type_name(m->type));
}
