/* SPDX-License-Identifier: MIT */
/*
 * roostd: the fleet server (DESIGN.md, "roostd"). First start in a data
 * directory creates the store, a self-signed TLS certificate (unless one
 * is given), an admin token and the default repository; later starts reuse
 * them. Then it serves the REST API and the agent WebSocket on one TLS port
 * until SIGINT/SIGTERM.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "roost/http.h"
#include "roost/log.h"
#include "cluster.h"
#include "datadir.h"
#include "committer.h"
#include "events.h"
#include "evloop.h"
#include "fault.h"
#include "maintenance.h"
#include "restore_serve.h"
#include "roost/cron.h"
#include "healthwatch.h"
#include "http.h"
#include "hub.h"
#include "metrics.h"
#include "migrate.h"
#include "defer.h"
#include "presence.h"
#include "pwworker.h"
#include "roostd.h"
#include "ui_serve.h"
#include "webhooks.h"

/* Descriptors kept for what is not a connection (store, log, repository
 * files of uploads and reads in progress): 64 and an eighth of the limit. */
#define FD_RESERVE(n) (64 + (n) / 8)

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: roostd --data DIR [--listen HOST:PORT] [--catchup-settle SECONDS]\n"
	        "              [--tls-cert FILE --tls-key FILE] [--agent-timeout SECONDS]\n"
	        "              [--log-level LEVEL] [--header-timeout SECONDS]\n"
	        "              [--body-timeout SECONDS] [--body-min-rate BYTES]\n"
	        "              [--max-conns-per-addr N] [--maintenance-cron EXPR]\n"
	        "              [--prune-grace SECONDS] [--check-sample PACKS]\n"
	        "              [--overdue-grace SECONDS] [--unseen-after SECONDS]\n"
	        "              [--health-flap SECONDS] [--smtp URL --smtp-from ADDRESS]\n"
	        "              [--smtp-user USER] [--mail-digest SECONDS]\n"
	        "              [--webhook-queue-max N] [--webhook-timeout SECONDS]\n"
	        "              [--session-ttl SECONDS] [--session-idle SECONDS]\n"
	        "              [--ui-dir DIR] [--repo LOCATION] [--db URL] [--instance-name NAME]\n"
	        "              [--event-loop libuv|poll]\n"
	        "       roostd migrate --from sqlite:PATH --to postgresql://... (--help)\n"
	        "\n"
	        "The roost fleet server: REST API and agent hub on one TLS port.\n"
	        "\n"
	        "  --data DIR              state: store, TLS, admin token, repository (created)\n"
	        "  --listen HOST:PORT      address to serve (default 127.0.0.1:8443)\n"
	        "  --repo LOCATION         the repository: a directory, or\n"
	        "                          s3:http[s]://HOST[:PORT]/BUCKET[/PREFIX] with\n"
	        "                          AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and\n"
	        "                          AWS_DEFAULT_REGION in the environment (default\n"
	        "                          DIR/repo; created with its first start)\n"
	        "  --db URL                the store: sqlite:PATH (default DIR/roostd.db) or\n"
	        "                          postgresql://[USER[:PASSWORD]@]HOST[:PORT]/DB[?...]\n"
	        "  --instance-name NAME    this roostd among several (default HOSTNAME:PORT)\n"
	        "  --catchup-settle SECS   wait after an intermittent host's hello before\n"
	        "                          catching up its missed schedules (default 60)\n"
	        "  --catchup-jitter SECS   delay each host's catch-up a further stable\n"
	        "                          per-host offset in [0, SECS) (default 0)\n"
	        "  --tls-cert FILE         PEM certificate (default: self-signed, made in DIR)\n"
	        "  --tls-key FILE          PEM private key for --tls-cert\n"
	        "  --agent-timeout SECS    an agent silent this long is gone (default 60;\n"
	        "                          pinged after a third of it)\n"
	        "  --log-level LEVEL       debug, info, warn or error (default info)\n"
	        "  --header-timeout SECS   a connection's TLS handshake, and then its request\n"
	        "                          headers, must each be done within this (default 10)\n"
	        "  --body-timeout SECS     a request body or response must move at least\n"
	        "  --body-min-rate BYTES   BYTES per second in every window of SECS, or the\n"
	        "                          connection is closed (defaults 10 and 1024)\n"
	        "  --event-loop LOOP       poll (libwebsockets' own; default) or libuv (epoll)\n"
	        "  --max-conns-per-addr N  connections at once from one address (default 512;\n"
	        "                          0: no limit). Beyond the descriptor limit (raised to\n"
	        "                          the hard limit at start) accepting pauses.\n"
	        "  --maintenance-cron EXPR when maintenance runs: retention, prune, check\n"
	        "                          (cron, UTC; default \"30 3 * * *\"; \"off\": only\n"
	        "                          on demand, `roost maintenance run`)\n"
	        "  --prune-grace SECS      a pack found unused is deleted by a later run, once\n"
	        "                          it has been unused this long (default 3600) and no\n"
	        "                          job that may still use it is live\n"
	        "  --check-sample PACKS    packs read whole by each maintenance check, chosen\n"
	        "                          at random (default 20; the structure is always\n"
	        "                          checked whole)\n"
	        "\n"
	        "Health, events and notifications:\n"
	        "  --overdue-grace SECS    a missed window is overdue this long after it: for an\n"
	        "                          intermittent host, once it was online this long in\n"
	        "                          total since (default 3600)\n"
	        "  --unseen-after SECS     no connection this long: unseen (default 604800, 7 d)\n"
	        "  --health-flap SECS      at most one health event per host per this (default 600)\n"
	        "  --smtp URL              mail server for mailto: subscriptions, smtp://HOST:PORT\n"
	        "                          (STARTTLS when offered) or smtps://HOST:PORT\n"
	        "  --smtp-from ADDRESS     the sender of notification mail\n"
	        "  --smtp-user USER        SMTP login; the password from ROOSTD_SMTP_PASSWORD\n"
	        "  --mail-digest SECS      a mail waits this long for more events (default 30)\n"
	        "  --webhook-queue-max N   undelivered events per webhook before the oldest are\n"
	        "                          dropped (default 10000)\n"
	        "  --webhook-timeout SECS  one delivery attempt's limit (default 10)\n"
	        "  --ui-dir DIR            serve the dashboard (/ui/) from DIR instead of the\n"
	        "                          files built in (for working on web/ui)\n"
	        "\n"
	        "Dashboard users (roost user add):\n"
	        "  --session-ttl SECS      a login's session ends this long after it (default\n"
	        "                          43200, 12 h)\n"
	        "  --session-idle SECS     ... or this long after its last request (default 7200)\n"
	        "\n"
	        "First start writes DIR/admin.token (0600): the admin credential for the\n"
	        "`roost` admin commands (ROOST_TOKEN or --token-file), and DIR/metrics.token\n"
	        "(0600), a credential good for GET /metrics only (Prometheus' bearer token).\n");
}

static int parse_seconds(const char *arg, const char *opt, long lo, long hi, long *out)
{
	char *e;
	errno = 0;
	long v = strtol(arg, &e, 10);
	if (errno || *e || e == arg || v < lo || v > hi) {
		fprintf(stderr, "roostd: %s: expected seconds %ld-%ld, got %s\n", opt, lo, hi, arg);
		return -1;
	}
	*out = v;
	return 0;
}

static struct srv srv_state;

static void on_signal(int sig)
{
	(void)sig;
	srv_state.stop = 1;
	if (srv_state.lws)
		lws_cancel_service(srv_state.lws);
}

int main(int argc, char **argv)
{
	const char *data = NULL, *listen_at = "127.0.0.1:8443", *cert = NULL, *key = NULL;
	long jitter = 0, settle = 60, agent_timeout = 60, header_timeout = 10, body_timeout = 10;
	long body_rate = 1024, per_addr = 512, prune_grace = 3600, check_sample = 20;
	const char *maint_cron = "30 3 * * *";
	long grace = 3600, unseen = 7 * 86400, flap = 600, digest = 30, queue_max = 10000;
	long hook_timeout = 10, session_ttl = 12 * 3600, session_idle = 2 * 3600;
	const char *smtp = NULL, *smtp_from = NULL, *smtp_user = NULL, *repo_opt = NULL;
	const char *db_opt = NULL, *instance_name = NULL;
	/* poll by default: on libuv an agent replaced by a new connection lost
	 * its close frame (test_fleet_api: "first closed 0", want 1008) */
	enum evloop_kind evk = EVLOOP_POLL;
	if (argc > 1 && !strcmp(argv[1], "migrate")) /* roostd migrate --from ... --to ... */
		return migrate_main(argc - 1, argv + 1);
	static const struct option opts[] = {
		{"data", required_argument, 0, 'd'},
		{"listen", required_argument, 0, 'l'},
		{"catchup-settle", required_argument, 0, 's'},
		{"tls-cert", required_argument, 0, 'c'},
		{"tls-key", required_argument, 0, 'k'},
		{"log-level", required_argument, 0, 'L'},
		{"agent-timeout", required_argument, 0, 'T'},
		{"header-timeout", required_argument, 0, 'H'},
		{"body-timeout", required_argument, 0, 'B'},
		{"body-min-rate", required_argument, 0, 'R'},
		{"max-conns-per-addr", required_argument, 0, 'P'},
		{"maintenance-cron", required_argument, 0, 'M'},
		{"prune-grace", required_argument, 0, 'G'},
		{"check-sample", required_argument, 0, 'C'},
		{"overdue-grace", required_argument, 0, 1001},
		{"unseen-after", required_argument, 0, 1002},
		{"health-flap", required_argument, 0, 1003},
		{"smtp", required_argument, 0, 1004},
		{"smtp-from", required_argument, 0, 1005},
		{"smtp-user", required_argument, 0, 1006},
		{"mail-digest", required_argument, 0, 1007},
		{"webhook-queue-max", required_argument, 0, 1008},
		{"webhook-timeout", required_argument, 0, 1009},
		{"session-ttl", required_argument, 0, 1010},
		{"session-idle", required_argument, 0, 1011},
		{"ui-dir", required_argument, 0, 1012},
		{"repo", required_argument, 0, 1013},
		{"db", required_argument, 0, 1021},
		{"catchup-jitter", required_argument, 0, 1020},
		{"instance-name", required_argument, 0, 1022},
		{"event-loop", required_argument, 0, 1023},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},
		{0, 0, 0, 0},
	};
	int o;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'd': data = optarg; break;
		case 'l': listen_at = optarg; break;
		case 's':
			if (parse_seconds(optarg, "--catchup-settle", 0, 86400, &settle))
				return 2;
			break;
		case 1020:
			if (parse_seconds(optarg, "--catchup-jitter", 0, 86400, &jitter))
				return 2;
			break;
		case 'T':
			if (parse_seconds(optarg, "--agent-timeout", 3, 3600, &agent_timeout))
				return 2;
			break;
		case 'H':
			if (parse_seconds(optarg, "--header-timeout", 1, 3600, &header_timeout))
				return 2;
			break;
		case 'B':
			if (parse_seconds(optarg, "--body-timeout", 1, 3600, &body_timeout))
				return 2;
			break;
		case 'R':
			if (parse_seconds(optarg, "--body-min-rate", 0, 1L << 30, &body_rate))
				return 2;
			break;
		case 'P':
			if (parse_seconds(optarg, "--max-conns-per-addr", 0, 1L << 20, &per_addr))
				return 2;
			break;
		case 'M': maint_cron = optarg; break;
		case 'G':
			if (parse_seconds(optarg, "--prune-grace", 0, 365L * 86400, &prune_grace))
				return 2;
			break;
		case 'C':
			if (parse_seconds(optarg, "--check-sample", 0, 1L << 20, &check_sample))
				return 2;
			break;
		case 1001:
			if (parse_seconds(optarg, "--overdue-grace", 0, 366L * 86400, &grace))
				return 2;
			break;
		case 1002:
			if (parse_seconds(optarg, "--unseen-after", 1, 3660L * 86400, &unseen))
				return 2;
			break;
		case 1003:
			if (parse_seconds(optarg, "--health-flap", 0, 86400, &flap))
				return 2;
			break;
		case 1004: smtp = optarg; break;
		case 1005: smtp_from = optarg; break;
		case 1006: smtp_user = optarg; break;
		case 1007:
			if (parse_seconds(optarg, "--mail-digest", 0, 86400, &digest))
				return 2;
			break;
		case 1008:
			if (parse_seconds(optarg, "--webhook-queue-max", 1, 10000000, &queue_max))
				return 2;
			break;
		case 1009:
			if (parse_seconds(optarg, "--webhook-timeout", 1, 600, &hook_timeout))
				return 2;
			break;
		case 1010:
			if (parse_seconds(optarg, "--session-ttl", 1, 366L * 86400, &session_ttl))
				return 2;
			break;
		case 1011:
			if (parse_seconds(optarg, "--session-idle", 1, 366L * 86400, &session_idle))
				return 2;
			break;
		case 1012: ui_set_dir(optarg); break;
		case 1013: repo_opt = optarg; break;
		case 1021: db_opt = optarg; break;
		case 1022: instance_name = optarg; break;
		case 1023:
			if (evloop_parse(optarg, &evk)) {
				fprintf(stderr, "roostd: --event-loop: libuv or poll\n");
				return 2;
			}
			break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'L': {
			int lv = roost_log_level_parse(optarg);
			if (lv < 0) {
				fprintf(stderr, "roostd: --log-level: debug, info, warn, error or off\n");
				return 2;
			}
			roost_log_set_level((enum roost_log_level)lv);
			break;
		}
		case 'h': usage(stdout); return 0;
		case 'V': printf("roostd %s\n", ROOST_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "roostd: unexpected argument %s\n", argv[optind]);
		return 2;
	}
	if (!data) {
		fprintf(stderr, "roostd: --data DIR is required\n");
		usage(stderr);
		return 2;
	}
	if (strcmp(maint_cron, "off")) {
		struct cron *mc;
		struct roost_errbuf ceb = {{0}};
		if (cron_parse(maint_cron, NULL, &mc, &ceb) != ROOST_OK) {
			fprintf(stderr, "roostd: --maintenance-cron: %s\n", ceb.msg);
			return 2;
		}
		cron_free(mc);
	}
	if ((smtp != NULL) != (smtp_from != NULL)) {
		fprintf(stderr, "roostd: --smtp and --smtp-from go together\n");
		return 2;
	}
	if (smtp && strncmp(smtp, "smtp://", 7) && strncmp(smtp, "smtps://", 8)) {
		fprintf(stderr, "roostd: --smtp: expected smtp://HOST:PORT or smtps://HOST:PORT\n");
		return 2;
	}
	if ((cert != NULL) != (key != NULL)) {
		fprintf(stderr, "roostd: --tls-cert and --tls-key go together\n");
		return 2;
	}
	char host[256];
	int port;
	{
		const char *colon = strrchr(listen_at, ':');
		char *e;
		long p = colon ? strtol(colon + 1, &e, 10) : -1;
		size_t hl = colon ? (size_t)(colon - listen_at) : 0;
		if (!colon || *e || p < 0 || p > 65535 || hl == 0 || hl >= sizeof(host)) {
			fprintf(stderr, "roostd: --listen: expected HOST:PORT, got %s\n", listen_at);
			return 2;
		}
		const char *h = listen_at;
		if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
			h++;
			hl -= 2;
		}
		memcpy(host, h, hl);
		host[hl] = 0;
		port = (int)p;
	}
	struct rlimit rl; /* one descriptor per agent: take all we may */
	rlim_t nofile = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rlim_t was = rl.rlim_cur;
			rl.rlim_cur = rl.rlim_max;
			if (setrlimit(RLIMIT_NOFILE, &rl))
				rl.rlim_cur = was;
		}
		/* at most 2^20: libwebsockets sizes its tables by the soft limit */
		if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1u << 20)) {
			rl.rlim_cur = 1u << 20;
			if (setrlimit(RLIMIT_NOFILE, &rl))
				rl.rlim_cur = 1u << 20; /* lws then walks its slots (above) */
		}
		nofile = rl.rlim_cur;
	}
	if (nofile < 2 * FD_RESERVE(nofile)) {
		fprintf(stderr, "roostd: the descriptor limit (%lu) is too low; at least %lu\n",
		        (unsigned long)nofile, (unsigned long)(2 * FD_RESERVE(nofile)));
		return 1;
	}
	{
		char msg[256];
		const char *spec = getenv("ROOST_FAULT");
		if (fault_init(spec, msg, sizeof(msg))) {
			fprintf(stderr, "roostd: %s\n", msg);
			return 2;
		}
		if (spec && *spec)
			log_warn("fault.armed", "spec=%s what=\"tests only: these calls will fail\"",
			         roost_lq(spec));
	}
	struct http_limits hl = {
		.body_window_s = (int)body_timeout,
		.body_min_rate = (uint32_t)body_rate,
		.max_per_addr = (unsigned)per_addr,
		.max_conns = (unsigned)(nofile - FD_RESERVE(nofile)),
	};
	http_configure(&hl);
	if (sodium_init() < 0) {
		fprintf(stderr, "roostd: libsodium failed to initialize\n");
		return 1;
	}
	if (mkdir(data, 0700) && errno != EEXIST) {
		fprintf(stderr, "roostd: create %s: %s\n", data, strerror(errno));
		return 1;
	}
	struct srv *s = &srv_state;
	g_srv = s;
	s->data_dir = strdup(data);
	s->settle_s = settle;
	s->catchup_jitter_s = jitter;
	s->agent_timeout_s = agent_timeout;
	s->overdue_grace_s = grace;
	s->unseen_after_s = unseen;
	s->health_flap_s = flap;
	s->session_ttl_s = session_ttl;
	s->session_idle_s = session_idle;
	struct roost_errbuf eb = {{0}};
	/* the store: --db, else sqlite:DIR/roostd.db (kept for the delivery thread) */
	static char *db_url; /* static: reachable on every early return */
	db_url = db_opt ? strdup(db_opt) : path_join(data, "roostd.db");
	if (!db_url || store_open(db_url, &s->st, &eb)) {
		fprintf(stderr, "roostd: %s\n", db_url ? eb.msg : "out of memory");
		return 1;
	}
	/* TLS material */
	char *certp = cert ? strdup(cert) : path_join(data, "tls-cert.pem");
	char *keyp = key ? strdup(key) : path_join(data, "tls-key.pem");
	if (!cert && access(certp, F_OK) != 0) {
		if (make_self_signed(certp, keyp)) {
			fprintf(stderr, "roostd: could not create a self-signed certificate in %s\n", data);
			return 1;
		}
		log_info("tls.created", "cert=%s", roost_lq(certp));
	}
	char fp[65];
	if (cert_fingerprint(certp, fp)) {
		fprintf(stderr, "roostd: %s: not a readable PEM certificate\n", certp);
		return 1;
	}
	snprintf(s->fingerprint, sizeof(s->fingerprint), "%s", fp);
	{
		char *fpp = path_join(data, "fingerprint");
		char line[70];
		snprintf(line, sizeof(line), "%s\n", fp);
		unlink(fpp);
		write_new_file(fpp, line, strlen(line), 0644);
		free(fpp);
	}
	/* admin token */
	char tok[AUTH_TEXT_LEN + 1];
	int created;
	char *tokp = path_join(data, "admin.token");
	if (load_or_make_secret(tokp, tok, &created)) {
		fprintf(stderr, "roostd: %s: unreadable or malformed admin token\n", tokp);
		return 1;
	}
	auth_hash_text(tok, strlen(tok), s->admin_hash);
	/* the jitter's key: stable for this data directory, says nothing of the token */
	crypto_generichash(s->jitter_key, sizeof(s->jitter_key), (const uint8_t *)"catchup-jitter",
	                   14, s->admin_hash, sizeof(s->admin_hash));
	sodium_memzero(tok, sizeof(tok));
	if (created)
		log_info("admin.token_created", "file=%s", roost_lq(tokp));
	free(tokp);
	/* the metrics token: a credential for GET /metrics alone */
	tokp = path_join(data, "metrics.token");
	if (load_or_make_secret(tokp, tok, &created)) {
		fprintf(stderr, "roostd: %s: unreadable or malformed metrics token\n", tokp);
		return 1;
	}
	auth_hash_text(tok, strlen(tok), s->metrics_hash);
	s->has_metrics_token = 1;
	sodium_memzero(tok, sizeof(tok));
	free(tokp);
	/* the default repository */
	char pw[AUTH_TEXT_LEN + 1];
	char *pwp = path_join(data, "repo.password");
	if (load_or_make_secret(pwp, pw, &created)) {
		fprintf(stderr, "roostd: %s: unreadable or malformed repository password\n", pwp);
		return 1;
	}
	snprintf(s->repo_password, sizeof(s->repo_password), "%s", pw);
	char *repop = repo_opt ? strdup(repo_opt) : path_join(data, "repo");
	int fresh;
	if (roost_backend_is_s3(repop)) {
		/* the bucket must exist; the repository in it is made on first start */
		if (roost_backend_open(repop, 0, &s->repo_be, &eb)) {
			fprintf(stderr, "roostd: repository %s: %s\n", repop, eb.msg);
			goto repo_fail;
		}
		uint64_t csize;
		enum roost_err serr = s->repo_be->ops->stat(s->repo_be, "config", &csize, &eb);
		if (serr != ROOST_OK && serr != ROOST_ENOENT) {
			fprintf(stderr, "roostd: repository %s: %s\n", repop, eb.msg);
			goto repo_fail;
		}
		fresh = serr == ROOST_ENOENT;
	} else {
		fresh = access(repop, F_OK) != 0;
		if (roost_backend_open(repop, fresh, &s->repo_be, &eb)) {
			fprintf(stderr, "roostd: repository %s: %s\n", repop, eb.msg);
			goto repo_fail;
		}
	}
	{
		/* the store remembers where its repository is: a different
		 * --repo than the one its snapshots were written to is a mistake
		 * worth a line in the log (roost repo copy moves a repository) */
		struct db_stmt *st = db_q("SELECT location FROM repos WHERE name='default'", "");
		char *known = st && db_step(st) == DB_ROW && db_col_text(st, 0)
		                      ? strdup(db_col_text(st, 0))
		                      : NULL;
		db_done(st);
		if (known && strcmp(known, repop)) {
			log_warn("repo.location_changed", "store=%s now=%s", roost_lq(known),
			         roost_lq(repop));
			db_exec("UPDATE repos SET location=? WHERE name='default'", "t", repop);
		}
		free(known);
	}
	if (fresh) {
		if (roost_repo_init(s->repo_be, pw, NULL, &eb)) {
			fprintf(stderr, "roostd: init repository %s: %s\n", repop, eb.msg);
			goto repo_fail;
		}
		db_exec("INSERT INTO repos (name, location, created_at) VALUES "
		        "('default', ?, ?) ON CONFLICT DO NOTHING", "ti", repop, srv_now());
		log_info("repo.created", "location=%s", roost_lq(repop));
	}
	/* format 2 (an older repository is upgraded here, nothing re-encrypted):
	 * agents get the put-only material, never the password */
	int upgraded = 0;
	if (roost_repo_open(s->repo_be, pw, &s->repo, &eb) ||
	    roost_repo_upgrade(s->repo, &upgraded, &eb) ||
	    roost_repo_put_material(s->repo, s->repo_put, sizeof(s->repo_put), &eb)) {
		fprintf(stderr, "roostd: repository %s: %s\n", repop, eb.msg);
		goto repo_fail;
	}
	if (upgraded)
		log_info("repo.upgraded", "location=%s format=2", roost_lq(repop));
	sodium_memzero(pw, sizeof(pw));
	free(pwp);
	s->repo_dir = repop;
	s->prune_grace_s = prune_grace;
	s->check_sample = (unsigned)check_sample;
	maintenance_recover();
	s->catchups = dueheap_new();
	s->deferrals = dueheap_new();
	if (!s->catchups || !s->deferrals)
		return 1;
	hub_set_handler(&agents_handler);
	events_set_job_view(view_job);
	metrics_init();

	/* libwebsockets */
	lws_set_log_level(LLL_ERR | LLL_WARN, http_lws_log);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = port;
	info.iface = host;
	info.protocols = roostd_protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
	               LWS_SERVER_OPTION_VALIDATE_UTF8;
	if (strchr(host, '.') && !strchr(host, ':'))
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.ssl_cert_filepath = certp;
	info.ssl_private_key_filepath = keyp;
	info.alpn = "http/1.1";
	info.timeout_secs = (unsigned)header_timeout;      /* TLS handshake */
	info.timeout_secs_ah_idle = (unsigned)header_timeout; /* request headers */
	/* the whole descriptor limit: below it, libwebsockets would find a
	 * connection by its descriptor with a walk over all its slots (23% of
	 * roostd's CPU at 17,000 agents); roostd pauses accepting at max_conns
	 * itself (budgets.c) */
	info.fd_limit_per_thread = (unsigned)nofile;
	info.ka_time = 0;
	info.max_http_header_data = 4096;
	/* the service thread's read buffer: at lws's default (4096) an upload's
	 * 16 KiB TLS records arrived in 4080-byte pieces, a poll() and a write()
	 * each (160,000 of them for a 1.2 GB backup) */
	info.pt_serv_buf_size = 64 * 1024;
	info.vhost_name = "roostd";
	if (evloop_prepare(evk, &info)) {
		fprintf(stderr, "roostd: could not make the %s event loop\n", evloop_name(evk));
		return 1;
	}
	s->lws = lws_create_context(&info);
	if (!s->lws) {
		fprintf(stderr, "roostd: could not listen on %s (in use, or not an address of this "
		                "machine?)\n", listen_at);
		return 1;
	}
	if (cluster_start(db_url, listen_at, port, instance_name, &eb)) {
		fprintf(stderr, "roostd: %s\n", eb.msg);
		return 1;
	}
	hub_start();
	agents_start();
	defer_rearm_all();
	http_start(s->lws);
	if (committer_start() || restore_serve_start() || pwworker_start()) {
		fprintf(stderr, "roostd: could not start the commit, restore or password thread\n");
		return 1;
	}
	if (maintenance_schedule(maint_cron, &eb)) {
		fprintf(stderr, "roostd: --maintenance-cron: %s\n", eb.msg);
		return 2;
	}
	healthwatch_start();
	{
		struct notify_config nc = {
			.db_url = db_url, .smtp_url = smtp, .smtp_from = smtp_from,
			.smtp_user = smtp_user, .smtp_password = getenv("ROOSTD_SMTP_PASSWORD"),
			.digest_s = digest, .queue_max = queue_max, .timeout_s = hook_timeout,
		};
		int rc = webhooks_start(&nc);
		free(db_url); /* opened by now */
		db_url = NULL;
		if (rc) {
			fprintf(stderr, "roostd: could not start the delivery thread\n");
			return 1;
		}
	}
	/* glibc gives the top of the heap back on a free() once 128 KiB are free
	 * there: under a fleet's traffic that is a brk() down and up again many
	 * times a second, each a TLB flush (16% of roostd's CPU at 200 fires/s
	 * in perf). Trimming is left to housekeeping's malloc_trim after bursts. */
	mallopt(M_MMAP_THRESHOLD, 4 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("roostd %s listening on https://%s:%d\nTLS certificate SHA-256 fingerprint: %s\n"
	       "admin token: %s/admin.token\n", ROOST_VERSION, host, port, fp, data);
	fflush(stdout);
	log_info("roostd.start",
	         "listen=%s:%d fingerprint=%s data=%s settle_s=%ld nofile=%lu max_conns=%u "
	         "max_conns_per_addr=%ld event_loop=%s",
	         host, port, fp, roost_lq(data), settle, (unsigned long)nofile, hl.max_conns,
	         per_addr, evloop_name(evk));
	evloop_run(s->lws, &s->stop);
	log_info("roostd.stop", "why=signal");
	cluster_stop();
	webhooks_stop();
	maintenance_stop();
	restore_serve_stop();
	committer_stop();
	pwworker_stop();
	evloop_destroy(s->lws);
	http_stop();
	roost_repo_close(s->repo);
	roost_backend_close(s->repo_be);
	dueheap_free(s->catchups);
	dueheap_free(s->deferrals);
	store_close(s->st);
	free(certp);
	free(keyp);
	free(repop);
	free(s->data_dir);
	free(s->conns);
	presence_release();
	return 0;

repo_fail: /* the repository could not be opened or made: a message is out */
	sodium_memzero(pw, sizeof(pw));
	free(pwp);
	free(repop);
	free(certp);
	free(keyp);
	return 1;
}
