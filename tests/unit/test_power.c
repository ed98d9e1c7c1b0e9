/* SPDX-License-Identifier: MIT */
/*
 * agent/power.c: the on-battery rule over a power_supply directory, and the
 * ROOST_AGENT_METERED override, on a fake directory under /tmp.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent.h"

static char dir[64];

static void put(const char *supply, const char *file, const char *v)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, supply);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/%s/%s", dir, supply, file);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", v);
	fclose(f);
}

static void test_power_battery_rule(void **st)
{
	(void)st;
	snprintf(dir, sizeof(dir), "/tmp/d-power-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(power_read_battery("/tmp/d-power-does-not-exist"), 0);
	assert_int_equal(power_read_battery(dir), 0); /* no supplies: not on battery */
	put("BAT0", "type", "Battery");
	put("BAT0", "status", "Charging");
	put("AC", "type", "Mains");
	put("AC", "online", "0");
	assert_int_equal(power_read_battery(dir), 0);
	put("BAT0", "status", "Discharging");
	assert_int_equal(power_read_battery(dir), 1);
	put("AC", "online", "1"); /* plugged in: a battery reporting Discharging does not count */
	assert_int_equal(power_read_battery(dir), 0);
	put("AC", "online", "0");
	put("usb", "type", "USB");
	put("usb", "online", "1");
	assert_int_equal(power_read_battery(dir), 0);
	put("usb", "online", "0");
	assert_int_equal(power_read_battery(dir), 1);

	/* the poller: a change is reported once, at the next poll */
	setenv("ROOST_AGENT_POWER_SUPPLY_DIR", dir, 1);
	setenv("ROOST_AGENT_POWER_POLL_MS", "100", 1);
	setenv("ROOST_AGENT_METERED", "1", 1);
	struct power *p = power_new();
	assert_non_null(p);
	int b, m;
	power_state(p, &b, &m);
	assert_int_equal(b, 1);
	assert_int_equal(m, 1);
	assert_int_equal(power_poll(p, 1000), 0);
	put("AC", "online", "1");
	assert_int_equal(power_poll(p, 1050), 0); /* not yet the next poll */
	assert_int_equal(power_poll(p, 1100), 1);
	power_state(p, &b, &m);
	assert_int_equal(b, 0);
	assert_int_equal(power_poll(p, 1200), 0);
	power_free(p);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_power_battery_rule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
