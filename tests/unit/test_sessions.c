/* SPDX-License-Identifier: MIT */
/* Unit tests of server/sessions.c's cookie parsing: several cookies, spaces,
 * quotes, and hostile values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sessions.h"

/* pattern with '@' as the token and '#' as all of it but its last character */
static void fill(char *out, size_t cap, const char *pattern, const char *tok)
{
	size_t n = 0;
	for (const char *p = pattern; *p && n + AUTH_TEXT_LEN + 1 < cap; p++) {
		if (*p == '@' || *p == '#') {
			size_t l = *p == '@' ? AUTH_TEXT_LEN : AUTH_TEXT_LEN - 1;
			memcpy(out + n, tok, l);
			n += l;
		} else {
			out[n++] = *p;
		}
	}
	out[n] = 0;
}

static void test_cookie(void **st)
{
	(void)st;
	char text[AUTH_TEXT_LEN + 1], tok[AUTH_TEXT_LEN + 1], hdr[512];
	uint8_t h[AUTH_HASH_LEN];
	auth_new_secret(text, h);
	const char *good[] = {
		"roost_session=@",
		"a=b; roost_session=@",
		"a=b;roost_session=@;c=d",
		"  roost_session = @ ; theme=dark",
		"roost_session=\"@\"",
		"x_roost_session=nope; roost_session=@",
		"roost_sessionx=nope; roost_session=@",
		";;; roost_session=@",
		"a=b,roost_session=@",        /* headers joined with commas */
		"a=b, roost_session=@, c=d",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		fill(hdr, sizeof(hdr), good[i], text);
		memset(tok, 'x', sizeof(tok));
		if (sessions_cookie_token(hdr, tok) != 1)
			fail_msg("not found in: %s", hdr);
		assert_string_equal(tok, text);
	}
	const char *none[] = {"", "a=b", "roost_sessionx=1", "roost=1; session=2", ";", "=",
	                      "roost_session", "x=roost_session=abc"};
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
		assert_int_equal(sessions_cookie_token(none[i], tok), 0);
	assert_int_equal(sessions_cookie_token(NULL, tok), 0);
	const char *bad[] = {"roost_session=", "roost_session=abc", "roost_session=\"",
	                     "roost_session=@@", "roost_session=../../etc/passwd",
	                     "roost_session=#!", "roost_session=#\"", "roost_session=#\\x\\"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fill(hdr, sizeof(hdr), bad[i], text);
		if (sessions_cookie_token(hdr, tok) != -1)
			fail_msg("accepted: %s", hdr);
		assert_string_equal(tok, "");
	}
	fill(hdr, sizeof(hdr), "roost_session=@A", text); /* one character too many */
	assert_int_equal(sessions_cookie_token(hdr, tok), -1);
	/* a huge hostile header */
	static char huge[65536];
	memset(huge, ';', sizeof(huge) - 1);
	memcpy(huge + 1000, "roost_session=", 14);
	assert_int_equal(sessions_cookie_token(huge, tok), -1);
	memset(huge, 'a', sizeof(huge) - 1);
	assert_int_equal(sessions_cookie_token(huge, tok), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cookie),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
