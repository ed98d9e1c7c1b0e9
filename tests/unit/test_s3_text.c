/* SPDX-License-Identifier: MIT */
/* lib/net/s3_text.c: S3's URI encoding and the XML it reads from answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "net/s3_text.h"

static int tag(const char *xml, const char *name, char *out, size_t cap)
{
	return s3_xml_tag(xml, xml + strlen(xml), name, out, cap);
}

static void test_xml_tag(void **state)
{
	(void)state;
	char out[64];
	const char *list = "<ListBucketResult><IsTruncated>true</IsTruncated><Contents>"
	                   "<Key>a/b</Key><Size>12</Size></Contents><Contents><Key>c</Key>"
	                   "</Contents></ListBucketResult>";
	assert_int_equal(tag(list, "IsTruncated", out, sizeof(out)), 0);
	assert_string_equal(out, "true");
	assert_int_equal(tag(list, "Key", out, sizeof(out)), 0);
	assert_string_equal(out, "a/b"); /* the first one */
	assert_int_equal(tag(list, "Size", out, sizeof(out)), 0);
	assert_string_equal(out, "12");
	assert_int_equal(tag(list, "Missing", out, sizeof(out)), -1);
	assert_int_equal(tag("<Key>open", "Key", out, sizeof(out)), -1); /* never closed */
	assert_int_equal(tag("<Key></Key>", "Key", out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

static void test_xml_entities(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(tag("<M>&amp;&lt;&gt;&quot;&apos;</M>", "M", out, sizeof(out)), 0);
	assert_string_equal(out, "&<>\"'");
	assert_int_equal(tag("<M>&#47;&#x2F;&#xe9;&#8364;&#128512;</M>", "M", out, sizeof(out)), 0);
	assert_string_equal(out, "//\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	/* malformed or out of range: refused, never guessed */
	assert_int_equal(tag("<M>&bogus;</M>", "M", out, sizeof(out)), -1);
	assert_int_equal(tag("<M>&amp</M>", "M", out, sizeof(out)), -1);
	assert_int_equal(tag("<M>&#0;</M>", "M", out, sizeof(out)), -1);
	assert_int_equal(tag("<M>&#x110000;</M>", "M", out, sizeof(out)), -1);
	assert_int_equal(tag("<M>&#12a;</M>", "M", out, sizeof(out)), -1);
	assert_int_equal(tag("<M>&#123456789012;</M>", "M", out, sizeof(out)), -1);
}

static void test_xml_bounds(void **state)
{
	(void)state;
	char out[4];
	assert_int_equal(tag("<K>abc</K>", "K", out, sizeof(out)), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(tag("<K>abcd</K>", "K", out, sizeof(out)), -1);
	assert_int_equal(tag("<K>&#8364;x</K>", "K", out, sizeof(out)), -1); /* 3 + 1 + NUL */
	/* the end bound is respected: a tag past it is not found */
	const char *x = "<K>a</K><L>b</L>";
	assert_int_equal(s3_xml_tag(x, x + 8, "L", out, sizeof(out)), -1);
}

static void test_uri_encode(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(s3_uri_encode(out, sizeof(out), "repo/packs/ab-_.~", 1), 0);
	assert_string_equal(out, "repo/packs/ab-_.~");
	assert_int_equal(s3_uri_encode(out, sizeof(out), "repo/packs/", 0), 0);
	assert_string_equal(out, "repo%2Fpacks%2F");
	assert_int_equal(s3_uri_encode(out, sizeof(out), "a b+=\xc3\xa9", 0), 0);
	assert_string_equal(out, "a%20b%2B%3D%C3%A9");
	char small[5];
	assert_int_equal(s3_uri_encode(small, sizeof(small), "a b", 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xml_tag),
		cmocka_unit_test(test_xml_entities),
		cmocka_unit_test(test_xml_bounds),
		cmocka_unit_test(test_uri_encode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
