/* SPDX-License-Identifier: MIT */
/* Fuzz target: what the S3 backend reads of an answer's XML (lib/net/s3_text.c):
 * a tag's content is found, entity-decoded and bounded; decoding never writes
 * past its buffer and never yields more bytes than the input held. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/s3_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	const char *p = (const char *)data, *end = p + size;
	static const char *const tags[] = {"Key", "Size", "Code", "Message", "NextContinuationToken",
	                                   "IsTruncated"};
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		char out[64];
		memset(out, 0x55, sizeof(out));
		if (s3_xml_tag(p, end, tags[i], out, sizeof(out)) == 0) {
			size_t n = strlen(out);
			if (n >= sizeof(out) || n > size)
				abort();
		}
	}
	char enc[256];
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	if (s3_uri_encode(enc, sizeof(enc), s, size & 1) == 0 && strlen(enc) > 3 * strlen(s))
		abort();
	free(s);
	return 0;
}
