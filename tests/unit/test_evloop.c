/* SPDX-License-Identifier: MIT */
/* server/evloop.c: the choice of loop, the options it gives libwebsockets
 * (no validity timers), and a libuv loop that runs a context, stops on
 * SIGTERM and is torn down whole. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "evloop.h"

static void test_parse(void **state)
{
	(void)state;
	enum evloop_kind k = EVLOOP_POLL;
	assert_int_equal(evloop_parse("libuv", &k), 0);
	assert_int_equal(k, EVLOOP_LIBUV);
	assert_int_equal(evloop_parse("poll", &k), 0);
	assert_int_equal(k, EVLOOP_POLL);
	assert_int_equal(evloop_parse("epoll", &k), -1);
	assert_int_equal(evloop_parse("", &k), -1);
	assert_string_equal(evloop_name(EVLOOP_LIBUV), "libuv");
	assert_string_equal(evloop_name(EVLOOP_POLL), "poll");
}

static void test_poll_options(void **state)
{
	(void)state;
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	assert_int_equal(evloop_prepare(EVLOOP_POLL, &info), 0);
	assert_false(info.options & LWS_SERVER_OPTION_LIBUV);
	assert_null(info.foreign_loops);
	/* no per-connection validity timer, whatever the loop */
	assert_non_null(info.retry_and_idle_policy);
	assert_int_equal(info.retry_and_idle_policy->secs_since_valid_hangup, 0);
}

static int timer_fired;
static lws_sorted_usec_list_t sul;

static void raise_term(lws_sorted_usec_list_t *s)
{
	(void)s;
	timer_fired = 1;
	raise(SIGTERM);
}

static void test_libuv_runs_and_stops(void **state)
{
	(void)state;
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	assert_int_equal(evloop_prepare(EVLOOP_LIBUV, &info), 0);
	assert_true(info.options & LWS_SERVER_OPTION_LIBUV);
	assert_non_null(info.foreign_loops);
	assert_int_equal(info.retry_and_idle_policy->secs_since_valid_hangup, 0);
	lws_set_log_level(LLL_ERR, NULL);
	struct lws_context *ctx = lws_create_context(&info);
	assert_non_null(ctx); /* the evlib-uv plugin loaded */
	/* a libwebsockets timer runs on the loop; SIGTERM ends evloop_run */
	lws_sul_schedule(ctx, 0, &sul, raise_term, 50 * LWS_US_PER_MS);
	volatile int stop = 0;
	evloop_run(ctx, &stop);
	assert_int_equal(timer_fired, 1);
	assert_int_equal(stop, 1);
	evloop_destroy(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_poll_options),
		cmocka_unit_test(test_libuv_runs_and_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
