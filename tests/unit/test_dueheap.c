/* SPDX-License-Identifier: MIT */
/*
 * The due-time heap under catch-up (server/dueheap.c): one entry per id,
 * re-arming moves it, pops come in due order, disarmed ids never pop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "dueheap.h"

static void test_heap_rearm_debounce_and_order(void **st)
{
	(void)st;
	struct due_heap *h = dueheap_new();
	int64_t id;
	/* hello at 0 arms at 60; a flapping host re-arms: one entry, the last due */
	assert_int_equal(dueheap_arm(h, 42, 60), ROOST_OK);
	assert_int_equal(dueheap_arm(h, 42, 75), ROOST_OK);
	assert_int_equal(dueheap_arm(h, 42, 90), ROOST_OK);
	assert_int_equal(dueheap_size(h), 1);
	assert_int_equal(dueheap_pop_due(h, 89, &id), -1);
	assert_int_equal(dueheap_next(h), 90);
	assert_int_equal(dueheap_pop_due(h, 90, &id), 0);
	assert_int_equal(id, 42);
	assert_int_equal(dueheap_pop_due(h, 1000, &id), -1);
	/* many hosts come out in due order; disarmed ones never */
	for (int64_t i = 1; i <= 5000; i++)
		assert_int_equal(dueheap_arm(h, i, (i * 7919) % 10007), ROOST_OK);
	for (int64_t i = 1; i <= 5000; i += 3)
		dueheap_disarm(h, i);
	for (int64_t i = 2; i <= 5000; i += 5) /* re-arm some later */
		assert_int_equal(dueheap_arm(h, i, 20000 + i), ROOST_OK);
	int64_t last = INT64_MIN;
	size_t popped = 0;
	uint8_t *seen = calloc(5001, 1);
	while (dueheap_pop_due(h, INT64_MAX - 1, &id) == 0) {
		assert_true(id >= 1 && id <= 5000);
		int disarmed = (id - 1) % 3 == 0, rearmed = (id - 2) % 5 == 0;
		assert_true(!disarmed || rearmed); /* disarmed (and not re-armed) never fire */
		assert_false(seen[id]);
		seen[id] = 1;
		popped++;
		int64_t due = (id - 2) % 5 == 0 ? 20000 + id : (id * 7919) % 10007;
		assert_true(due >= last);
		last = due;
	}
	size_t want = 0;
	for (int64_t i = 1; i <= 5000; i++)
		want += (i - 1) % 3 != 0 || (i - 2) % 5 == 0;
	assert_int_equal(popped, want);
	assert_true(want > 3000 && want < 5000);
	assert_int_equal(dueheap_size(h), 0);
	assert_int_equal(dueheap_next(h), INT64_MAX);
	/* a host disarmed and armed again works (tombstones) */
	dueheap_disarm(h, 7);
	assert_int_equal(dueheap_arm(h, 7, 5), ROOST_OK);
	assert_int_equal(dueheap_pop_due(h, 5, &id), 0);
	assert_int_equal(id, 7);
	free(seen);
	dueheap_free(h);
}

/* A send failure re-arms (the server does it): the heap takes the host back. */
static void test_heap_send_failure_rearm(void **st)
{
	(void)st;
	struct due_heap *h = dueheap_new();
	int64_t id;
	dueheap_arm(h, 3, 60);
	assert_int_equal(dueheap_pop_due(h, 60, &id), 0);
	/* dispatching failed: re-arm at now + settle */
	dueheap_arm(h, 3, 120);
	assert_int_equal(dueheap_pop_due(h, 119, &id), -1);
	assert_int_equal(dueheap_pop_due(h, 120, &id), 0);
	dueheap_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heap_rearm_debounce_and_order),
		cmocka_unit_test(test_heap_send_failure_rearm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
