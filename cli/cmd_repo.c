/* SPDX-License-Identifier: MIT */
/*
 * `roost repo ...`: the local repository engine, restic-like. Every verb
 * takes -r DIR (or ROOST_REPOSITORY) and the password from ROOST_PASSWORD or
 * --password-file F (or a prompt on a terminal).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "roost/jsonutil.h"
#include "roost/repo.h"
#include "roost/timeutil.h"

static const char repo_usage[] =
	"usage: roost repo <command> -r DIR [options]\n"
	"\n"
	"  init      -r DIR [--compression-level N] [--pack-size BYTES]\n"
	"                   [--chunk-sizes MIN,AVG,MAX]  create a repository\n"
	"  backup    -r DIR [--exclude GLOB]... [--tag T]... [--host NAME] [--json] PATH...\n"
	"  snapshots -r DIR [--json]\n"
	"  ls        -r DIR SNAPSHOT [PATH] [--json]\n"
	"  restore   -r DIR SNAPSHOT --target DIR [--include PATH]...\n"
	"  check     -r DIR [--read-data]\n"
	"  forget    -r DIR [--keep-last N] [--keep-hourly N] [--keep-daily N]\n"
	"                   [--keep-weekly N] [--keep-monthly N] [--keep-yearly N]\n"
	"                   [--prune] [--dry-run] [SNAPSHOT...]\n"
	"  prune     -r DIR [--grace SECONDS]\n"
	"  diff      -r DIR SNAPSHOT SNAPSHOT\n"
	"  stats     -r DIR [--json]\n"
	"  key add   -r DIR [--put-only] [--new-password-file F]  a key (put-only: backs up,\n"
	"                   can not read; needs format 2)\n"
	"  upgrade   -r DIR                  format 1 -> 2 (write-only keys possible)\n"
	"  copy      -r FROM --to TO [--jobs N] [--read-data] [--no-check]\n"
	"                   the repository to another location (directory or s3:), verified\n"
	"\n"
	"The password comes from ROOST_PASSWORD or --password-file F. SNAPSHOT is an\n"
	"id, a unique id prefix, or \"latest\". -r defaults to $ROOST_REPOSITORY.\n"
	"Exit status: 0 ok, 1 failed, 2 bad usage, 3 integrity problem (check).\n";

/* Options every verb shares, plus the verb's own collected here. */
struct ropts {
	const char *repo, *password_file, *target, *host;
	int json, read_data, prune, dry_run;
	long long grace;
	int has_grace;
	struct roost_repo_params params;
	struct roost_keep_policy keep;
	int keep_set;
	const char **excludes, **tags, **includes;
	size_t nexcludes, ntags, nincludes;
	char **args;
	int nargs;
};

enum {
	O_PASSFILE = 1000, O_EXCLUDE, O_TAG, O_JSON, O_TARGET, O_INCLUDE, O_READ_DATA,
	O_KEEP_LAST, O_KEEP_HOURLY, O_KEEP_DAILY, O_KEEP_WEEKLY, O_KEEP_MONTHLY, O_KEEP_YEARLY,
	O_PRUNE, O_DRY_RUN, O_GRACE, O_HOST, O_PACK_SIZE, O_LEVEL, O_CHUNK,
};

static int push(const char ***v, size_t *n, const char *s)
{
	const char **nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -1;
	nv[(*n)++] = s;
	*v = nv;
	return 0;
}

static int parse_opts(int argc, char **argv, struct ropts *o)
{
	static const struct option opts[] = {
		{"repo", required_argument, NULL, 'r'},
		{"password-file", required_argument, NULL, O_PASSFILE},
		{"exclude", required_argument, NULL, O_EXCLUDE},
		{"tag", required_argument, NULL, O_TAG},
		{"host", required_argument, NULL, O_HOST},
		{"json", no_argument, NULL, O_JSON},
		{"target", required_argument, NULL, O_TARGET},
		{"include", required_argument, NULL, O_INCLUDE},
		{"read-data", no_argument, NULL, O_READ_DATA},
		{"keep-last", required_argument, NULL, O_KEEP_LAST},
		{"keep-hourly", required_argument, NULL, O_KEEP_HOURLY},
		{"keep-daily", required_argument, NULL, O_KEEP_DAILY},
		{"keep-weekly", required_argument, NULL, O_KEEP_WEEKLY},
		{"keep-monthly", required_argument, NULL, O_KEEP_MONTHLY},
		{"keep-yearly", required_argument, NULL, O_KEEP_YEARLY},
		{"prune", no_argument, NULL, O_PRUNE},
		{"dry-run", no_argument, NULL, O_DRY_RUN},
		{"grace", required_argument, NULL, O_GRACE},
		{"pack-size", required_argument, NULL, O_PACK_SIZE},
		{"compression-level", required_argument, NULL, O_LEVEL},
		{"chunk-sizes", required_argument, NULL, O_CHUNK},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	optind = 1;
	opterr = 0;
	int ch;
	long long v;
	while ((ch = getopt_long(argc, argv, ":r:h", opts, NULL)) != -1) {
		int *keep = NULL;
		switch (ch) {
		case 'r': o->repo = optarg; break;
		case O_PASSFILE: o->password_file = optarg; break;
		case O_EXCLUDE: if (push(&o->excludes, &o->nexcludes, optarg)) return -1; break;
		case O_TAG: if (push(&o->tags, &o->ntags, optarg)) return -1; break;
		case O_INCLUDE: if (push(&o->includes, &o->nincludes, optarg)) return -1; break;
		case O_HOST: o->host = optarg; break;
		case O_JSON: o->json = 1; break;
		case O_TARGET: o->target = optarg; break;
		case O_READ_DATA: o->read_data = 1; break;
		case O_PRUNE: o->prune = 1; break;
		case O_DRY_RUN: o->dry_run = 1; break;
		case O_GRACE:
			if (cli_parse_int(optarg, 0, 100LL * 365 * 86400, &o->grace))
				return cli_fail(EXIT_USAGE, "--grace: \"%s\" is not a number of seconds",
				                optarg), -2;
			o->has_grace = 1;
			break;
		case O_PACK_SIZE:
			if (cli_parse_int(optarg, 4096, 256LL << 20, &v))
				return cli_fail(EXIT_USAGE, "--pack-size: 4096 to 268435456 bytes"), -2;
			o->params.pack_size = (uint32_t)v;
			break;
		case O_LEVEL:
			if (cli_parse_int(optarg, -7, 19, &v))
				return cli_fail(EXIT_USAGE, "--compression-level: -7 to 19"), -2;
			o->params.zstd_level = (int)v ? (int)v : 1;
			break;
		case O_CHUNK: {
			unsigned long long a, b, c;
			char extra;
			if (sscanf(optarg, "%llu,%llu,%llu%c", &a, &b, &c, &extra) != 3 || a < 64 ||
			    a >= b || b >= c || c > (16u << 20))
				return cli_fail(EXIT_USAGE, "--chunk-sizes: MIN,AVG,MAX in bytes, "
				                            "64 <= MIN < AVG < MAX <= 16 MiB"), -2;
			o->params.chunk_min = (uint32_t)a;
			o->params.chunk_avg = (uint32_t)b;
			o->params.chunk_max = (uint32_t)c;
			break;
		}
		case O_KEEP_LAST: keep = &o->keep.last; break;
		case O_KEEP_HOURLY: keep = &o->keep.hourly; break;
		case O_KEEP_DAILY: keep = &o->keep.daily; break;
		case O_KEEP_WEEKLY: keep = &o->keep.weekly; break;
		case O_KEEP_MONTHLY: keep = &o->keep.monthly; break;
		case O_KEEP_YEARLY: keep = &o->keep.yearly; break;
		case 'h': fputs(repo_usage, stdout); return 1;
		case ':': return cli_fail(EXIT_USAGE, "%s needs a value", argv[optind - 1]), -2;
		default:
			return cli_fail(EXIT_USAGE, "unknown option \"%s\" (see roost repo --help)",
			                argv[optind - 1]), -2;
		}
		if (keep) {
			if (cli_parse_int(optarg, 1, 1000000, &v))
				return cli_fail(EXIT_USAGE, "%s: \"%s\" is not a positive number",
				                argv[optind - 2], optarg), -2;
			*keep = (int)v;
			o->keep_set = 1;
		}
	}
	o->args = argv + optind;
	o->nargs = argc - optind;
	if (!o->repo)
		o->repo = getenv("ROOST_REPOSITORY");
	return 0;
}

static char *read_password(const struct ropts *o, int confirm)
{
	if (o->password_file) {
		FILE *f = fopen(o->password_file, "r");
		if (!f) {
			cli_fail(EXIT_USAGE, "--password-file %s: %s", o->password_file, strerror(errno));
			return NULL;
		}
		char buf[4096];
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = 0;
		buf[strcspn(buf, "\r\n")] = 0;
		if (!buf[0]) {
			cli_fail(EXIT_USAGE, "--password-file %s is empty", o->password_file);
			return NULL;
		}
		return strdup(buf);
	}
	const char *env = getenv("ROOST_PASSWORD");
	if (env && *env)
		return strdup(env);
	if (!isatty(0)) {
		cli_fail(EXIT_USAGE, "no password: set ROOST_PASSWORD or use --password-file F");
		return NULL;
	}
	char first[4096] = "";
	for (int round = 0; round < (confirm ? 2 : 1); round++) {
		fprintf(stderr, round ? "enter the password again: " : "enter repository password: ");
		struct termios t, saved;
		tcgetattr(0, &saved);
		t = saved;
		t.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(0, TCSANOW, &t);
		char buf[4096];
		char *got = fgets(buf, sizeof(buf), stdin);
		tcsetattr(0, TCSANOW, &saved);
		fputc('\n', stderr);
		if (!got)
			return NULL;
		buf[strcspn(buf, "\r\n")] = 0;
		if (round == 0)
			snprintf(first, sizeof(first), "%s", buf);
		else if (strcmp(first, buf) != 0) {
			cli_fail(EXIT_USAGE, "the passwords do not match");
			return NULL;
		}
	}
	return strdup(first);
}

static int open_repo(const struct ropts *o, struct roost_backend **be, struct roost_repo **r)
{
	*be = NULL;
	*r = NULL;
	if (!o->repo)
		return cli_fail(EXIT_USAGE, "no repository: give -r DIR or set ROOST_REPOSITORY");
	struct roost_errbuf eb;
	enum roost_err err = roost_backend_open(o->repo, 0, be, &eb);
	if (err) {
		*be = NULL;
		return cli_fail(err == ROOST_ENOENT || err == ROOST_EINVAL ? EXIT_USAGE : EXIT_FAIL,
		                "%s", eb.msg);
	}
	char *pw = read_password(o, 0);
	if (!pw) {
		roost_backend_close(*be);
		*be = NULL;
		return EXIT_USAGE;
	}
	err = roost_repo_open(*be, pw, r, &eb);
	free(pw);
	if (err) {
		roost_backend_close(*be);
		*be = NULL;
		return cli_fail(err == ROOST_ECORRUPT ? EXIT_INTEGRITY : EXIT_FAIL, "%s", eb.msg);
	}
	return EXIT_OK;
}

static void close_repo(struct roost_backend *be, struct roost_repo *r)
{
	roost_repo_close(r);
	roost_backend_close(be);
}

/* ---- output helpers ---- */

static void human_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.2f %s" : "%.0f %s", v, units[u]);
}

/* Prints bytes of a name with control characters escaped. */
static void print_escaped(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			fputs("\\n", f);
		else if (c == '\\')
			fputs("\\\\", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}

struct progress_state {
	struct timespec start;
	const char *verb;
};

static void progress_cb(void *ctx, const struct roost_progress *p)
{
	struct progress_state *ps = ctx;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double secs = (double)(now.tv_sec - ps->start.tv_sec) +
	              (double)(now.tv_nsec - ps->start.tv_nsec) / 1e9;
	char done[32], rate[32];
	human_bytes(p->bytes_done, done, sizeof(done));
	human_bytes(secs > 0 ? (uint64_t)((double)p->bytes_done / secs) : 0, rate, sizeof(rate));
	char cur[64] = "";
	if (p->current) {
		size_t l = strlen(p->current);
		snprintf(cur, sizeof(cur), "%s%s", l > 50 ? "..." : "",
		         p->current + (l > 50 ? l - 50 : 0));
		for (char *c = cur; *c; c++)
			if ((unsigned char)*c < 0x20)
				*c = '?';
	}
	char files[64];
	if (p->files_total)
		snprintf(files, sizeof(files), "%llu/%llu files (%d%%)",
		         (unsigned long long)p->files_done, (unsigned long long)p->files_total,
		         p->files_done >= p->files_total ? 100
		                                         : (int)(p->files_done * 100 / p->files_total));
	else
		snprintf(files, sizeof(files), "%llu files", (unsigned long long)p->files_done);
	fprintf(stderr, "\r\033[K[%d:%02d] %s %s, %s, %s/s %s", (int)secs / 60, (int)secs % 60,
	        ps->verb, files, done, rate, cur);
}

static void end_progress(int shown)
{
	if (shown)
		fputs("\r\033[K", stderr);
}

static void warn_cb(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "\r\033[Kwarning: %s\n", msg);
}

/* ---- verbs ---- */

static int do_init(struct ropts *o, struct roost_repo *unused)
{
	(void)unused;
	if (!o->repo)
		return cli_fail(EXIT_USAGE, "no repository: give -r DIR or set ROOST_REPOSITORY");
	char *pw = read_password(o, 1);
	if (!pw)
		return EXIT_USAGE;
	struct roost_backend *be;
	struct roost_errbuf eb;
	enum roost_err err = roost_backend_open(o->repo, 1, &be, &eb);
	if (!err) {
		err = roost_repo_init(be, pw, &o->params, &eb);
		roost_backend_close(be);
	}
	free(pw);
	if (err)
		return cli_fail(err == ROOST_EEXIST || err == ROOST_EINVAL ? EXIT_USAGE : EXIT_FAIL,
		                "%s", eb.msg);
	printf("created roost repository at %s\n", o->repo);
	printf("Keep the password safe: without it the data can not be read back.\n");
	return EXIT_OK;
}

static int do_backup(struct ropts *o, struct roost_repo *r)
{
	struct progress_state ps = {.verb = "backup"};
	clock_gettime(CLOCK_MONOTONIC, &ps.start);
	int tty = isatty(2) && !o->json;
	struct roost_backup_opts bo = {
		.paths = (const char *const *)o->args, .npaths = (size_t)o->nargs,
		.excludes = o->excludes, .nexcludes = o->nexcludes,
		.tags = o->tags, .ntags = o->ntags, .hostname = o->host,
		.progress = tty ? progress_cb : NULL, .progress_ctx = &ps,
		.warn = warn_cb,
	};
	struct roost_backup_result res;
	struct roost_errbuf eb;
	enum roost_err err = roost_repo_backup(r, &bo, &res, &eb);
	end_progress(tty);
	if (err)
		return cli_fail(err == ROOST_EINVAL ? EXIT_USAGE : EXIT_FAIL, "backup failed: %s",
		                eb.msg);
	const struct roost_snapshot_summary *m = &res.summary;
	if (o->json) {
		json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "snapshot_id",
		                      res.snapshot_id, "files", (json_int_t)m->files, "dirs",
		                      (json_int_t)m->dirs, "bytes", (json_int_t)m->bytes, "bytes_new",
		                      (json_int_t)m->bytes_new, "blobs_new", (json_int_t)m->blobs_new,
		                      "duration_ms", (json_int_t)m->duration_ms, "errors",
		                      (json_int_t)res.errors);
		json_dumpf(j, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(j);
	} else {
		char b1[32], b2[32];
		human_bytes(m->bytes, b1, sizeof(b1));
		human_bytes(m->bytes_new, b2, sizeof(b2));
		printf("snapshot %.8s saved: %llu files, %llu dirs, %s (%s new) in %.1f s\n",
		       res.snapshot_id, (unsigned long long)m->files, (unsigned long long)m->dirs, b1,
		       b2, (double)m->duration_ms / 1000);
		if (res.errors)
			printf("%llu files or directories could not be read (see warnings)\n",
			       (unsigned long long)res.errors);
	}
	return EXIT_OK;
}

static void snap_warn(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "warning: %s\n", msg);
}

static json_t *snap_json(const struct roost_snapshot *s)
{
	char ts[40];
	roost_time_format(s->time_s, ts, sizeof(ts));
	json_t *paths = json_array(), *tags = json_array();
	for (size_t i = 0; i < s->npaths; i++)
		json_array_append_new(paths, json_bytes_lossy(s->paths[i], strlen(s->paths[i])));
	for (size_t i = 0; i < s->ntags; i++)
		json_array_append_new(tags, json_bytes_lossy(s->tags[i], strlen(s->tags[i])));
	char tree[65];
	static const char hx[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		tree[2 * i] = hx[s->tree[i] >> 4];
		tree[2 * i + 1] = hx[s->tree[i] & 15];
	}
	tree[64] = 0;
	return json_pack("{s:s, s:s#, s:s, s:o, s:o, s:o, s:s, s:s, s:{s:I, s:I, s:I, s:I}}",
	                 "id", s->id, "short_id", s->id, (int)8, "time", ts, "paths", paths,
	                 "hostname", json_bytes_lossy(s->hostname, strlen(s->hostname)), "tags", tags,
	                 "username", s->username, "tree", tree, "summary", "files",
	                 (json_int_t)s->summary.files, "bytes", (json_int_t)s->summary.bytes,
	                 "bytes_new", (json_int_t)s->summary.bytes_new, "duration_ms",
	                 (json_int_t)s->summary.duration_ms);
}

static int do_snapshots(struct ropts *o, struct roost_repo *r)
{
	struct roost_snapshot *v;
	size_t n;
	struct roost_errbuf eb;
	enum roost_err err = roost_repo_snapshots(r, &v, &n, snap_warn, NULL, &eb);
	if (err)
		return cli_fail(EXIT_FAIL, "%s", eb.msg);
	if (o->json) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, snap_json(&v[i]));
		json_dumpf(a, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(a);
	} else {
		printf("%-8s  %-20s  %-16s  %-12s  %s\n", "ID", "Time", "Host", "Tags", "Paths");
		for (size_t i = 0; i < n; i++) {
			char ts[40], tags[256] = "";
			roost_time_format(v[i].time_s, ts, sizeof(ts));
			for (size_t t = 0; t < v[i].ntags; t++)
				snprintf(tags + strlen(tags), sizeof(tags) - strlen(tags), "%s%s",
				         t ? "," : "", v[i].tags[t]);
			printf("%.8s  %-20s  %-16s  %-12s  ", v[i].id, ts, v[i].hostname, tags);
			for (size_t p = 0; p < v[i].npaths; p++) {
				if (p)
					fputs(", ", stdout);
				print_escaped(stdout, v[i].paths[p], strlen(v[i].paths[p]));
			}
			putchar('\n');
		}
		printf("%zu snapshot%s\n", n, n == 1 ? "" : "s");
	}
	roost_snapshots_free(v, n);
	return EXIT_OK;
}

static int find_snap(struct roost_repo *r, const char *ref, struct roost_snapshot *s)
{
	struct roost_errbuf eb;
	enum roost_err err = roost_repo_find_snapshot(r, ref, s, &eb);
	if (err)
		return cli_fail(err == ROOST_ENOMEM || err == ROOST_EAUTH ? EXIT_FAIL : EXIT_USAGE, "%s", eb.msg);
	return EXIT_OK;
}

struct ls_out {
	int json, first;
};

static const char *const type_names[] = {"?", "file", "dir", "symlink", "fifo", "chardev",
                                         "blockdev"};

static void ls_cb(void *ctx, const struct roost_lsent *e)
{
	struct ls_out *lo = ctx;
	if (lo->json) {
		char ts[40];
		roost_time_format(e->mtime_s, ts, sizeof(ts));
		json_t *j = json_pack("{s:o, s:s, s:I, s:i, s:i, s:i, s:s}", "path",
		                      json_bytes_lossy(e->path, e->path_len), "type",
		                      type_names[e->type > 6 ? 0 : e->type], "size",
		                      (json_int_t)e->size, "mode", (int)e->mode, "uid", (int)e->uid,
		                      "gid", (int)e->gid, "mtime", ts);
		if (e->target)
			json_object_set_new(j, "target", json_bytes_lossy(e->target, strlen(e->target)));
		fputs(lo->first ? "[" : ",", stdout);
		lo->first = 0;
		json_dumpf(j, stdout, JSON_COMPACT);
		json_decref(j);
		return;
	}
	print_escaped(stdout, e->path, e->path_len);
	if (e->type == 2)
		putchar('/');
	putchar('\n');
}

static int do_ls(struct ropts *o, struct roost_repo *r)
{
	struct roost_snapshot s;
	int rc = find_snap(r, o->args[0], &s);
	if (rc)
		return rc;
	struct ls_out lo = {o->json, 1};
	struct roost_errbuf eb;
	enum roost_err err = roost_repo_ls(r, &s, o->nargs > 1 ? o->args[1] : NULL, ls_cb, &lo, &eb);
	if (o->json)
		puts(lo.first ? "[]" : "]");
	roost_snapshot_release(&s);
	if (err)
		return cli_fail(err == ROOST_ECORRUPT ? EXIT_INTEGRITY : EXIT_FAIL, "%s", eb.msg);
	return EXIT_OK;
}

static int do_restore(struct ropts *o, struct roost_repo *r)
{
	struct roost_snapshot s;
	int rc = find_snap(r, o->args[0], &s);
	if (rc)
		return rc;
	struct progress_state ps = {.verb = "restore"};
	clock_gettime(CLOCK_MONOTONIC, &ps.start);
	int tty = isatty(2);
	struct roost_restore_opts ro = {
		.target = o->target, .includes = o->includes, .nincludes = o->nincludes,
		.progress = tty ? progress_cb : NULL, .progress_ctx = &ps, .warn = warn_cb,
	};
	struct roost_restore_result res;
	struct roost_errbuf eb;
	enum roost_err err = roost_repo_restore(r, &s, &ro, &res, &eb);
	end_progress(tty);
	roost_snapshot_release(&s);
	if (err)
		return cli_fail(EXIT_FAIL, "restore failed: %s", eb.msg);
	char b[32];
	human_bytes(res.bytes, b, sizeof(b));
	printf("restored %llu files, %llu dirs, %s into %s\n", (unsigned long long)res.files,
	       (unsigned long long)res.dirs, b, o->target);
	if (res.errors)
		return cli_fail(EXIT_FAIL, "%llu errors during restore (see above)",
		                (unsigned long long)res.errors);
	return EXIT_OK;
}

static void check_report(void *ctx, int is_error, const char *msg)
{
	(void)ctx;
	fprintf(is_error ? stdout : stderr, "%s: %s\n", is_error ? "error" : "note", msg);
}

static int do_check(struct ropts *o, struct roost_repo *r)
{
	struct roost_check_opts co = {.read_data = o->read_data, .report = check_report};
	struct roost_check_result res;
	struct roost_errbuf eb;
	enum roost_err err = roost_repo_check(r, &co, &res, &eb);
	if (err)
		return cli_fail(EXIT_FAIL, "check failed: %s", eb.msg);
	printf("checked %llu snapshots, %llu packs%s\n", (unsigned long long)res.snapshots,
	       (unsigned long long)res.packs, o->read_data ? " (all data read)" : "");
	if (res.errors) {
		printf("%llu errors found\n", (unsigned long long)res.errors);
		return EXIT_INTEGRITY;
	}
	printf("no errors were found\n");
	return EXIT_OK;
}

static void prune_report(void *ctx, const char *msg)
{
	(void)ctx;
	printf("%s\n", msg);
}

static int run_prune(struct roost_repo *r, const struct ropts *o)
{
	struct roost_prune_opts po = {.grace_s = o->has_grace ? o->grace : 3600,
	                              .now = time(NULL), .report = prune_report};
	struct roost_prune_result res;
	struct roost_errbuf eb;
	enum roost_err err = roost_repo_prune(r, &po, &res, &eb);
	if (err)
		return cli_fail(err == ROOST_ECORRUPT ? EXIT_INTEGRITY : EXIT_FAIL, "prune failed: %s",
		                eb.msg);
	char b[32];
	human_bytes(res.bytes_deleted, b, sizeof(b));
	printf("prune: deleted %llu packs (%s), repacked %llu packs, marked %llu packs for "
	       "deletion after the grace period, %llu marked packs still waiting\n",
	       (unsigned long long)res.packs_deleted, b, (unsigned long long)res.packs_repacked,
	       (unsigned long long)res.packs_marked, (unsigned long long)res.packs_kept_marked);
	return EXIT_OK;
}

static void forget_cb(void *ctx, const struct roost_snapshot *s, int keep)
{
	const struct ropts *o = ctx;
	char ts[40];
	roost_time_format(s->time_s, ts, sizeof(ts));
	printf("%s %.8s  %s  %s\n", keep ? "keep  " : (o->dry_run ? "would remove" : "remove"),
	       s->id, ts, s->hostname);
}

/* Checked before the repository is opened (and its password asked for). */
static int forget_usage(const struct ropts *o)
{
	if (!o->keep_set && !o->nargs)
		return cli_fail(EXIT_USAGE, "forget needs a --keep-* policy or snapshot ids (refusing "
		                            "to remove everything)");
	if (o->keep_set && o->nargs)
		return cli_fail(EXIT_USAGE, "give either --keep-* options or snapshot ids, not both");
	return EXIT_OK;
}

static int do_forget(struct ropts *o, struct roost_repo *r)
{
	int rc = EXIT_OK;
	struct roost_errbuf eb;
	enum roost_err err;
	if (o->nargs)
		err = o->dry_run ? ROOST_OK
		                 : roost_repo_forget_ids(r, (const char *const *)o->args,
		                                         (size_t)o->nargs, &eb);
	else
		err = roost_repo_forget(r, &o->keep, o->dry_run, forget_cb, o, &eb);
	if (err)
		return cli_fail(err == ROOST_EINVAL || err == ROOST_ENOENT ? EXIT_USAGE : EXIT_FAIL,
		                "forget failed: %s", eb.msg);
	if (o->prune && !o->dry_run)
		rc = run_prune(r, o);
	return rc;
}

static int do_prune(struct ropts *o, struct roost_repo *r)
{
	return run_prune(r, o);
}

static void diff_cb(void *ctx, char change, const char *path)
{
	(void)ctx;
	printf("%c ", change);
	print_escaped(stdout, path, strlen(path));
	putchar('\n');
}

static int do_diff(struct ropts *o, struct roost_repo *r)
{
	struct roost_snapshot a, b;
	int rc = find_snap(r, o->args[0], &a);
	if (rc)
		return rc;
	if ((rc = find_snap(r, o->args[1], &b))) {
		roost_snapshot_release(&a);
		return rc;
	}
	struct roost_errbuf eb;
	enum roost_err err = roost_repo_diff(r, &a, &b, diff_cb, NULL, &eb);
	roost_snapshot_release(&a);
	roost_snapshot_release(&b);
	if (err)
		return cli_fail(err == ROOST_ECORRUPT ? EXIT_INTEGRITY : EXIT_FAIL, "%s", eb.msg);
	return EXIT_OK;
}

static int do_stats(struct ropts *o, struct roost_repo *r)
{
	struct roost_repo_stats st;
	struct roost_errbuf eb;
	enum roost_err err = roost_repo_stats(r, &st, &eb);
	if (err)
		return cli_fail(EXIT_FAIL, "%s", eb.msg);
	if (o->json) {
		json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "snapshots",
		                      (json_int_t)st.snapshots, "packs", (json_int_t)st.packs,
		                      "pack_bytes", (json_int_t)st.pack_bytes, "blobs",
		                      (json_int_t)st.blobs, "data_blobs", (json_int_t)st.data_blobs,
		                      "tree_blobs", (json_int_t)st.tree_blobs, "raw_bytes",
		                      (json_int_t)st.raw_bytes, "stored_bytes",
		                      (json_int_t)st.stored_bytes, "compression_ratio",
		                      st.stored_bytes ? (double)st.raw_bytes / (double)st.stored_bytes
		                                      : 0.0);
		json_dumpf(j, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(j);
		return EXIT_OK;
	}
	char b1[32], b2[32], b3[32];
	human_bytes(st.pack_bytes, b1, sizeof(b1));
	human_bytes(st.raw_bytes, b2, sizeof(b2));
	human_bytes(st.stored_bytes, b3, sizeof(b3));
	printf("snapshots:      %llu\n", (unsigned long long)st.snapshots);
	printf("packs:          %llu (%s on disk)\n", (unsigned long long)st.packs, b1);
	printf("blobs:          %llu (%llu data, %llu tree)\n", (unsigned long long)st.blobs,
	       (unsigned long long)st.data_blobs, (unsigned long long)st.tree_blobs);
	printf("unique data:    %s, stored as %s (ratio %.2f)\n", b2, b3,
	       st.stored_bytes ? (double)st.raw_bytes / (double)st.stored_bytes : 0.0);
	return EXIT_OK;
}

int cmd_repo(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		fputs(repo_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	/* Arguments are checked before the repository is opened (and a password
	 * asked for); every verb but init gets the opened repository. */
	static const struct {
		const char *name;
		int (*fn)(struct ropts *, struct roost_repo *);
		int min, max; /* positional arguments */
		const char *args;
	} verbs[] = {
		{"init", do_init, 0, 0, ""},
		{"backup", do_backup, 1, 100000, "PATH..."},
		{"snapshots", do_snapshots, 0, 0, ""},
		{"ls", do_ls, 1, 2, "SNAPSHOT [PATH]"},
		{"restore", do_restore, 1, 1, "SNAPSHOT --target DIR [--include PATH]..."},
		{"check", do_check, 0, 0, ""},
		{"forget", do_forget, 0, 100000, "[--keep-* N]... [SNAPSHOT...]"},
		{"prune", do_prune, 0, 0, ""},
		{"diff", do_diff, 2, 2, "SNAPSHOT SNAPSHOT"},
		{"stats", do_stats, 0, 0, ""},
	};
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(argv[1], verbs[i].name) != 0)
			continue;
		struct ropts o = {0};
		int p = parse_opts(argc - 1, argv + 1, &o);
		int rc = p == 1 ? EXIT_OK : p < 0 ? EXIT_USAGE : -1;
		if (rc < 0 && (o.nargs < verbs[i].min || o.nargs > verbs[i].max))
			rc = cli_fail(EXIT_USAGE, "%s %s: usage: roost repo %s -r DIR %s",
			              verbs[i].name,
			              o.nargs < verbs[i].min ? "needs more arguments" : "takes fewer arguments",
			              verbs[i].name, verbs[i].args);
		if (rc < 0 && !strcmp(verbs[i].name, "restore") && !o.target)
			rc = cli_fail(EXIT_USAGE, "restore needs --target DIR");
		if (rc < 0 && !strcmp(verbs[i].name, "forget"))
			rc = forget_usage(&o) ? EXIT_USAGE : -1;
		if (rc < 0) {
			struct roost_backend *be = NULL;
			struct roost_repo *r = NULL;
			if (verbs[i].fn == do_init || !(rc = open_repo(&o, &be, &r)))
				rc = verbs[i].fn(&o, r);
			close_repo(be, r);
		}
		free(o.excludes);
		free(o.tags);
		free(o.includes);
		return rc;
	}
	if (!strcmp(argv[1], "key") || !strcmp(argv[1], "upgrade"))
		return cmd_repo_key(argc - 1, argv + 1);
	if (!strcmp(argv[1], "copy"))
		return cmd_repo_copy(argc - 1, argv + 1);
	return cli_fail(EXIT_USAGE, "unknown repo command \"%s\" (see roost repo --help)", argv[1]);
}
