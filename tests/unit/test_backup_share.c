/* SPDX-License-Identifier: MIT */
/*
 * lib/repo/backup_share.c: while a worker waits for work, the thread reading
 * a big file hands it chunks to store. The backup must stay the same: every
 * chunk in its place, deduplicated, readable; a store that fails on the
 * helping thread fails the backup (no hang, no snapshot).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

#include "repo/repo_int.h"
#include "roost/backend.h"
#include "roost/repo.h"

#define BIG (24u << 20)

static uint8_t *g_big; /* the big file's bytes */

static void write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static uint8_t *read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *p = malloc((size_t)len + 1);
	assert_int_equal(fread(p, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	*n = (size_t)len;
	return p;
}

/* src/big: 24 MiB, random but for a run of repeated 64 KiB blocks (chunks
 * the same within the file); src/dup: big's first 3 MiB again. */
static void make_tree(const char *src)
{
	char path[300];
	assert_int_equal(mkdir(src, 0700), 0);
	g_big = malloc(BIG);
	static const uint8_t nonce[8] = {0};
	uint8_t key[32] = {7};
	crypto_stream_chacha20(g_big, BIG, nonce, key);
	for (size_t off = (8u << 20); off < (12u << 20); off += 65536)
		memcpy(g_big + off, g_big + (7u << 20), 65536);
	snprintf(path, sizeof(path), "%s/big", src);
	write_file(path, g_big, BIG);
	snprintf(path, sizeof(path), "%s/dup", src);
	write_file(path, g_big, 3u << 20);
}

static const struct roost_repo_params small_chunks = {
	.chunk_min = 16384, .chunk_avg = 65536, .chunk_max = 262144,
	.pack_size = 4u << 20, .kdf_ops = 1, .kdf_mem = 8192 * 16};

static void test_big_file_shared_and_restored(void **st)
{
	(void)st;
	char dir[] = "/tmp/roost-share-XXXXXX", repo[100], src[100], cache[100], out[100],
	     path[300];
	assert_non_null(mkdtemp(dir));
	snprintf(repo, sizeof(repo), "%s/repo", dir);
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	make_tree(src);

	struct roost_errbuf eb;
	struct roost_backend *be;
	assert_int_equal(roost_backend_local_open(repo, 1, &be, &eb), ROOST_OK);
	assert_int_equal(roost_repo_init(be, "pw", &small_chunks, &eb), ROOST_OK);
	struct roost_repo *r;
	assert_int_equal(roost_repo_open(be, "pw", &r, &eb), ROOST_OK);
	const char *paths[] = {src};
	struct roost_backup_opts o = {.paths = paths, .npaths = 1, .cache_dir = cache, .threads = 2};
	struct roost_backup_result res;
	unsigned long before = share_count();
	assert_int_equal(roost_repo_backup(r, &o, &res, &eb), ROOST_OK);
	/* two files, ~430 chunks: the worker without a file gets some of them */
	assert_true(share_count() > before);
	assert_int_equal(res.summary.files, 2);
	assert_int_equal(res.errors, 0);
	/* the repeated blocks and dup's 3 MiB are stored once */
	assert_true(res.summary.bytes_new < BIG - (3u << 20));

	struct roost_check_opts co = {.read_data = 1};
	struct roost_check_result cr;
	assert_int_equal(roost_repo_check(r, &co, &cr, &eb), ROOST_OK);
	assert_int_equal(cr.errors, 0);

	struct roost_snapshot s;
	assert_int_equal(roost_repo_find_snapshot(r, "latest", &s, &eb), ROOST_OK);
	struct roost_restore_opts ro = {.target = out, .threads = 2};
	struct roost_restore_result rr;
	assert_int_equal(roost_repo_restore(r, &s, &ro, &rr, &eb), ROOST_OK);
	roost_snapshot_release(&s);
	size_t n;
	snprintf(path, sizeof(path), "%s%s/big", out, src);
	uint8_t *got = read_file(path, &n);
	assert_int_equal(n, BIG);
	assert_memory_equal(got, g_big, BIG);
	free(got);
	snprintf(path, sizeof(path), "%s%s/dup", out, src);
	got = read_file(path, &n);
	assert_int_equal(n, 3u << 20);
	assert_memory_equal(got, g_big, 3u << 20);
	free(got);

	roost_repo_close(r);
	roost_backend_close(be);
	free(g_big);
	char cmd[100];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* A backend whose pack writes fail once 6 MiB went out, whichever thread
 * writes. */
struct failing {
	struct roost_backend base;
	struct roost_backend *inner;
	struct roost_backend_ops ops;
};
static struct failing g_fail;
static atomic_ulong g_written;
static const struct roost_backend_ops *g_inner_ops;

static enum roost_err f_write(struct roost_bwriter *w, const uint8_t *buf, size_t len,
                              struct roost_errbuf *eb)
{
	if (atomic_fetch_add(&g_written, len) + len > (6u << 20))
		return roost_errf(eb, ROOST_EIO, "injected write failure");
	return g_inner_ops->writer_write(w, buf, len, eb);
}

static enum roost_err f_get(struct roost_backend *b, const char *name, uint8_t **buf,
                            size_t *len, struct roost_errbuf *eb)
{
	(void)b;
	return g_inner_ops->get(g_fail.inner, name, buf, len, eb);
}

static enum roost_err f_get_range(struct roost_backend *b, const char *name, uint64_t off,
                                  size_t len, uint8_t *buf, struct roost_errbuf *eb)
{
	(void)b;
	return g_inner_ops->get_range(g_fail.inner, name, off, len, buf, eb);
}

static enum roost_err f_put(struct roost_backend *b, const char *name, const uint8_t *buf,
                            size_t len, struct roost_errbuf *eb)
{
	(void)b;
	return g_inner_ops->put(g_fail.inner, name, buf, len, eb);
}

static enum roost_err f_writer_open(struct roost_backend *b, struct roost_bwriter **w,
                                    struct roost_errbuf *eb)
{
	(void)b;
	return g_inner_ops->writer_open(g_fail.inner, w, eb);
}

static enum roost_err f_list(struct roost_backend *b, const char *type, roost_list_cb cb,
                             void *ctx, struct roost_errbuf *eb)
{
	(void)b;
	return g_inner_ops->list(g_fail.inner, type, cb, ctx, eb);
}

static enum roost_err f_stat(struct roost_backend *b, const char *name, uint64_t *size,
                             struct roost_errbuf *eb)
{
	(void)b;
	return g_inner_ops->stat(g_fail.inner, name, size, eb);
}

static enum roost_err f_remove(struct roost_backend *b, const char *name, struct roost_errbuf *eb)
{
	(void)b;
	return g_inner_ops->remove(g_fail.inner, name, eb);
}

static void test_failure_while_shared_fails_the_backup(void **st)
{
	(void)st;
	char dir[] = "/tmp/roost-share-XXXXXX", repo[100], src[100], cache[100];
	assert_non_null(mkdtemp(dir));
	snprintf(repo, sizeof(repo), "%s/repo", dir);
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	make_tree(src);

	struct roost_errbuf eb;
	assert_int_equal(roost_backend_local_open(repo, 1, &g_fail.inner, &eb), ROOST_OK);
	g_inner_ops = g_fail.inner->ops;
	g_fail.ops = *g_inner_ops;
	g_fail.ops.get = f_get;
	g_fail.ops.get_range = f_get_range;
	g_fail.ops.put = f_put;
	g_fail.ops.writer_open = f_writer_open;
	g_fail.ops.writer_write = f_write;
	g_fail.ops.list = f_list;
	g_fail.ops.stat = f_stat;
	g_fail.ops.remove = f_remove;
	g_fail.ops.close = NULL;
	g_fail.base = *g_fail.inner;
	g_fail.base.ops = &g_fail.ops;
	assert_int_equal(roost_repo_init(g_fail.inner, "pw", &small_chunks, &eb), ROOST_OK);
	struct roost_repo *r;
	assert_int_equal(roost_repo_open(&g_fail.base, "pw", &r, &eb), ROOST_OK);
	const char *paths[] = {src};
	struct roost_backup_opts o = {.paths = paths, .npaths = 1, .cache_dir = cache, .threads = 2};
	struct roost_backup_result res;
	unsigned long before = share_count();
	assert_int_not_equal(roost_repo_backup(r, &o, &res, &eb), ROOST_OK);
	assert_non_null(strstr(eb.msg, "injected"));
	assert_true(share_count() > before);
	struct roost_snapshot *snaps;
	size_t ns;
	assert_int_equal(roost_repo_snapshots(r, &snaps, &ns, NULL, NULL, &eb), ROOST_OK);
	assert_int_equal(ns, 0);
	roost_snapshots_free(snaps, ns);

	roost_repo_close(r);
	roost_backend_close(g_fail.inner);
	free(g_big);
	char cmd[100];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_big_file_shared_and_restored),
		cmocka_unit_test(test_failure_while_shared_fails_the_backup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
