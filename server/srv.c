/* SPDX-License-Identifier: MIT */
/*
 * roostd's one shared state (struct srv, set up by main.c or a unit test)
 * and its clock: everything that decides by time asks srv_now(), which a
 * test replaces by setting fake_now.
 */
#include <time.h>

#include "roost/timeutil.h"
#include "roostd.h"

struct srv *g_srv;

int64_t srv_now(void)
{
	if (g_srv && g_srv->fake_now)
		return g_srv->fake_now;
	return (int64_t)time(NULL);
}

json_t *json_time(int64_t t)
{
	if (!t)
		return json_null();
	char buf[40];
	return json_string(roost_time_format(t, buf, sizeof(buf)));
}
