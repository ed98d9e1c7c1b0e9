/* SPDX-License-Identifier: MIT */
/* Fuzz target: what roostd reads of a request before it knows who is asking:
 * the Cookie header (server/sessions.c) and the path the role table judges
 * (server/authz.c). A token is only ever a well-formed one found in the
 * input; the roles stay ordered (what a viewer may, an operator may). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authz.h"
#include "sessions.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 8192)
		return 0;
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	char tok[AUTH_TEXT_LEN + 1];
	int r = sessions_cookie_token(s, tok);
	if (r == 1 && (strlen(tok) != AUTH_TEXT_LEN || !strstr(s, tok)))
		abort();
	if (r != 1 && tok[0])
		abort();
	static const char *const methods[] = {"GET", "HEAD", "POST", "PATCH", "DELETE"};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		int v = authz_role_may(ROLE_VIEWER, methods[i], s);
		int o = authz_role_may(ROLE_OPERATOR, methods[i], s);
		if ((v && !o) || !authz_role_may(ROLE_ADMIN, methods[i], s) ||
		    authz_role_may(ROLE_NONE, methods[i], s))
			abort();
		if (v && authz_is_write(methods[i]) && strcmp(methods[i], "POST"))
			abort(); /* a viewer writes nothing but its logout */
	}
	free(s);
	return 0;
}
