/* SPDX-License-Identifier: MIT */
/*
 * `roost repo copy -r FROM --to TO`: moves a repository between backends (a
 * directory, S3), object by object, as it is: objects stay encrypted, the
 * keys and password are the same. Verified: every object is read back from
 * TO and compared (BLAKE2b-256 of its bytes) with what FROM holds. The
 * config object is written last, so an interrupted copy is not a repository
 * yet; running the command again resumes it (objects already in TO with the
 * same bytes are verified and kept). With a password, the copy is then
 * opened and checked (--read-data: every pack read whole).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "roost/backend.h"
#include "roost/repo.h"

static const char copy_usage[] =
	"usage: roost repo copy -r FROM --to TO [--jobs N] [--read-data] [--no-check]\n"
	"                       [--password-file F]\n"
	"\n"
	"Copies the repository at FROM to TO (a directory, or s3:http[s]://HOST/BUCKET[/PREFIX]),\n"
	"object by object and as it is: the copy opens with the same password. Each\n"
	"object is read back from TO and compared with FROM. An interrupted copy is\n"
	"resumed by running the command again. TO must be empty or an earlier copy\n"
	"of FROM.\n"
	"\n"
	"  --jobs N        objects in flight at once (default 4, at most 64)\n"
	"  --no-check      do not open and check the copy afterwards\n"
	"  --read-data     the check afterwards reads every pack whole\n"
	"  --password-file F  the password for the check (else ROOST_PASSWORD); without\n"
	"                  one the copy is verified object by object only\n"
	"\n"
	"Exit status: 0 copied and verified, 1 failed, 2 bad usage, 3 the copy (or\n"
	"FROM) has an integrity problem.\n";

static const char *const kTypes[] = {"keys", "packs", "index", "snapshots", "marks"};

struct object {
	char *name;
	uint64_t size;
};

struct copy {
	struct roost_backend *from, *to;
	struct object *v;
	size_t n, cap;
	atomic_size_t next, done, copied, present;
	atomic_uint_fast64_t bytes;
	atomic_int failed; /* 1 failure, 3 integrity */
	pthread_mutex_t lock;
	char error[512];
};

static int add_object(void *ctx, const char *name, uint64_t size)
{
	struct copy *c = ctx;
	if (c->n == c->cap) {
		size_t nc = c->cap ? 2 * c->cap : 1024;
		struct object *nv = realloc(c->v, nc * sizeof(*nv));
		if (!nv)
			return 1;
		c->v = nv;
		c->cap = nc;
	}
	char *dup = strdup(name);
	if (!dup)
		return 1;
	c->v[c->n].name = dup;
	c->v[c->n++].size = size;
	return 0;
}

/* The first failure (an integrity one over any other) is what the copy reports. */
static void fail(struct copy *c, int code, const char *what, const char *name, const char *msg)
{
	pthread_mutex_lock(&c->lock);
	if (!c->failed || (code == EXIT_INTEGRITY && c->failed != EXIT_INTEGRITY)) {
		snprintf(c->error, sizeof(c->error), "%s%s: %s", what, name, msg);
		c->failed = code;
	}
	pthread_mutex_unlock(&c->lock);
}

/* Reads name back from TO and compares it with the hash of FROM's bytes. */
static int verify(struct copy *c, const char *name, const uint8_t want[32])
{
	struct roost_errbuf eb = {{0}};
	uint8_t *buf = NULL, got[32];
	size_t len = 0;
	if (c->to->ops->get(c->to, name, &buf, &len, &eb)) {
		fail(c, EXIT_FAIL, "reading back from the copy ", name, eb.msg);
		return -1;
	}
	crypto_generichash(got, sizeof(got), buf, len, NULL, 0);
	free(buf);
	if (sodium_memcmp(got, want, 32)) {
		fail(c, EXIT_INTEGRITY, "", name,
		     "the copy holds different bytes under this name than the source");
		return -1;
	}
	return 0;
}

static int copy_one(struct copy *c, const struct object *o)
{
	struct roost_errbuf eb = {{0}};
	uint8_t *buf = NULL, want[32];
	size_t len = 0;
	if (c->from->ops->get(c->from, o->name, &buf, &len, &eb)) {
		fail(c, EXIT_FAIL, "reading ", o->name, eb.msg);
		return -1;
	}
	crypto_generichash(want, sizeof(want), buf, len, NULL, 0);
	uint64_t have;
	enum roost_err err = c->to->ops->stat(c->to, o->name, &have, &eb);
	if (err == ROOST_OK) {
		free(buf);
		if (verify(c, o->name, want))
			return -1;
		c->present++;
	} else if (err == ROOST_ENOENT) {
		err = c->to->ops->put(c->to, o->name, buf, len, &eb);
		free(buf);
		if (err && err != ROOST_EEXIST) {
			fail(c, EXIT_FAIL, "writing ", o->name, eb.msg);
			return -1;
		}
		if (verify(c, o->name, want))
			return -1;
		c->copied++;
	} else {
		free(buf);
		fail(c, EXIT_FAIL, "in the copy: ", o->name, eb.msg);
		return -1;
	}
	c->bytes += len;
	return 0;
}

static void *worker(void *arg)
{
	struct copy *c = arg;
	for (;;) {
		size_t i = c->next++;
		if (i >= c->n || c->failed)
			break;
		copy_one(c, &c->v[i]);
		c->done++;
	}
	return NULL;
}

static void progress(struct copy *c, const struct timespec *t0, int final)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	double s = (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
	double mb = (double)c->bytes / 1e6;
	fprintf(stderr, "\r%zu/%zu objects, %.1f MB, %.1f MB/s   %s", (size_t)c->done, c->n, mb,
	        s > 0 ? mb / s : 0.0, final ? "\n" : "");
}

static void check_note(void *ctx, int is_error, const char *msg)
{
	(void)ctx;
	fprintf(is_error ? stdout : stderr, "%s: %s\n", is_error ? "error" : "note", msg);
}

static char *password(const char *file)
{
	if (!file) {
		const char *v = getenv("ROOST_PASSWORD");
		return v && *v ? strdup(v) : NULL;
	}
	FILE *f = fopen(file, "r");
	char line[4096];
	if (!f || !fgets(line, sizeof(line), f)) {
		if (f)
			fclose(f);
		return NULL;
	}
	fclose(f);
	line[strcspn(line, "\r\n")] = 0;
	return *line ? strdup(line) : NULL;
}

static int open_backend(const char *loc, int create, struct roost_backend **b)
{
	struct roost_errbuf eb = {{0}};
	enum roost_err err = roost_backend_open(loc, create, b, &eb);
	if (err)
		return cli_fail(err == ROOST_ENOENT || err == ROOST_EINVAL ? EXIT_USAGE : EXIT_FAIL,
		                "%s", eb.msg);
	return 0;
}

static int run_copy(struct copy *c, long jobs)
{
	struct roost_errbuf eb = {{0}};
	for (size_t t = 0; t < sizeof(kTypes) / sizeof(kTypes[0]); t++)
		if (c->from->ops->list(c->from, kTypes[t], add_object, c, &eb))
			return cli_fail(EXIT_FAIL, "listing %s of %s: %s", kTypes[t], c->from->location,
			                eb.msg);
	/* the config last: a copy without it is not a repository yet */
	uint64_t csize;
	if (c->from->ops->stat(c->from, "config", &csize, &eb))
		return cli_fail(EXIT_USAGE, "%s is not a roost repository: %s", c->from->location,
		                eb.msg);
	struct object config = {.name = "config", .size = csize};
	uint64_t total = csize;
	for (size_t i = 0; i < c->n; i++)
		total += c->v[i].size;
	fprintf(stderr, "copying %zu objects (%.1f MB) from %s to %s\n", c->n + 1,
	        (double)total / 1e6, c->from->location, c->to->location);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_t th[64];
	long started = 0;
	for (; started < jobs; started++)
		if (pthread_create(&th[started], NULL, worker, c))
			break;
	if (!started)
		return cli_fail(EXIT_FAIL, "could not start a thread");
	int tty = isatty(2);
	while (c->done < c->n && !c->failed) {
		struct timespec d = {0, 200 * 1000 * 1000};
		nanosleep(&d, NULL);
		if (tty)
			progress(c, &t0, 0);
	}
	for (long i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (!c->failed && !copy_one(c, &config))
		c->done++;
	if (tty)
		progress(c, &t0, 1);
	if (c->failed)
		return cli_fail(c->failed, "copy stopped: %s", c->error);
	printf("copied %zu objects, %zu were already there; all %zu verified (%.1f MB)\n",
	       (size_t)c->copied, (size_t)c->present, (size_t)c->done, (double)c->bytes / 1e6);
	return 0;
}

int cmd_repo_copy(int argc, char **argv)
{
	const char *from = getenv("ROOST_REPOSITORY"), *to = NULL, *pwf = NULL;
	int read_data = 0, no_check = 0;
	long long jobs = 4;
	static const struct option opts[] = {
		{"repo", required_argument, 0, 'r'},
		{"to", required_argument, 0, 't'},
		{"jobs", required_argument, 0, 'j'},
		{"read-data", no_argument, 0, 'D'},
		{"no-check", no_argument, 0, 'N'},
		{"password-file", required_argument, 0, 'p'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	optind = 1;
	opterr = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, ":r:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'r': from = optarg; break;
		case 't': to = optarg; break;
		case 'j':
			if (cli_parse_int(optarg, 1, 64, &jobs))
				return cli_fail(EXIT_USAGE, "--jobs: 1 to 64");
			break;
		case 'D': read_data = 1; break;
		case 'N': no_check = 1; break;
		case 'p': pwf = optarg; break;
		case 'h': fputs(copy_usage, stdout); return EXIT_OK;
		case ':': return cli_fail(EXIT_USAGE, "%s needs a value", argv[optind - 1]);
		default:
			return cli_fail(EXIT_USAGE, "unknown option \"%s\" (see roost repo copy --help)",
			                argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_fail(EXIT_USAGE, "copy: unexpected argument \"%s\"", argv[optind]);
	if (!from || !to)
		return cli_fail(EXIT_USAGE, "usage: roost repo copy -r FROM --to TO");
	if (!strcmp(from, to))
		return cli_fail(EXIT_USAGE, "copy: FROM and TO are the same location");
	if (sodium_init() < 0)
		return cli_fail(EXIT_FAIL, "libsodium failed to initialize");
	struct copy c = {0};
	pthread_mutex_init(&c.lock, NULL);
	int rc = open_backend(from, 0, &c.from);
	if (!rc)
		rc = open_backend(to, 1, &c.to);
	if (!rc) {
		/* TO holds another repository? (its config differs from FROM's) */
		struct roost_errbuf eb = {{0}};
		uint8_t *a = NULL, *b = NULL;
		size_t an = 0, bn = 0;
		if (c.to->ops->get(c.to, "config", &b, &bn, &eb) == ROOST_OK) {
			if (c.from->ops->get(c.from, "config", &a, &an, &eb) == ROOST_OK &&
			    (an != bn || memcmp(a, b, an)))
				rc = cli_fail(EXIT_USAGE, "%s holds another repository", to);
		}
		free(a);
		free(b);
	}
	if (!rc)
		rc = run_copy(&c, (long)jobs);
	if (!rc && !no_check) {
		char *pw = password(pwf);
		if (!pw) {
			fprintf(stderr, "note: no password (ROOST_PASSWORD or --password-file): the copy "
			                "was verified object by object, not opened\n");
		} else {
			struct roost_repo *r = NULL;
			struct roost_errbuf eb = {{0}};
			enum roost_err err = roost_repo_open(c.to, pw, &r, &eb);
			sodium_memzero(pw, strlen(pw));
			free(pw);
			if (err) {
				rc = cli_fail(err == ROOST_ECORRUPT ? EXIT_INTEGRITY : EXIT_FAIL,
				              "opening the copy: %s", eb.msg);
			} else {
				struct roost_check_opts co = {.read_data = read_data, .report = check_note};
				struct roost_check_result res;
				if (roost_repo_check(r, &co, &res, &eb)) {
					rc = cli_fail(EXIT_FAIL, "checking the copy: %s", eb.msg);
				} else {
					printf("checked the copy: %llu snapshots, %llu packs%s, %llu errors\n",
					       (unsigned long long)res.snapshots,
					       (unsigned long long)res.packs,
					       read_data ? " (all data read)" : "",
					       (unsigned long long)res.errors);
					if (res.errors)
						rc = EXIT_INTEGRITY;
				}
				roost_repo_close(r);
			}
		}
	}
	for (size_t i = 0; i < c.n; i++)
		free(c.v[i].name);
	free(c.v);
	roost_backend_close(c.from);
	roost_backend_close(c.to);
	pthread_mutex_destroy(&c.lock);
	return rc;
}
