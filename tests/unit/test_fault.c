/* SPDX-License-Identifier: MIT */
/* Unit tests of server/fault.c (ROOST_FAULT) and server/objcheck.c (uploads
 * checked against their names). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <fcntl.h>
#include <unistd.h>
#include <sodium.h>

#include "fault.h"
#include "objcheck.h"

static void test_fault_spec(void **st)
{
	(void)st;
	char msg[256];
	assert_int_equal(fault_init(NULL, msg, sizeof(msg)), 0);
	assert_int_equal(fault_hit("commit"), 0);
	assert_int_equal(fault_init("commit:3", msg, sizeof(msg)), 0);
	assert_int_equal(fault_hit("commit"), 0);
	assert_int_equal(fault_hit("store_write"), 0); /* not armed */
	assert_int_equal(fault_hit("commit"), 0);
	assert_int_equal(fault_hit("commit"), 1); /* the third */
	assert_int_equal(fault_hit("commit"), 0);
	assert_int_equal(fault_init("commit:2+,store_write:1", msg, sizeof(msg)), 0);
	assert_int_equal(fault_hit("store_write"), 1);
	assert_int_equal(fault_hit("store_write"), 0);
	assert_int_equal(fault_hit("commit"), 0);
	assert_int_equal(fault_hit("commit"), 1);
	assert_int_equal(fault_hit("commit"), 1); /* and every later one */
	const char *bad[] = {"commit", "commit:", "commit:0", ":3", "commit:x", "commit:3x",
	                     "a:1,b:1,c:1,d:1,e:1,f:1,g:1,h:1,i:1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg[0] = 0;
		assert_int_equal(fault_init(bad[i], msg, sizeof(msg)), -1);
		assert_non_null(strstr(msg, "ROOST_FAULT"));
		assert_int_equal(fault_hit("commit"), 0); /* nothing armed */
	}
}

/* A writer over a memory buffer, for objcheck's read-back of packs. */
struct mem_writer {
	const uint8_t *data;
	size_t len;
};

static enum roost_err mem_pread(struct roost_bwriter *w, uint64_t off, size_t len, uint8_t *buf,
                                struct roost_errbuf *eb)
{
	struct mem_writer *m = (struct mem_writer *)w;
	if (off + len > m->len)
		return roost_errf(eb, ROOST_ECORRUPT, "short");
	memcpy(buf, m->data + off, len);
	return ROOST_OK;
}

static void name_of(const char *type, const uint8_t *p, size_t n, char *out, size_t cap)
{
	uint8_t h[32];
	crypto_generichash(h, 32, p, n, NULL, 0);
	size_t k = (size_t)snprintf(out, cap, "%s/", type);
	sodium_bin2hex(out + k, cap - k, h, 32);
}

static int check(const char *name, const uint8_t *p, size_t n, const struct roost_backend_ops *ops,
                 char *msg)
{
	struct objcheck *oc = objcheck_new(name);
	assert_non_null(oc);
	/* fed in uneven pieces, as bodies arrive */
	for (size_t off = 0; off < n;) {
		size_t k = n - off < 777 ? n - off : 777;
		objcheck_update(oc, p + off, k);
		off += k;
	}
	assert_int_equal(objcheck_size(oc), n);
	struct mem_writer m = {p, n};
	int rc = objcheck_finish(oc, ops, (struct roost_bwriter *)&m, msg, 256);
	objcheck_free(oc);
	return rc;
}

/* SITE@FILE: the site fails exactly while the file exists. */
static void test_fault_flag_file(void **st)
{
	(void)st;
	char msg[256], path[] = "/tmp/roost-fault-XXXXXX", spec[300];
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	snprintf(spec, sizeof(spec), "store_write@%s,commit:1", path);
	assert_int_equal(fault_init(spec, msg, sizeof(msg)), 0);
	assert_int_equal(fault_hit("store_write"), 0);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(fault_hit("store_write"), 1);
	assert_int_equal(fault_hit("store_write"), 1);
	assert_int_equal(fault_hit("commit"), 1); /* the other site keeps its own rule */
	unlink(path);
	assert_int_equal(fault_hit("store_write"), 0);
	assert_int_equal(fault_init("store_write@relative", msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "ROOST_FAULT"));
	assert_int_equal(fault_init("@/tmp/x", msg, sizeof(msg)), -1);
	fault_init(NULL, msg, sizeof(msg));
}

static void test_objcheck(void **st)
{
	(void)st;
	static const struct roost_backend_ops ops = {.writer_pread = mem_pread};
	static const struct roost_backend_ops no_read = {0};
	char name[128], msg[256];
	size_t n = 100000;
	uint8_t *buf = malloc(n);
	assert_non_null(buf);
	randombytes_buf(buf, n);
	/* whole-content names */
	name_of("index", buf, n, name, sizeof(name));
	assert_int_equal(check(name, buf, n, &ops, msg), 0);
	name_of("snapshots", buf, n, name, sizeof(name));
	assert_int_equal(check(name, buf, n, &ops, msg), 0);
	buf[5000] ^= 1;
	assert_int_equal(check(name, buf, n, &ops, msg), -1);
	assert_non_null(strstr(msg, "does not hash"));
	assert_int_equal(check(name, buf, n - 1, &ops, msg), -1);
	/* a pack: named by its sealed trailer, found through its last 4 bytes */
	uint32_t tl = 48 + 45 * 3;
	size_t tstart = n - 4 - tl;
	buf[n - 4] = (uint8_t)tl;
	buf[n - 3] = (uint8_t)(tl >> 8);
	buf[n - 2] = buf[n - 1] = 0;
	name_of("packs", buf + tstart, tl, name, sizeof(name));
	assert_int_equal(check(name, buf, n, &ops, msg), 0);
	buf[10] ^= 1; /* blobs are covered by their own tags, not the name */
	assert_int_equal(check(name, buf, n, &ops, msg), 0);
	buf[tstart + 7] ^= 1;
	assert_int_equal(check(name, buf, n, &ops, msg), -1);
	assert_non_null(strstr(msg, "trailer"));
	buf[tstart + 7] ^= 1;
	assert_int_equal(check(name, buf, n, &no_read, msg), -1); /* can not read back */
	buf[n - 1] = 0x7f;                                         /* a length past the start */
	assert_int_equal(check(name, buf, n, &ops, msg), -1);
	assert_non_null(strstr(msg, "length"));
	assert_int_equal(check(name, buf, 10, &ops, msg), -1); /* too short */
	assert_int_equal(check(name, buf, 0, &ops, msg), -1);  /* empty */
	/* keys and config: nothing to check against */
	assert_int_equal(check("config", buf, n, &ops, msg), 0);
	sodium_bin2hex(name + 5, sizeof(name) - 5, buf, 32);
	memcpy(name, "keys/", 5);
	assert_int_equal(check(name, buf, n, &ops, msg), 0);
	free(buf);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fault_spec),
		cmocka_unit_test(test_fault_flag_file),
		cmocka_unit_test(test_objcheck),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
