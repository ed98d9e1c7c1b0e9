/* SPDX-License-Identifier: MIT */
/*
 * lib/net/backend_http.c's pack writers: a streamed object is buffered
 * until its commit, and the buffer of a finished writer is kept for the
 * next one, so a backup of many packs does not allocate, fault in and grow
 * a buffer for every pack. No server is needed: writers that are aborted
 * never send anything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "roost/backend.h"
#include "roost/http.h"

#define PIECE (64 * 1024)
#define PACK (5 * 1024 * 1024) /* more than the first buffer (1 MiB): it grows */

static void write_pack(struct roost_backend *be, struct roost_bwriter **w)
{
	static uint8_t piece[PIECE];
	struct roost_errbuf eb = {{0}};
	assert_int_equal(be->ops->writer_open(be, w, &eb), ROOST_OK);
	for (size_t off = 0; off < PACK; off += PIECE) {
		memset(piece, (int)(off / PIECE), sizeof(piece));
		assert_int_equal(be->ops->writer_write(*w, piece, sizeof(piece), &eb), ROOST_OK);
	}
}

static void test_buffers_reused(void **state)
{
	(void)state;
	struct roost_http *http;
	struct roost_backend *be;
	struct roost_errbuf eb = {{0}};
	assert_int_equal(roost_http_new("https://127.0.0.1:9", NULL, NULL, 5, &http, &eb), ROOST_OK);
	assert_int_equal(roost_backend_http_open(http, "server", &be, &eb), ROOST_OK);

	struct roost_bwriter *w;
	write_pack(be, &w);
	unsigned long long first = roost_backend_http_buffers(be);
	assert_true(first >= 1);
	be->ops->writer_abort(w);
	for (int i = 0; i < 10; i++) {
		write_pack(be, &w);
		be->ops->writer_abort(w);
	}
	/* ten more packs of the same size: the first one's buffer, never grown again */
	assert_int_equal(roost_backend_http_buffers(be), first);

	/* writers open at once each get a buffer of their own */
	struct roost_bwriter *a, *b;
	write_pack(be, &a);
	write_pack(be, &b);
	assert_int_equal(roost_backend_http_buffers(be), first * 2);
	be->ops->writer_abort(a);
	be->ops->writer_abort(b);
	write_pack(be, &a);
	write_pack(be, &b);
	assert_int_equal(roost_backend_http_buffers(be), first * 2);
	be->ops->writer_abort(a);
	be->ops->writer_abort(b);

	roost_backend_close(be);
	roost_http_free(http);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buffers_reused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
