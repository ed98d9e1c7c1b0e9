/* SPDX-License-Identifier: MIT */
/* Decoding of agent messages (include/roost/proto.h). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "roost/proto.h"
#include "roost/timeutil.h"

int proto_status_final(const char *s)
{
	return !strcmp(s, "succeeded") || !strcmp(s, "failed") || !strcmp(s, "canceled") ||
	       !strcmp(s, "interrupted");
}

static enum roost_err get_str(json_t *o, const char *key, int required, char *out, size_t cap,
                              struct roost_errbuf *eb)
{
	json_t *v = json_object_get(o, key);
	out[0] = 0;
	if (!v || json_is_null(v)) {
		if (required)
			return roost_errf(eb, ROOST_EINVAL, "%s: missing", key);
		return ROOST_OK;
	}
	if (!json_is_string(v))
		return roost_errf(eb, ROOST_EINVAL, "%s: not a string", key);
	size_t n = json_string_length(v);
	if (n >= cap || memchr(json_string_value(v), 0, n))
		return roost_errf(eb, ROOST_EINVAL, "%s: too long or holds a NUL", key);
	memcpy(out, json_string_value(v), n + 1);
	return ROOST_OK;
}

static enum roost_err get_id(json_t *o, const char *key, int64_t *out, struct roost_errbuf *eb)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return roost_errf(eb, ROOST_EINVAL, "%s: expected a positive integer", key);
	*out = json_integer_value(v);
	return ROOST_OK;
}

static enum roost_err get_count(json_t *o, const char *key, uint64_t *out,
                                struct roost_errbuf *eb)
{
	json_t *v = json_object_get(o, key);
	*out = 0;
	if (!v || json_is_null(v))
		return ROOST_OK;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return roost_errf(eb, ROOST_EINVAL, "%s: expected a count", key);
	*out = (uint64_t)json_integer_value(v);
	return ROOST_OK;
}

static enum roost_err get_time(json_t *o, const char *key, int required, int64_t *out,
                               struct roost_errbuf *eb)
{
	char buf[64];
	enum roost_err err = get_str(o, key, required, buf, sizeof(buf), eb);
	*out = 0;
	if (err || !buf[0])
		return err;
	if (roost_time_parse(buf, out, NULL))
		return roost_errf(eb, ROOST_EINVAL, "%s: not an RFC 3339 time", key);
	return ROOST_OK;
}

static enum roost_err dec_job(json_t *o, int full, struct proto_job *j, struct roost_errbuf *eb)
{
	memset(j, 0, sizeof(*j));
	if (!json_is_object(o))
		return roost_errf(eb, ROOST_EINVAL, "job: expected an object");
	enum roost_err err = get_id(o, "job_id", &j->job_id, eb);
	if (err || !full)
		return err;
	json_t *st = json_object_get(o, "stats");
	if (st && !json_is_null(st) && !json_is_object(st))
		return roost_errf(eb, ROOST_EINVAL, "stats: expected an object");
	if ((err = get_str(o, "status", 0, j->status, sizeof(j->status), eb)) ||
	    (err = get_str(o, "snapshot_id", 0, j->snapshot_id, sizeof(j->snapshot_id), eb)) ||
	    (err = get_str(o, "error", 0, j->error, sizeof(j->error), eb)) ||
	    (err = get_time(o, "started_at", 0, &j->started_at, eb)) ||
	    (st && ((err = get_count(st, "files", &j->files, eb)) ||
	            (err = get_count(st, "bytes", &j->bytes, eb)) ||
	            (err = get_count(st, "bytes_new", &j->bytes_new, eb)))))
		return err;
	if (j->snapshot_id[0] && (strlen(j->snapshot_id) != 64 ||
	                          strspn(j->snapshot_id, "0123456789abcdef") != 64))
		return roost_errf(eb, ROOST_EINVAL, "snapshot_id: expected 64 hex digits");
	return ROOST_OK;
}

static enum roost_err dec_fire(json_t *o, struct proto_fire *f, struct roost_errbuf *eb)
{
	if (!json_is_object(o))
		return roost_errf(eb, ROOST_EINVAL, "fire: expected an object");
	enum roost_err err = get_id(o, "schedule_id", &f->schedule_id, eb);
	if (!err)
		err = get_time(o, "slot", 1, &f->slot, eb);
	return err;
}

void proto_msg_free(struct proto_msg *m)
{
	free(m->jobs);
	free(m->fires);
	m->jobs = NULL;
	m->fires = NULL;
	m->njobs = m->nfires = 0;
}

enum roost_err proto_decode_agent(const char *buf, size_t len, struct proto_msg *m,
                                  struct roost_errbuf *eb)
{
	memset(m, 0, sizeof(*m));
	if (len > PROTO_MAX_FRAME)
		return roost_errf(eb, ROOST_ERANGE, "message larger than %d bytes", PROTO_MAX_FRAME);
	json_error_t je;
	json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		return roost_errf(eb, ROOST_EINVAL, "malformed JSON: %s", je.text);
	enum roost_err err = ROOST_OK;
	char type[32];
	if (!json_is_object(o)) {
		err = roost_errf(eb, ROOST_EINVAL, "expected a JSON object");
		goto out;
	}
	if ((err = get_str(o, "type", 1, type, sizeof(type), eb)))
		goto out;
	if (!strcmp(type, "hello")) {
		m->type = PROTO_HELLO;
		json_t *pv = json_object_get(o, "protocol");
		if (!json_is_integer(pv)) {
			err = roost_errf(eb, ROOST_EINVAL, "protocol: expected an integer");
			goto out;
		}
		m->protocol = (int)json_integer_value(pv);
		if ((err = get_str(o, "agent_version", 0, m->agent_version, sizeof(m->agent_version), eb)) ||
		    (err = get_str(o, "hostname", 0, m->hostname, sizeof(m->hostname), eb)) ||
		    (err = get_str(o, "os", 0, m->os, sizeof(m->os), eb)) ||
		    (err = get_str(o, "tz", 0, m->tz, sizeof(m->tz), eb)) ||
		    (err = get_time(o, "clock", 0, &m->clock, eb)))
			goto out;
		json_t *jobs = json_object_get(o, "jobs");
		json_t *fires = json_object_get(o, "fires");
		if ((jobs && !json_is_array(jobs)) || (fires && !json_is_array(fires))) {
			err = roost_errf(eb, ROOST_EINVAL, "jobs/fires: expected arrays");
			goto out;
		}
		size_t nj = json_array_size(jobs), nf = json_array_size(fires);
		if (nj > PROTO_MAX_JOBS || nf > PROTO_MAX_FIRES) {
			err = roost_errf(eb, ROOST_ERANGE, "hello carries too many jobs or fires");
			goto out;
		}
		m->jobs = calloc(nj ? nj : 1, sizeof(*m->jobs));
		m->fires = calloc(nf ? nf : 1, sizeof(*m->fires));
		if (!m->jobs || !m->fires) {
			err = ROOST_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < nj; i++) {
			if ((err = dec_job(json_array_get(jobs, i), 1, &m->jobs[i], eb)))
				goto out;
			if (strcmp(m->jobs[i].status, "running") && strcmp(m->jobs[i].status, "queued") &&
			    !proto_status_final(m->jobs[i].status)) {
				err = roost_errf(eb, ROOST_EINVAL, "jobs[%zu].status: unknown", i);
				goto out;
			}
			m->njobs++;
		}
		for (size_t i = 0; i < nf; i++) {
			if ((err = dec_fire(json_array_get(fires, i), &m->fires[i], eb)))
				goto out;
			m->nfires++;
		}
	} else if (!strcmp(type, "fire")) {
		m->type = PROTO_FIRE;
		err = dec_fire(o, &m->fire, eb);
	} else if (!strcmp(type, "job.accepted")) {
		m->type = PROTO_JOB_ACCEPTED;
		err = dec_job(o, 1, &m->job, eb);
	} else if (!strcmp(type, "job.progress")) {
		m->type = PROTO_JOB_PROGRESS;
		err = dec_job(o, 1, &m->job, eb);
	} else if (!strcmp(type, "job.finished")) {
		m->type = PROTO_JOB_FINISHED;
		if (!(err = dec_job(o, 1, &m->job, eb)) && !proto_status_final(m->job.status))
			err = roost_errf(eb, ROOST_EINVAL, "status: expected succeeded, failed, "
			                                   "canceled or interrupted");
	} else {
		err = roost_errf(eb, ROOST_EINVAL, "type: unknown message type");
	}
out:
	json_decref(o);
	if (err)
		proto_msg_free(m);
	return err;
}
