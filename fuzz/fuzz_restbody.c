/* SPDX-License-Identifier: MIT */
/* Fuzz target: roostd's REST request body decoders (server/bodies.c). The
 * first byte picks the decoder and PATCH-or-create; the rest is the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "roostd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int which = data[0] & 3, partial = (data[0] >> 2) & 1;
	const char *b = (const char *)data + 1;
	size_t n = size - 1;
	struct resp rs = {0};
	int rc;
	if (which == 0) {
		struct body_group g;
		if ((rc = body_group(b, n, partial, &g, &rs)) == 0) {
			if (!partial && (!g.has_name || !json_is_array(g.paths) || !g.name[0]))
				abort();
			if (g.dedup[0] && strcmp(g.dedup, "fleet") && strcmp(g.dedup, "host"))
				abort();
			if (g.hook_timeout_s < 0 || g.hook_timeout_s > 86400 ||
			    strlen(g.pre_hook) > 4096 || strlen(g.post_hook) > 4096)
				abort();
			body_group_free(&g);
		}
	} else if (which == 1) {
		struct body_schedule s;
		if ((rc = body_schedule(b, n, partial, &s, &rs)) == 0) {
			if (!partial && (!s.has_cron || !s.cron[0]))
				abort();
			for (int r = 0; r < BODY_KEEP_RULES; r++)
				if ((s.keep_given & (1u << r)) && (s.keep[r] < 0 || s.keep[r] > 1000000))
					abort();
			if (s.retention_null && s.keep_given)
				abort();
			body_schedule_free(&s);
		}
	} else if (which == 2) {
		struct body_restore r;
		if ((rc = body_restore(b, n, &r, &rs)) == 0) {
			if (r.target[0] != '/')
				abort();
			body_restore_free(&r);
		}
	} else {
		json_t *o = body_object(b, n, &rs);
		rc = o ? 0 : -1;
		json_decref(o);
	}
	/* a refusal always carries a 400-class error object */
	if (rc && (rs.status < 400 || !json_object_get(rs.json, "error")))
		abort();
	json_decref(rs.json);
	return 0;
}
