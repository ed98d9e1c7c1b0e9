/* SPDX-License-Identifier: MIT */
/* lib/net/s3_text.c: S3's URI encoding, the XML it reads from answers, error
 * answers in words, the Object Lock setting and its dates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

static const char *err_of(long status, const char *xml, enum roost_err *code)
{
	static struct roost_errbuf eb;
	*code = s3_answer_err("bkt", "http://h:1", "PUT", "repo/packs/ab", status,
	                      (const uint8_t *)xml, xml ? strlen(xml) : 0, &eb);
	return eb.msg;
}

static void test_answer_err(void **state)
{
	(void)state;
	enum roost_err c;
	const char *m;
	m = err_of(404, "<Error><Code>NoSuchBucket</Code></Error>", &c);
	assert_int_equal(c, ROOST_ENOENT);
	assert_non_null(strstr(m, "no such bucket bkt at http://h:1"));
	m = err_of(403, "<Error><Code>SignatureDoesNotMatch</Code><Message>x</Message></Error>", &c);
	assert_int_equal(c, ROOST_EAUTH);
	assert_non_null(strstr(m, "AWS_SECRET_ACCESS_KEY"));
	m = err_of(403, "<Error><Code>RequestTimeTooSkewed</Code></Error>", &c);
	assert_non_null(strstr(m, "clock skew"));
	m = err_of(400, "<Error><Code>InvalidRequest</Code><Message>Bucket is missing Object Lock "
	                "Configuration</Message></Error>", &c);
	assert_int_equal(c, ROOST_EINVAL);
	assert_non_null(strstr(m, "refused Object Lock retention"));
	assert_non_null(strstr(m, "ROOST_S3_OBJECT_LOCK"));
	m = err_of(404, NULL, &c);
	assert_int_equal(c, ROOST_ENOENT);
	assert_non_null(strstr(m, "repo/packs/ab: no such object"));
	m = err_of(500, "<Error><Code>InternalError</Code><Message>boom</Message></Error>", &c);
	assert_int_equal(c, ROOST_EIO);
	assert_non_null(strstr(m, "HTTP 500: InternalError: boom"));
	assert_int_equal(s3_answer_retryable(503, NULL, 0), 1);
	assert_int_equal(s3_answer_retryable(429, NULL, 0), 1);
	const char *slow = "<Error><Code>SlowDown</Code></Error>";
	assert_int_equal(s3_answer_retryable(400, (const uint8_t *)slow, strlen(slow)), 1);
	assert_int_equal(s3_answer_retryable(403, NULL, 0), 0);
}

static void test_lock_setting(void **state)
{
	(void)state;
	char mode[16];
	int days = 0;
	assert_int_equal(s3_lock_parse("COMPLIANCE:30", mode, &days), 0);
	assert_string_equal(mode, "COMPLIANCE");
	assert_int_equal(days, 30);
	assert_int_equal(s3_lock_parse("governance:7d", mode, &days), 0);
	assert_string_equal(mode, "GOVERNANCE");
	assert_int_equal(days, 7);
	assert_int_equal(s3_lock_parse("COMPLIANCE:36500", mode, &days), 0);
	const char *bad[] = {"", "COMPLIANCE", "COMPLIANCE:", "COMPLIANCE:0", "COMPLIANCE:36501",
	                     "COMPLIANCE:-1", "COMPLIANCE:3x", "LEGAL:30", "COMPLIANCEX:30",
	                     "COMPLIANCE:999999999999", "COMPLIANCE:d", NULL};
	for (int i = 0; bad[i]; i++)
		assert_int_equal(s3_lock_parse(bad[i], mode, &days), -1);
	assert_int_equal(s3_lock_parse(NULL, mode, &days), -1);
	char d[32];
	s3_iso8601(0, d);
	assert_string_equal(d, "1970-01-01T00:00:00Z");
	s3_iso8601(1798660800 + 86400 * 30, d); /* 2026-12-30T20:00:00Z + 30 days */
	assert_string_equal(d, "2027-01-29T20:00:00Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xml_tag),
		cmocka_unit_test(test_xml_entities),
		cmocka_unit_test(test_xml_bounds),
		cmocka_unit_test(test_uri_encode),
		cmocka_unit_test(test_answer_err),
		cmocka_unit_test(test_lock_setting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
