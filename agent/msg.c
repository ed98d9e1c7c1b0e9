/* SPDX-License-Identifier: MIT */
/*
 * Every message the agent builds or reads, one small function per message
 * type (DESIGN.md, "Agent <-> server"): hello, fire, job.accepted,
 * job.progress and job.finished out; config, job.start and job.cancel in.
 * The rest of the agent never spells a wire key, so moving these to shared
 * encoders and decoders in lib/proto is a change to this file alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent.h"
#include "roost/proto.h"
#include "roost/repo.h"
#include "roost/timeutil.h"

/* ---- agent -> server ---- */

json_t *msg_hello(const char *tz, int64_t clock, json_t *jobs, json_t *fires)
{
	struct utsname u;
	char os[200] = "unknown", hn[256] = "", clk[40];
	if (uname(&u) == 0)
		snprintf(os, sizeof(os), "%s %s", u.sysname, u.release);
	gethostname(hn, sizeof(hn) - 1);
	return json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:o, s:O}", "type", "hello", "protocol",
	                 PROTO_VERSION, "agent_version", ROOST_VERSION, "hostname", hn, "os", os, "tz",
	                 tz, "clock", roost_time_format(clock, clk, sizeof(clk)), "jobs", jobs,
	                 "fires", fires);
}

json_t *msg_fire(int64_t schedule_id, const char *slot)
{
	return json_pack("{s:s, s:I, s:s}", "type", "fire", "schedule_id", (json_int_t)schedule_id,
	                 "slot", slot);
}

json_t *msg_job_accepted(int64_t job_id, int64_t started_at)
{
	char sb[40];
	return json_pack("{s:s, s:I, s:s}", "type", "job.accepted", "job_id", (json_int_t)job_id,
	                 "started_at", roost_time_format(started_at, sb, sizeof(sb)));
}

json_t *msg_job_progress(int64_t job_id, const struct roost_progress *p)
{
	return json_pack("{s:s, s:I, s:{s:I, s:I, s:I}}", "type", "job.progress", "job_id",
	                 (json_int_t)job_id, "stats", "files", (json_int_t)p->files_done, "bytes",
	                 (json_int_t)p->bytes_done, "bytes_new", (json_int_t)p->bytes_new);
}

json_t *msg_job_finished(json_t *final_state)
{
	json_t *fin = json_deep_copy(final_state);
	json_object_set_new(fin, "type", json_string("job.finished"));
	return fin;
}

json_t *msg_job_final(int64_t job_id, const char *status, int64_t started_at, uint64_t files,
                      uint64_t bytes, uint64_t bytes_new, const char *snapshot_id,
                      const char *error)
{
	char sb[40];
	json_t *st = json_pack("{s:I, s:s, s:s, s:{s:I, s:I, s:I}, s:s}", "job_id",
	                       (json_int_t)job_id, "status", status, "started_at",
	                       roost_time_format(started_at, sb, sizeof(sb)), "stats", "files",
	                       (json_int_t)files, "bytes", (json_int_t)bytes, "bytes_new",
	                       (json_int_t)bytes_new, "snapshot_id", snapshot_id);
	if (error && error[0])
		json_object_set_new(st, "error", json_string(error));
	return st;
}

json_t *msg_job_final_short(int64_t job_id, const char *status, const char *error)
{
	return json_pack("{s:I, s:s, s:s}", "job_id", (json_int_t)job_id, "status", status, "error",
	                 error);
}

json_t *msg_hello_job(int64_t job_id, const char *status)
{
	return json_pack("{s:I, s:s}", "job_id", (json_int_t)job_id, "status", status);
}

json_t *msg_hello_fire(int64_t schedule_id, const char *slot)
{
	return json_pack("{s:I, s:s}", "schedule_id", (json_int_t)schedule_id, "slot", slot);
}

int64_t msg_hello_fire_slot(const json_t *f)
{
	int64_t slot = 0;
	roost_time_parse(json_string_value(json_object_get(f, "slot")), &slot, NULL);
	return slot;
}

/* ---- server -> agent ---- */

json_t *msg_decode(const char *buf, size_t len, const char **type, char *err, size_t errcap)
{
	json_error_t je;
	json_t *m = json_loadb(buf, len, 0, &je);
	*type = json_string_value(json_object_get(m, "type"));
	if (!json_is_object(m) || !*type) {
		snprintf(err, errcap, "%s", je.text);
		json_decref(m);
		*type = NULL;
		return NULL;
	}
	return m;
}

int64_t msg_job_id(const json_t *m)
{
	return json_integer_value(json_object_get(m, "job_id"));
}

int msg_job_start_id(const json_t *m, int64_t *id)
{
	json_t *jid = json_object_get(m, "job_id");
	if (!json_is_integer(jid))
		return -1;
	*id = json_integer_value(jid);
	return 0;
}

/* The strings of a JSON array, NULL-terminated (the elements borrowed). */
static const char **strv(json_t *arr, size_t *n)
{
	*n = json_array_size(arr);
	const char **v = calloc(*n + 1, sizeof(*v));
	for (size_t i = 0; v && i < *n; i++)
		v[i] = json_string_value(json_array_get(arr, i));
	return v;
}

int msg_job_start_read(const json_t *m, struct msg_job_start *js)
{
	memset(js, 0, sizeof(*js));
	js->job_id = msg_job_id(m);
	js->kind = json_string_value(json_object_get(m, "kind"));
	json_t *g = json_object_get(m, "group");
	js->group_name = json_string_value(json_object_get(g, "name"));
	js->paths = strv(json_object_get(g, "paths"), &js->npaths);
	js->excludes = strv(json_object_get(g, "excludes"), &js->nexcludes);
	js->snapshot_id = json_string_value(json_object_get(m, "snapshot_id"));
	js->target = json_string_value(json_object_get(m, "target"));
	js->includes = strv(json_object_get(m, "include"), &js->nincludes);
	return js->paths && js->excludes && js->includes ? 0 : -1;
}

void msg_job_start_release(struct msg_job_start *js)
{
	free(js->paths);
	free(js->excludes);
	free(js->includes);
	memset(js, 0, sizeof(*js));
}

int msg_config_intermittent(const json_t *config)
{
	const char *m = msg_config_mode(config);
	return m && !strcmp(m, "intermittent");
}

const char *msg_config_mode(const json_t *config)
{
	return json_string_value(json_object_get(config, "mode"));
}

const char *msg_config_name(const json_t *config)
{
	return json_string_value(json_object_get(config, "name"));
}

json_t *msg_config_repository(const json_t *config)
{
	return json_object_get(config, "repository");
}

json_t *msg_config_schedules(const json_t *config)
{
	return json_object_get(config, "schedules");
}

size_t msg_config_ngroups(const json_t *config)
{
	return json_array_size(json_object_get(config, "groups"));
}

int64_t msg_config_timeout_ms(const json_t *config, int64_t dflt)
{
	json_t *to = json_object_get(config, "timeout_s");
	if (json_is_integer(to) && json_integer_value(to) >= 3 && json_integer_value(to) <= 3600)
		return json_integer_value(to) * 1000;
	return dflt;
}

void msg_schedule_read(const json_t *s, int64_t *id, int *enabled, const char **expr)
{
	*id = json_integer_value(json_object_get(s, "id"));
	*enabled = json_is_true(json_object_get(s, "enabled")) &&
	           json_array_size(json_object_get(s, "group_ids")) > 0;
	*expr = json_string_value(json_object_get(s, "cron"));
}
