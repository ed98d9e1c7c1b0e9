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
	snprintf(out->url, sizeof(out->url), "%s", url);
	snprintf(out->auth, sizeof(out->auth), "Bearer %lld.%s", (long long)out->host_id, sec);
	out->allow_hooks = json_is_true(json_object_get(id, "allow_hooks"));
	const char *name = json_string_value(json_object_get(id, "name"));
	if (name)
		snprintf(out->name, sizeof(out->name), "%s", name);
	json_decref(id);
	/* host and port from the URL */
	const char *h = out->url + strlen("https://");
	size_t hl = strcspn(h, ":/");
	if (strncmp(out->url, "https://", 8) || hl == 0 || hl >= sizeof(out->host)) {
		fprintf(stderr, "roost-agent: server URL %s: expected https://HOST:PORT\n", out->url);
		return 2;
	}
	memcpy(out->host, h, hl);
	out->host[hl] = 0;
	out->port = h[hl] == ':' ? atoi(h + hl + 1) : 443;
	return 0;
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
