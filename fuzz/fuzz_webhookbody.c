/* SPDX-License-Identifier: MIT */
/* Fuzz target: the POST /v1/webhooks body decoder (server/api_events.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "roostd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct resp rs = {0};
	struct body_webhook w;
	if (body_webhook((const char *)data, size, &w, &rs) == 0) {
		/* accepted: a usable url and at least one known type */
		if ((strncmp(w.url, "http", 4) && strncmp(w.url, "mailto:", 7)) ||
		    !json_array_size(w.events) || !w.format[0])
			abort();
		json_decref(w.events);
	} else if (rs.status != 400 || !json_object_get(rs.json, "error")) {
		abort();
	}
	json_decref(rs.json);
	return 0;
}
