/* SPDX-License-Identifier: MIT */
/*
 * Group dedup `host` (issue 18): blobs whose ids are made with a per-host id
 * key, next to blobs under the fleet's id key, in one repository. Hosts' keys
 * differ, a host-keyed backup does not deduplicate against the fleet's blobs,
 * and check --read-data and prune's repack (which mixes both kinds of blob in
 * one pack) verify each blob with the key its entry names.
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
#include <sodium.h>
#include "repo/repo_int.h"
#include "roost/backend.h"
#include "roost/proto.h"
#include "roost/repo.h"

static void write_random(const char *path, size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n), key[32] = {0}, nonce[8] = {0};
	assert_non_null(p);
	memcpy(key, &seed, sizeof(seed));
	crypto_stream_chacha20(p, n, nonce, key);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
	free(p);
}

static uint64_t backup_new_bytes(struct roost_repo *r, const char *src, const char *cache)
{
	const char *paths[] = {src};
	struct roost_backup_opts o = {.paths = paths, .npaths = 1, .cache_dir = cache, .threads = 1};
	struct roost_backup_result res;
	struct roost_errbuf eb;
	assert_int_equal(roost_repo_backup(r, &o, &res, &eb), ROOST_OK);
	return res.summary.bytes_new;
}

static void check_clean(struct roost_backend *be)
{
	struct roost_repo *r;
	struct roost_errbuf eb;
	assert_int_equal(roost_repo_open(be, "pw", &r, &eb), ROOST_OK);
	struct roost_check_opts co = {.read_data = 1};
	struct roost_check_result cr;
	assert_int_equal(roost_repo_check(r, &co, &cr, &eb), ROOST_OK);
	assert_int_equal(cr.errors, 0);
	roost_repo_close(r);
}

static void test_host_dedup(void **st)
{
	(void)st;
	char dir[] = "/tmp/dh-unit-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char repo[600], src[600], file[700], cache[700];
	snprintf(repo, sizeof(repo), "%s/repo", dir);
	snprintf(src, sizeof(src), "%s/src", dir);
	assert_int_equal(mkdir(src, 0700), 0);
	snprintf(file, sizeof(file), "%s/a", src);
	write_random(file, 900000, 5);
	snprintf(file, sizeof(file), "%s/b", src);
	write_random(file, 600000, 6);
	struct roost_backend *be;
	struct roost_errbuf eb;
	struct roost_repo *r, *h;
	assert_int_equal(roost_backend_local_open(repo, 1, &be, &eb), ROOST_OK);
	struct roost_repo_params p = {.kdf_ops = 1, .kdf_mem = 8192 * 16, .pack_size = 8 << 20};
	assert_int_equal(roost_repo_init(be, "pw", &p, &eb), ROOST_OK);
	assert_int_equal(roost_repo_open(be, "pw", &r, &eb), ROOST_OK);
	/* the fleet's material and two hosts': only the id key differs */
	uint8_t m[ROOST_PUT_MATERIAL_LEN], h7[ROOST_PUT_HOST_LEN], h8[ROOST_PUT_HOST_LEN];
	assert_int_equal(roost_repo_put_material(r, m, sizeof(m), &eb), ROOST_OK);
	assert_int_equal(roost_repo_put_material_host(r, 7, h7, sizeof(h7), &eb), ROOST_OK);
	assert_int_equal(roost_repo_put_material_host(r, 8, h8, sizeof(h8), &eb), ROOST_OK);
	assert_int_equal(roost_repo_put_material_host(r, 0, h8, sizeof(h8), &eb), ROOST_EINVAL);
	assert_memory_not_equal(h7, h8, 32);
	assert_memory_not_equal(h7, m, 32);
	assert_memory_not_equal(h8, m, 32);
	assert_memory_equal(h7 + 32, m + 32, 96);
	assert_int_equal(h7[128], 7);
	uint8_t k7[32];
	assert_int_equal(keys_id_key(&r->keys, 7, k7), 0);
	assert_memory_equal(k7, h7, 32);
	/* the fleet: everything new */
	snprintf(cache, sizeof(cache), "%s/c0", dir);
	assert_true(backup_new_bytes(r, src, cache) >= 1500000);
	roost_repo_close(r);
	/* host 7, same data: stored anew, then deduplicated against itself */
	assert_int_equal(roost_repo_open_put(be, h7, sizeof(h7), &h, &eb), ROOST_OK);
	assert_int_equal(keys_id_key(&h->keys, 0, k7), -1); /* no fleet id key */
	assert_int_equal(keys_id_key(&h->keys, 8, k7), -1);
	snprintf(cache, sizeof(cache), "%s/c7", dir);
	assert_true(backup_new_bytes(h, src, cache) >= 1500000);
	snprintf(cache, sizeof(cache), "%s/c7b", dir);
	assert_true(backup_new_bytes(h, src, cache) < 1000);
	roost_repo_close(h);
	/* host 8: its own ids again */
	assert_int_equal(roost_repo_open_put(be, h8, sizeof(h8), &h, &eb), ROOST_OK);
	snprintf(cache, sizeof(cache), "%s/c8", dir);
	assert_true(backup_new_bytes(h, src, cache) >= 1500000);
	roost_repo_close(h);
	/* the full key verifies every blob with its own id key */
	check_clean(be);
	/* prune: the three small packs are repacked into one, mixed */
	assert_int_equal(roost_repo_open(be, "pw", &r, &eb), ROOST_OK);
	struct roost_prune_opts po = {.grace_s = 0, .now = time(NULL)};
	struct roost_prune_result pr;
	assert_int_equal(roost_repo_prune(r, &po, &pr, &eb), ROOST_OK);
	assert_true(pr.blobs_repacked > 0);
	po.now += 10;
	assert_int_equal(roost_repo_prune(r, &po, &pr, &eb), ROOST_OK);
	assert_true(pr.packs_deleted > 0);
	roost_repo_close(r);
	check_clean(be);
	/* host 7 still deduplicates against its repacked blobs */
	assert_int_equal(roost_repo_open_put(be, h7, sizeof(h7), &h, &eb), ROOST_OK);
	snprintf(cache, sizeof(cache), "%s/c7c", dir);
	assert_true(backup_new_bytes(h, src, cache) < 1000);
	roost_repo_close(h);
	check_clean(be);
	roost_backend_close(be);
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* the wire: a group's dedup and the config's put_key_host */
static void test_proto_dedup(void **st)
{
	(void)st;
	static const char *cfg =
		"{\"type\":\"config\",\"host_id\":5,\"name\":\"h\",\"mode\":\"always-on\","
		"\"groups\":[{\"id\":1,\"name\":\"g\",\"paths\":[\"/a\"],\"excludes\":[],"
		"\"host_id\":5,\"dedup\":\"host\"},{\"id\":2,\"name\":\"f\",\"paths\":[\"/b\"],"
		"\"excludes\":[],\"host_id\":5}],\"schedules\":[],"
		"\"repository\":{\"url\":\"/v1/repo\",\"put_key_host\":\"aG9zdA==\"}}";
	struct proto_server_msg m;
	struct roost_errbuf eb = {{0}};
	assert_int_equal(proto_decode_server(cfg, strlen(cfg), &m, &eb), ROOST_OK);
	assert_int_equal(m.config.ngroups, 2);
	assert_int_equal(m.config.groups[0].dedup_host, 1);
	assert_int_equal(m.config.groups[1].dedup_host, 0);
	assert_string_equal(m.config.repo_put_key_host, "aG9zdA==");
	assert_string_equal(m.config.repo_put_key, "");
	json_t *o = NULL;
	assert_int_equal(proto_encode_config(&m.config, &o, &eb), ROOST_OK);
	json_t *g = json_array_get(json_object_get(o, "groups"), 0);
	assert_string_equal(json_string_value(json_object_get(g, "dedup")), "host");
	g = json_array_get(json_object_get(o, "groups"), 1);
	assert_null(json_object_get(g, "dedup")); /* fleet: omitted */
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "repository"),
	                                                      "put_key_host")),
	                    "aG9zdA==");
	json_decref(o);
	proto_server_msg_release(&m);
	char bad[1024];
	snprintf(bad, sizeof(bad), "%s", cfg);
	memcpy(strstr(bad, "\"host\"}"), "\"nope\"", 6);
	assert_int_equal(proto_decode_server(bad, strlen(bad), &m, &eb), ROOST_EINVAL);
}

/* Fills a large stretch of the stack below the caller with the 32-bit word v. */
static __attribute__((noinline)) void dirty_stack(uint32_t v)
{
	volatile uint32_t junk[16384];
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		junk[i] = v;
}

/* A host's id key depends on the repository and the host only, never on what
 * was on the stack when the repository was opened: with a stack full of 2s,
 * an uninitialized host_idk read 2 and host 2's key came out as the stale
 * host_id bytes (roostd on PostgreSQL sent such a key to an agent, whose
 * blobs then failed check --read-data). */
static void test_host_key_independent_of_stack(void **st)
{
	(void)st;
	char dir[] = "/tmp/dh-stack-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char repo[600];
	snprintf(repo, sizeof(repo), "%s/repo", dir);
	struct roost_backend *be;
	struct roost_errbuf eb;
	assert_int_equal(roost_backend_local_open(repo, 1, &be, &eb), ROOST_OK);
	struct roost_repo_params p = {.kdf_ops = 1, .kdf_mem = 8192 * 16, .pack_size = 8 << 20};
	assert_int_equal(roost_repo_init(be, "pw", &p, &eb), ROOST_OK);
	uint8_t m[2][ROOST_PUT_HOST_LEN], stale[32];
	for (int i = 0; i < 2; i++) {
		struct roost_repo *r;
		dirty_stack(i ? 3 : 2);
		assert_int_equal(roost_repo_open(be, "pw", &r, &eb), ROOST_OK);
		assert_int_equal(roost_repo_put_material_host(r, 2, m[i], sizeof(m[i]), &eb), ROOST_OK);
		/* a full key holds no host's second id key */
		assert_int_equal(r->keys.host_idk, 0);
		roost_repo_close(r);
	}
	for (size_t i = 0; i < sizeof(stale); i += 4)
		memcpy(stale + i, &(uint32_t){2}, 4);
	assert_memory_not_equal(m[0], stale, sizeof(stale));
	assert_memory_equal(m[0], m[1], sizeof(m[0]));
	roost_backend_close(be);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_dedup),
		cmocka_unit_test(test_proto_dedup),
		cmocka_unit_test(test_host_key_independent_of_stack),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
