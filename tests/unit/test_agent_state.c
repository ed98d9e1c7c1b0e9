/* SPDX-License-Identifier: MIT */
/*
 * agent/state.c: identity.json with one server (older agents) or several
 * (enroll --server URL --server URL ...), and the failover order: the next
 * server in turn, a round ending where it began.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_agent_state.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char p[128];
	snprintf(p, sizeof(p), "%s/identity.json", dir);
	unlink(p);
	return rmdir(dir);
}

static const char fp[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void write_identity(json_t *servers, const char *server)
{
	json_t *id = json_pack("{s:s, s:i, s:s, s:s}", "server", server, "host_id", 7, "secret",
	                       "s3cret", "fingerprint", fp);
	if (servers)
		json_object_set_new(id, "servers", servers);
	assert_int_equal(state_write(dir, "identity.json", id), 0);
	json_decref(id);
}

static void test_one_server(void **state)
{
	(void)state;
	write_identity(NULL, "https://backup.example:8443");
	struct agent_identity id;
	assert_int_equal(state_load_identity(dir, &id), 0);
	assert_int_equal(id.nservers, 1);
	assert_string_equal(agent_server(&id)->host, "backup.example");
	assert_int_equal(agent_server(&id)->port, 8443);
	/* a single server: every failure is a whole round (the backoff applies) */
	assert_int_equal(agent_server_next(&id), 1);
	assert_int_equal(agent_server_next(&id), 1);
	assert_string_equal(agent_server(&id)->url, "https://backup.example:8443");
}

static void test_several_servers_in_turn(void **state)
{
	(void)state;
	write_identity(json_pack("[s, s, s]", "https://a.example:1", "https://b.example",
	                         "https://c.example:3/"),
	               "https://a.example:1");
	struct agent_identity id;
	assert_int_equal(state_load_identity(dir, &id), 0);
	assert_int_equal(id.nservers, 3);
	assert_string_equal(agent_server(&id)->host, "a.example");
	assert_int_equal(agent_server_next(&id), 0);
	assert_string_equal(agent_server(&id)->host, "b.example");
	assert_int_equal(agent_server(&id)->port, 443);
	assert_int_equal(agent_server_next(&id), 0);
	assert_string_equal(agent_server(&id)->host, "c.example");
	assert_int_equal(agent_server(&id)->port, 3);
	/* back to the first: the round is complete */
	assert_int_equal(agent_server_next(&id), 1);
	assert_string_equal(agent_server(&id)->host, "a.example");
}

static void test_bad_servers(void **state)
{
	(void)state;
	struct agent_server s;
	assert_int_equal(agent_server_parse("http://a.example", &s), -1);
	assert_int_equal(agent_server_parse("https://", &s), -1);
	assert_int_equal(agent_server_parse("https://a.example:0", &s), -1);
	assert_int_equal(agent_server_parse("https://a.example:70000", &s), -1);
	assert_int_equal(agent_server_parse("https://a.example:443", &s), 0);
	/* a list with a bad entry, or not strings: refused as a whole */
	write_identity(json_pack("[s, s]", "https://a.example", "ftp://b"), "https://a.example");
	struct agent_identity id;
	assert_int_equal(state_load_identity(dir, &id), 2);
	write_identity(json_pack("[s, i]", "https://a.example", 5), "https://a.example");
	assert_int_equal(state_load_identity(dir, &id), 2);
	/* more than AGENT_MAX_SERVERS */
	json_t *many = json_array();
	for (int i = 0; i <= AGENT_MAX_SERVERS; i++)
		json_array_append_new(many, json_string("https://a.example"));
	write_identity(many, "https://a.example");
	assert_int_equal(state_load_identity(dir, &id), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_several_servers_in_turn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_servers, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
