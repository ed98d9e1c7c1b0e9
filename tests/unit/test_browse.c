/* SPDX-License-Identifier: MIT */
/* Unit tests of snapshot browsing: server/browse.c's path normalisation and
 * lib/repo/serve.c's lookups (a prefix resolved, a directory listed, a
 * file's extents and blobs) on a local repository. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "browse.h"
#include "roost/backend.h"
#include "roost/repo.h"

static void norm_ok(const char *in, const char *want)
{
	char out[64];
	assert_int_equal(browse_path_normalise(in, strlen(in), out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void norm_bad(const char *in, size_t n, size_t cap)
{
	char out[64];
	assert_int_equal(browse_path_normalise(in, n, out, cap), -1);
}

static void test_path_normalise(void **st)
{
	(void)st;
	norm_ok("/", "/");
	norm_ok("//", "/");
	norm_ok("/.", "/");
	norm_ok("/a/b", "/a/b");
	norm_ok("/a/b/", "/a/b");
	norm_ok("//a///b//", "/a/b");
	norm_ok("/a/./b/.", "/a/b");
	norm_ok("/a/.b/..c/...", "/a/.b/..c/...");
	norm_ok("/with space/ünï\ncode", "/with space/ünï\ncode");
	norm_bad("", 0, 64);
	norm_bad("a/b", 3, 64);
	norm_bad("./a", 3, 64);
	norm_bad("/a/../b", 7, 64);
	norm_bad("/..", 3, 64);
	norm_bad("/a/..", 5, 64);
	norm_bad("/a\0b", 4, 64); /* a NUL inside: never a name */
	norm_bad("/abcdef", 7, 7); /* does not fit with its NUL */
	char out[8];
	assert_int_equal(browse_path_normalise("/abcdef", 7, out, 8), 0);
	assert_string_equal(out, "/abcdef");
}

struct listing {
	char names[16][64];
	int types[16];
	uint64_t sizes[16];
	size_t n;
};

static void collect(void *ctx, const struct roost_bentry *e)
{
	struct listing *l = ctx;
	if (l->n < 16) {
		snprintf(l->names[l->n], sizeof(l->names[0]), "%.*s", (int)e->name_len, e->name);
		l->types[l->n] = e->type;
		l->sizes[l->n++] = e->size;
	}
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

static void test_serve_lookups(void **st)
{
	(void)st;
	char dir[] = "/tmp/b-unit-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char repo[600], src[600], cache[600], p[700];
	snprintf(repo, sizeof(repo), "%s/repo", dir);
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	assert_int_equal(mkdir(src, 0700), 0);
	snprintf(p, sizeof(p), "%s/sub", src);
	assert_int_equal(mkdir(p, 0750), 0);
	size_t big = 3u << 20; /* several blobs */
	uint8_t *data = malloc(big);
	assert_non_null(data);
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < big; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		data[i] = (uint8_t)x;
	}
	snprintf(p, sizeof(p), "%s/sub/big", src);
	write_file(p, data, big);
	snprintf(p, sizeof(p), "%s/b.txt", src);
	write_file(p, (const uint8_t *)"hello", 5);
	snprintf(p, sizeof(p), "%s/a.txt", src);
	write_file(p, (const uint8_t *)"", 0);
	snprintf(p, sizeof(p), "%s/link", src);
	assert_int_equal(symlink("sub", p), 0);

	struct roost_backend *be;
	struct roost_errbuf eb;
	struct roost_repo *r;
	assert_int_equal(roost_backend_local_open(repo, 1, &be, &eb), ROOST_OK);
	struct roost_repo_params prm = {.kdf_ops = 1, .kdf_mem = 8192 * 16};
	assert_int_equal(roost_repo_init(be, "pw", &prm, &eb), ROOST_OK);
	assert_int_equal(roost_repo_open(be, "pw", &r, &eb), ROOST_OK);
	const char *paths[] = {src};
	struct roost_backup_opts o = {.paths = paths, .npaths = 1, .cache_dir = cache, .threads = 1};
	struct roost_backup_result res;
	assert_int_equal(roost_repo_backup(r, &o, &res, &eb), ROOST_OK);

	/* a prefix, the full id, a wrong one, a malformed one */
	char full[65], prefix[9];
	uint8_t root[32];
	snprintf(prefix, sizeof(prefix), "%.8s", res.snapshot_id);
	assert_int_equal(roost_repo_serve_resolve(r, prefix, full, root, &eb), ROOST_OK);
	assert_string_equal(full, res.snapshot_id);
	assert_int_equal(roost_repo_serve_resolve(r, res.snapshot_id, full, root, &eb), ROOST_OK);
	char other[65];
	snprintf(other, sizeof(other), "%s", res.snapshot_id);
	other[0] = other[0] == '0' ? '1' : '0';
	assert_int_equal(roost_repo_serve_resolve(r, other, full, root, &eb), ROOST_ENOENT);
	assert_int_equal(roost_repo_serve_resolve(r, "xyz", full, root, &eb), ROOST_EINVAL);
	assert_int_equal(roost_repo_serve_resolve(r, res.snapshot_id, full, root, &eb), ROOST_OK);

	/* the source directory, in name order */
	struct listing l = {0};
	int type;
	assert_int_equal(roost_repo_serve_list(r, root, src, &type, collect, &l, &eb), ROOST_OK);
	assert_int_equal(type, 2);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.names[0], "a.txt");
	assert_string_equal(l.names[1], "b.txt");
	assert_int_equal(l.sizes[1], 5);
	assert_string_equal(l.names[2], "link");
	assert_int_equal(l.types[2], 3);
	assert_string_equal(l.names[3], "sub");
	assert_int_equal(l.types[3], 2);
	/* a file is not listed; a missing path is ENOENT, a path through a file too */
	memset(&l, 0, sizeof(l));
	snprintf(p, sizeof(p), "%s/b.txt", src);
	assert_int_equal(roost_repo_serve_list(r, root, p, &type, collect, &l, &eb), ROOST_OK);
	assert_int_equal(type, 1);
	assert_int_equal(l.n, 0);
	snprintf(p, sizeof(p), "%s/nope", src);
	assert_int_equal(roost_repo_serve_list(r, root, p, &type, collect, &l, &eb), ROOST_ENOENT);
	snprintf(p, sizeof(p), "%s/b.txt/x", src);
	assert_int_equal(roost_repo_serve_list(r, root, p, &type, collect, &l, &eb), ROOST_ENOENT);
	assert_int_equal(roost_repo_serve_list(r, root, "/", &type, collect, &l, &eb), ROOST_OK);
	assert_int_equal(type, 2);

	/* the big file: its extents, read blob by blob, are its bytes */
	struct roost_bextent *ext;
	size_t next;
	uint64_t size;
	snprintf(p, sizeof(p), "%s/sub/big", src);
	assert_int_equal(roost_repo_serve_file(r, root, p, &type, &size, &ext, &next, &eb), ROOST_OK);
	assert_int_equal(type, 1);
	assert_int_equal(size, big);
	assert_true(next >= 1);
	uint64_t off = 0;
	for (size_t i = 0; i < next; i++) {
		uint8_t *b;
		size_t n;
		assert_false(ext[i].hole);
		assert_int_equal(roost_repo_serve_data(r, ext[i].id, &b, &n, &eb), ROOST_OK);
		assert_int_equal(n, ext[i].len);
		assert_true(off + n <= big);
		assert_memory_equal(b, data + off, n);
		off += n;
		free(b);
	}
	assert_int_equal(off, big);
	free(ext);
	/* an empty file has no extents; a directory has none either */
	snprintf(p, sizeof(p), "%s/a.txt", src);
	assert_int_equal(roost_repo_serve_file(r, root, p, &type, &size, &ext, &next, &eb), ROOST_OK);
	assert_int_equal(type, 1);
	assert_int_equal(size, 0);
	assert_int_equal(next, 0);
	snprintf(p, sizeof(p), "%s/sub", src);
	assert_int_equal(roost_repo_serve_file(r, root, p, &type, &size, &ext, &next, &eb), ROOST_OK);
	assert_int_equal(type, 2);
	assert_null(ext);

	roost_repo_close(r);
	roost_backend_close(be);
	free(data);
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_normalise),
		cmocka_unit_test(test_serve_lookups),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
