/* SPDX-License-Identifier: MIT */
/*
 * roost-agent's commands: `enroll` (a one-time token for a host id and a
 * secret, the server's certificate pinned), `run` (the agent itself) and
 * --help. `run` owns the parts (agent.h is the map) and wires them: the
 * connection (conn.c) drives the local cron (cronrun.c) and talks to the
 * job thread (jobs.c); all of them keep their files in the state directory
 * (state.c). SIGINT and SIGTERM stop it, canceling the running job.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "roost/http.h"
#include "roost/log.h"
#include "roost/tz.h"

/* A running agent: the parts, each with its own state, and what they share
 * read-only (identity, zone, state directory). Lives in cmd_run's frame. */
struct agent {
	const char *state;
	struct agent_identity id;
	char tz[64]; /* the host's zone, "" for UTC */
	struct proto_config config; /* config.json at start-up; later configs go to the parts */
	struct cronrun *cron;
	struct jobs *jobs;
	struct conn *conn;
};

/* The agent the signal handler stops (set while cmd_run runs it). */
static struct agent *volatile running;

static void on_signal(int sig)
{
	(void)sig;
	struct agent *a = running;
	if (!a)
		return;
	jobs_interrupt(a->jobs);
	conn_interrupt(a->conn);
}

/* The host's zone: $TZ, /etc/timezone or the /etc/localtime link; "" for UTC. */
static void detect_tz(char *out, size_t cap)
{
	const struct roost_tz *tz;
	const char *env = getenv("TZ");
	char buf[256] = "";
	if (env && *env) {
		snprintf(buf, sizeof(buf), "%s", env[0] == ':' ? env + 1 : env);
	} else {
		FILE *f = fopen("/etc/timezone", "re");
		if (f) {
			if (!fgets(buf, sizeof(buf), f))
				buf[0] = 0;
			fclose(f);
			buf[strcspn(buf, "\n ")] = 0;
		}
		if (!buf[0]) {
			char link[512];
			ssize_t n = readlink("/etc/localtime", link, sizeof(link) - 1);
			if (n > 0) {
				link[n] = 0;
				const char *z = strstr(link, "zoneinfo/");
				if (z)
					snprintf(buf, sizeof(buf), "%s", z + 9);
			}
		}
	}
	out[0] = 0;
	if (buf[0] && roost_tz_get(buf, &tz, NULL) == ROOST_OK)
		snprintf(out, cap, "%s", buf);
}

static int cmd_run(int argc, char **argv)
{
	static const struct option lo[] = {
		{"state", required_argument, 0, 's'},
		{"log-level", required_argument, 0, 'L'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	struct agent a;
	memset(&a, 0, sizeof(a));
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 's') {
			a.state = optarg;
		} else if (c == 'L') {
			int lv = roost_log_level_parse(optarg);
			if (lv < 0) {
				fprintf(stderr, "roost-agent: --log-level: debug, info, warn, error or off\n");
				return 2;
			}
			roost_log_set_level((enum roost_log_level)lv);
		} else if (c == 'h') {
			printf("usage: roost-agent run --state DIR [--log-level LEVEL]\n\n"
			       "Connects to the server this agent enrolled with, fires the host's\n"
			       "schedules and runs its jobs until SIGTERM or SIGINT.\n");
			return 0;
		} else {
			fprintf(stderr, "usage: roost-agent run --state DIR\n");
			return 2;
		}
	}
	if (!a.state || optind < argc) {
		fprintf(stderr, "usage: roost-agent run --state DIR\n");
		return 2;
	}
	int rc = state_load_identity(a.state, &a.id);
	if (rc)
		return rc;
	detect_tz(a.tz, sizeof(a.tz));
	state_load_config(a.state, &a.config); /* none yet: an empty one */
	rc = 1;
	a.jobs = jobs_open(a.state, &a.id, &a.config);
	a.cron = cronrun_open(a.state, a.tz, &a.config, (int64_t)time(NULL));
	if (!a.jobs || !a.cron) {
		fprintf(stderr, "roost-agent: out of memory\n");
		goto done;
	}
	a.conn = conn_new(&a.id, a.state, a.tz, &a.config, a.cron, a.jobs);
	if (!a.conn) {
		fprintf(stderr, "roost-agent: could not create the connection context\n");
		goto done;
	}
	running = &a;
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (jobs_start(a.jobs, conn_wake, a.conn)) {
		fprintf(stderr, "roost-agent: could not start the job thread\n");
		goto done;
	}
	log_info("agent.start", "host=%lld name=%s server=%s tz=%s hooks=%s",
	         (long long)a.id.host_id, roost_lq(a.id.name), roost_lq(agent_server(&a.id)->url),
	         a.tz[0] ? a.tz : "UTC", a.id.allow_hooks ? "allowed" : "disabled");
	conn_run(a.conn);
	log_info("agent.stop", "why=signal");
	rc = 0;
done:
	if (a.jobs)
		jobs_stop(a.jobs);
	running = NULL;
	conn_free(a.conn);
	cronrun_free(a.cron);
	jobs_free(a.jobs);
	proto_config_release(&a.config);
	return rc;
}

static int cmd_enroll(int argc, char **argv)
{
	static const struct option lo[] = {
		{"server", required_argument, 0, 'S'},   {"token", required_argument, 0, 't'},
		{"fingerprint", required_argument, 0, 'f'}, {"mode", required_argument, 0, 'm'},
		{"state", required_argument, 0, 's'},    {"hostname", required_argument, 0, 'n'},
		{"allow-hooks", no_argument, 0, 'H'},    {"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	int allow_hooks = 0;
	const char *servers[AGENT_MAX_SERVERS], *token = NULL, *fp = NULL, *mode = "always-on",
	           *state = NULL;
	int nservers = 0;
	char hn[256] = "";
	gethostname(hn, sizeof(hn) - 1);
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'S': {
			struct agent_server chk;
			if (nservers == AGENT_MAX_SERVERS) {
				fprintf(stderr, "roost-agent: at most %d --server\n", AGENT_MAX_SERVERS);
				return 2;
			}
			if (agent_server_parse(optarg, &chk))
				return 2;
			servers[nservers++] = optarg;
			break;
		}
		case 't': token = optarg; break;
		case 'f': fp = optarg; break;
		case 'm': mode = optarg; break;
		case 's': state = optarg; break;
		case 'n': snprintf(hn, sizeof(hn), "%s", optarg); break;
		case 'H': allow_hooks = 1; break;
		case 'h':
			printf("usage: roost-agent enroll --server URL [--server URL]... --token TOKEN\n"
			       "                          [--fingerprint SHA256]\n"
			       "                          [--mode always-on|intermittent] [--hostname NAME]\n"
			       "                          [--allow-hooks] --state DIR\n\n"
			       "Registers this host with roostd using a one-time enrollment token\n"
			       "(`roost token create`). Without --fingerprint the server's certificate\n"
			       "is trusted on first use and pinned from then on.\n"
			       "Several --server: the instances of one roostd fleet (same certificate);\n"
			       "enrollment uses the first that answers, and the agent connects to one\n"
			       "at a time, moving on to the next in turn when a connection fails or\n"
			       "drops (up to %d).\n", AGENT_MAX_SERVERS);
			printf(
			       "--allow-hooks lets this agent run its groups' pre- and post-hooks (shell\n"
			       "commands set on the server, run as the agent's user); without it a\n"
			       "backup of a group with hooks fails and nothing runs. It is kept in the\n"
			       "state directory: the server can not turn it on.\n");
			return 0;
		default:
			fprintf(stderr, "roost-agent: enroll: bad option (see --help)\n");
			return 2;
		}
	}
	if (!nservers || !token || !state || optind < argc) {
		fprintf(stderr, "usage: roost-agent enroll --server URL [--server URL]... --token TOKEN "
		                "[--fingerprint SHA256] [--mode always-on|intermittent] [--allow-hooks] "
		                "--state DIR\n");
		return 2;
	}
	if (strcmp(mode, "always-on") && strcmp(mode, "intermittent")) {
		fprintf(stderr, "roost-agent: --mode: always-on or intermittent\n");
		return 2;
	}
	char pin[65];
	struct roost_errbuf eb = {{0}};
	if (fp) {
		if (roost_fingerprint_normalize(fp, pin)) {
			fprintf(stderr, "roost-agent: --fingerprint: expected 64 hex digits (SHA-256)\n");
			return 2;
		}
	} else {
		int got = 0;
		for (int i = 0; i < nservers && !got; i++) {
			if (roost_http_fetch_fingerprint(servers[i], pin, &eb) == ROOST_OK)
				got = 1;
			else
				fprintf(stderr, "roost-agent: %s\n", eb.msg);
		}
		if (!got)
			return eb.msg[0] && strstr(eb.msg, "must start") ? 2 : 1;
		printf("trusting the server's certificate on first use: SHA-256 %s\n", pin);
	}
	if (mkdir(state, 0700) && errno != EEXIST) {
		fprintf(stderr, "roost-agent: create %s: %s\n", state, strerror(errno));
		return 1;
	}
	char idp[4200];
	snprintf(idp, sizeof(idp), "%s/identity.json", state);
	if (access(idp, F_OK) == 0) {
		fprintf(stderr, "roost-agent: %s is already enrolled (remove %s to enroll again)\n",
		        state, idp);
		return 1;
	}
	struct utsname u;
	char os[200] = "unknown";
	if (uname(&u) == 0)
		snprintf(os, sizeof(os), "%s %s", u.sysname, u.release);
	json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "token", token, "hostname", hn, "os", os,
	                         "mode", mode);
	char *b = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	struct roost_http_resp r;
	const char *hdrs[] = {"Content-Type: application/json", NULL};
	/* the first instance that answers enrolls us: the token is spent there */
	enum roost_err err = ROOST_EIO;
	for (int i = 0; i < nservers; i++) {
		struct roost_http *h;
		if (roost_http_new(servers[i], pin, NULL, 30, &h, &eb)) {
			fprintf(stderr, "roost-agent: %s\n", eb.msg);
			free(b);
			return 2;
		}
		err = roost_http_request(h, "POST", "/v1/enroll", hdrs, b, strlen(b), 1 << 20, &r, &eb);
		roost_http_free(h);
		if (!err)
			break;
		fprintf(stderr, "roost-agent: %s%s\n", eb.msg,
		        i + 1 < nservers ? "; trying the next --server" : "");
	}
	free(b);
	if (err)
		return 1;
	json_t *j = r.body ? json_loadb((const char *)r.body, r.len, 0, NULL) : NULL;
	int status = r.status;
	roost_http_resp_free(&r);
	if (status != 201) {
		const char *msg = json_string_value(json_object_get(json_object_get(j, "error"),
		                                                    "message"));
		fprintf(stderr, "roost-agent: enrollment refused: %s (HTTP %d)\n",
		        msg ? msg : "no reason given", status);
		json_decref(j);
		return status == 400 ? 2 : 1;
	}
	json_t *list = json_array();
	for (int i = 0; i < nservers; i++)
		json_array_append_new(list, json_string(servers[i]));
	json_t *id = json_pack("{s:s, s:o, s:O, s:O, s:s, s:O, s:O, s:b}", "server", servers[0],
	                       "servers", list, "host_id",
	                       json_object_get(j, "host_id"), "secret", json_object_get(j, "secret"),
	                       "fingerprint", pin, "name", json_object_get(j, "name"), "mode",
	                       json_object_get(j, "mode"), "allow_hooks", allow_hooks);
	int wr = state_write(state, "identity.json", id);
	json_decref(id);
	if (wr) {
		fprintf(stderr, "roost-agent: could not write %s\n", idp);
		json_decref(j);
		return 1;
	}
	printf("enrolled as host %lld (%s), hooks %s; start it with: roost-agent run --state %s\n",
	       (long long)json_integer_value(json_object_get(j, "host_id")),
	       json_string_value(json_object_get(j, "name")), allow_hooks ? "allowed" : "disabled",
	       state);
	json_decref(j);
	return 0;
}

int main(int argc, char **argv)
{
	static const char usage[] =
		"usage: roost-agent enroll --server URL [--server URL]... --token TOKEN [--fingerprint SHA256]\n"
		"                          [--mode always-on|intermittent] [--allow-hooks] --state DIR\n"
		"       roost-agent run --state DIR\n";
	if (sodium_init() < 0)
		return 1;
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("roost-agent %s\n", ROOST_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "enroll"))
		return cmd_enroll(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	fprintf(stderr, "roost-agent: unknown command \"%s\"\n%s", argv[1], usage);
	return 2;
}
