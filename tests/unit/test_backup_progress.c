/* SPDX-License-Identifier: MIT */
/*
 * A backup reports progress for as long as it runs, including while its last
 * packs go up: behind a slow or rate-limited link (an agent's upload limit)
 * that is most of a small backup. The backend here wraps a local directory
 * and holds every pack commit for a while.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "roost/backend.h"
#include "roost/repo.h"

#define HOLD_MS 800

struct slow {
	struct roost_backend base; /* first: the engine passes this pointer */
	struct roost_backend *inner;
	struct roost_backend_ops ops;
};

static struct slow g_slow;
static volatile int g_committing;   /* a pack commit is being held */
static volatile int g_during;       /* progress calls while one was */
static volatile uint64_t g_bytes;   /* bytes_done of the last call */

static enum roost_err s_get(struct roost_backend *b, const char *name, uint8_t **buf, size_t *len,
                            struct roost_errbuf *eb)
{
	(void)b;
	return g_slow.inner->ops->get(g_slow.inner, name, buf, len, eb);
}

static enum roost_err s_get_range(struct roost_backend *b, const char *name, uint64_t off,
                                  size_t len, uint8_t *buf, struct roost_errbuf *eb)
{
	(void)b;
	return g_slow.inner->ops->get_range(g_slow.inner, name, off, len, buf, eb);
}

static enum roost_err s_put(struct roost_backend *b, const char *name, const uint8_t *buf,
                            size_t len, struct roost_errbuf *eb)
{
	(void)b;
	return g_slow.inner->ops->put(g_slow.inner, name, buf, len, eb);
}

static enum roost_err s_writer_open(struct roost_backend *b, struct roost_bwriter **w,
                                    struct roost_errbuf *eb)
{
	(void)b;
	return g_slow.inner->ops->writer_open(g_slow.inner, w, eb);
}

static enum roost_err s_writer_commit(struct roost_bwriter *w, const char *name,
                                      struct roost_errbuf *eb)
{
	if (!strncmp(name, "packs/", 6)) {
		g_committing = 1;
		struct timespec ts = {HOLD_MS / 1000, (HOLD_MS % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		g_committing = 0;
	}
	return g_slow.inner->ops->writer_commit(w, name, eb);
}

static enum roost_err s_list(struct roost_backend *b, const char *type, roost_list_cb cb, void *ctx,
                             struct roost_errbuf *eb)
{
	(void)b;
	return g_slow.inner->ops->list(g_slow.inner, type, cb, ctx, eb);
}

static enum roost_err s_stat(struct roost_backend *b, const char *name, uint64_t *size,
                             struct roost_errbuf *eb)
{
	(void)b;
	return g_slow.inner->ops->stat(g_slow.inner, name, size, eb);
}

static enum roost_err s_remove(struct roost_backend *b, const char *name, struct roost_errbuf *eb)
{
	(void)b;
	return g_slow.inner->ops->remove(g_slow.inner, name, eb);
}

static void s_close(struct roost_backend *b)
{
	(void)b;
}

static void on_progress(void *ctx, const struct roost_progress *p)
{
	(void)ctx;
	if (g_committing)
		g_during = g_during + 1;
	g_bytes = p->bytes_done;
}

static void test_progress_while_packs_go_up(void **st)
{
	(void)st;
	char dir[] = "/tmp/roost-bprog-XXXXXX", repo[600], src[600], cache[600], file[700];
	assert_non_null(mkdtemp(dir));
	snprintf(repo, sizeof(repo), "%s/repo", dir);
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	assert_int_equal(mkdir(src, 0700), 0);
	snprintf(file, sizeof(file), "%s/a", src);
	FILE *f = fopen(file, "wb");
	assert_non_null(f);
	uint32_t x = 12345;
	for (int i = 0; i < 300000; i++) { /* incompressible: one small pack */
		x = x * 1103515245u + 12345u;
		fputc((int)(x >> 24), f);
	}
	fclose(f);

	struct roost_errbuf eb;
	assert_int_equal(roost_backend_local_open(repo, 1, &g_slow.inner, &eb), ROOST_OK);
	g_slow.ops = *g_slow.inner->ops;
	g_slow.ops.get = s_get;
	g_slow.ops.get_range = s_get_range;
	g_slow.ops.put = s_put;
	g_slow.ops.writer_open = s_writer_open;
	g_slow.ops.writer_commit = s_writer_commit;
	g_slow.ops.list = s_list;
	g_slow.ops.stat = s_stat;
	g_slow.ops.remove = s_remove;
	g_slow.ops.close = s_close;
	g_slow.base.ops = &g_slow.ops;
	g_slow.base.location = g_slow.inner->location;

	struct roost_repo_params p = {.kdf_ops = 1, .kdf_mem = 8192 * 16};
	assert_int_equal(roost_repo_init(&g_slow.base, "pw", &p, &eb), ROOST_OK);
	struct roost_repo *r;
	assert_int_equal(roost_repo_open(&g_slow.base, "pw", &r, &eb), ROOST_OK);
	const char *paths[] = {src};
	struct roost_backup_opts o = {.paths = paths, .npaths = 1, .cache_dir = cache, .threads = 1,
	                              .progress = on_progress};
	struct roost_backup_result res;
	assert_int_equal(roost_repo_backup(r, &o, &res, &eb), ROOST_OK);
	/* the walk takes milliseconds; the pack's commit HOLD_MS: progress is
	 * reported about every 250 ms, so at least twice while it was held */
	assert_true(g_during >= 2);
	assert_int_equal(g_bytes, 300000);
	roost_repo_close(r);
	roost_backend_close(g_slow.inner);
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_progress_while_packs_go_up),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
