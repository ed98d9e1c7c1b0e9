/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's file table (server/ui_serve.c, the generated ui_files.c):
 * which names may reach a file, the lookup, content types, ETags.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ui_serve.h"

static void names(void **state)
{
	(void)state;
	assert_true(ui_name_ok("index.html"));
	assert_true(ui_name_ok("js/app.js"));
	assert_true(ui_name_ok("a-b_c.d/e.f"));
	assert_false(ui_name_ok(""));
	assert_false(ui_name_ok(".."));
	assert_false(ui_name_ok("../admin.token"));
	assert_false(ui_name_ok("js/../../x"));
	assert_false(ui_name_ok("js/./app.js"));
	assert_false(ui_name_ok(".hidden"));
	assert_false(ui_name_ok("js//app.js"));
	assert_false(ui_name_ok("js/"));
	assert_false(ui_name_ok("/etc/passwd"));
	assert_false(ui_name_ok("a b"));
	assert_false(ui_name_ok("a%2e"));
	assert_false(ui_name_ok("a\\b"));
}

static void table(void **state)
{
	(void)state;
	assert_true(ui_files_count >= 3);
	const struct ui_file *f = ui_file_find("index.html");
	assert_non_null(f);
	assert_string_equal(f->ctype, "text/html; charset=utf-8");
	assert_non_null(strstr((const char *)f->data, "/ui/js/app.js"));
	assert_non_null(ui_file_find("js/app.js"));
	assert_non_null(ui_file_find("style.css"));
	assert_null(ui_file_find("nope.js"));
	assert_null(ui_file_find(""));
	for (size_t i = 0; i < ui_files_count; i++) {
		const struct ui_file *g = &ui_files[i];
		if (i > 0)
			assert_true(strcmp(ui_files[i - 1].path, g->path) < 0); /* sorted: found by bisection */
		assert_ptr_equal(ui_file_find(g->path), g);
		assert_true(ui_name_ok(g->path));
		assert_string_equal(g->ctype, ui_ctype(g->path));
		assert_int_equal(strlen(g->etag), 34); /* "<32 hex>" */
		assert_int_equal(g->etag[0], '"');
		assert_int_equal(g->etag[33], '"');
		assert_int_equal(g->data[g->len], 0); /* a spare NUL after the bytes */
	}
}

static void ctypes(void **state)
{
	(void)state;
	assert_string_equal(ui_ctype("a.js"), "text/javascript; charset=utf-8");
	assert_string_equal(ui_ctype("x/a.CSS"), "text/css; charset=utf-8");
	assert_string_equal(ui_ctype("a.svg"), "image/svg+xml");
	assert_null(ui_ctype("a"));
	assert_null(ui_ctype("a.sh"));
	assert_null(ui_ctype("a.js/b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names),
		cmocka_unit_test(table),
		cmocka_unit_test(ctypes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
