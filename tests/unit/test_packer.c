/* SPDX-License-Identifier: MIT */
/*
 * lib/repo/packer.c's committers: a backend that asks for two commits at
 * once (roost_backend.commit_threads, as roostd's object API does) gets two
 * packs in flight side by side, one that asks for nothing gets one at a
 * time; and when one of two packs in flight fails, the backup fails while
 * every index object written names only packs whose commit returned, so
 * `check --read-data` finds nothing missing. The backend here wraps a local
 * directory and holds every pack commit for a while.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "roost/backend.h"
#include "roost/repo.h"

#define HOLD_MS 300

struct held {
	struct roost_backend base; /* first: the engine passes this pointer */
	struct roost_backend *inner;
	struct roost_backend_ops ops;
};

static struct held g_be;
static int g_inflight, g_max_inflight, g_commits, g_fail_nth; /* under g_mu */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static enum roost_err s_get(struct roost_backend *b, const char *name, uint8_t **buf, size_t *len,
                            struct roost_errbuf *eb)
{
	(void)b;
	return g_be.inner->ops->get(g_be.inner, name, buf, len, eb);
}

static enum roost_err s_get_range(struct roost_backend *b, const char *name, uint64_t off,
                                  size_t len, uint8_t *buf, struct roost_errbuf *eb)
{
	(void)b;
	return g_be.inner->ops->get_range(g_be.inner, name, off, len, buf, eb);
}

static enum roost_err s_put(struct roost_backend *b, const char *name, const uint8_t *buf,
                            size_t len, struct roost_errbuf *eb)
{
	(void)b;
	return g_be.inner->ops->put(g_be.inner, name, buf, len, eb);
}

static enum roost_err s_writer_open(struct roost_backend *b, struct roost_bwriter **w,
                                    struct roost_errbuf *eb)
{
	(void)b;
	return g_be.inner->ops->writer_open(g_be.inner, w, eb);
}

/* A pack's commit is held HOLD_MS (an upload and the server's fsync); the
 * g_fail_nth-th one then fails instead of committing. */
static enum roost_err s_writer_commit(struct roost_bwriter *w, const char *name,
                                      struct roost_errbuf *eb)
{
	if (strncmp(name, "packs/", 6))
		return g_be.inner->ops->writer_commit(w, name, eb);
	pthread_mutex_lock(&g_mu);
	int nth = ++g_commits;
	if (++g_inflight > g_max_inflight)
		g_max_inflight = g_inflight;
	pthread_mutex_unlock(&g_mu);
	struct timespec ts = {0, HOLD_MS * 1000000L};
	nanosleep(&ts, NULL);
	enum roost_err err;
	if (nth == g_fail_nth) {
		g_be.inner->ops->writer_abort(w);
		err = roost_errf(eb, ROOST_EIO, "%s: connection lost (test)", name);
	} else {
		err = g_be.inner->ops->writer_commit(w, name, eb);
	}
	pthread_mutex_lock(&g_mu);
	g_inflight--;
	pthread_mutex_unlock(&g_mu);
	return err;
}

static enum roost_err s_list(struct roost_backend *b, const char *type, roost_list_cb cb, void *ctx,
                             struct roost_errbuf *eb)
{
	(void)b;
	return g_be.inner->ops->list(g_be.inner, type, cb, ctx, eb);
}

static enum roost_err s_stat(struct roost_backend *b, const char *name, uint64_t *size,
                             struct roost_errbuf *eb)
{
	(void)b;
	return g_be.inner->ops->stat(g_be.inner, name, size, eb);
}

static void s_close(struct roost_backend *b)
{
	(void)b;
}

struct run {
	char dir[64];
	enum roost_err backup_err;
	struct roost_check_result check;
	uint64_t packs_on_disk;
};

static int count_cb(void *ctx, const char *name, uint64_t size)
{
	(void)name;
	(void)size;
	(*(uint64_t *)ctx)++;
	return 0;
}

/* A backup of 6 MiB of incompressible bytes in 512 KiB packs through the
 * held backend asking for `threads` committers, then check --read-data. */
static void run_backup(unsigned threads, int fail_nth, struct run *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->dir, sizeof(out->dir), "/tmp/roost-packer-XXXXXX");
	assert_non_null(mkdtemp(out->dir));
	char repo[128], src[128], cache[128], file[160];
	snprintf(repo, sizeof(repo), "%s/repo", out->dir);
	snprintf(src, sizeof(src), "%s/src", out->dir);
	snprintf(cache, sizeof(cache), "%s/cache", out->dir);
	assert_int_equal(mkdir(src, 0700), 0);
	uint32_t x = 12345;
	for (int f = 0; f < 3; f++) {
		snprintf(file, sizeof(file), "%s/f%d", src, f);
		FILE *fp = fopen(file, "wb");
		assert_non_null(fp);
		for (int i = 0; i < (2 << 20); i++) {
			x = x * 1103515245u + 12345u;
			fputc((int)(x >> 24), fp);
		}
		fclose(fp);
	}
	pthread_mutex_lock(&g_mu);
	g_inflight = g_max_inflight = g_commits = 0;
	g_fail_nth = fail_nth;
	pthread_mutex_unlock(&g_mu);

	struct roost_errbuf eb;
	memset(&g_be, 0, sizeof(g_be));
	assert_int_equal(roost_backend_local_open(repo, 1, &g_be.inner, &eb), ROOST_OK);
	g_be.ops = *g_be.inner->ops;
	g_be.ops.get = s_get;
	g_be.ops.get_range = s_get_range;
	g_be.ops.put = s_put;
	g_be.ops.writer_open = s_writer_open;
	g_be.ops.writer_commit = s_writer_commit;
	g_be.ops.list = s_list;
	g_be.ops.stat = s_stat;
	g_be.ops.close = s_close;
	g_be.base.ops = &g_be.ops;
	g_be.base.location = g_be.inner->location;
	g_be.base.commit_threads = threads;

	struct roost_repo_params p = {.kdf_ops = 1, .kdf_mem = 8192 * 16, .chunk_min = 64 << 10,
	                              .chunk_avg = 128 << 10, .chunk_max = 256 << 10,
	                              .pack_size = 512 << 10};
	assert_int_equal(roost_repo_init(&g_be.base, "pw", &p, &eb), ROOST_OK);
	struct roost_repo *r;
	assert_int_equal(roost_repo_open(&g_be.base, "pw", &r, &eb), ROOST_OK);
	const char *paths[] = {src};
	struct roost_backup_opts o = {.paths = paths, .npaths = 1, .cache_dir = cache, .threads = 2};
	struct roost_backup_result res;
	out->backup_err = roost_repo_backup(r, &o, &res, &eb);
	roost_repo_close(r);

	/* a fresh open, as a later reader: what the index objects name is there */
	assert_int_equal(roost_repo_open(&g_be.base, "pw", &r, &eb), ROOST_OK);
	struct roost_check_opts co = {.read_data = 1};
	assert_int_equal(roost_repo_check(r, &co, &out->check, &eb), ROOST_OK);
	roost_repo_close(r);
	assert_int_equal(g_be.inner->ops->list(g_be.inner, "packs", count_cb, &out->packs_on_disk, &eb),
	                 ROOST_OK);
	roost_backend_close(g_be.inner);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", out->dir);
	assert_int_equal(system(cmd), 0);
}

static void test_two_in_flight(void **st)
{
	(void)st;
	struct run r;
	run_backup(2, 0, &r);
	assert_int_equal(r.backup_err, ROOST_OK);
	assert_true(g_commits >= 8); /* 6 MiB in 512 KiB packs */
	assert_int_equal(g_max_inflight, 2);
	assert_int_equal(r.check.errors, 0);
	assert_int_equal(r.check.warnings, 0); /* no pack left out of the index */
	assert_int_equal(r.check.snapshots, 1);
}

static void test_one_by_default(void **st)
{
	(void)st;
	struct run r;
	run_backup(0, 0, &r);
	assert_int_equal(r.backup_err, ROOST_OK);
	assert_true(g_commits >= 8);
	assert_int_equal(g_max_inflight, 1);
	assert_int_equal(r.check.errors, 0);
}

static void test_failed_pack_beside_another(void **st)
{
	(void)st;
	struct run r;
	run_backup(2, 3, &r); /* the third pack's upload fails, another is in flight */
	assert_int_not_equal(r.backup_err, ROOST_OK);
	assert_int_equal(g_max_inflight, 2);
	/* the packs that did commit are indexed (a failed backup's packs stay
	 * usable), the failed one is named nowhere, and no snapshot was made */
	assert_int_equal(r.check.errors, 0);
	assert_int_equal(r.check.warnings, 0);
	assert_true(r.packs_on_disk >= 1);
	assert_int_equal(r.check.snapshots, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_in_flight),
		cmocka_unit_test(test_one_by_default),
		cmocka_unit_test(test_failed_pack_beside_another),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
