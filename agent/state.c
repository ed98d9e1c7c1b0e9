/* SPDX-License-Identifier: MIT */
/*
 * The agent's state directory: small JSON files, each replaced atomically
 * (temporary file, fsync, rename, fsync of the directory), secrets 0600,
 * and identity.json, who this agent is. The other files belong to the
 * parts that keep them: cursor.json and fires.json to cronrun.c, jobs.json
 * to jobs.c, config.json to conn.c (written on every config, read at
 * start-up; both through lib/proto, as the config message it is).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "roost/http.h"
#include "roost/log.h"

int state_write(const char *dir, const char *name, json_t *j)
{
	char path[4200], tmp[4300];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	char *txt = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (!txt)
		return -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(txt);
		return -1;
	}
	size_t n = strlen(txt);
	int ok = write(fd, txt, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
	close(fd);
	free(txt);
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

json_t *state_read(const char *dir, const char *name)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	if (!j && access(path, F_OK) == 0)
		fprintf(stderr, "roost-agent: %s: unreadable (%s); ignoring it\n", path, je.text);
	return j;
}

const struct agent_server *agent_server(const struct agent_identity *id)
{
	int i = atomic_load(&id->current);
	return &id->servers[i >= 0 && i < id->nservers ? i : 0];
}

int agent_server_next(struct agent_identity *id)
{
	if (id->nservers <= 1)
		return 1;
	int next = (atomic_load(&id->current) + 1) % id->nservers;
	atomic_store(&id->current, next);
	return next == 0;
}

int agent_server_parse(const char *url, struct agent_server *s)
{
	memset(s, 0, sizeof(*s));
	const char *h = url + strlen("https://");
	size_t hl = strncmp(url, "https://", 8) ? 0 : strcspn(h, ":/");
	if (hl == 0 || hl >= sizeof(s->host) || strlen(url) >= sizeof(s->url)) {
		fprintf(stderr, "roost-agent: server URL %s: expected https://HOST:PORT\n", url);
		return -1;
	}
	snprintf(s->url, sizeof(s->url), "%s", url);
	memcpy(s->host, h, hl);
	s->host[hl] = 0;
	s->port = h[hl] == ':' ? atoi(h + hl + 1) : 443;
	if (s->port <= 0 || s->port > 65535) {
		fprintf(stderr, "roost-agent: server URL %s: bad port\n", url);
		return -1;
	}
	return 0;
}

int state_load_identity(const char *dir, struct agent_identity *out)
{
	memset(out, 0, sizeof(*out));
	json_t *id = state_read(dir, "identity.json");
	if (!id) {
		fprintf(stderr, "roost-agent: %s/identity.json: not enrolled (run `roost-agent enroll` "
		                "first)\n", dir);
		return 2;
	}
	const char *url = json_string_value(json_object_get(id, "server"));
	const char *sec = json_string_value(json_object_get(id, "secret"));
	const char *fp = json_string_value(json_object_get(id, "fingerprint"));
	out->host_id = json_integer_value(json_object_get(id, "host_id"));
	if (!url || !sec || !fp || out->host_id <= 0 || roost_fingerprint_normalize(fp, out->fp)) {
		json_decref(id);
		fprintf(stderr, "roost-agent: %s/identity.json: incomplete; enroll again\n", dir);
		return 2;
	}
	/* "servers": every instance (enrolled with several --server); an older
	 * identity has only "server" */
	json_t *list = json_object_get(id, "servers"), *v;
	size_t i;
	int bad = 0;
	if (json_is_array(list) && json_array_size(list) > 0) {
		json_array_foreach(list, i, v) {
			if (out->nservers == AGENT_MAX_SERVERS || !json_is_string(v) ||
			    agent_server_parse(json_string_value(v), &out->servers[out->nservers++]))
				bad = 1;
		}
	} else {
		bad = agent_server_parse(url, &out->servers[out->nservers++]);
	}
	snprintf(out->auth, sizeof(out->auth), "Bearer %lld.%s", (long long)out->host_id, sec);
	out->allow_hooks = json_is_true(json_object_get(id, "allow_hooks"));
	const char *name = json_string_value(json_object_get(id, "name"));
	if (name)
		snprintf(out->name, sizeof(out->name), "%s", name);
	json_decref(id);
	return bad ? 2 : 0;
}

int state_load_config(const char *dir, struct proto_config *c)
{
	memset(c, 0, sizeof(*c));
	json_t *o = state_read(dir, "config.json");
	if (!o)
		return -1;
	struct proto_server_msg m;
	struct roost_errbuf eb = {{0}};
	enum roost_err err = proto_decode_server_json(o, &m, &eb);
	json_decref(o);
	if (!err && m.type != PROTO_CONFIG)
		err = roost_errf(&eb, ROOST_EINVAL, "type: expected config");
	if (err) {
		proto_server_msg_release(&m);
		log_warn("agent.state", "file=config.json msg=%s why=\"ignored until the server "
		                        "sends a config\"", roost_lq(eb.msg));
		return -1;
	}
	*c = m.config; /* the contents move to *c */
	return 0;
}

int state_save_config(const char *dir, const struct proto_config *c)
{
	json_t *o;
	struct roost_errbuf eb = {{0}};
	if (proto_encode_config(c, &o, &eb)) {
		log_error("agent.encode", "type=config msg=%s", roost_lq(eb.msg));
		return -1;
	}
	int rc = state_write(dir, "config.json", o);
	json_decref(o);
	return rc;
}
